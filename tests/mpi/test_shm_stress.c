/*
 * Stress of the shared-memory algorithms: thousands of back-to-back calls of
 * allreduce, bcast and reduce shm interleaved in a pseudo-random order on the
 * same segment, of varying sizes, dtypes, roots and in-place modes, on two
 * communicators used alternately (one with 256-byte chunks), every result
 * checked exactly on every rank, with guard elements past every buffer's
 * end, inputs checked unchanged, and reduce's recvbuf untouched at the
 * non-roots. Flag and slot reuse across calls, collectives and communicators
 * is where such code breaks; a lost or early signal shows as a wrong element
 * or a hang (caught by the meson timeout).
 *
 * Every few calls, reduce shm's result on real-valued float32 inputs must be
 * bitwise allreduce shm's (the same reduction order), and without emulated
 * nodes every call must really have run shm.
 *
 * Arguments: [iterations [allreduce algorithm]]. With "hierarchical" (run
 * under TCOLL_RANKS_PER_NODE), every allreduce must really run it: it works
 * across the emulated nodes, where bcast and reduce shm decline and fall back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcoll.h"

#define DEFAULT_ITERATIONS 3000
#define GUARD 16

static const size_t sizes[] = {1, 2, 3, 7, 64, 255, 1024, 2047, 2048, 2049, 4097, 16385, 65537};
#define NUM_SIZES (sizeof sizes / sizeof sizes[0])

enum { KIND_ALLREDUCE, KIND_BCAST, KIND_REDUCE, KIND_SAME_BITS, NUM_KINDS };
static const char *const kind_names[NUM_KINDS] = {"allreduce", "bcast", "reduce", "reduce vs allreduce bits"};
static const tcoll_coll kind_colls[3] = {TCOLL_ALLREDUCE, TCOLL_BCAST, TCOLL_REDUCE};

static int rank, P;
static long failed, checked;

#define FAIL(...)                                             \
  do {                                                        \
    if (failed++ < 5) {                                       \
      fprintf(stderr, "rank %d iteration %d: ", rank, it);    \
      fprintf(stderr, __VA_ARGS__);                           \
      fputc('\n', stderr);                                    \
    }                                                         \
  } while (0)

/* Small integers: sums over <= 8 ranks are exact in float32 too. */
static int32_t input(int r, size_t i, int it) { return (int32_t)(((size_t)r * 31 + i + (size_t)it) % 17); }

/* The value as stored for the call's dtype. */
static int32_t stored(int32_t v, int is_float) {
  if (!is_float) return v;
  float f = (float)v;
  int32_t bits;
  memcpy(&bits, &f, 4);
  return bits;
}
static int32_t loaded(int32_t bits, int is_float) {
  if (!is_float) return bits;
  float f;
  memcpy(&f, &bits, 4);
  return (int32_t)f;
}

static void fill_input(int32_t *buf, int r, size_t n, int it, int is_float) {
  for (size_t i = 0; i < n; i++) buf[i] = stored(input(r, i, it), is_float);
}

static void fill_guard(int32_t *buf, size_t n, int32_t v) {
  for (size_t i = n; i < n + GUARD; i++) buf[i] = v;
}

static void check_guard(const int32_t *buf, size_t n, int32_t v, int it, const char *what) {
  for (size_t i = n; i < n + GUARD; i++)
    if (buf[i] != v) {
      FAIL("%s: written past the end (element %zu)", what, i);
      return;
    }
}

/* buf[0, n) must hold rank r's input (bcast, unchanged inputs) or, with
 * r < 0, the sum over all ranks. */
static void check_values(const int32_t *buf, size_t n, int r, int it, int is_float, const char *what) {
  for (size_t i = 0; i < n; i++) {
    int32_t expect = 0;
    if (r >= 0) expect = input(r, i, it);
    else
      for (int q = 0; q < P; q++) expect += input(q, i, it);
    checked++;
    if (loaded(buf[i], is_float) != expect) {
      FAIL("%s (count %zu, %s): element %zu is %d, expected %d", what, n, is_float ? "float32" : "int32", i,
           loaded(buf[i], is_float), expect);
      return;
    }
  }
}

static void check_status(tcoll_status st, int it, const char *what) {
  if (st != TCOLL_OK) FAIL("%s: %s", what, tcoll_last_error());
}

static const char *allreduce_algorithm = "shm";

static void check_ran_shm(tcoll_comm *c, tcoll_coll coll, int it, const char *what) {
  const char *ran = tcoll_last_algorithm(c, coll);
  const char *expect = coll == TCOLL_ALLREDUCE ? allreduce_algorithm : "shm";
  /* shm declines across emulated nodes; the hierarchical allreduce must not */
  const int must = !getenv("TCOLL_RANKS_PER_NODE") || strcmp(expect, "shm") != 0;
  if (must && (!ran || strcmp(ran, expect) != 0)) FAIL("%s ran %s, not %s", what, ran ? ran : "nothing", expect);
}

static void run_allreduce(tcoll_comm *c, int32_t *send, int32_t *recv, size_t n, int it, int inplace,
                          int is_float) {
  int32_t *out = inplace ? send : recv;
  fill_input(send, rank, n, it, is_float);
  fill_guard(send, n, -9);
  fill_guard(recv, n, -7);
  tcoll_status st = tcoll_allreduce(c, send, out, n, is_float ? TCOLL_FLOAT32 : TCOLL_INT32, TCOLL_SUM);
  check_status(st, it, "allreduce");
  if (st != TCOLL_OK) return;
  check_values(out, n, -1, it, is_float, inplace ? "allreduce in place" : "allreduce");
  if (!inplace) check_values(send, n, rank, it, is_float, "allreduce input changed");
  check_guard(send, n, -9, it, "allreduce sendbuf");
  check_guard(recv, n, -7, it, "allreduce recvbuf");
  check_ran_shm(c, TCOLL_ALLREDUCE, it, "allreduce");
}

static void run_bcast(tcoll_comm *c, int32_t *buf, size_t n, int it, int root, int is_float) {
  if (rank == root) fill_input(buf, root, n, it, is_float);
  else
    for (size_t i = 0; i < n; i++) buf[i] = -5;
  fill_guard(buf, n, -9);
  tcoll_status st = tcoll_bcast(c, buf, n, is_float ? TCOLL_FLOAT32 : TCOLL_INT32, root);
  check_status(st, it, "bcast");
  if (st != TCOLL_OK) return;
  check_values(buf, n, root, it, is_float, rank == root ? "bcast root buffer changed" : "bcast");
  check_guard(buf, n, -9, it, "bcast buffer");
  check_ran_shm(c, TCOLL_BCAST, it, "bcast");
}

/* In place: send == recv at the root, recvbuf NULL elsewhere (allowed). */
static void run_reduce(tcoll_comm *c, int32_t *send, int32_t *recv, size_t n, int it, int root, int inplace,
                       int is_float) {
  int32_t *out = inplace ? (rank == root ? send : NULL) : recv;
  fill_input(send, rank, n, it, is_float);
  fill_guard(send, n, -9);
  for (size_t i = 0; i < n; i++) recv[i] = -7;
  fill_guard(recv, n, -7);
  tcoll_status st = tcoll_reduce(c, send, out, n, is_float ? TCOLL_FLOAT32 : TCOLL_INT32, TCOLL_SUM, root);
  check_status(st, it, "reduce");
  if (st != TCOLL_OK) return;
  if (rank == root) check_values(out, n, -1, it, is_float, inplace ? "reduce in place" : "reduce");
  if (!inplace || rank != root) check_values(send, n, rank, it, is_float, "reduce input changed");
  if (rank != root)
    for (size_t i = 0; i < n; i++)
      if (recv[i] != -7) {
        FAIL("reduce: recvbuf written at non-root (element %zu)", i);
        break;
      }
  check_guard(send, n, -9, it, "reduce sendbuf");
  check_guard(recv, n, -7, it, "reduce recvbuf");
  check_ran_shm(c, TCOLL_REDUCE, it, "reduce");
}

/* Real-valued float32 inputs: reduce's result at the root must be bitwise
 * allreduce shm's result (same reduction order). */
static void run_same_bits(tcoll_comm *c, float *send, float *ref, float *out, size_t n, int it, int root) {
  for (size_t i = 0; i < n; i++) {
    uint32_t h = (uint32_t)(rank * 2654435761u) ^ (uint32_t)(i * 40503u) ^ (uint32_t)it;
    h *= 2246822519u;
    send[i] = (float)(h >> 8) / 3.7e5f - 20.0f;
  }
  tcoll_status st = tcoll_allreduce(c, send, ref, n, TCOLL_FLOAT32, TCOLL_SUM);
  check_status(st, it, "allreduce (bits)");
  if (st == TCOLL_OK) st = tcoll_reduce(c, send, out, n, TCOLL_FLOAT32, TCOLL_SUM, root);
  check_status(st, it, "reduce (bits)");
  const char *a = tcoll_last_algorithm(c, TCOLL_ALLREDUCE), *r = tcoll_last_algorithm(c, TCOLL_REDUCE);
  if (st != TCOLL_OK || rank != root || strcmp(a, "shm") != 0 || strcmp(r, "shm") != 0) return;
  checked += (long)n;
  if (memcmp(ref, out, n * sizeof *out) != 0) FAIL("reduce shm's bits differ from allreduce shm's (count %zu)", n);
}

static tcoll_comm *create(const char *chunk) {
  tcoll_comm *c = NULL;
  if (chunk) setenv("TCOLL_SHM_CHUNK_BYTES", chunk, 1);
  if (tcoll_comm_create(MPI_COMM_WORLD, &c) != TCOLL_OK) {
    fprintf(stderr, "tcoll_comm_create: %s\n", tcoll_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  unsetenv("TCOLL_SHM_CHUNK_BYTES");
  /* forced, with the default fallback: under TCOLL_RANKS_PER_NODE the
   * emulated nodes make shm decline and the automatic choice runs instead */
  for (int k = 0; k < 3; k++)
    if (tcoll_comm_set_algorithm(c, kind_colls[k], k == 0 ? allreduce_algorithm : "shm") != TCOLL_OK) {
      fprintf(stderr, "%s\n", tcoll_last_error());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
  return c;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  /* fewer when oversubscribed: every wait then costs a context switch */
  const int iterations = argc > 1 ? atoi(argv[1]) : DEFAULT_ITERATIONS;
  if (argc > 2) allreduce_algorithm = argv[2];
  tcoll_comm *comms[2] = {create(NULL), create("256")};
  const size_t max = sizes[NUM_SIZES - 1];
  int32_t *send = malloc((max + GUARD) * 4), *recv = malloc((max + GUARD) * 4), *ref = malloc(max * 4);
  long calls[NUM_KINDS] = {0};
  for (int it = 0; it < iterations; it++) {
    tcoll_comm *c = comms[it % 2];
    /* the same pseudo-random sequence on every rank: every collective
     * follows every other one, on both communicators */
    uint32_t h = (uint32_t)it * 2654435761u;
    h ^= h >> 15;
    const size_t n = sizes[((size_t)it * 7919u) % NUM_SIZES];
    const int kind = (int)((h >> 4) % 8 == 0 ? KIND_SAME_BITS : (h >> 8) % 3);
    const int inplace = (int)(h >> 12) & 1, is_float = (int)(h >> 13) & 1, root = (int)((h >> 16) % (uint32_t)P);
    calls[kind]++;
    switch (kind) {
    case KIND_ALLREDUCE: run_allreduce(c, send, recv, n, it, inplace, is_float); break;
    case KIND_BCAST: run_bcast(c, recv, n, it, root, is_float); break;
    case KIND_REDUCE: run_reduce(c, send, recv, n, it, root, inplace, is_float); break;
    default: run_same_bits(c, (float *)send, (float *)ref, (float *)recv, n, it, root); break;
    }
  }
  long all_failed = 0, all_checked = 0;
  MPI_Allreduce(&failed, &all_failed, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&checked, &all_checked, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) {
    printf("shm stress (allreduce %s): %d ranks, %d iterations:", allreduce_algorithm, P, iterations);
    for (int k = 0; k < NUM_KINDS; k++) printf(" %ld %s", calls[k], kind_names[k]);
    printf("; %ld elements checked; last ran allreduce %s, bcast %s, reduce %s\n%ld passed, %ld failed\n",
           all_checked, tcoll_last_algorithm(comms[0], TCOLL_ALLREDUCE),
           tcoll_last_algorithm(comms[0], TCOLL_BCAST), tcoll_last_algorithm(comms[0], TCOLL_REDUCE),
           all_checked - all_failed, all_failed);
  }
  tcoll_comm_destroy(comms[1]);
  tcoll_comm_destroy(comms[0]);
  free(send);
  free(recv);
  free(ref);
  MPI_Finalize();
  return all_failed ? 1 : 0;
}
