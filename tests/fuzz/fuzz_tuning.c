/*
 * libFuzzer target for the tuning-file parser (src/tuning.c, compiled into
 * this target with clang's coverage instrumentation; the rest of the library
 * comes from the gcc-built static library). Any input must give TCOLL_OK
 * with a table or TCOLL_ERR_TUNING_FILE with a message naming the source, and
 * a table must survive the writer and parse again to the same rules.
 */
#include <stdlib.h>
#include <string.h>

#include "tuning.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
  tcoll__log_threshold = -1; /* the unknown-algorithm warnings would flood the output */
  tcoll_tuning *t = NULL;
  tcoll_status s = tcoll__tuning_parse((const char *)data, size, "fuzz.json", true, &t);
  if (s != TCOLL_OK) {
    if ((s != TCOLL_ERR_TUNING_FILE && s != TCOLL_ERR_NO_MEMORY) || t != NULL ||
        strstr(tcoll_last_error(), "fuzz.json") == NULL)
      abort();
    return 0;
  }
  char *text = tcoll__tuning_write(t);
  if (text) {
    tcoll_tuning *again = NULL;
    if (tcoll__tuning_parse(text, strlen(text), "written.json", true, &again) != TCOLL_OK ||
        again->num_rules != t->num_rules)
      abort();
    for (size_t i = 0; i < t->num_rules; i++)
      if (memcmp(&again->rules[i], &t->rules[i], sizeof t->rules[i]) != 0) abort();
    tcoll__tuning_free(again);
    free(text);
  }
  tcoll__tuning_free(t);
  return 0;
}
