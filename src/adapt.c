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
 *   a round     BLOCK calls of each candidate in turn, the first of each
 *               block untimed
 *   a look      LOOK_ROUNDS rounds back to back; each rank takes the median
 *               of each candidate's timed calls in the look, then one
 *               MPI_Allreduce (MAX) of those: a candidate is as fast as its
 *               slowest rank. The fastest wins if it beats the one running
 *               by MARGIN; otherwise (ties) the one running stays.
 *   running     the winner for as many calls as keep the look's cost
 *               within OVERHEAD of the run (run_length), doubled (up to
 *               MAX_RUN_SECONDS) every time a look keeps it; then the
 *               next look.
 * The first round after the candidates are (re-)evaluated only warms up and
 * is not timed. A candidate whose call fails on any rank is not timed again
 * (every rank sees the failure in the agreed times).
 * Calls of one bucket with other counts share its candidates and looks
 * (prepare), their times scaled to one size.
 * Calls that differ in dtype or op within a bucket, or in a count that a
 * candidate cannot run, re-evaluate the candidates; the looks go on while
 * the candidates stay the same.
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
 * 256 KiB here). */
#define BLOCK 4
/* Rounds per look. A candidate's time is the median of its 2 x 3 timed
 * calls, spread over two rounds so that a change of the machine in the
 * middle of a look (this VM's placement flips) hits every candidate alike,
 * and one preempted call or one slow round does not decide: with one round
 * and the median of 3, a single round with recursive doubling at 56 us
 * among its 33-39 us at 128 KiB imposed shm (43 us) for a whole run. */
#define LOOK_ROUNDS 2
_Static_assert(TCOLL_ADAPT_SAMPLES == LOOK_ROUNDS * (BLOCK - 1), "a state holds the timed calls of one look");
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
 * about 750 calls (5 s). With 5% auto was 0-7% slower than shm forced at 8-32 KiB
 * in 21-round tcoll-bench runs, whose timed calls include the first runs'
 * rounds; 1% leaves most of tcoll-tune's 5% line to the choice. The very
 * first round of a size only warms up (fresh buffers, cold segments: shm
 * measured 2.3x its steady time there at 128 KiB and lost to cma) and is
 * followed by a look at once. */
#define OVERHEAD 0.01
#define FIRST_RUN 128u
#define MAX_RUN_SECONDS 2.0
/* A candidate must be this much faster than the one running (the pick at
 * first) to take over: repeated rounds of two candidates within 3% of each
 * other here picked either, and switching costs a different rounding for
 * nothing. */
#define MARGIN 0.03

bool tcoll__adapt_applies(const tcoll_comm *c, const tcoll_call *call, tcoll_choice_source source) {
  return c->adaptive && source != TCOLL_SOURCE_FORCED && call->bytes >= c->adaptive_min_bytes && c->size > 1;
}

/* The candidates: `preferred` first, then the model's closest others
 * (which have no twin), leaving out preferred's twin (a rule's
 * hierarchical on one node is shm). */
static int candidates(const tcoll_comm *c, const tcoll_call *call, const tcoll_algorithm *preferred,
                      const tcoll_algorithm **cand) {
  const tcoll_algorithm *closest[TCOLL_ADAPT_CANDIDATES + 1];
  const size_t n = tcoll__closest_candidates(c, call, SPAN, closest, TCOLL_ADAPT_CANDIDATES + 1);
  const tcoll_algorithm *twin = tcoll__twin(c, preferred, call);
  int num = 0;
  cand[num++] = preferred;
  for (size_t i = 0; i < n && num < TCOLL_ADAPT_CANDIDATES; i++)
    if (closest[i] != preferred && closest[i] != twin) cand[num++] = closest[i];
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

static void start_look(tcoll_adapt_state *st) {
  st->round = 0;
  memset(st->failed, 0, sizeof st->failed);
  start_round(st);
}

/* Candidates still timed: a round is active(st) x BLOCK calls. */
static int active(const tcoll_adapt_state *st) {
  int n = 0;
  for (int i = 0; i < st->num; i++) n += !st->excluded[i];
  return n;
}

/* The candidate the b-th block of a round times: the b-th one not excluded. */
static int block_candidate(const tcoll_adapt_state *st, int b) {
  for (int i = 0; i < st->num; i++)
    if (!st->excluded[i] && b-- == 0) return i;
  return 0; /* not reached: b < active(st) */
}

static int cmp_double(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* The median of n timed calls (n even: the mean of the middle two). */
static double median(const double *x, int n) {
  double sorted[TCOLL_ADAPT_SAMPLES];
  memcpy(sorted, x, sizeof sorted[0] * (size_t)n);
  qsort(sorted, (size_t)n, sizeof sorted[0], cmp_double);
  return n % 2 ? sorted[n / 2] : 0.5 * (sorted[n / 2 - 1] + sorted[n / 2]);
}

/* Evaluates the candidates for this call; keeps the looks' history when
 * they are the same algorithms as before. Another count of the same
 * bucket, dtype and op keeps the candidates as long as every one of them
 * can run it: counts that alternate (a training loop's gradient buckets)
 * would otherwise re-evaluate on every call, and where their closest sets
 * differ, restart the looks on every call and never finish one. */
static void prepare(const tcoll_comm *c, const tcoll_call *call, const tcoll_algorithm *preferred,
                    tcoll_adapt_state *st) {
  if (st->ready && st->dtype == call->dtype && st->op == call->op && st->cand[0] == preferred) {
    if (st->count == call->count) return;
    bool usable = true;
    char why[192];
    for (int i = 0; i < st->num && usable; i++) usable = st->cand[i]->check(c, call, why, sizeof why);
    if (usable) { /* check() answers alike on every rank: the choice stays common */
      st->count = call->count;
      return;
    }
  }
  const struct tcoll_algorithm *cand[TCOLL_ADAPT_CANDIDATES];
  const int num = candidates(c, call, preferred, cand);
  const bool same = st->ready && num == st->num && memcmp(cand, st->cand, sizeof cand[0] * (size_t)num) == 0;
  st->count = call->count;
  st->dtype = call->dtype;
  st->op = call->op;
  if (same) return;
  st->ready = true;
  st->ref_bytes = call->bytes;
  st->num = num;
  memcpy(st->cand, cand, sizeof cand[0] * (size_t)num);
  st->winner = -1;
  memset(st->excluded, 0, sizeof st->excluded);
  st->last_agree = 0;
  st->agree_seconds = 0;
  st->looks = 0;
  st->winner_calls = FIRST_RUN;
  st->warming = true;
  start_look(st);
}

/* Calls of the winner before the next look: the shortest run that keeps a
 * look within OVERHEAD (at least FIRST_RUN); when `kept` (a look kept the
 * winner), twice the last run, up to MAX_RUN_SECONDS (never below the
 * shortest). The same on every rank: it uses only the agreed times. */
static unsigned run_length(const tcoll_adapt_state *st, const double *agreed, int winner, bool kept) {
  if (!isfinite(agreed[winner])) return FIRST_RUN; /* it failed: look again soon */
  /* no call takes less than this (a timer coarser than the call could
   * read 0, which would stop the looks for 10^9 calls) */
  const double t = fmax(agreed[winner], 1e-7);
  double extra = 0;
  for (int i = 0; i < st->num; i++)
    if (i != winner && isfinite(agreed[i])) extra += BLOCK * (agreed[i] - agreed[winner]); /* failed: no time */
  /* the agreement counts too: below 8 KiB here one MPI_Allreduce of the
   * times (0.5-0.8 us) is as long as the candidates' extra calls */
  extra = LOOK_ROUNDS * extra + st->agree_seconds;
  const double shortest = fmax(FIRST_RUN, fmin(ceil(extra / (OVERHEAD * t)), 1e9));
  if (!kept) return (unsigned)shortest;
  const double longest = fmax(shortest, fmin(MAX_RUN_SECONDS / t, 1e9));
  return (unsigned)fmin(fmax(2.0 * st->winner_calls, shortest), longest);
}

/* The end of a look: agree on the times, pick the winner. */
static void end_look(tcoll_comm *c, const tcoll_call *call, tcoll_adapt_state *st) {
  /* each candidate's median call on this rank, and this rank's time in the
   * last agreement, which every rank then charges alike (run_length) */
  double mine[TCOLL_ADAPT_CANDIDATES + 1], agreed[TCOLL_ADAPT_CANDIDATES + 1];
  for (int i = 0; i < st->num; i++)
    mine[i] = st->failed[i] || st->excluded[i] ? INFINITY : median(st->samples[i], TCOLL_ADAPT_SAMPLES);
  mine[st->num] = st->last_agree;
  const double start = MPI_Wtime();
  const int err = MPI_Allreduce(mine, agreed, st->num + 1, MPI_DOUBLE, MPI_MAX, c->mpi);
  st->last_agree = MPI_Wtime() - start;
  st->sampling = false;
  st->done = 0;
  if (err != MPI_SUCCESS) {
    /* The call itself is done and right: failing it would make a caller
     * redo it (an in-place sum twice). Look again; a failure that only
     * some ranks see is MPI's to report, as for any collective. */
    char text[MPI_MAX_ERROR_STRING] = "";
    int len = 0;
    MPI_Error_string(err, text, &len);
    TCOLL_WARN("%s of %zu bytes: MPI_Allreduce of the TCOLL_ADAPTIVE timings failed (%s); timing again",
               tcoll__coll_name(call->coll), call->bytes, text);
    start_look(st);
    return;
  }
  if (st->looks++ > 0) /* the first look carries no agreement yet */
    st->agree_seconds = st->agree_seconds > 0 ? fmin(st->agree_seconds, agreed[st->num]) : agreed[st->num];
  memcpy(st->measured, agreed, sizeof agreed[0] * (size_t)st->num);
  /* a candidate that failed on some rank is not timed again, unless every
   * one failed (then all stay, and the pick runs) */
  int failing = 0;
  for (int i = 0; i < st->num; i++) failing += !isfinite(agreed[i]);
  for (int i = 0; i < st->num && failing < st->num; i++)
    if (!isfinite(agreed[i]) && !st->excluded[i]) {
      st->excluded[i] = true;
      TCOLL_WARN("%s of %zu bytes: %s failed while timed (TCOLL_ADAPTIVE); it is not timed again",
                 tcoll__coll_name(call->coll), call->bytes, st->cand[i]->name);
    }
  const int current = st->winner >= 0 ? st->winner : 0; /* what runs: the pick at first */
  int best = current; /* the fastest, if it beats the running one by more than the noise */
  for (int i = 0; i < st->num; i++)
    if (agreed[i] < agreed[best]) best = i;
  if (!(agreed[best] < agreed[current] * (1 - MARGIN))) best = current;
  if (tcoll__log_threshold >= TCOLL_LOG_TRACE) { /* every look's agreed times */
    char times[TCOLL_ADAPT_CANDIDATES * 48];
    size_t u = 0;
    for (int i = 0; i < st->num; i++)
      u = tcoll__append(times, sizeof times, u, "%s %s %.3g us", i ? "," : "", st->cand[i]->name, agreed[i] * 1e6);
    TCOLL_LOG(TCOLL_LOG_TRACE, "%s of %zu bytes: look %u:%s; was running %s", tcoll__coll_name(call->coll),
              call->bytes, st->looks, times, st->cand[current]->name);
  }
  if (best != current)
    TCOLL_INFO("%s of %zu bytes: %s measured faster (%.3g us; %s: %.3g us)", tcoll__coll_name(call->coll),
               call->bytes, st->cand[best]->name, agreed[best] * 1e6, st->cand[current]->name, agreed[current] * 1e6);
  /* kept: look again less often; new: soon */
  st->winner_calls = run_length(st, agreed, best, best == current && st->winner == current);
  st->winner = best;
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
    if (++st->done >= st->winner_calls) start_look(st);
    return status;
  }
  const int i = block_candidate(st, (int)(st->done / BLOCK));
  const unsigned k = st->done % BLOCK;
  *ran = st->cand[i];
  const double start = MPI_Wtime();
  tcoll_status status = (*ran)->run(c, call);
  const double seconds = MPI_Wtime() - start;
  /* every call may fail, the untimed ones too */
  if (status != TCOLL_OK) st->failed[i] = true;
  /* Calls of a bucket may differ in count (a training loop's gradient
   * buckets of 18-25 MiB): each time is scaled to the bytes the candidates
   * were evaluated for, so that a candidate timed on the smaller calls does
   * not look faster for it (exact where time is proportional to bytes, as
   * for large calls; where latency dominates the scaled time errs towards
   * the smaller call's, but by less than the unscaled one). */
  else if (k > 0 && !st->warming)
    st->samples[i][st->round * (BLOCK - 1) + k - 1] = seconds * (double)st->ref_bytes / (double)call->bytes;
  if (++st->done < (unsigned)(active(st) * BLOCK)) return status;
  /* the end of a round */
  if (st->warming) { /* the warm-up round: now the first look (its failures count) */
    st->warming = false;
    st->round = 0;
    start_round(st);
    return status;
  }
  if (++st->round < LOOK_ROUNDS) {
    start_round(st);
    return status;
  }
  end_look(c, call, st);
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
  const bool measured = st && st->winner >= 0 && st->dtype == call->dtype &&
                        st->op == call->op && st->num == num &&
                        memcmp(st->cand, cand, sizeof cand[0] * (size_t)num) == 0;
  if (!measured) {
    u = tcoll__append(buf, buflen, u, "; timed on the first calls, the fastest is kept\n");
    *used = u;
    return false;
  }
  u = tcoll__append(buf, buflen, u, "; look %u (the slowest rank's median call of %d sampling rounds):", st->looks,
                    LOOK_ROUNDS);
  for (int i = 0; i < num; i++)
    u = tcoll__append(buf, buflen, u, "%s %s %.3f us", i ? "," : "", cand[i]->name, st->measured[i] * 1e6);
  u = tcoll__append(buf, buflen, u, "\nchoice: %s (measured: the fastest of these, or within %.0f%% of it)\n",
                    st->cand[st->winner]->name, 100 * MARGIN);
  *used = u;
  return true;
}

void tcoll__adapt_free(tcoll_comm *c) {
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    free(c->adapt[k]);
    c->adapt[k] = NULL;
  }
}
