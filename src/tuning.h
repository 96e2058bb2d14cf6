/* Tuning files (tuning.c): parsed tables, the one rule predicate and the
 * writer. The format is specified in docs/tuning.md. */
#ifndef TCOLL_TUNING_H
#define TCOLL_TUNING_H

#include "tcoll_internal.h"

#define TCOLL_TUNING_FORMAT "tcoll-tuning"
/* 2: gamma per dtype class (model.gamma) instead of per link level */
#define TCOLL_TUNING_VERSION 2

/* Inclusive range; an omitted range in the file is [0, TCOLL_RANGE_ANY]. */
typedef struct {
  double min, max;
} tcoll_range;
/* Largest integer a range may hold: JSON numbers are doubles, and above
 * 2^53 they stop being exact integers. */
#define TCOLL_RANGE_ANY 9007199254740992.0

typedef struct {
  tcoll_coll coll;
  tcoll_range ranks, nodes, ranks_per_node, bytes;
  char algorithm[64];
  const tcoll_algorithm *alg; /* NULL: unknown name, the rule is disabled */
} tcoll_rule;

struct tcoll_tuning {
  char source[512]; /* the path it was loaded from */
  bool has_model;
  tcoll_cost_model model; /* when has_model: levels and gamma classes absent from the file keep the defaults */
  /* which levels and gamma classes the file named: the writer writes only
   * those, so a file of the levels one job measured round-trips as such */
  bool level_listed[TCOLL_NUM_LEVELS];
  bool gamma_listed[TCOLL_NUM_GAMMA_CLASSES];
  char created[1024], topology[1024]; /* provenance (compact JSON), shown by tcoll-info */
  size_t num_rules;
  tcoll_rule *rules;
};

/* Parses text (len bytes; need not be NUL-terminated) named `source` in
 * messages. Pure and deterministic: every rank parsing the same bytes gets
 * the same table or the same TCOLL_ERR_TUNING_FILE naming the source and the
 * place (line:column for syntax, a JSON path such as rules[2].bytes for
 * content). Unknown algorithms disable their rule, with a warning when
 * `warn` (rank 0 only, so a job prints it once). */
tcoll_status tcoll__tuning_parse(const char *text, size_t len, const char *source, bool warn,
                                 tcoll_tuning **out);
void tcoll__tuning_free(tcoll_tuning *t);

/* THE rule predicate: whether rule r's collective and ranges cover call on
 * c (whether its algorithm exists and accepts is the caller's question).
 * Only inputs that are identical on every rank. */
bool tcoll__rule_matches(const tcoll_rule *r, const tcoll_comm *c, const tcoll_call *call);

/* Index of the first enabled rule that matches and whose algorithm accepts
 * the call, or -1. */
int tcoll__tuning_lookup(const tcoll_tuning *t, const tcoll_comm *c, const tcoll_call *call);

/* Writes t in the file format (the auto-tuner's output); NULL on no memory.
 * Only the levels and gamma classes marked listed are written (the others
 * are defaults, not measurements). The caller frees the string. */
char *tcoll__tuning_write(const tcoll_tuning *t);

#endif
