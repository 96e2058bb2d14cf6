/*
 * allreduce_demo: what tcoll picks and how fast it is, next to the MPI
 * library's own MPI_Allreduce, on this machine.
 *
 *   mpirun -n 2 --bind-to core build/examples/allreduce_demo [--sizes B,B,..] [--rounds N]
 *   mpirun -n 2 build/examples/allreduce_demo --explain bytes
 *
 * For each size (float32 sum; default 8 B to 16 MiB by factors of 8): the
 * automatic choice, every algorithm forced, and MPI_Allreduce are timed in
 * interleaved rounds (so drifting machine speed hits all alike); per round
 * the slowest rank's time counts; the table shows medians in microseconds
 * and MPI's median divided by auto's. Every result is checked exactly
 * (inputs are small integers, so any summation order is exact).
 * This is a demonstration; tcoll-bench is the measuring tool.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tcoll.h"

#define MAX_VARIANTS 8

static int rank_, size_;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void fill(float *buf, size_t n) {
  for (size_t i = 0; i < n; i++) buf[i] = (float)((rank_ + i) % 7);
}

/* Exact expected value: sum over ranks of (r + i) % 7. */
static long check(const float *buf, size_t n) {
  for (size_t i = 0; i < n; i++) {
    double expect = 0;
    for (int r = 0; r < size_; r++) expect += (double)((r + i) % 7);
    if (buf[i] != (float)expect) return (long)i;
  }
  return -1;
}

/* variant 0 = MPI_Allreduce, 1 = tcoll auto, 2.. = forced algorithms */
static int run_variant(tcoll_comm *c, int v, const float *send, float *recv, size_t n) {
  if (v == 0) return MPI_Allreduce(send, recv, (int)n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS;
  tcoll_comm_set_algorithm(c, TCOLL_ALLREDUCE, v == 1 ? NULL : tcoll_algorithm_name(TCOLL_ALLREDUCE, (size_t)v - 2));
  if (tcoll_allreduce(c, send, recv, n, TCOLL_FLOAT32, TCOLL_SUM) != TCOLL_OK) {
    fprintf(stderr, "tcoll_allreduce: %s\n", tcoll_last_error());
    return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &size_);
  if (argc > 2 && strcmp(argv[1], "--explain") == 0) {
    tcoll_comm *c;
    char text[4096];
    size_t count = strtoull(argv[2], NULL, 10) / sizeof(float);
    if (tcoll_comm_create(MPI_COMM_WORLD, &c) != TCOLL_OK ||
        tcoll_explain(c, TCOLL_ALLREDUCE, count, TCOLL_FLOAT32, TCOLL_SUM, text, sizeof text) != TCOLL_OK) {
      fprintf(stderr, "tcoll: %s\n", tcoll_last_error());
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    if (rank_ == 0) fputs(text, stdout);
    tcoll_comm_destroy(c);
    MPI_Finalize();
    return 0;
  }
  size_t sizes[64];
  int nsizes = 0, rounds = 15;
  for (size_t b = 8; b <= ((size_t)16 << 20); b *= 8) sizes[nsizes++] = b;
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--rounds") == 0 && a + 1 < argc) {
      rounds = atoi(argv[++a]);
    } else if (strcmp(argv[a], "--sizes") == 0 && a + 1 < argc) {
      nsizes = 0;
      for (char *tok = strtok(argv[++a], ","); tok && nsizes < 64; tok = strtok(NULL, ","))
        sizes[nsizes++] = strtoull(tok, NULL, 10);
    } else {
      nsizes = 0;
      break;
    }
  }
  int bad = nsizes == 0 || rounds < 1;
  for (int i = 0; i < nsizes; i++) bad |= sizes[i] < sizeof(float) || sizes[i] > ((size_t)1 << 30);
  if (bad) {
    if (rank_ == 0)
      fprintf(stderr, "usage: allreduce_demo [--sizes BYTES,BYTES,...] [--rounds N] | --explain BYTES\n"
                      "  sizes from 4 bytes to 1 GiB, rounds >= 1\n");
    MPI_Finalize();
    return 2;
  }
  size_t max_bytes = 0;
  for (int i = 0; i < nsizes; i++) max_bytes = sizes[i] > max_bytes ? sizes[i] : max_bytes;
  tcoll_comm *c;
  if (tcoll_comm_create(MPI_COMM_WORLD, &c) != TCOLL_OK) {
    fprintf(stderr, "tcoll_comm_create: %s\n", tcoll_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  const int nvar = 2 + (int)tcoll_algorithm_count(TCOLL_ALLREDUCE);
  size_t max_n = max_bytes / sizeof(float);
  float *send = malloc(max_n * sizeof *send), *recv = malloc(max_n * sizeof *recv);
  double *times = malloc(sizeof(double) * (size_t)rounds * MAX_VARIANTS);
  if (!send || !recv || !times) MPI_Abort(MPI_COMM_WORLD, 1);
  int wrong = 0;

  if (rank_ == 0) {
    printf("tcoll %s, %d ranks, float32 sum, median of %d interleaved rounds (us)\n", tcoll_version(),
           size_, rounds);
    printf("%10s  %-18s %10s %10s", "bytes", "auto picks", "MPI", "auto");
    for (int v = 2; v < nvar; v++) printf(" %18s", tcoll_algorithm_name(TCOLL_ALLREDUCE, (size_t)v - 2));
    printf(" %8s\n", "MPI/auto");
  }
  for (int si = 0; si < nsizes; si++) {
    size_t n = sizes[si] / sizeof(float), bytes = n * sizeof(float);
    int iters = bytes <= 65536 ? 200 : bytes <= (1 << 20) ? 20 : 3;
    fill(send, n);
    /* correctness of every variant, and a warm-up */
    for (int v = 0; v < nvar; v++) {
      memset(recv, 0, n * sizeof *recv);
      if (run_variant(c, v, send, recv, n) || check(recv, n) >= 0) wrong++;
    }
    for (int rnd = 0; rnd < rounds; rnd++)
      for (int v = 0; v < nvar; v++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        for (int it = 0; it < iters; it++) run_variant(c, v, send, recv, n);
        double t = (MPI_Wtime() - t0) / iters, tmax = 0;
        MPI_Allreduce(&t, &tmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        times[v * rounds + rnd] = tmax;
      }
    tcoll_comm_set_algorithm(c, TCOLL_ALLREDUCE, NULL);
    tcoll_allreduce(c, send, recv, n, TCOLL_FLOAT32, TCOLL_SUM);
    const char *picked = tcoll_last_algorithm(c, TCOLL_ALLREDUCE);
    double med[MAX_VARIANTS] = {0};
    for (int v = 0; v < nvar; v++) {
      qsort(times + v * rounds, (size_t)rounds, sizeof(double), cmp_double);
      med[v] = times[v * rounds + rounds / 2] * 1e6;
    }
    if (rank_ == 0) {
      printf("%10zu  %-18s %10.2f %10.2f", bytes, picked, med[0], med[1]);
      for (int v = 2; v < nvar; v++) printf(" %18.2f", med[v]);
      printf(" %8.2f\n", med[0] / med[1]);
    }
  }
  int any_wrong = 0;
  MPI_Allreduce(&wrong, &any_wrong, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (rank_ == 0) printf("results: %s\n", any_wrong ? "WRONG" : "all exact on every rank");
  free(send);
  free(recv);
  free(times);
  tcoll_comm_destroy(c);
  MPI_Finalize();
  return any_wrong ? 1 : 0;
}
