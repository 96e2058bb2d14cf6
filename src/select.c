/*
 * Selection: forced algorithm (tcoll_comm_set_algorithm or TCOLL_<COLL>_ALGO)
 * if it accepts the call, otherwise the first matching rule of the tuning
 * table whose algorithm accepts it, otherwise the cheapest algorithm by the
 * cost model among those whose check() accepts (which adapt.c may then
 * replace by the fastest measured of the model's closest candidates). Everything used here (count, dtype, op,
 * communicator shape, model) is identical on every rank, so every rank picks
 * the same algorithm without communicating.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tuning.h"

#define MAX_CANDIDATES 16

typedef struct {
  const tcoll_algorithm *alg;
  bool usable;
  char why[192];
  double seconds;
} candidate;

/* Evaluates every registered algorithm of the call's collective. */
static size_t evaluate(const tcoll_comm *c, const tcoll_call *call, candidate *cand) {
  size_t n = 0;
  const tcoll_algorithm *a;
  for (size_t i = 0; n < MAX_CANDIDATES && (a = tcoll__algorithm_at(call->coll, i)) != NULL; i++) {
    candidate *k = &cand[n++];
    k->alg = a;
    k->why[0] = '\0';
    k->usable = a->check(c, call, k->why, sizeof k->why);
    k->seconds = k->usable ? a->cost(c, call) : INFINITY;
  }
  return n;
}

/* Costs closer than this fraction are a tie. Equal formulas evaluated in a
 * different order (ring and rabenseifner at p = 2) differ in the last bits;
 * without a tolerance the choice would flip between them from size to size. */
#define TIE_TOLERANCE 1e-9

/* Index of the cheapest usable candidate; ties go to the earlier registered
 * one. -1 if none is usable. */
static int cheapest(const candidate *cand, size_t n) {
  int best = -1;
  for (size_t i = 0; i < n; i++)
    if (cand[i].usable &&
        (best < 0 || cand[i].seconds < cand[best].seconds * (1 - TIE_TOLERANCE)))
      best = (int)i;
  return best;
}

int tcoll__size_bucket(size_t bytes) {
  int b = 0;
  while (b < 63 && ((size_t)1 << (b + 1)) <= bytes) b++;
  return b;
}

tcoll_status tcoll__select(tcoll_comm *c, const tcoll_call *call, const tcoll_algorithm **out,
                           tcoll_choice_source *source) {
  const tcoll_algorithm *forced = c->forced[call->coll];
  if (forced) {
    char why[192] = "";
    if (forced->check(c, call, why, sizeof why)) {
      *out = forced;
      *source = TCOLL_SOURCE_FORCED;
      return TCOLL_OK;
    }
    if (c->fallback_is_error)
      return tcoll__error(TCOLL_ERR_UNSUPPORTED, "%s algorithm %s cannot perform this call: %s",
                          tcoll__coll_name(call->coll), forced->name, why);
    if (!c->warned_fallback[call->coll]) {
      c->warned_fallback[call->coll] = true;
      TCOLL_WARN("forced %s algorithm %s cannot perform a call of %zu x %s: %s; selecting "
                 "automatically (TCOLL_FALLBACK=error makes this an error; warned once)",
                 tcoll__coll_name(call->coll), forced->name, call->count,
                 tcoll__dtype_name(call->dtype), why);
    }
  }
  /* Everything else the choice depends on (communicator shape, segment
   * size) is fixed for the communicator's life; the tuning table and the
   * model change only through tcoll_comm_load_tuning, which invalidates. */
  tcoll_choice_cache *cached = &c->choice_cache[call->coll];
  if (cached->valid && cached->count == call->count && cached->dtype == call->dtype &&
      cached->op == call->op) {
    *out = cached->alg;
    *source = cached->rule >= 0 ? TCOLL_SOURCE_RULE : TCOLL_SOURCE_COST_MODEL;
    return TCOLL_OK;
  }
  int rule = tcoll__tuning_lookup(c->tuning, c, call);
  if (rule >= 0) {
    *out = c->tuning->rules[rule].alg;
    *source = TCOLL_SOURCE_RULE;
    *cached = (tcoll_choice_cache){.valid = true, .rule = rule, .count = call->count, .dtype = call->dtype,
                                   .op = call->op, .alg = *out};
    int bucket = tcoll__size_bucket(call->bytes);
    if (tcoll__log_threshold >= TCOLL_LOG_INFO && !(c->logged_buckets[call->coll] >> bucket & 1)) {
      c->logged_buckets[call->coll] |= (uint64_t)1 << bucket;
      TCOLL_INFO("%s of %zu bytes on %d ranks: %s (rule %d of %s)", tcoll__coll_name(call->coll), call->bytes,
                 c->size, (*out)->name, rule, c->tuning->source);
    }
    return TCOLL_OK;
  }
  *source = TCOLL_SOURCE_COST_MODEL;
  candidate cand[MAX_CANDIDATES];
  size_t n = evaluate(c, call, cand);
  int best = cheapest(cand, n);
  if (best < 0)
    return tcoll__error(TCOLL_ERR_UNSUPPORTED, "no %s algorithm can perform a call of %zu x %s",
                        tcoll__coll_name(call->coll), call->count, tcoll__dtype_name(call->dtype));
  *out = cand[best].alg;
  cached->valid = true;
  cached->rule = -1;
  cached->count = call->count;
  cached->dtype = call->dtype;
  cached->op = call->op;
  cached->alg = cand[best].alg;
  /* Log once per size bucket: a per-call log line would cost more than a
   * small collective. */
  int bucket = tcoll__size_bucket(call->bytes);
  if (tcoll__log_threshold >= TCOLL_LOG_INFO && !(c->logged_buckets[call->coll] >> bucket & 1)) {
    c->logged_buckets[call->coll] |= (uint64_t)1 << bucket;
    TCOLL_INFO("%s of %zu bytes on %d ranks: %s (cost model, %.3g us predicted)",
               tcoll__coll_name(call->coll), call->bytes, c->size, cand[best].alg->name,
               cand[best].seconds * 1e6);
  }
  return TCOLL_OK;
}

const tcoll_algorithm *tcoll__twin(const tcoll_comm *c, const tcoll_algorithm *a, const tcoll_call *call) {
  const tcoll_algorithm *twin = a->same_as ? a->same_as(c) : NULL;
  char why[192];
  return twin && twin->check(c, call, why, sizeof why) ? twin : NULL;
}

size_t tcoll__closest_candidates(const tcoll_comm *c, const tcoll_call *call, double span,
                                 const tcoll_algorithm **out, size_t max) {
  candidate cand[MAX_CANDIDATES];
  const size_t n = evaluate(c, call, cand);
  const int best = cheapest(cand, n);
  if (best < 0) return 0;
  bool taken[MAX_CANDIDATES] = {false};
  size_t num = 0;
  while (num < max) {
    int next = -1; /* the cheapest not yet taken, earlier registered on ties */
    for (size_t i = 0; i < n; i++)
      if (cand[i].usable && !taken[i] && (next < 0 || cand[i].seconds < cand[next].seconds * (1 - TIE_TOLERANCE)))
        next = (int)i;
    if (next < 0 || cand[next].seconds > span * cand[best].seconds) break;
    taken[next] = true;
    /* timing both twins would spend calls learning nothing */
    if (!tcoll__twin(c, cand[next].alg, call)) out[num++] = cand[next].alg;
  }
  return num;
}

void tcoll__select_invalidate(tcoll_comm *c) {
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) c->choice_cache[k].valid = false;
  tcoll__adapt_reset(c);
  /* the choice per size bucket may differ now: log it again */
  memset(c->logged_buckets, 0, sizeof c->logged_buckets);
}

size_t tcoll__append(char *buf, size_t buflen, size_t used, const char *fmt, ...) {
  if (used >= buflen) return used;
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf + used, buflen - used, fmt, ap);
  va_end(ap);
  if (n < 0) return used;
  return (used + (size_t)n < buflen) ? used + (size_t)n : buflen - 1;
}

void tcoll__explain(const tcoll_comm *c, const tcoll_call *call, char *buf, size_t buflen) {
  candidate cand[MAX_CANDIDATES];
  size_t n = evaluate(c, call, cand);
  int best = cheapest(cand, n);
  size_t u = 0;
  buf[0] = '\0';
  u = tcoll__append(buf, buflen, u, "%s of %zu x %s (%zu bytes)", tcoll__coll_name(call->coll), call->count,
             tcoll__dtype_name(call->dtype), call->bytes);
  if (tcoll__coll_reduces(call->coll)) u = tcoll__append(buf, buflen, u, ", op %s", tcoll__op_name(call->op));
  u = tcoll__append(buf, buflen, u, ", %d ranks on %d node(s)\n", c->size, c->num_nodes);
  for (size_t i = 0; i < n; i++) {
    if (cand[i].usable)
      u = tcoll__append(buf, buflen, u, "  %-20s %12.3f us%s\n", cand[i].alg->name, cand[i].seconds * 1e6,
                 (int)i == best ? "  <- cheapest" : "");
    else
      u = tcoll__append(buf, buflen, u, "  %-20s   not usable: %s\n", cand[i].alg->name, cand[i].why);
  }
  const tcoll_algorithm *forced = c->forced[call->coll];
  if (forced) {
    char why[192] = "";
    if (forced->check(c, call, why, sizeof why)) {
      tcoll__append(buf, buflen, u, "choice: %s (forced)\n", forced->name);
      return;
    }
    u = tcoll__append(buf, buflen, u, "forced %s declines (%s); TCOLL_FALLBACK=%s: ", forced->name, why,
               c->fallback_is_error ? "error, the call fails" : "warn, automatic choice");
    if (c->fallback_is_error) {
      tcoll__append(buf, buflen, u, "TCOLL_ERR_UNSUPPORTED\n");
      return;
    }
  }
  /* Rules that would have applied but cannot: say why they were passed over. */
  for (size_t i = 0; c->tuning && i < c->tuning->num_rules; i++) {
    const tcoll_rule *r = &c->tuning->rules[i];
    char why[192] = "";
    if (!tcoll__rule_matches(r, c, call)) continue;
    if (!r->alg)
      u = tcoll__append(buf, buflen, u, "rule %zu (%s) matches but is disabled: unknown algorithm\n", i, r->algorithm);
    else if (!r->alg->check(c, call, why, sizeof why))
      u = tcoll__append(buf, buflen, u, "rule %zu (%s) matches but declines: %s\n", i, r->algorithm, why);
    else
      break; /* the first applicable rule: reported as the choice below */
  }
  int rule = tcoll__tuning_lookup(c->tuning, c, call);
  if (rule >= 0) {
    char by[sizeof c->tuning->source + 32];
    snprintf(by, sizeof by, "rule %d of %s", rule, c->tuning->source);
    if (tcoll__adapt_applies(c, call, TCOLL_SOURCE_RULE) &&
        tcoll__adapt_explain(c, call, c->tuning->rules[rule].alg, by, buf, buflen, &u))
      return;
    tcoll__append(buf, buflen, u, "choice: %s (%s)\n", c->tuning->rules[rule].alg->name, by);
    return;
  }
  if (best < 0) {
    tcoll__append(buf, buflen, u, "choice: none (no algorithm accepts this call)\n");
    return;
  }
  if (tcoll__adapt_applies(c, call, TCOLL_SOURCE_COST_MODEL) &&
      tcoll__adapt_explain(c, call, cand[best].alg, "cost model", buf, buflen, &u))
    return;
  tcoll__append(buf, buflen, u, "choice: %s (cost model: cheapest predicted)\n", cand[best].alg->name);
}
