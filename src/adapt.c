/*
 * Measured choice (TCOLL_ADAPTIVE, on by default): where the cost model or
 * a tuning rule chooses, a call of at least TCOLL_ADAPTIVE_MIN_BYTES runs the
 * fastest, as measured on this job, of that pick and the model's closest
 * other candidates, not the pick as such. The model ranks well but cannot
 * know everything the machine does: on the 2-vCPU VM this was built on, the
 * two vCPUs move between "near" and "far" placements every few tens of
 * seconds, and which algorithm is fastest from 8 KiB up changes with them
 * (shm in one; cma, recursive doubling, rabenseifner or ring in the other,
 * by up to 1.5x; docs/benchmarks.md). The
 * scheme is STAR-MPI's (Faraj, Yuan, Lowenthal, ICS 2006): time the
 * candidates on live calls, keep the winner, look again now and then.
 *
 * Per collective and size bucket (2^b to 2^(b+1) bytes):
 *   candidates  the pick (the rule's or the model's), then the usable
 *               algorithms predicted within SPAN of the cheapest, at most
 *               TCOLL_ADAPT_CANDIDATES in all, one per schedule (same_as;
 *               select.c, tcoll__closest_candidates)
 *   a round     BLOCK calls of each candidate in turn; each rank takes the
 *               median of each candidate's calls after the first of its
 *               block; then one MPI_Allreduce (MAX) of those: a candidate
 *               is as fast as its slowest rank
 *   a look      LOOK_ROUNDS rounds back to back; a candidate's time is the
 *               better of its rounds' times. The fastest wins if it beats
 *               the one running by MARGIN; otherwise (ties) the one
 *               running stays.
 *   running     the winner for as many calls as keep the look's cost
 *               within OVERHEAD of the run (run_length), doubled (up to
 *               MAX_RUN_SECONDS) every time a look keeps it; then the
 *               next look.
 * Calls that differ in count, dtype or op within a bucket re-evaluate the
 * candidates; the rounds go on while the candidates stay the same.
 *
 * Every rank makes the same calls in the same order, so the counters, the
 * agreed times and thus every choice are identical on all ranks: a call
 * never mixes algorithms. The price is that the same call may run a
 * different algorithm (and round differently) from one time to the next;
 * TCOLL_ADAPTIVE=0 restores the one choice of the model or the rule. A
 * rule is a preference measured once, on the machine as it was then; a
 * forced algorithm is an order and is never second-guessed.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tcoll_internal.h"

/* Candidates predicted slower than this many times the cheapest are not
 * timed. The default model's node-level α-β numbers put recursive doubling
 * at 4x shm at 256 KiB, where it measured 0.7-2x shm's time. */
#define SPAN 8.0
/* Calls of each candidate per round, back to back: the first only warms it
 * up (after another algorithm its caches and the ranks' skew are not those
 * of a loop of its own calls, and it took up to 2x the steady time at
 * 256 KiB here); the median of the other three is its time, robust to one
 * preemption on this shared machine. */
#define BLOCK 4
_Static_assert(sizeof(((tcoll_adapt_state *)0)->samples[0]) == (BLOCK - 1) * sizeof(double),
               "a state holds the timed calls of one block (median3)");
/* Runs of the winner between looks, in calls: long enough that a look
 * (LOOK_ROUNDS x BLOCK calls of every candidate, priced from the look's
 * times, and its agreements) costs at most OVERHEAD of the run beyond the
 * winner's own calls, and at least FIRST_RUN; doubled each time a look
 * keeps the winner, up to
 * MAX_RUN_SECONDS of the winner's calls (so that a change of the machine is
 * noticed within seconds) or the overhead bound if that is longer. At
 * 8 KiB here a round of 5 candidates costs about 75 µs beyond the winner's
 * calls (ring, recursive doubling and rabenseifner take 3-4x shm's 1.7 µs),
 * so a look about 150 µs and a run about 8800 calls (15 ms); at 16 MiB
 * about 128 calls. With 5% auto was 0-7% slower than shm forced at 8-32 KiB
 * in 21-round tcoll-bench runs, whose timed calls include the first runs'
 * rounds; 1% leaves most of tcoll-tune's 5% line to the choice. The very
 * first round of a size only warms up (fresh buffers, cold segments: shm
 * measured 2.3x its steady time there at 128 KiB and lost to cma) and is
 * followed by a look at once. */
#define OVERHEAD 0.01
#define FIRST_RUN 128u
#define MAX_RUN_SECONDS 2.0
/* A candidate must be this much faster than the one running (the pick at
 * first) to take over: repeated rounds of two candidates within 3% of each other
 * here picked either, and switching costs a different rounding for
 * nothing. */
#define MARGIN 0.03
/* Rounds per look: two, so that one round's outlier does not decide (the
 * noise here only ever slows a call down; end_round). */
#define LOOK_ROUNDS 2

bool tcoll__adapt_applies(const tcoll_comm *c, const tcoll_call *call, tcoll_choice_source source) {
  return c->adaptive && source != TCOLL_SOURCE_FORCED && call->bytes >= c->adaptive_min_bytes && c->size > 1;
}

/* The candidates: `preferred` first, then the model's closest others,
 * leaving out the one preferred runs the schedule of, or that runs
 * preferred's (a rule's hierarchical on one node is shm). */
static int candidates(const tcoll_comm *c, const tcoll_call *call, const tcoll_algorithm *preferred,
                      const tcoll_algorithm **cand) {
  const tcoll_algorithm *closest[TCOLL_ADAPT_CANDIDATES + 1];
  const size_t n = tcoll__closest_candidates(c, call, SPAN, closest, TCOLL_ADAPT_CANDIDATES + 1);
  const tcoll_algorithm *preferred_runs = preferred->same_as ? preferred->same_as(c) : NULL;
  int num = 0;
  cand[num++] = preferred;
  for (size_t i = 0; i < n && num < TCOLL_ADAPT_CANDIDATES; i++) {
    const tcoll_algorithm *a = closest[i];
    if (a == preferred || a == preferred_runs || (a->same_as && a->same_as(c) == preferred)) continue;
    cand[num++] = a;
  }
  return num;
}

/* The states exist from tcoll_comm_create on every rank (comm.c): a state
 * missing on one rank alone would let the ranks run different algorithms. */
static tcoll_adapt_state *state_for(tcoll_comm *c, const tcoll_call *call) {
  return &c->adapt[call->coll][tcoll__size_bucket(call->bytes)];
}

tcoll_status tcoll__adapt_setup(tcoll_comm *c) {
  bool ok = true;
  for (int k = 0; k < TCOLL_NUM_COLLS && c->adaptive; k++)
    ok = ok && (c->adapt[k] = calloc(TCOLL_ADAPT_BUCKETS, sizeof(tcoll_adapt_state))) != NULL;
  return tcoll__agree(c, ok, TCOLL_ERR_NO_MEMORY, "the TCOLL_ADAPTIVE state");
}

void tcoll__adapt_reset(tcoll_comm *c) {
  for (int k = 0; k < TCOLL_NUM_COLLS; k++)
    if (c->adapt[k]) memset(c->adapt[k], 0, TCOLL_ADAPT_BUCKETS * sizeof(tcoll_adapt_state));
}

static const tcoll_adapt_state *state_of(const tcoll_comm *c, const tcoll_call *call) {
  if (!c->adapt[call->coll]) return NULL; /* TCOLL_ADAPTIVE=0 */
  const tcoll_adapt_state *st = &c->adapt[call->coll][tcoll__size_bucket(call->bytes)];
  return st->ready ? st : NULL;
}

static void start_round(tcoll_adapt_state *st) {
  st->sampling = true;
  st->done = 0;
}

static double median3(const double *x) {
  const double lo = fmin(x[0], x[1]), hi = fmax(x[0], x[1]);
  return fmax(lo, fmin(hi, x[2]));
}

/* Evaluates the candidates for this call; keeps the rounds' history when
 * they are the same algorithms as before. */
static void prepare(const tcoll_comm *c, const tcoll_call *call, const tcoll_algorithm *preferred,
                    tcoll_adapt_state *st) {
  if (st->ready && st->count == call->count && st->dtype == call->dtype && st->op == call->op &&
      st->cand[0] == preferred)
    return;
  const struct tcoll_algorithm *cand[TCOLL_ADAPT_CANDIDATES];
  const int num = candidates(c, call, preferred, cand);
  const bool same = st->ready && num == st->num && memcmp(cand, st->cand, sizeof cand[0] * (size_t)num) == 0;
  st->count = call->count;
  st->dtype = call->dtype;
  st->op = call->op;
  if (same) return;
  st->ready = true;
  st->num = num;
  memcpy(st->cand, cand, sizeof cand[0] * (size_t)num);
  st->winner = -1;
  st->second_round = false;
  st->sample_median[num] = 0;
  st->agree_seconds = 0;
  st->rounds = 0;
  st->warm_rounds = 0;
  st->winner_calls = FIRST_RUN;
  start_round(st);
}

/* Calls of the winner before the next look: the shortest run that keeps a
 * look within OVERHEAD (at least FIRST_RUN), or when `confirmed`, twice
 * the last run up to MAX_RUN_SECONDS (never below the shortest). The same
 * on every rank: it uses only the agreed times. */
static unsigned run_length(const tcoll_adapt_state *st, const double *agreed, int winner, bool confirmed) {
  if (!isfinite(agreed[winner])) return FIRST_RUN; /* it failed: look again soon */
  const double t = agreed[winner] > 0 ? agreed[winner] : 1e-9;
  /* the round's agreement counts too: below 8 KiB here one MPI_Allreduce
   * of the times (0.5-0.8 us) is as long as the candidates' extra calls */
  double extra = st->agree_seconds;
  for (int i = 0; i < st->num; i++)
    if (i != winner && isfinite(agreed[i])) extra += BLOCK * (agreed[i] - agreed[winner]); /* failed: no time */
  extra *= LOOK_ROUNDS;
  const double shortest = fmax(FIRST_RUN, fmin(ceil(extra / (OVERHEAD * t)), 1e9));
  if (!confirmed) return (unsigned)shortest;
  const double longest = fmax(shortest, fmin(MAX_RUN_SECONDS / t, 1e9));
  return (unsigned)fmin(fmax(2.0 * st->winner_calls, shortest), longest);
}

/* The end of a sampling round: agree on the times, pick the winner. */
static tcoll_status end_round(tcoll_comm *c, const tcoll_call *call, tcoll_adapt_state *st) {
  double agreed[TCOLL_ADAPT_CANDIDATES + 1];
  /* the last agreement's time rides along with the candidates' times, so
   * that every rank charges the same cost for it (run_length) */
  const double start = MPI_Wtime();
  const int err = MPI_Allreduce(st->sample_median, agreed, st->num + 1, MPI_DOUBLE, MPI_MAX, c->mpi);
  st->sample_median[st->num] = MPI_Wtime() - start;
  if (err != MPI_SUCCESS) {
    start_round(st); /* sample again (a failure seen by some ranks only is MPI's to report) */
    return tcoll__mpi_error(err, "MPI_Allreduce(TCOLL_ADAPTIVE timings)");
  }
  /* agreed[num] is the previous round's agreement: none before the
   * warm-up round, a cold first MPI_Allreduce in the round after it */
  if (st->warm_rounds >= 2)
    st->agree_seconds = st->agree_seconds > 0 ? fmin(st->agree_seconds, agreed[st->num]) : agreed[st->num];
  const int current = st->winner >= 0 ? st->winner : 0; /* what runs: the pick at first */
  st->sampling = false;
  st->done = 0;
  const char *kind = st->warm_rounds == 0 ? "warm-up" : st->second_round ? "second" : "first";
  if (tcoll__log_threshold >= TCOLL_LOG_TRACE) { /* every round's agreed times */
    char times[TCOLL_ADAPT_CANDIDATES * 48];
    size_t u = 0;
    for (int i = 0; i < st->num; i++)
      u = tcoll__append(times, sizeof times, u, "%s %s %.3g us", i ? "," : "", st->cand[i]->name, agreed[i] * 1e6);
    TCOLL_LOG(TCOLL_LOG_TRACE, "%s of %zu bytes: %s round:%s; running %s", tcoll__coll_name(call->coll),
              call->bytes, kind, times, st->cand[current]->name);
  }
  if (st->warm_rounds++ == 0) { /* the warm-up round: sample again at once */
    start_round(st);
    return TCOLL_OK;
  }
  st->rounds++;
  if (!st->second_round) { /* the first of a look's two rounds */
    memcpy(st->first_round, agreed, sizeof agreed[0] * (size_t)st->num);
    st->second_round = true;
    start_round(st);
    return TCOLL_OK;
  }
  st->second_round = false;
  /* A look is two rounds back to back, and a candidate's time is the
   * better of its two: the noise here is one-sided (a preemption, the
   * other tenant, a placement flip in the middle of a round only slow a
   * call down), and a single round's outlier (recursive doubling at
   * 56 us among 33-39 us at 128 KiB) would otherwise cost a whole run of
   * the wrong winner. */
  double *est = st->measured;
  for (int i = 0; i < st->num; i++) /* a failure in either round: failed */
    est[i] = isfinite(st->first_round[i]) && isfinite(agreed[i]) ? fmin(st->first_round[i], agreed[i]) : INFINITY;
  int best = current; /* the fastest, if it beats the running one by more than the noise */
  for (int i = 0; i < st->num; i++)
    if (est[i] < est[best]) best = i;
  if (!(est[best] < est[current] * (1 - MARGIN))) best = current;
  if (best != current)
    TCOLL_INFO("%s of %zu bytes: %s measured faster (%.3g us; %s: %.3g us)", tcoll__coll_name(call->coll),
               call->bytes, st->cand[best]->name, est[best] * 1e6, st->cand[current]->name, est[current] * 1e6);
  /* kept: look again less often; new: soon */
  st->winner_calls = run_length(st, est, best, best == current && st->winner == current);
  st->winner = best;
  return TCOLL_OK;
}

tcoll_status tcoll__adapt_run(tcoll_comm *c, const tcoll_call *call, const tcoll_algorithm *preferred,
                              const tcoll_algorithm **ran) {
  tcoll_adapt_state *st = state_for(c, call);
  prepare(c, call, preferred, st);
  if (st->num < 2) {
    *ran = preferred;
    return preferred->run(c, call);
  }
  if (!st->sampling) {
    *ran = st->cand[st->winner];
    const tcoll_status status = (*ran)->run(c, call);
    if (++st->done >= st->winner_calls) start_round(st);
    return status;
  }
  const int i = (int)(st->done / BLOCK);
  *ran = st->cand[i];
  const double start = MPI_Wtime();
  tcoll_status status = (*ran)->run(c, call);
  const double seconds = MPI_Wtime() - start;
  const unsigned k = st->done % BLOCK;
  if (k == 0) st->block_failed = status != TCOLL_OK; /* the warm-up call is not timed, but may fail */
  else st->samples[i][k - 1] = status == TCOLL_OK ? seconds : INFINITY;
  if (k == BLOCK - 1) st->sample_median[i] = st->block_failed ? INFINITY : median3(st->samples[i]);
  if (++st->done == (unsigned)(st->num * BLOCK)) {
    const tcoll_status agreed = end_round(c, call, st);
    if (status == TCOLL_OK) status = agreed;
  }
  return status;
}

bool tcoll__adapt_explain(const tcoll_comm *c, const tcoll_call *call, const tcoll_algorithm *preferred,
                          const char *preferred_by, char *buf, size_t buflen, size_t *used) {
  const struct tcoll_algorithm *cand[TCOLL_ADAPT_CANDIDATES];
  const int num = candidates(c, call, preferred, cand);
  if (num < 2) return false;
  size_t u = *used;
  u = tcoll__append(buf, buflen, u, "measured choice (TCOLL_ADAPTIVE) among %s (%s) and the model's closest:",
                    cand[0]->name, preferred_by);
  for (int i = 1; i < num; i++) u = tcoll__append(buf, buflen, u, "%s %s", i > 1 ? "," : "", cand[i]->name);
  const tcoll_adapt_state *st = state_of(c, call);
  const bool measured = st && st->winner >= 0 && st->count == call->count && st->dtype == call->dtype &&
                        st->op == call->op && st->num == num &&
                        memcmp(st->cand, cand, sizeof cand[0] * (size_t)num) == 0;
  if (!measured) {
    u = tcoll__append(buf, buflen, u, "; timed on the first calls, the fastest is kept\n");
    *used = u;
    return false;
  }
  u = tcoll__append(buf, buflen, u, "; the last look (%u sampling rounds so far), each the better of two rounds' "
                    "slowest-rank median call:", st->rounds);
  for (int i = 0; i < num; i++)
    u = tcoll__append(buf, buflen, u, "%s %s %.3f us", i ? "," : "", cand[i]->name, st->measured[i] * 1e6);
  u = tcoll__append(buf, buflen, u, "\nchoice: %s (measured: the fastest of these, or within 3%% of it)\n",
                    st->cand[st->winner]->name);
  *used = u;
  return true;
}

void tcoll__adapt_free(tcoll_comm *c) {
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    free(c->adapt[k]);
    c->adapt[k] = NULL;
  }
}
