/*
 * The allreduce matrix: every registered algorithm and the automatic choice
 * x counts {0, 1, p-1, p, p+1, primes up to ~10^6} x every dtype x every op
 * x in place and out of place, each checked against an independent reference
 * (reference.c) on every rank, plus: guards around every buffer untouched,
 * the send buffer unchanged, every rank's result bitwise identical to rank
 * 0's, and tcoll_last_algorithm naming what was forced.
 *
 * Runs under mpirun at several sizes (tests/meson.build). Ranks agree on the
 * verdict before asserting, so one failing rank cannot hang the others.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reference.h"
#include "tcoll.h"

static int P, R;
static tcoll_comm *comm;           /* default segment size */
static tcoll_comm *comm_small_seg; /* 64-byte segments: pipelining with small counts */

#define SMALL_SEGMENT_BYTES "64"
#define MAX_REPORTS 10

typedef struct {
  tcoll_comm *comm;
  const char *algo; /* NULL = automatic */
  size_t count;
  tcoll_dtype dt;
  tcoll_op op;
  ref_mode mode;
  int inplace;
} test_case;

/* Runs one call and checks it on this rank. Every rank executes the same
 * collective steps whatever its local verdict. Returns 1 on pass. */
static int run_case(const test_case *k, char *msg, size_t msglen) {
  const size_t es = ref_size(k->dt), bytes = k->count * es;
  const uint64_t seed = 0x7c011 + k->count * 131 + (uint64_t)k->dt * 17 + (uint64_t)k->op * 7 + k->mode;
  int pass = 1;
  msg[0] = '\0';
  unsigned char *send = ref_guarded_alloc(bytes);
  unsigned char *recv = k->inplace ? send : ref_guarded_alloc(bytes);
  unsigned char *expect_send = malloc(bytes + 1);
  unsigned char *root_copy = malloc(bytes + 1);
  if (!send || !recv || !expect_send || !root_copy) {
    fprintf(stderr, "rank %d: test out of memory\n", R);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  ref_fill(seed, k->dt, k->op, k->mode, R, send, k->count);
  memcpy(expect_send, send, bytes);
  if (!k->inplace) memset(recv, 0x5A, bytes);

  tcoll_status st = tcoll_allreduce(k->comm, send, recv, k->count, k->dt, k->op);
  if (st != TCOLL_OK) {
    pass = 0;
    snprintf(msg, msglen, "tcoll_allreduce returned %s: %s", tcoll_status_string(st), tcoll_last_error());
  }
  if (pass && !ref_guards_intact(send, bytes)) pass = 0, snprintf(msg, msglen, "sendbuf guard overwritten");
  if (pass && !k->inplace && !ref_guards_intact(recv, bytes))
    pass = 0, snprintf(msg, msglen, "recvbuf guard overwritten");
  if (pass && !k->inplace && memcmp(send, expect_send, bytes) != 0)
    pass = 0, snprintf(msg, msglen, "sendbuf modified");
  if (pass) {
    long bad = ref_check_reduction(seed, k->dt, k->op, k->mode, P, recv, k->count, msg, msglen);
    if (bad >= 0) pass = 0;
  }
  /* Bitwise agreement with rank 0 (collective: runs on every rank). */
  if (R == 0) memcpy(root_copy, recv, bytes);
  for (size_t off = 0; off < bytes; off += 1 << 30) {
    size_t n = bytes - off < (1u << 30) ? bytes - off : (1u << 30);
    MPI_Bcast(root_copy + off, (int)n, MPI_BYTE, 0, MPI_COMM_WORLD);
  }
  if (pass && memcmp(root_copy, recv, bytes) != 0)
    pass = 0, snprintf(msg, msglen, "result differs from rank 0's bits");
  const char *ran = tcoll_last_algorithm(k->comm, TCOLL_ALLREDUCE);
  if (pass && (!ran || (k->algo && strcmp(ran, k->algo) != 0)))
    pass = 0, snprintf(msg, msglen, "tcoll_last_algorithm says %s", ran ? ran : "(null)");

  if (!k->inplace) ref_guarded_free(recv);
  ref_guarded_free(send);
  free(expect_send);
  free(root_copy);
  return pass;
}

/* A few large counts are enough to cover segmentation, block boundaries and
 * the vectorised kernels; keep them to combinations that differ in kind. */
static int large_count_wanted(size_t count, tcoll_dtype dt, tcoll_op op, ref_mode mode) {
  if (count <= 1021) return 1;
  if (count <= 65537) return op == TCOLL_SUM || (dt == TCOLL_FLOAT64 && op == TCOLL_MAX);
  return (dt == TCOLL_FLOAT32 && op == TCOLL_SUM && mode == REF_REAL) ||
         (dt == TCOLL_INT64 && op == TCOLL_SUM) || (dt == TCOLL_BFLOAT16 && op == TCOLL_AVG);
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

/* Loop index i: 0 = automatic, 1..n = registered algorithms, n+1 = ring with
 * tiny segments. */
START_TEST(test_allreduce_matrix) {
  const size_t nalgs = tcoll_algorithm_count(TCOLL_ALLREDUCE);
  test_case k = {.comm = comm};
  size_t max_count = (size_t)-1;
  if (_i == 0) {
    k.algo = NULL;
  } else if ((size_t)_i <= nalgs) {
    k.algo = tcoll_algorithm_name(TCOLL_ALLREDUCE, (size_t)_i - 1);
  } else {
    k.algo = "ring";
    k.comm = comm_small_seg;
    max_count = 65537; /* 64-byte segments: a million elements is 10^5 messages */
  }
  ck_assert_int_eq(tcoll_comm_set_algorithm(k.comm, TCOLL_ALLREDUCE, k.algo), TCOLL_OK);

  size_t counts[16];
  size_t ncounts = build_counts(counts, max_count);
  int cases = 0, failed = 0;
  for (size_t ci = 0; ci < ncounts; ci++)
    for (int dt = 0; dt < 10; dt++)
      for (int op = 0; op < 5; op++)
        for (int mode = REF_EXACT; mode <= REF_REAL; mode++)
          for (int inplace = 0; inplace <= 1; inplace++) {
            k.count = counts[ci];
            k.dt = (tcoll_dtype)dt;
            k.op = (tcoll_op)op;
            k.mode = (ref_mode)mode;
            k.inplace = inplace;
            if (!ref_is_float(k.dt) && (k.op == TCOLL_AVG || k.mode == REF_REAL)) continue;
            if (k.mode == REF_REAL && k.op != TCOLL_SUM && k.op != TCOLL_AVG) continue;
            if (!large_count_wanted(k.count, k.dt, k.op, k.mode)) continue;
            char msg[512];
            int pass = run_case(&k, msg, sizeof msg), all_pass = 0;
            MPI_Allreduce(&pass, &all_pass, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
            cases++;
            if (!pass && failed < MAX_REPORTS)
              fprintf(stderr, "FAIL rank %d/%d algo=%s count=%zu %s %s %s %s: %s\n", R, P,
                      k.algo ? k.algo : "auto", k.count, ref_dtype_name(k.dt), ref_op_name(k.op),
                      k.mode == REF_EXACT ? "exact" : "real", k.inplace ? "in-place" : "out-of-place",
                      msg);
            failed += !all_pass;
          }
  ck_assert_msg(failed == 0, "algorithm %s%s: %d of %d cases failed on some rank (details on stderr)",
                k.algo ? k.algo : "auto", k.comm == comm_small_seg ? " (64-byte segments)" : "",
                failed, cases);
  ck_assert_int_gt(cases, 100);
}
END_TEST

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  MPI_Comm_rank(MPI_COMM_WORLD, &R);
  if (tcoll_comm_create(MPI_COMM_WORLD, &comm) != TCOLL_OK) {
    fprintf(stderr, "tcoll_comm_create: %s\n", tcoll_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  setenv("TCOLL_SEGMENT_BYTES", SMALL_SEGMENT_BYTES, 1);
  if (tcoll_comm_create(MPI_COMM_WORLD, &comm_small_seg) != TCOLL_OK) {
    fprintf(stderr, "tcoll_comm_create: %s\n", tcoll_last_error());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  unsetenv("TCOLL_SEGMENT_BYTES");

  Suite *s = suite_create("allreduce");
  TCase *tc = tcase_create("matrix");
  tcase_add_loop_test(tc, test_allreduce_matrix, 0, (int)tcoll_algorithm_count(TCOLL_ALLREDUCE) + 2);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK); /* forking under MPI is unsafe */
  srunner_run_all(sr, R == 0 ? CK_NORMAL : CK_SILENT);
  int failed = srunner_ntests_failed(sr), any_failed = 0;
  srunner_free(sr);
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  tcoll_comm_destroy(comm_small_seg);
  tcoll_comm_destroy(comm);
  MPI_Finalize();
  return any_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
