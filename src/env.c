/* The environment table: every TCOLL_* variable is one row of
 * TCOLL_ENV_LIST (tcoll_internal.h); `tcoll-info --env` prints it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tcoll_internal.h"

const tcoll_env_entry tcoll__env_table[TCOLL_ENV_COUNT] = {
#define TCOLL_X_ENV_ROW(name, def, help) {#name, def, help},
    TCOLL_ENV_LIST(TCOLL_X_ENV_ROW)
#undef TCOLL_X_ENV_ROW
};

const char *tcoll__env_get(tcoll_env_id id) {
  const char *v = getenv(tcoll__env_table[id].name);
  return (v && *v) ? v : tcoll__env_table[id].default_value;
}

tcoll_status tcoll__parse_bytes(const char *text, size_t *out) {
  char *end = NULL;
  if (!text || !*text || strchr(text, '-')) return TCOLL_ERR_INVALID_ARG;
  errno = 0;
  unsigned long long v = strtoull(text, &end, 10);
  if (errno || end == text) return TCOLL_ERR_INVALID_ARG;
  unsigned long long mult = 1;
  switch (*end) {
    case '\0': break;
    case 'k': case 'K': mult = 1ULL << 10; end++; break;
    case 'm': case 'M': mult = 1ULL << 20; end++; break;
    case 'g': case 'G': mult = 1ULL << 30; end++; break;
    default: return TCOLL_ERR_INVALID_ARG;
  }
  if (*end == 'i' || *end == 'B') end += (*end == 'i' && end[1] == 'B') ? 2 : 1;
  if (*end != '\0') return TCOLL_ERR_INVALID_ARG;
  if (v > (unsigned long long)SIZE_MAX / mult) return TCOLL_ERR_INVALID_ARG;
  *out = (size_t)(v * mult);
  return TCOLL_OK;
}

tcoll_status tcoll__env_get_bytes(tcoll_env_id id, size_t min, size_t max, size_t *out) {
  const char *text = tcoll__env_get(id);
  size_t v = 0;
  if (tcoll__parse_bytes(text, &v) != TCOLL_OK || v < min || v > max)
    return tcoll__error(TCOLL_ERR_INVALID_ARG,
                        "%s=\"%s\" is not a byte count between %zu and %zu (suffixes K, M, G)",
                        tcoll__env_table[id].name, text, min, max);
  *out = v;
  return TCOLL_OK;
}

const char *tcoll__coll_name(tcoll_coll coll) {
  static const char *const names[TCOLL_NUM_COLLS] = {"allreduce", "reduce_scatter", "allgather",
                                                     "bcast", "reduce"};
  return ((unsigned)coll < TCOLL_NUM_COLLS) ? names[coll] : "?";
}
