/* The registry: one array generated from TCOLL_ALGORITHM_LIST. Order matters
 * only for listing and as the tie-break between equal modelled costs. */
#include <stdio.h>
#include <string.h>

#include "tcoll_internal.h"

static const tcoll_algorithm *const registry[] = {
#define TCOLL_X_ENTRY(var) &var,
    TCOLL_ALGORITHM_LIST(TCOLL_X_ENTRY)
    TCOLL_TEST_ALGORITHM_LIST(TCOLL_X_ENTRY)
#undef TCOLL_X_ENTRY
};
#define REGISTRY_SIZE (sizeof registry / sizeof registry[0])

const tcoll_algorithm *tcoll__algorithm_at(tcoll_coll coll, size_t i) {
  for (size_t k = 0; k < REGISTRY_SIZE; k++) {
    if (registry[k]->coll != coll) continue;
    if (i == 0) return registry[k];
    i--;
  }
  return NULL;
}

const tcoll_algorithm *tcoll__algorithm_find(tcoll_coll coll, const char *name) {
  const tcoll_algorithm *a;
  for (size_t i = 0; (a = tcoll__algorithm_at(coll, i)) != NULL; i++)
    if (strcmp(a->name, name) == 0) return a;
  return NULL;
}

void tcoll__algorithm_names(tcoll_coll coll, char *buf, size_t buflen) {
  size_t used = 0;
  const tcoll_algorithm *a;
  if (buflen) buf[0] = '\0';
  for (size_t i = 0; (a = tcoll__algorithm_at(coll, i)) != NULL && used < buflen; i++) {
    int n = snprintf(buf + used, buflen - used, "%s%s", i ? ", " : "", a->name);
    if (n < 0) break;
    used += (size_t)n;
  }
}

size_t tcoll_algorithm_count(tcoll_coll coll) {
  size_t n = 0;
  while (tcoll__algorithm_at(coll, n)) n++;
  return n;
}

const char *tcoll_algorithm_name(tcoll_coll coll, size_t i) {
  const tcoll_algorithm *a = tcoll__algorithm_at(coll, i);
  return a ? a->name : NULL;
}
