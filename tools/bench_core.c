/*
 * The measurement machinery of tcoll-bench and tcoll-tune (bench_core.h).
 *
 * Method. For each size every variant is timed in interleaved rounds, so a
 * machine that drifts between fast and slow phases hits all variants alike;
 * with `shuffle` each round runs them in its own order (bench_core.h).
 * In a round each variant gets a barrier and then `iters` back-to-back
 * calls; the round's time for it is the slowest rank's mean per call.
 *
 * Correctness. A variant's result is checked element by element against the
 * independent reference of the test suite (tests/mpi/reference.c).
 */
#include "bench_core.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"

int bench_rank, bench_nranks;

void bench_init(void) {
  MPI_Comm_rank(MPI_COMM_WORLD, &bench_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &bench_nranks);
}

const char *const bench_coll_names[TCOLL_NUM_COLLS] = {"allreduce", "reduce_scatter", "allgather", "bcast",
                                                       "reduce"};

static double factor_allreduce(int p) { return 2.0 * (p - 1) / p; }
static double factor_scatter_gather(int p) { return (double)(p - 1) / p; }
static double factor_one(int p) { (void)p; return 1.0; }

const bench_coll_facts bench_facts[TCOLL_NUM_COLLS] = {
    [TCOLL_ALLREDUCE] = {1, 0, factor_allreduce},
    [TCOLL_REDUCE_SCATTER] = {1, 0, factor_scatter_gather},
    [TCOLL_ALLGATHER] = {0, 0, factor_scatter_gather},
    [TCOLL_BCAST] = {0, 1, factor_one},
    [TCOLL_REDUCE] = {1, 1, factor_one},
};

bench_layout bench_layout_for(tcoll_coll coll, size_t bytes, size_t es) {
  const size_t n = bytes / es, block = n / (size_t)bench_nranks;
  switch (coll) {
    case TCOLL_REDUCE_SCATTER: return (bench_layout){block, block * (size_t)bench_nranks, block};
    case TCOLL_ALLGATHER: return (bench_layout){block, block, block * (size_t)bench_nranks};
    default: return (bench_layout){n, n, n};
  }
}

size_t bench_layout_bytes(const bench_layout *l, size_t es) { return (l->in_n > l->out_n ? l->in_n : l->out_n) * es; }

static MPI_Datatype mpi_dtype(tcoll_dtype dt) {
  switch (dt) {
    case TCOLL_INT8: return MPI_INT8_T;
    case TCOLL_UINT8: return MPI_UINT8_T;
    case TCOLL_INT32: return MPI_INT32_T;
    case TCOLL_UINT32: return MPI_UINT32_T;
    case TCOLL_INT64: return MPI_INT64_T;
    case TCOLL_UINT64: return MPI_UINT64_T;
    case TCOLL_FLOAT32: return MPI_FLOAT;
    case TCOLL_FLOAT64: return MPI_DOUBLE;
    default: return MPI_DATATYPE_NULL; /* no standard MPI type for half/bfloat16 */
  }
}

static MPI_Op mpi_op(tcoll_op op) {
  switch (op) {
    case TCOLL_SUM: return MPI_SUM;
    case TCOLL_PROD: return MPI_PROD;
    case TCOLL_MIN: return MPI_MIN;
    case TCOLL_MAX: return MPI_MAX;
    default: return MPI_OP_NULL; /* MPI has no average */
  }
}

const char *bench_mpi_unavailable(const bench_params *p, tcoll_coll coll, size_t count) {
  if (mpi_dtype(p->dtype) == MPI_DATATYPE_NULL) return "MPI has no such datatype";
  if (bench_facts[coll].reduces && mpi_op(p->op) == MPI_OP_NULL) return "MPI has no avg op";
  if (count > (size_t)INT32_MAX) return "count exceeds MPI's int";
  return NULL;
}

int bench_is_mpi(const bench_variant *v) { return v->algo && strcmp(v->algo, "mpi") == 0; }
int bench_is_auto(const bench_variant *v) { return !v->algo || strcmp(v->algo, "auto") == 0; }

/* Where this rank's input lives: in place, inside the output buffer at the
 * NCCL position (allgather: its block; reduce_scatter and the rest: the
 * buffer itself); otherwise in `send`. bcast has only the one buffer. */
static void *input_of(tcoll_coll coll, const bench_params *p, void *send, void *recv, const bench_layout *l) {
  if (coll == TCOLL_BCAST) return recv;
  if (!p->inplace) return send;
  if (coll == TCOLL_ALLGATHER) return (char *)recv + (size_t)bench_rank * l->count * ref_size(p->dtype);
  return recv;
}

/* Where the result lands. reduce_scatter in place: tcoll follows NCCL (this
 * rank's block of the buffer), MPI_IN_PLACE puts it at the start. */
static void *output_of(const bench_variant *v, const bench_params *p, void *recv, const bench_layout *l) {
  if (v->coll == TCOLL_REDUCE_SCATTER && p->inplace && !bench_is_mpi(v))
    return (char *)recv + (size_t)bench_rank * l->count * ref_size(p->dtype);
  return recv;
}

int bench_run_once(tcoll_comm *c, const bench_variant *v, const bench_params *p, void *send, void *recv,
                   const bench_layout *l) {
  const tcoll_coll coll = v->coll;
  void *in = input_of(coll, p, send, recv, l), *out = output_of(v, p, recv, l);
  const int root_here = bench_rank == p->root;
  if (bench_is_mpi(v)) {
    const MPI_Datatype dt = mpi_dtype(p->dtype);
    const int n = (int)l->count;
    int err;
    switch (coll) {
      case TCOLL_ALLREDUCE:
        err = MPI_Allreduce(p->inplace ? MPI_IN_PLACE : in, out, n, dt, mpi_op(p->op), MPI_COMM_WORLD);
        break;
      case TCOLL_REDUCE_SCATTER:
        err = MPI_Reduce_scatter_block(p->inplace ? MPI_IN_PLACE : in, out, n, dt, mpi_op(p->op),
                                       MPI_COMM_WORLD);
        break;
      case TCOLL_ALLGATHER:
        err = MPI_Allgather(p->inplace ? MPI_IN_PLACE : in, n, dt, out, n, dt, MPI_COMM_WORLD);
        break;
      case TCOLL_BCAST: err = MPI_Bcast(out, n, dt, p->root, MPI_COMM_WORLD); break;
      default:
        err = MPI_Reduce(p->inplace && root_here ? MPI_IN_PLACE : in, out, n, dt, mpi_op(p->op), p->root,
                         MPI_COMM_WORLD);
        break;
    }
    return err == MPI_SUCCESS ? 0 : -1;
  }
  tcoll_status st;
  switch (coll) {
    case TCOLL_ALLREDUCE: st = tcoll_allreduce(c, in, out, l->count, p->dtype, p->op); break;
    case TCOLL_REDUCE_SCATTER: st = tcoll_reduce_scatter(c, in, out, l->count, p->dtype, p->op); break;
    case TCOLL_ALLGATHER: st = tcoll_allgather(c, in, out, l->count, p->dtype); break;
    case TCOLL_BCAST: st = tcoll_bcast(c, out, l->count, p->dtype, p->root); break;
    default: /* reduce: the result buffer exists only at the root */
      st = tcoll_reduce(c, in, root_here ? out : NULL, l->count, p->dtype, p->op, p->root);
      break;
  }
  return st == TCOLL_OK ? 0 : -1;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double bench_min_traffic(tcoll_coll coll, size_t bytes) {
  /* read its input once and write its output once (a bcast receiver writes
   * n and its data is read once from the root's buffer) */
  const double n = (double)bytes;
  switch (coll) {
    case TCOLL_REDUCE_SCATTER:
    case TCOLL_ALLGATHER: return n + n / bench_nranks;
    default: return 2.0 * n;
  }
}

/* Measured at each size, because a 128 KiB collective runs from cache and a
 * DRAM figure would not bound it. */
double bench_copy_bandwidth(void *dst, const void *src, size_t bytes) {
  const int iters = bench_scaled_iters(bytes);
  double best = 0;
  for (int i = 0; i < 5; i++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    for (int k = 0; k < iters; k++) memcpy(dst, src, bytes);
    double t = (MPI_Wtime() - t0) / iters, tmax;
    MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    double bw = tmax > 0 ? 2.0 * (double)bytes / tmax : 0;
    if (bw > best) best = bw;
  }
  return best;
}

/* About 2 ms of work at a pessimistic 1 GB/s, at least 1, at most 1000, so
 * that a sweep to 64 MiB at 2 ranks stays well under a minute while small
 * sizes still average over many calls. */
int bench_scaled_iters(size_t bytes) {
  double calls = 2e-3 / (1e-6 + (double)bytes / 1e9);
  return calls < 1 ? 1 : calls > 1000 ? 1000 : (int)calls;
}

/* Wrong elements of result[0..n): against the reduction over all ranks of
 * input elements first.. (reduction != 0), or against rank src's inputs.
 * Resumes after each mismatch, so every wrong element is counted; the first
 * one's description goes into msg. */
static long count_wrong(uint64_t seed, const bench_params *p, int reduction, int src, size_t first,
                        const void *result, size_t n, char *msg, size_t msglen) {
  const size_t es = ref_size(p->dtype);
  long wrong = 0;
  char m[256] = "";
  for (size_t pos = 0; pos < n;) {
    const void *at = (const char *)result + pos * es;
    long bad = reduction ? ref_check_reduction(seed, p->dtype, p->op, REF_EXACT, bench_nranks, first + pos, at,
                                               n - pos, m, sizeof m)
                         : ref_check_inputs(seed, p->dtype, p->op, REF_EXACT, src, first + pos, at, n - pos, m,
                                            sizeof m);
    if (bad < 0) break;
    if (wrong == 0) snprintf(msg, msglen, "rank %d: %s", bench_rank, m);
    wrong++;
    pos += (size_t)bad + 1;
  }
  return wrong;
}

long bench_check_variant(tcoll_comm *c, const bench_variant *v, const bench_params *p, void *send,
                         void *recv, const bench_layout *l, char *why, size_t whylen) {
  const tcoll_coll coll = v->coll;
  const uint64_t seed = 0xbe7c + l->count * 31 + (uint64_t)coll;
  const size_t es = ref_size(p->dtype), n = l->count;
  /* garbage where results go, then the inputs (in place they live there) */
  if (!p->inplace || coll == TCOLL_BCAST) memset(recv, 0x5A, l->out_n * es);
  if (coll != TCOLL_BCAST || bench_rank == p->root)
    ref_fill(seed, p->dtype, p->op, REF_EXACT, bench_rank, input_of(coll, p, send, recv, l), l->in_n);
  int failed = bench_run_once(c, v, p, send, recv, l) != 0, any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any_failed) {
    snprintf(why, whylen, "%s", failed ? tcoll_last_error() : "failed on another rank");
    return -1;
  }
  const char *out = output_of(v, p, recv, l);
  long wrong = 0;
  switch (coll) {
    case TCOLL_ALLREDUCE: wrong = count_wrong(seed, p, 1, 0, 0, out, n, why, whylen); break;
    case TCOLL_REDUCE_SCATTER:
      wrong = count_wrong(seed, p, 1, 0, (size_t)bench_rank * n, out, n, why, whylen);
      break;
    case TCOLL_ALLGATHER:
      for (int r = 0; r < bench_nranks; r++)
        wrong += count_wrong(seed, p, 0, r, 0, out + (size_t)r * n * es, n, why, whylen);
      break;
    case TCOLL_BCAST: wrong = count_wrong(seed, p, 0, p->root, 0, out, n, why, whylen); break;
    default:
      if (bench_rank == p->root) wrong = count_wrong(seed, p, 1, 0, 0, out, n, why, whylen);
      break;
  }
  MPI_Allreduce(MPI_IN_PLACE, &wrong, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  return wrong;
}

/* order[0, nv) = 0..nv-1 shuffled (Fisher-Yates over a fixed LCG seeded
 * by seed): deterministic, so every rank runs the same order. */
static void round_order(int *order, int nv, unsigned seed) {
  for (int j = 0; j < nv; j++) order[j] = j;
  unsigned x = seed * 2654435761u;
  for (int j = nv - 1; j > 0; j--) {
    x = x * 1664525u + 1013904223u;
    const int i = (int)((x >> 8) % (unsigned)(j + 1));
    const int tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
}

#define AUTO_WARMUP_CALLS 60

int bench_time(tcoll_comm *c, const bench_params *p, const bench_variant *v, int nv, const int *usable,
               size_t bytes, void *send, void *recv, const bench_layout *l, double *t) {
  int iters = p->iters ? p->iters : bench_scaled_iters(bytes);
  const int warmup = p->warmup ? p->warmup - 1 : (iters + 9) / 10;
  double slowest_call = 0;
  /* more variants than the order array holds run in their given order */
  const int shuffled = p->shuffle && nv <= BENCH_MAX_VARIANTS;
  for (int k = 0; k < nv; k++) {
    if (!usable[k]) continue;
    if (!bench_is_mpi(&v[k])) tcoll_comm_set_algorithm(c, v[k].coll, v[k].algo);
    const double t0 = MPI_Wtime();
    for (int i = 0; i < warmup; i++) bench_run_once(c, &v[k], p, send, recv, l);
    if (warmup > 0) slowest_call = fmax(slowest_call, (MPI_Wtime() - t0) / warmup);
    /* The automatic choice's first calls of a size time its candidates
     * (TCOLL_ADAPTIVE: up to three rounds of at most 5 candidates x 4 calls): a loop
     * of the same call, which the rounds measure, runs past them. Untimed,
     * as the warm-up. */
    if (bench_is_auto(&v[k]))
      for (int i = warmup; i < AUTO_WARMUP_CALLS; i++) bench_run_once(c, &v[k], p, send, recv, l);
  }
  if (p->batch_seconds > 0 && !p->iters && warmup > 0) {
    /* the same count on every rank: from the slowest rank's warm-up */
    MPI_Allreduce(MPI_IN_PLACE, &slowest_call, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    const double fit = p->batch_seconds / fmax(slowest_call, 1e-9);
    if (fit < iters) iters = fit < 1 ? 1 : (int)fit;
  }
  for (int r = 0; r < p->rounds; r++) {
    if (p->deadline > 0 && r > 0) {
      int stop = bench_rank == 0 && MPI_Wtime() > p->deadline;
      MPI_Bcast(&stop, 1, MPI_INT, 0, MPI_COMM_WORLD);
      if (stop) return r;
    }
    int order[BENCH_MAX_VARIANTS];
    if (shuffled) round_order(order, nv, (unsigned)r + 1);
    for (int j = 0; j < nv; j++) {
      const int k = shuffled ? order[j] : j;
      if (!usable[k]) continue;
      if (!bench_is_mpi(&v[k])) tcoll_comm_set_algorithm(c, v[k].coll, v[k].algo);
      MPI_Barrier(MPI_COMM_WORLD);
      /* One untimed call first: the rounds interleave the variants, so
       * each batch would otherwise begin with the first call after another
       * variant's, in caches and buffers that variant left behind. From
       * 1 MiB a batch is a single call, and that first call took up to 1.4x
       * the time of the next ones here (recursive doubling at 2 MiB): the
       * table would rank the algorithms by how they recover from each
       * other, not by what a loop of one collective gets (what OSU's and
       * nccl-tests' loops measure, and what the automatic choice times). */
      bench_run_once(c, &v[k], p, send, recv, l);
      double t0 = MPI_Wtime();
      int failed = 0;
      for (int i = 0; i < iters; i++) {
        if (p->sync) MPI_Barrier(MPI_COMM_WORLD);
        failed |= bench_run_once(c, &v[k], p, send, recv, l) != 0;
      }
      double mine = (MPI_Wtime() - t0) / iters, slowest;
      MPI_Allreduce(&mine, &slowest, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      t[k * p->rounds + r] = slowest;
      /* (the last algorithm that succeeded: none to name if one failed) */
      if (p->auto_ran && bench_is_auto(&v[k])) p->auto_ran[r] = failed ? NULL : tcoll_last_algorithm(c, v[k].coll);
    }
  }
  return p->rounds;
}

const char *bench_majority(const char *const *ran, int n, int *count) {
  const char *best = NULL;
  *count = 0;
  for (int i = 0; i < n; i++) {
    if (!ran[i]) continue;
    int same = 0;
    for (int j = 0; j < n; j++) same += ran[j] && strcmp(ran[i], ran[j]) == 0;
    if (same > *count) best = ran[i], *count = same;
  }
  return best;
}

void bench_sort(double *x, int n) { qsort(x, (size_t)n, sizeof *x, cmp_double); }

void bench_stats(const double *s, int n, double *min, double *med, double *p99) {
  *min = s[0];
  *med = (n % 2) ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
  *p99 = s[(int)ceil(0.99 * n) - 1];
}

double bench_quantile(const double *s, int n, double q) {
  if (n <= 1) return s[0];
  double at = q * (n - 1);
  int i = (int)floor(at);
  if (i >= n - 1) return s[n - 1];
  return s[i] + (at - i) * (s[i + 1] - s[i]);
}
