/*
 * Stress of the shared-memory allreduces (shm, hierarchical): thousands of
 * back-to-back calls of varying sizes, dtypes and in-place modes on two
 * communicators used alternately (one with 256-byte chunks), every result
 * checked exactly on every rank. Flag and slot reuse across calls and
 * communicators is where such code breaks; a lost or early signal shows as
 * a wrong element or a hang (caught by the meson timeout).
 *
 * Arguments: [iterations [algorithm]] (default shm). Run with
 * TCOLL_FALLBACK=error, a forced algorithm that declines fails every call
 * instead of quietly testing another one.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcoll.h"

#define DEFAULT_ITERATIONS 3000

static const size_t sizes[] = {1, 2, 3, 7, 64, 255, 1024, 2047, 2048, 2049, 4097, 16385, 65537};
#define NUM_SIZES (sizeof sizes / sizeof sizes[0])

/* Small integers: sums over <= 8 ranks are exact in float32 too. */
static int32_t input(int rank, size_t i, int it) { return (int32_t)(((size_t)rank * 31 + i + (size_t)it) % 17); }

static const char *algorithm = "shm";

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
  if (tcoll_comm_set_algorithm(c, TCOLL_ALLREDUCE, algorithm) != TCOLL_OK) {
    fprintf(stderr, "%s\n", tcoll_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  return c;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, p;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  /* fewer when oversubscribed: every wait then costs a context switch */
  const int iterations = argc > 1 ? atoi(argv[1]) : DEFAULT_ITERATIONS;
  if (argc > 2) algorithm = argv[2];
  tcoll_comm *comms[2] = {create(NULL), create("256")};
  const size_t max = sizes[NUM_SIZES - 1];
  int32_t *send = malloc(max * 4), *recv = malloc((max + 16) * 4);
  long failed = 0, checked = 0;
  for (int it = 0; it < iterations; it++) {
    tcoll_comm *c = comms[it % 2];
    const size_t n = sizes[((size_t)it * 7919u) % NUM_SIZES];
    const int inplace = (it / 2) % 2, is_float = (it / 4) % 2;
    int32_t *out = inplace ? send : recv;
    for (size_t i = 0; i < n; i++) {
      int32_t v = input(rank, i, it);
      if (is_float) {
        float f = (float)v;
        memcpy(&send[i], &f, 4);
      } else {
        send[i] = v;
      }
    }
    for (size_t i = n; i < n + 16 && !inplace; i++) recv[i] = -7; /* past the end */
    tcoll_status st = tcoll_allreduce(c, send, out, n, is_float ? TCOLL_FLOAT32 : TCOLL_INT32, TCOLL_SUM);
    if (st != TCOLL_OK) {
      if (failed++ < 5) fprintf(stderr, "rank %d iteration %d: %s\n", rank, it, tcoll_last_error());
      continue;
    }
    for (size_t i = 0; i < n; i++) {
      int32_t expect = 0;
      for (int r = 0; r < p; r++) expect += input(r, i, it);
      int32_t got = out[i];
      if (is_float) {
        float f;
        memcpy(&f, &out[i], 4);
        got = (int32_t)f;
      }
      checked++;
      if (got != expect && failed++ < 5)
        fprintf(stderr, "rank %d iteration %d (count %zu, %s, %s): element %zu is %d, expected %d\n", rank, it,
                n, is_float ? "float32" : "int32", inplace ? "in place" : "out of place", i, got, expect);
    }
    for (size_t i = n; i < n + 16 && !inplace; i++)
      if (recv[i] != -7 && failed++ < 5) fprintf(stderr, "rank %d iteration %d: wrote past the end\n", rank, it);
  }
  long all_failed = 0, all_checked = 0;
  MPI_Allreduce(&failed, &all_failed, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&checked, &all_checked, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0)
    printf("%s stress: %d ranks, %d calls, %ld elements checked, last ran %s\n%ld passed, %ld failed\n", algorithm, p,
           iterations, all_checked, tcoll_last_algorithm(comms[0], TCOLL_ALLREDUCE), all_checked - all_failed,
           all_failed);
  tcoll_comm_destroy(comms[1]);
  tcoll_comm_destroy(comms[0]);
  free(send);
  free(recv);
  MPI_Finalize();
  return all_failed ? 1 : 0;
}
