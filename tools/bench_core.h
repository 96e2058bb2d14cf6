/*
 * The measurement machinery shared by tcoll-bench and tcoll-tune: how a
 * size maps onto a call, one call of a variant (MPI's own collective, the
 * automatic choice or a forced algorithm), the element-by-element check
 * against the test suite's independent reference, and the interleaved
 * timing loop (in a round each variant gets a barrier and `iters`
 * back-to-back calls; the round's time is the slowest rank's mean per
 * call).
 *
 * Every function here that communicates is collective over MPI_COMM_WORLD.
 */
#ifndef TCOLL_BENCH_CORE_H
#define TCOLL_BENCH_CORE_H

#include <stddef.h>

#include "tcoll.h"

/* What a call looks like and how it is timed. */
typedef struct {
  tcoll_dtype dtype;
  tcoll_op op;
  int root;
  int inplace;
  int iters;  /* calls per timed batch, 0 = scaled by size */
  int warmup; /* untimed calls per variant + 1, 0 = scaled by size */
  int rounds; /* interleaved rounds */
  int sync;   /* barrier before every call inside the timed loop */
  double deadline; /* rank 0's MPI_Wtime after which no new round starts (0: none) */
  /* > 0 with iters 0: fewer calls per batch when the warm-up shows calls
   * slower than expected, so that a batch lasts about this long (a loaded
   * machine, a sanitizer build); never more than the scaled count */
  double batch_seconds;
  /* each round runs the variants in its own order (a shuffle seeded by the
   * round, the same on every rank): what a variant leaves in the caches and
   * the scheduler helps or hurts whatever runs next, by up to 30% here, and
   * a fixed or merely rotated order always gives a variant the same
   * predecessor */
  int shuffle;
  /* when not NULL, [rounds]: the algorithm the automatic choice ran in the
   * last call of each round's batch (it may change while it is timed:
   * TCOLL_ADAPTIVE) */
  const char **auto_ran;
} bench_params;

/* The name that occurs most often in ran[0, n) (NULL entries skipped),
 * and in *count how often; NULL if none. */
const char *bench_majority(const char *const *ran, int n, int *count);

/* Most variants bench_time shuffles (tcoll-bench and tcoll-tune stay far below). */
#define BENCH_MAX_VARIANTS 64

/* This process's rank and the job's size, set by bench_init. */
extern int bench_rank, bench_nranks;
void bench_init(void);

/* Per-collective facts, one row each: whether it takes an op, a root, and
 * its nccl-tests bus bandwidth factor. */
typedef struct {
  int reduces;
  int rooted;
  double (*busbw_factor)(int p);
} bench_coll_facts;
extern const bench_coll_facts bench_facts[TCOLL_NUM_COLLS];
extern const char *const bench_coll_names[TCOLL_NUM_COLLS];

/* How one size maps onto a call: `count` is the API's count argument; the
 * rank's input has in_n elements and the output buffer out_n. The size of a
 * row is the whole vector (nccl-tests): p blocks for reduce_scatter and
 * allgather. */
typedef struct {
  size_t count, in_n, out_n;
} bench_layout;
bench_layout bench_layout_for(tcoll_coll coll, size_t bytes, size_t elem_size);
/* The bytes a row of this layout reports (the larger of input and output). */
size_t bench_layout_bytes(const bench_layout *l, size_t elem_size);

typedef struct {
  tcoll_coll coll;
  const char *algo; /* NULL = automatic, "mpi" = the MPI library */
} bench_variant;
int bench_is_mpi(const bench_variant *v);
/* The automatic choice (algorithm "auto"). */
int bench_is_auto(const bench_variant *v);

/* Why MPI's own collective cannot run this call, or NULL. */
const char *bench_mpi_unavailable(const bench_params *p, tcoll_coll coll, size_t count);

/* One call of variant v (forced algorithms must already be set on c).
 * 0 on success. */
int bench_run_once(tcoll_comm *c, const bench_variant *v, const bench_params *p, void *send, void *recv,
                   const bench_layout *l);

/* Checks one variant: fresh inputs, one call, every element of what this
 * rank must hold against the reference. Returns the number of wrong
 * elements over all ranks (0 if none), -1 if the call failed somewhere
 * (the reason in why). */
long bench_check_variant(tcoll_comm *c, const bench_variant *v, const bench_params *p, void *send,
                         void *recv, const bench_layout *l, char *why, size_t whylen);

/* Calls per timed batch for a size (about 2 ms of work at 1 GB/s, 1..1000). */
int bench_scaled_iters(size_t bytes);

/* Times the usable variants (usable[k] != 0) of one size in interleaved
 * rounds. samples[k * rounds + r] receives round r of variant k, in round
 * order (rounds are paired across variants: bench_sort before bench_stats).
 * Returns the number of rounds done: all of them, or fewer (at least 1)
 * when p->deadline passed (rank 0 decides, every rank follows). */
int bench_time(tcoll_comm *c, const bench_params *p, const bench_variant *v, int nv, const int *usable,
               size_t bytes, void *send, void *recv, const bench_layout *l, double *samples);

void bench_sort(double *x, int n);

/* Statistics of sorted samples: min, median, p99 (as tcoll-bench reports
 * them) and a quantile by linear interpolation. */
void bench_stats(const double *sorted, int n, double *min, double *med, double *p99);
double bench_quantile(const double *sorted, int n, double q);

/* Memory traffic the busiest rank must do for a collective of `bytes`. */
double bench_min_traffic(tcoll_coll coll, size_t bytes);
/* Copy bandwidth per rank (bytes read + written per second) at this size,
 * all ranks copying at once; best of 5 batches. */
double bench_copy_bandwidth(void *dst, const void *src, size_t bytes);

#endif
