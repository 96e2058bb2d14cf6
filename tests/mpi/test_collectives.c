/*
 * The collective matrix: for each of the five collectives, every registered
 * algorithm and the automatic choice x counts {0, 1, p-1, p, p+1, primes up
 * to ~10^6} x every dtype x every op (reductions) x in place and out of place
 * x roots {0, p-1, p/2} (rooted collectives), each checked against an
 * independent reference (reference.c), plus: guards around every buffer
 * untouched, inputs unchanged, results bitwise identical on every rank where
 * the output is replicated, recvbuf untouched at reduce's non-roots, and
 * tcoll_last_algorithm naming what was forced (or, for a forced algorithm
 * that must decline, what really ran instead).
 *
 * One loop body serves all collectives; what differs (buffer shapes, the
 * call, the expected result) is in the coll_spec table below.
 *
 * Runs under mpirun at several sizes (tests/meson.build). Every rank runs the
 * same collective steps whatever its local verdict, and ranks agree on the
 * verdict (MPI_Allreduce MIN) before asserting, so one failing rank cannot
 * hang the others.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "reference.h"
#include "check_mpi.h"
#include "tcoll.h"

static int P, R;
static int NODES;          /* hosts (or emulated nodes) the ranks span, counted by the test itself */
static size_t MAX_COUNT;   /* TCOLL_TEST_MAX_COUNT: caps every count (slow transports) */
static size_t MAX_SEGMENTED_COUNT; /* TCOLL_TEST_MAX_SEGMENTED_COUNT: caps the tiny-segment jobs */
static tcoll_comm *comm;           /* default segment size */
static tcoll_comm *comm_small_seg; /* 64-byte segments: pipelining with small counts */
static tcoll_comm *comm_fail;      /* TCOLL_FALLBACK=error */

#define SMALL_SEGMENT_BYTES "64"
#define MAX_REPORTS 10
#define PATTERN 0x5A /* what output buffers hold before the call */

struct coll_spec;

typedef struct {
  const struct coll_spec *spec;
  tcoll_comm *comm;
  const char *algo; /* NULL = automatic */
  size_t count;
  tcoll_dtype dt;
  tcoll_op op;
  ref_mode mode;
  int inplace;
  int root;
  uint64_t seed;
} test_case;

/* The buffers of one call. `a` is always allocated and `b` unless the call
 * is in place (or is reduce's NULL recvbuf at a non-root). After the call `a`
 * must equal its snapshot except in [exempt_off, exempt_off + exempt_len),
 * the part the collective may write. */
typedef struct {
  unsigned char *a, *b, *a_before;
  size_t a_bytes, b_bytes, exempt_off, exempt_len;
  const void *send;
  void *recv;
} buffers;

typedef struct coll_spec {
  tcoll_coll coll;
  const char *name;
  int reduces;               /* loop over ops and modes */
  int rooted;                /* loop over roots */
  int variants;              /* 2: out of place and in place; 1: a single buffer */
  size_t max_count;          /* keeps the suite fast */
  const char *segmented[5];  /* algorithms also run with tiny segments/chunks (NULL-ended) */
  void (*setup)(const test_case *k, buffers *x);
  tcoll_status (*invoke)(const test_case *k, const buffers *x);
  /* Checks this rank's result; returns 1 on pass. */
  int (*check)(const test_case *k, const buffers *x, char *msg, size_t msglen);
  /* The output every rank must hold bit for bit, or NULL. */
  const void *(*replicated)(const test_case *k, const buffers *x, size_t *bytes);
} coll_spec;

static size_t es_of(const test_case *k) { return ref_size(k->dt); }

static unsigned char *alloc_or_die(size_t bytes) {
  unsigned char *p = ref_guarded_alloc(bytes);
  if (!p) {
    fprintf(stderr, "rank %d: test out of memory\n", R);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  return p;
}

static unsigned char *output_buffer(size_t bytes) {
  unsigned char *p = alloc_or_die(bytes);
  memset(p, PATTERN, bytes);
  return p;
}

static void fill(const test_case *k, int rank, void *buf, size_t count) {
  ref_fill(k->seed, k->dt, k->op, k->mode, rank, buf, count);
}

static int pattern_intact(const unsigned char *p, size_t bytes) {
  for (size_t i = 0; i < bytes; i++)
    if (p[i] != PATTERN) return 0;
  return 1;
}

static int check_reduced(const test_case *k, size_t first, const void *result, char *msg, size_t msglen) {
  return ref_check_reduction(k->seed, k->dt, k->op, k->mode, P, first, result, k->count, msg, msglen) < 0;
}

static const void *replicated_recv(const test_case *k, const buffers *x, size_t *bytes) {
  *bytes = k->count * es_of(k) * (k->spec->coll == TCOLL_ALLGATHER ? (size_t)P : 1);
  return x->recv;
}

/* ---- allreduce: count in, count out ---- */

static void allreduce_setup(const test_case *k, buffers *x) {
  x->a_bytes = k->count * es_of(k);
  x->a = alloc_or_die(x->a_bytes);
  fill(k, R, x->a, k->count);
  x->send = x->a;
  if (k->inplace) {
    x->recv = x->a;
    x->exempt_len = x->a_bytes;
  } else {
    x->b_bytes = x->a_bytes;
    x->recv = x->b = output_buffer(x->b_bytes);
  }
}
static tcoll_status allreduce_invoke(const test_case *k, const buffers *x) {
  return tcoll_allreduce(k->comm, x->send, x->recv, k->count, k->dt, k->op);
}
static int allreduce_check(const test_case *k, const buffers *x, char *msg, size_t msglen) {
  return check_reduced(k, 0, x->recv, msg, msglen);
}

/* ---- reduce_scatter: p blocks in, block R out ---- */

static void reduce_scatter_setup(const test_case *k, buffers *x) {
  const size_t block = k->count * es_of(k);
  x->a_bytes = (size_t)P * block;
  x->a = alloc_or_die(x->a_bytes);
  fill(k, R, x->a, (size_t)P * k->count);
  x->send = x->a;
  if (k->inplace) {
    x->recv = x->a + (size_t)R * block;
    x->exempt_off = (size_t)R * block; /* only the own block may change */
    x->exempt_len = block;
  } else {
    x->b_bytes = block;
    x->recv = x->b = output_buffer(block);
  }
}
static tcoll_status reduce_scatter_invoke(const test_case *k, const buffers *x) {
  return tcoll_reduce_scatter(k->comm, x->send, x->recv, k->count, k->dt, k->op);
}
static int reduce_scatter_check(const test_case *k, const buffers *x, char *msg, size_t msglen) {
  return check_reduced(k, (size_t)R * k->count, x->recv, msg, msglen);
}

/* ---- allgather: count in, p blocks out ---- */

static void allgather_setup(const test_case *k, buffers *x) {
  const size_t block = k->count * es_of(k);
  if (k->inplace) {
    x->a_bytes = (size_t)P * block;
    x->a = output_buffer(x->a_bytes);
    fill(k, R, x->a + (size_t)R * block, k->count);
    x->send = x->a + (size_t)R * block;
    x->recv = x->a;
    x->exempt_len = x->a_bytes; /* the check covers the own block too */
  } else {
    x->a_bytes = block;
    x->a = alloc_or_die(block);
    fill(k, R, x->a, k->count);
    x->send = x->a;
    x->b_bytes = (size_t)P * block;
    x->recv = x->b = output_buffer(x->b_bytes);
  }
}
static tcoll_status allgather_invoke(const test_case *k, const buffers *x) {
  return tcoll_allgather(k->comm, x->send, x->recv, k->count, k->dt);
}
static int allgather_check(const test_case *k, const buffers *x, char *msg, size_t msglen) {
  const size_t block = k->count * es_of(k);
  for (int r = 0; r < P; r++)
    if (ref_check_inputs(k->seed, k->dt, k->op, k->mode, r, 0, (const char *)x->recv + (size_t)r * block,
                         k->count, msg, msglen) >= 0)
      return 0;
  return 1;
}

/* ---- bcast: one buffer, the root's input everywhere ---- */

static void bcast_setup(const test_case *k, buffers *x) {
  x->a_bytes = k->count * es_of(k);
  x->a = output_buffer(x->a_bytes);
  if (R == k->root) fill(k, R, x->a, k->count);
  x->send = x->recv = x->a;
  x->exempt_len = x->a_bytes; /* at the root the check proves it unchanged */
}
static tcoll_status bcast_invoke(const test_case *k, const buffers *x) {
  return tcoll_bcast(k->comm, x->recv, k->count, k->dt, k->root);
}
static int bcast_check(const test_case *k, const buffers *x, char *msg, size_t msglen) {
  return ref_check_inputs(k->seed, k->dt, k->op, k->mode, k->root, 0, x->recv, k->count, msg, msglen) < 0;
}

/* ---- reduce: the result at the root only ---- */

static void reduce_setup(const test_case *k, buffers *x) {
  x->a_bytes = k->count * es_of(k);
  x->a = alloc_or_die(x->a_bytes);
  fill(k, R, x->a, k->count);
  x->send = x->a;
  if (k->inplace && R == k->root) {
    x->recv = x->a;
    x->exempt_len = x->a_bytes;
  } else if (k->inplace) {
    x->recv = NULL; /* not significant at a non-root: NULL is allowed */
  } else {
    x->b_bytes = x->a_bytes;
    x->recv = x->b = output_buffer(x->b_bytes);
  }
}
static tcoll_status reduce_invoke(const test_case *k, const buffers *x) {
  return tcoll_reduce(k->comm, x->send, x->recv, k->count, k->dt, k->op, k->root);
}
static int reduce_check(const test_case *k, const buffers *x, char *msg, size_t msglen) {
  if (R == k->root) return check_reduced(k, 0, x->recv, msg, msglen);
  if (x->b && !pattern_intact(x->b, x->b_bytes)) {
    snprintf(msg, msglen, "recvbuf written at non-root rank %d", R);
    return 0;
  }
  return 1;
}

static const coll_spec specs[] = {
    {TCOLL_ALLREDUCE, "allreduce", 1, 0, 2, (size_t)-1, {"ring", "shm", "cma", "hierarchical"}, allreduce_setup, allreduce_invoke,
     allreduce_check, replicated_recv},
    {TCOLL_REDUCE_SCATTER, "reduce_scatter", 1, 0, 2, 65537, {"ring", NULL}, reduce_scatter_setup,
     reduce_scatter_invoke, reduce_scatter_check, NULL},
    {TCOLL_ALLGATHER, "allgather", 0, 0, 2, 65537, {NULL}, allgather_setup, allgather_invoke,
     allgather_check, replicated_recv},
    {TCOLL_BCAST, "bcast", 0, 1, 1, 65537, {"shm", NULL}, bcast_setup, bcast_invoke, bcast_check, replicated_recv},
    {TCOLL_REDUCE, "reduce", 1, 1, 2, 65537, {"shm", NULL}, reduce_setup, reduce_invoke, reduce_check, NULL},
};
#define NUM_SPECS (sizeof specs / sizeof specs[0])

/* The test's own probe of single copy: reading this process's own memory
 * through process_vm_readv fails where a seccomp filter refuses the call. */
static int single_copy_works(void) {
  int word = 42, seen = 0;
  struct iovec here = {&seen, sizeof seen}, there = {&word, sizeof word};
  return process_vm_readv(getpid(), &here, 1, &there, 1, 0) == (ssize_t)sizeof seen && seen == 42;
}

/* The test's own knowledge of which forced algorithms must decline at this
 * size and placement (independent of the library's check()). */
static const char *expected_decline(tcoll_coll coll, const char *algo) {
  int pow2 = (P & (P - 1)) == 0;
  if (coll == TCOLL_ALLGATHER && algo && strcmp(algo, "recursive_doubling") == 0 && !pow2)
    return "power-of-two";
  /* every shm algorithm needs one node (a shared segment): declines across
   * hosts or emulated nodes */
  if (algo && (strcmp(algo, "shm") == 0 || strcmp(algo, "cma") == 0) && NODES > 1) return "nodes";
  if (algo && strcmp(algo, "cma") == 0 && P > 1 && !single_copy_works()) return "single copy";
  return NULL;
}

static int is_algorithm_of(tcoll_coll coll, const char *name) {
  for (size_t i = 0; i < tcoll_algorithm_count(coll); i++)
    if (strcmp(tcoll_algorithm_name(coll, i), name) == 0) return 1;
  return 0;
}

/* Runs one call and checks it on this rank. Every rank executes the same
 * collective steps whatever its local verdict. Returns 1 on pass. */
static int run_case(const test_case *k, char *msg, size_t msglen) {
  const coll_spec *spec = k->spec;
  buffers x;
  int pass = 1;
  memset(&x, 0, sizeof x);
  msg[0] = '\0';
  spec->setup(k, &x);
  x.a_before = malloc(x.a_bytes + 1);
  if (!x.a_before) MPI_Abort(MPI_COMM_WORLD, 2);
  memcpy(x.a_before, x.a, x.a_bytes);

  tcoll_status st = spec->invoke(k, &x);
  if (st != TCOLL_OK)
    pass = 0, snprintf(msg, msglen, "tcoll_%s returned %s: %s", spec->name, tcoll_status_string(st),
                       tcoll_last_error());
  if (pass && !ref_guards_intact(x.a, x.a_bytes)) pass = 0, snprintf(msg, msglen, "guard of buffer a overwritten");
  if (pass && x.b && !ref_guards_intact(x.b, x.b_bytes))
    pass = 0, snprintf(msg, msglen, "guard of buffer b overwritten");
  if (pass && (memcmp(x.a, x.a_before, x.exempt_off) != 0 ||
               memcmp(x.a + x.exempt_off + x.exempt_len, x.a_before + x.exempt_off + x.exempt_len,
                      x.a_bytes - x.exempt_off - x.exempt_len) != 0))
    pass = 0, snprintf(msg, msglen, "input buffer modified");
  if (pass) pass = spec->check(k, &x, msg, msglen);
  if (spec->replicated) {
    /* bitwise agreement with rank 0 (collective: runs on every rank) */
    size_t bytes = 0;
    const unsigned char *out = spec->replicated(k, &x, &bytes);
    unsigned char *root_copy = malloc(bytes + 1);
    if (!root_copy) MPI_Abort(MPI_COMM_WORLD, 2);
    if (R == 0) memcpy(root_copy, out, bytes);
    for (size_t off = 0; off < bytes; off += 1 << 30) {
      size_t n = bytes - off < (1u << 30) ? bytes - off : (1u << 30);
      MPI_Bcast(root_copy + off, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
    }
    if (pass && memcmp(root_copy, out, bytes) != 0)
      pass = 0, snprintf(msg, msglen, "result differs from rank 0's bits");
    free(root_copy);
  }
  const char *ran = tcoll_last_algorithm(k->comm, spec->coll);
  const char *declines = expected_decline(spec->coll, k->algo);
  if (pass && !ran) pass = 0, snprintf(msg, msglen, "tcoll_last_algorithm is NULL");
  if (pass && k->algo && !declines && strcmp(ran, k->algo) != 0)
    pass = 0, snprintf(msg, msglen, "forced %s but tcoll_last_algorithm says %s", k->algo, ran);
  if (pass && declines && strcmp(ran, k->algo) == 0)
    pass = 0, snprintf(msg, msglen, "%s should have declined at p=%d but ran", k->algo, P);
  if (pass && !is_algorithm_of(spec->coll, ran))
    pass = 0, snprintf(msg, msglen, "tcoll_last_algorithm says %s, not a %s algorithm", ran, spec->name);

  ref_guarded_free(x.a);
  ref_guarded_free(x.b);
  free(x.a_before);
  return pass;
}

/* A few large counts are enough to cover segmentation, block boundaries and
 * the vectorised kernels; keep them to combinations that differ in kind. */
static int large_count_wanted(const test_case *k) {
  if (k->count <= 1021) return 1;
  if (k->count <= 65537) {
    if (!k->spec->reduces) return k->dt == TCOLL_FLOAT16 || k->dt == TCOLL_FLOAT64;
    if (k->spec->coll == TCOLL_ALLREDUCE) /* the most used: every dtype's SUM */
      return k->op == TCOLL_SUM || (k->dt == TCOLL_FLOAT64 && k->op == TCOLL_MAX) ||
             (k->dt == TCOLL_BFLOAT16 && k->op == TCOLL_AVG);
    return (k->op == TCOLL_SUM && (k->dt == TCOLL_INT32 || k->dt == TCOLL_BFLOAT16)) ||
           (k->dt == TCOLL_FLOAT64 && k->op == TCOLL_MAX);
  }
  return (k->dt == TCOLL_FLOAT32 && k->op == TCOLL_SUM && k->mode == REF_REAL) ||
         (k->dt == TCOLL_INT64 && k->op == TCOLL_SUM);
}

static size_t build_counts(size_t *counts, size_t max_count) {
  const size_t base[] = {0, 1, (size_t)P - 1, (size_t)P, (size_t)P + 1, 7, 31, 1021, 65537, 1000003};
  size_t n = 0;
  for (size_t i = 0; i < sizeof base / sizeof base[0]; i++) {
    int dup = 0;
    for (size_t j = 0; j < n; j++) dup |= counts[j] == base[i];
    if (!dup && base[i] <= max_count) counts[n++] = base[i];
  }
  return n;
}

static size_t build_roots(const coll_spec *spec, int *roots) {
  const int base[] = {0, P - 1, P / 2};
  size_t n = 0;
  for (size_t i = 0; i < (spec->rooted ? 3u : 1u); i++) {
    int dup = 0;
    for (size_t j = 0; j < n; j++) dup |= roots[j] == base[i];
    if (!dup) roots[n++] = base[i];
  }
  return n;
}

/* Combinations the reference cannot judge or the API rejects. */
static int combination_wanted(const test_case *k) {
  if (!k->spec->reduces) return k->op == TCOLL_SUM && k->mode == REF_EXACT;
  if (!ref_is_float(k->dt) && (k->op == TCOLL_AVG || k->mode == REF_REAL)) return 0;
  if (k->mode == REF_REAL && k->op != TCOLL_SUM && k->op != TCOLL_AVG) return 0;
  return large_count_wanted(k);
}

/* The loop of Check's loop test: jobs[i] = (collective, algorithm); algorithm
 * -1 = automatic, nalgs = the segmented one with tiny segments. */
typedef struct {
  const coll_spec *spec;
  int alg;
} job;
static job jobs[64];
static int njobs;

/* Whether `name` is in the comma-separated `list` (NULL or empty: all). */
static int listed(const char *list, const char *name) {
  if (!list || !*list) return 1;
  const size_t n = strlen(name);
  for (const char *p = list; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
    if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0')) return 1;
  return 0;
}

/* TCOLL_TEST_COLLS and TCOLL_TEST_ALGOS (comma-separated names, "auto" for
 * the automatic choice) narrow the matrix: the emulated-node runs repeat
 * only what the node split changes, to keep the suite short. */
static void build_jobs(void) {
  const char *colls = getenv("TCOLL_TEST_COLLS"), *algos = getenv("TCOLL_TEST_ALGOS");
  for (size_t s = 0; s < NUM_SPECS; s++) {
    if (!listed(colls, specs[s].name)) continue;
    int nalgs = (int)tcoll_algorithm_count(specs[s].coll);
    int nseg = 0;
    while (specs[s].segmented[nseg]) nseg++;
    for (int a = -1; a < nalgs + nseg; a++) {
      const char *name = a < 0 ? "auto" : a < nalgs ? tcoll_algorithm_name(specs[s].coll, (size_t)a)
                                                    : specs[s].segmented[a - nalgs];
      if (listed(algos, name)) jobs[njobs++] = (job){&specs[s], a};
    }
  }
}

START_TEST(test_matrix) {
  const coll_spec *spec = jobs[_i].spec;
  const int nalgs = (int)tcoll_algorithm_count(spec->coll);
  test_case k = {.spec = spec, .comm = comm};
  size_t max_count = spec->max_count < MAX_COUNT ? spec->max_count : MAX_COUNT;
  if (jobs[_i].alg < 0) {
    k.algo = NULL;
  } else if (jobs[_i].alg < nalgs) {
    k.algo = tcoll_algorithm_name(spec->coll, (size_t)jobs[_i].alg);
  } else {
    k.algo = spec->segmented[jobs[_i].alg - nalgs];
    k.comm = comm_small_seg;
    /* 64-byte segments: 10^6 elements is 10^5 messages */
    if (max_count > MAX_SEGMENTED_COUNT) max_count = MAX_SEGMENTED_COUNT;
  }
  ck_assert_int_eq(tcoll_comm_set_algorithm(k.comm, spec->coll, k.algo), TCOLL_OK);

  size_t counts[16];
  int roots[3];
  const size_t ncounts = build_counts(counts, max_count), nroots = build_roots(spec, roots);
  int cases = 0, failed = 0, reported = 0;
  const double started = MPI_Wtime();
  for (size_t ci = 0; ci < ncounts; ci++)
    for (int dt = 0; dt < 10; dt++)
      for (int op = 0; op < 5; op++)
        for (int mode = REF_EXACT; mode <= REF_REAL; mode++)
          for (int inplace = 2 - spec->variants; inplace <= 1; inplace++)
            for (size_t ri = 0; ri < nroots; ri++) {
              k.count = counts[ci];
              k.dt = (tcoll_dtype)dt;
              k.op = (tcoll_op)op;
              k.mode = (ref_mode)mode;
              k.inplace = inplace;
              k.root = roots[ri];
              if (!combination_wanted(&k)) continue;
              k.seed = 0x7c011 + k.count * 131 + (uint64_t)dt * 17 + (uint64_t)op * 7 + (uint64_t)mode +
                       (uint64_t)k.root * 1009 + (uint64_t)spec->coll * 7919;
              char msg[512];
              int pass = run_case(&k, msg, sizeof msg);
              cases++;
              if (!pass && reported++ < MAX_REPORTS)
                fprintf(stderr, "FAIL rank %d/%d %s algo=%s count=%zu %s %s %s %s root=%d: %s\n", R, P,
                        spec->name, k.algo ? k.algo : "auto", k.count, ref_dtype_name(k.dt),
                        spec->reduces ? ref_op_name(k.op) : "-", k.mode == REF_EXACT ? "exact" : "real",
                        k.inplace ? "in-place" : "out-of-place", k.root, msg);
              failed += !pass;
            }
  /* one agreement per loop: the collective steps above never depend on a
   * verdict, so ranks stay in step without agreeing per case */
  int any_failed = 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  ck_assert_msg(any_failed == 0, "%s algorithm %s%s: %d of %d cases failed on some rank (details on stderr)",
                spec->name, k.algo ? k.algo : "auto", k.comm == comm_small_seg ? " (64-byte segments)" : "",
                any_failed, cases);
  if (R == 0 && getenv("TCOLL_TEST_VERBOSE"))
    fprintf(stderr, "%s %s%s: %d cases, %.1f s\n", spec->name, k.algo ? k.algo : "auto",
            k.comm == comm_small_seg ? " (64-byte segments)" : "", cases, MPI_Wtime() - started);
  ck_assert_int_gt(cases, 20);
}
END_TEST

/* A forced algorithm that cannot do a call: with TCOLL_FALLBACK=error the
 * call fails with UNSUPPORTED naming the algorithm and the reason, before any
 * communication (the communicator keeps working). The warn fallback is
 * covered by the matrix (tcoll_last_algorithm names what ran). */
START_TEST(test_declines) {
  int checked = 0;
  for (size_t s = 0; s < NUM_SPECS; s++)
    for (size_t a = 0; a < tcoll_algorithm_count(specs[s].coll); a++) {
      const char *name = tcoll_algorithm_name(specs[s].coll, a);
      const char *reason = expected_decline(specs[s].coll, name);
      if (!reason) continue;
      test_case k = {.spec = &specs[s], .comm = comm_fail, .algo = name, .count = 5, .dt = TCOLL_INT32,
                     .op = TCOLL_SUM, .mode = REF_EXACT, .inplace = 0, .root = 0, .seed = 99};
      ck_assert_int_eq(tcoll_comm_set_algorithm(comm_fail, specs[s].coll, name), TCOLL_OK);
      buffers x;
      memset(&x, 0, sizeof x);
      specs[s].setup(&k, &x);
      tcoll_status st = specs[s].invoke(&k, &x);
      ref_guarded_free(x.a);
      ref_guarded_free(x.b);
      ck_assert_msg(st == TCOLL_ERR_UNSUPPORTED, "%s %s at p=%d returned %s", specs[s].name, name, P,
                    tcoll_status_string(st));
      ck_assert_msg(strstr(tcoll_last_error(), name) && strstr(tcoll_last_error(), reason),
                    "message \"%s\" does not name %s and %s", tcoll_last_error(), name, reason);
      ck_assert_int_eq(tcoll_comm_set_algorithm(comm_fail, specs[s].coll, NULL), TCOLL_OK);
      checked++;
    }
  /* at non-powers of two something must decline, or this test proves nothing */
  if ((P & (P - 1)) != 0) ck_assert_int_gt(checked, 0);
}
END_TEST

static tcoll_comm *create_or_die(const char *var, const char *value) {
  tcoll_comm *c = NULL;
  if (var) setenv(var, value, 1);
  if (tcoll_comm_create(MPI_COMM_WORLD, &c) != TCOLL_OK) {
    fprintf(stderr, "tcoll_comm_create: %s\n", tcoll_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  if (var) unsetenv(var);
  return c;
}

/* Nodes as the library should see them: TCOLL_RANKS_PER_NODE's emulated
 * nodes, or the hosts MPI reports (ranks sharing memory), counted here
 * rather than assumed, so the matrix runs unchanged across emulated hosts
 * (scripts/cluster). */
static int count_nodes(void) {
  const char *rpn = getenv("TCOLL_RANKS_PER_NODE");
  char *end = NULL;
  long k = rpn && *rpn ? strtol(rpn, &end, 10) : 0;
  if (k > 0 && end && !*end) return (int)((P + k - 1) / k);
  MPI_Comm node;
  int local_rank, leaders = 0;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, R, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local_rank);
  int leader = local_rank == 0;
  MPI_Allreduce(&leader, &leaders, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Comm_free(&node);
  return leaders;
}

/* TCOLL_TEST_MAX_COUNT=N caps every count of the matrix, and
 * TCOLL_TEST_MAX_SEGMENTED_COUNT=N those of the jobs with 64-byte segments,
 * where every element is a message on slow transports (unset: fallback). */
static size_t count_from_env(const char *var, size_t fallback) {
  const char *v = getenv(var);
  if (!v || !*v) return fallback;
  char *end = NULL;
  unsigned long long n = strtoull(v, &end, 10);
  if (!end || *end || v[0] == '-') {
    if (R == 0) fprintf(stderr, "%s=\"%s\": expected a count\n", var, v);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  return (size_t)n;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  MPI_Comm_rank(MPI_COMM_WORLD, &R);
  NODES = count_nodes();
  MAX_COUNT = count_from_env("TCOLL_TEST_MAX_COUNT", (size_t)-1);
  MAX_SEGMENTED_COUNT = count_from_env("TCOLL_TEST_MAX_SEGMENTED_COUNT", 65537);
  if (R == 0 && (NODES > 1 || MAX_COUNT != (size_t)-1))
    fprintf(stderr, "collectives: %d ranks on %d node(s), counts up to %zu (%zu with 64-byte segments)\n", P,
            NODES, MAX_COUNT == (size_t)-1 ? (size_t)1000003 : MAX_COUNT, MAX_SEGMENTED_COUNT);
  comm = create_or_die(NULL, NULL);
  setenv("TCOLL_SHM_CHUNK_BYTES", SMALL_SEGMENT_BYTES, 1); /* the shm chunk pipeline too */
  comm_small_seg = create_or_die("TCOLL_SEGMENT_BYTES", SMALL_SEGMENT_BYTES);
  unsetenv("TCOLL_SHM_CHUNK_BYTES");
  comm_fail = create_or_die("TCOLL_FALLBACK", "error");
  build_jobs();
  if (njobs == 0) {
    if (R == 0) fprintf(stderr, "TCOLL_TEST_COLLS / TCOLL_TEST_ALGOS select no test\n");
    MPI_Finalize();
    return EXIT_FAILURE;
  }

  Suite *s = suite_create("collectives");
  TCase *tc = tcase_create("matrix");
  tcase_set_timeout(tc, 0);
  tcase_add_loop_test(tc, test_matrix, 0, njobs);
  tcase_add_test(tc, test_declines);
  suite_add_tcase(s, tc);
  int status = check_mpi_run(s);
  tcoll_comm_destroy(comm_fail);
  tcoll_comm_destroy(comm_small_seg);
  tcoll_comm_destroy(comm);
  MPI_Finalize();
  return status;
}
