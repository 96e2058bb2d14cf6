/*
 * Bad input under MPI: every rejected call returns the right status and a
 * message naming the argument, starts no communication (the communicator
 * keeps working afterwards, which a half-started collective would break),
 * and never aborts. Also the communicator life cycle, forcing, environment
 * parsing and tcoll_explain.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_mpi.h"
#include "tcoll.h"

static int P, R;
static tcoll_comm *comm;

START_TEST(test_bad_arguments) {
  float a[8] = {0}, b[8] = {0};
  EXPECT_ERROR(tcoll_allreduce(NULL, a, b, 8, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG, "comm");
  EXPECT_ERROR(tcoll_allreduce(comm, NULL, b, 8, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG, "sendbuf");
  EXPECT_ERROR(tcoll_allreduce(comm, a, NULL, 8, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG, "recvbuf");
  EXPECT_ERROR(tcoll_allreduce(comm, a, b, 8, (tcoll_dtype)99, TCOLL_SUM), TCOLL_ERR_INVALID_ARG, "dtype");
  EXPECT_ERROR(tcoll_allreduce(comm, a, b, 8, (tcoll_dtype)-1, TCOLL_SUM), TCOLL_ERR_INVALID_ARG, "dtype");
  EXPECT_ERROR(tcoll_allreduce(comm, a, b, 8, TCOLL_FLOAT32, (tcoll_op)42), TCOLL_ERR_INVALID_ARG, "op");
  EXPECT_ERROR(tcoll_allreduce(comm, a, b, 2, TCOLL_INT32, TCOLL_AVG), TCOLL_ERR_INVALID_ARG, "avg");
  EXPECT_ERROR(tcoll_allreduce(comm, a, b, 2, TCOLL_UINT8, TCOLL_AVG), TCOLL_ERR_INVALID_ARG, "uint8");
  EXPECT_ERROR(tcoll_allreduce(comm, a, b, SIZE_MAX / 2, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG,
               "overflow");
  /* overlapping but not identical buffers */
  EXPECT_ERROR(tcoll_allreduce(comm, a, a + 1, 4, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG, "overlap");
  EXPECT_ERROR(tcoll_allreduce(comm, a + 1, a, 4, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG, "overlap");
  /* count 0 needs no buffers */
  ck_assert_int_eq(tcoll_allreduce(comm, NULL, NULL, 0, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_OK);
  assert_comm_works(comm);
}
END_TEST

/* The new collectives. Every bad argument below is bad on every rank (the
 * in-place offsets are off by one element everywhere), so all ranks fail
 * together before any communication. */
START_TEST(test_bad_arguments_collectives) {
  enum { N = 4 };
  float *big = calloc((size_t)P * N + 8, sizeof *big), small[N + 8] = {0};
  ck_assert_ptr_nonnull(big);
  /* reduce_scatter */
  EXPECT_ERROR(tcoll_reduce_scatter(NULL, big, small, N, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG, "comm");
  EXPECT_ERROR(tcoll_reduce_scatter(comm, NULL, small, N, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG,
               "sendbuf is NULL");
  EXPECT_ERROR(tcoll_reduce_scatter(comm, big, NULL, N, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_INVALID_ARG,
               "recvbuf is NULL");
  EXPECT_ERROR(tcoll_reduce_scatter(comm, big, small, N, TCOLL_INT32, TCOLL_AVG), TCOLL_ERR_INVALID_ARG, "avg");
  EXPECT_ERROR(tcoll_reduce_scatter(comm, big, small, N, TCOLL_FLOAT32, (tcoll_op)9), TCOLL_ERR_INVALID_ARG, "op 9");
  EXPECT_ERROR(tcoll_reduce_scatter(comm, big, small, SIZE_MAX / 2, TCOLL_FLOAT32, TCOLL_SUM),
               TCOLL_ERR_INVALID_ARG, "overflows");
  if (P > 1) /* count x elem fits, p x count x elem does not */
    EXPECT_ERROR(tcoll_reduce_scatter(comm, big, small, SIZE_MAX / 4 / (size_t)P + 1, TCOLL_FLOAT32, TCOLL_SUM),
                 TCOLL_ERR_INVALID_ARG, "ranks");
  EXPECT_ERROR(tcoll_reduce_scatter(comm, big, big + (size_t)R * N + 1, N, TCOLL_FLOAT32, TCOLL_SUM),
               TCOLL_ERR_INVALID_ARG, "in place (recvbuf == sendbuf + rank*recvcount)");
  ck_assert_int_eq(tcoll_reduce_scatter(comm, NULL, NULL, 0, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_OK);
  /* allgather */
  EXPECT_ERROR(tcoll_allgather(comm, NULL, big, N, TCOLL_FLOAT32), TCOLL_ERR_INVALID_ARG, "sendbuf is NULL");
  EXPECT_ERROR(tcoll_allgather(comm, small, NULL, N, TCOLL_FLOAT32), TCOLL_ERR_INVALID_ARG, "recvbuf is NULL");
  EXPECT_ERROR(tcoll_allgather(comm, small, big, N, (tcoll_dtype)12), TCOLL_ERR_INVALID_ARG, "dtype 12");
  EXPECT_ERROR(tcoll_allgather(comm, big + (size_t)R * N + 1, big, N, TCOLL_FLOAT32), TCOLL_ERR_INVALID_ARG,
               "in place (sendbuf == recvbuf + rank*sendcount)");
  EXPECT_ERROR(tcoll_allgather(comm, small, big, SIZE_MAX / 2, TCOLL_FLOAT32), TCOLL_ERR_INVALID_ARG, "overflows");
  if (P > 1)
    EXPECT_ERROR(tcoll_allgather(comm, small, big, SIZE_MAX / 4 / (size_t)P + 1, TCOLL_FLOAT32),
                 TCOLL_ERR_INVALID_ARG, "ranks");
  ck_assert_int_eq(tcoll_allgather(comm, NULL, NULL, 0, TCOLL_FLOAT32), TCOLL_OK);
  /* bcast */
  EXPECT_ERROR(tcoll_bcast(comm, small, N, TCOLL_FLOAT32, -1), TCOLL_ERR_INVALID_ARG, "root -1");
  EXPECT_ERROR(tcoll_bcast(comm, small, N, TCOLL_FLOAT32, P), TCOLL_ERR_INVALID_ARG, "root");
  EXPECT_ERROR(tcoll_bcast(comm, NULL, N, TCOLL_FLOAT32, 0), TCOLL_ERR_INVALID_ARG, "buf is NULL");
  EXPECT_ERROR(tcoll_bcast(NULL, small, N, TCOLL_FLOAT32, 0), TCOLL_ERR_INVALID_ARG, "comm");
  EXPECT_ERROR(tcoll_bcast(comm, small, SIZE_MAX / 2, TCOLL_FLOAT32, 0), TCOLL_ERR_INVALID_ARG, "overflows");
  ck_assert_int_eq(tcoll_bcast(comm, NULL, 0, TCOLL_FLOAT32, 0), TCOLL_OK);
  /* reduce */
  EXPECT_ERROR(tcoll_reduce(comm, small, big, N, TCOLL_FLOAT32, TCOLL_SUM, -1), TCOLL_ERR_INVALID_ARG, "root -1");
  EXPECT_ERROR(tcoll_reduce(comm, small, big, N, TCOLL_FLOAT32, TCOLL_SUM, P), TCOLL_ERR_INVALID_ARG, "root");
  EXPECT_ERROR(tcoll_reduce(comm, NULL, big, N, TCOLL_FLOAT32, TCOLL_SUM, 0), TCOLL_ERR_INVALID_ARG,
               "sendbuf is NULL");
  EXPECT_ERROR(tcoll_reduce(comm, small, big, N, TCOLL_UINT64, TCOLL_AVG, 0), TCOLL_ERR_INVALID_ARG, "avg");
  ck_assert_int_eq(tcoll_reduce(comm, NULL, NULL, 0, TCOLL_FLOAT32, TCOLL_SUM, P - 1), TCOLL_OK);
  /* Root-only verdicts (recvbuf at the root) would split the ranks of a
   * larger communicator, as in MPI: checked on a communicator of one. */
  tcoll_comm *self = NULL;
  ck_assert_int_eq(tcoll_comm_create(MPI_COMM_SELF, &self), TCOLL_OK);
  EXPECT_ERROR(tcoll_reduce(self, small, NULL, N, TCOLL_FLOAT32, TCOLL_SUM, 0), TCOLL_ERR_INVALID_ARG,
               "recvbuf at the root is NULL");
  EXPECT_ERROR(tcoll_reduce(self, small, small + 1, N, TCOLL_FLOAT32, TCOLL_SUM, 0), TCOLL_ERR_INVALID_ARG,
               "overlap");
  ck_assert_int_eq(tcoll_comm_destroy(self), TCOLL_OK);
  free(big);
  assert_comm_works(comm);
}
END_TEST

/* Every collective reports the algorithm that ran, forced or automatic. */
START_TEST(test_last_algorithm_all) {
  int32_t in[8] = {1, 2, 3, 4, 5, 6, 7, 8}, out[64];
  int32_t *gathered = calloc((size_t)P, sizeof *gathered);
  ck_assert_ptr_nonnull(gathered);
  for (int coll = TCOLL_REDUCE_SCATTER; coll < TCOLL_NUM_COLLS; coll++) {
    for (size_t i = 0; i <= tcoll_algorithm_count((tcoll_coll)coll); i++) {
      const char *name = tcoll_algorithm_name((tcoll_coll)coll, i); /* NULL: automatic */
      ck_assert_int_eq(tcoll_comm_set_algorithm(comm, (tcoll_coll)coll, name), TCOLL_OK);
      tcoll_status st = TCOLL_OK;
      int32_t *send = calloc((size_t)P, sizeof *send);
      ck_assert_ptr_nonnull(send);
      if (coll == TCOLL_REDUCE_SCATTER) st = tcoll_reduce_scatter(comm, send, out, 1, TCOLL_INT32, TCOLL_SUM);
      if (coll == TCOLL_ALLGATHER) st = tcoll_allgather(comm, in, gathered, 1, TCOLL_INT32);
      if (coll == TCOLL_BCAST) st = tcoll_bcast(comm, out, 8, TCOLL_INT32, P - 1);
      if (coll == TCOLL_REDUCE) st = tcoll_reduce(comm, in, out, 8, TCOLL_INT32, TCOLL_MAX, P / 2);
      free(send);
      ck_assert_msg(st == TCOLL_OK, "%s: %s", tcoll_status_string(st), tcoll_last_error());
      const char *ran = tcoll_last_algorithm(comm, (tcoll_coll)coll);
      ck_assert_ptr_nonnull(ran);
      /* recursive_doubling allgather declines at non-powers of two (warn) */
      if (name && (coll != TCOLL_ALLGATHER || strcmp(name, "recursive_doubling") != 0 || (P & (P - 1)) == 0))
        ck_assert_str_eq(ran, name);
    }
  }
  ck_assert_int_eq(tcoll_comm_set_algorithm(comm, TCOLL_ALLGATHER, NULL), TCOLL_OK);
  free(gathered);
}
END_TEST

START_TEST(test_forcing) {
  ck_assert_ptr_null(tcoll_last_algorithm(NULL, TCOLL_ALLREDUCE));
  ck_assert_ptr_null(tcoll_last_algorithm(comm, (tcoll_coll)77));
  EXPECT_ERROR(tcoll_comm_set_algorithm(comm, TCOLL_ALLREDUCE, "no_such_algo"), TCOLL_ERR_INVALID_ARG,
               "no_such_algo");
  /* the message lists what would have been valid */
  ck_assert_ptr_nonnull(strstr(tcoll_last_error(), "rabenseifner"));
  EXPECT_ERROR(tcoll_comm_set_algorithm(comm, (tcoll_coll)77, "ring"), TCOLL_ERR_INVALID_ARG, "collective");
  EXPECT_ERROR(tcoll_comm_set_algorithm(NULL, TCOLL_ALLREDUCE, "ring"), TCOLL_ERR_INVALID_ARG, "comm");
  /* a failed set leaves the previous choice alone */
  ck_assert_int_eq(tcoll_comm_set_algorithm(comm, TCOLL_ALLREDUCE, "binomial_tree"), TCOLL_OK);
  ck_assert_int_eq(tcoll_comm_set_algorithm(comm, TCOLL_ALLREDUCE, "bogus"), TCOLL_ERR_INVALID_ARG);
  assert_comm_works(comm);
  ck_assert_str_eq(tcoll_last_algorithm(comm, TCOLL_ALLREDUCE), "binomial_tree");
  for (size_t i = 0; i < tcoll_algorithm_count(TCOLL_ALLREDUCE); i++) {
    const char *name = tcoll_algorithm_name(TCOLL_ALLREDUCE, i);
    ck_assert_int_eq(tcoll_comm_set_algorithm(comm, TCOLL_ALLREDUCE, name), TCOLL_OK);
    assert_comm_works(comm);
    ck_assert_str_eq(tcoll_last_algorithm(comm, TCOLL_ALLREDUCE), name);
  }
  ck_assert_ptr_null(tcoll_algorithm_name(TCOLL_ALLREDUCE, tcoll_algorithm_count(TCOLL_ALLREDUCE)));
  ck_assert_int_eq(tcoll_comm_set_algorithm(comm, TCOLL_ALLREDUCE, "auto"), TCOLL_OK);
  assert_comm_works(comm);
  ck_assert_int_eq(tcoll_comm_set_algorithm(comm, TCOLL_ALLREDUCE, NULL), TCOLL_OK);
  assert_comm_works(comm);
}
END_TEST

/* Creating a communicator with the environment set to `value`: every rank
 * sets the same variable, so all fail together before any collective step. */
static tcoll_status create_with_env(const char *var, const char *value, tcoll_comm **out) {
  setenv(var, value, 1);
  tcoll_status st = tcoll_comm_create(MPI_COMM_WORLD, out);
  unsetenv(var);
  return st;
}

START_TEST(test_environment) {
  tcoll_comm *c = (tcoll_comm *)&c; /* must be reset to NULL on failure */
  EXPECT_ERROR(create_with_env("TCOLL_ALLREDUCE_ALGO", "fastest", &c), TCOLL_ERR_INVALID_ARG,
               "TCOLL_ALLREDUCE_ALGO");
  ck_assert_ptr_null(c);
  static const char *const algo_vars[] = {"TCOLL_REDUCE_SCATTER_ALGO", "TCOLL_ALLGATHER_ALGO",
                                          "TCOLL_BCAST_ALGO", "TCOLL_REDUCE_ALGO"};
  for (size_t i = 0; i < sizeof algo_vars / sizeof algo_vars[0]; i++) {
    EXPECT_ERROR(create_with_env(algo_vars[i], "fastest", &c), TCOLL_ERR_INVALID_ARG, algo_vars[i]);
    ck_assert_ptr_null(c);
  }
  /* the collective's own variable forces it */
  ck_assert_int_eq(create_with_env("TCOLL_BCAST_ALGO", "scatter_allgather", &c), TCOLL_OK);
  int32_t v[3] = {R, R, R};
  ck_assert_int_eq(tcoll_bcast(c, v, 3, TCOLL_INT32, P - 1), TCOLL_OK);
  ck_assert_int_eq(v[2], P - 1);
  ck_assert_str_eq(tcoll_last_algorithm(c, TCOLL_BCAST), "scatter_allgather");
  ck_assert_int_eq(tcoll_comm_destroy(c), TCOLL_OK);
  EXPECT_ERROR(create_with_env("TCOLL_FALLBACK", "sometimes", &c), TCOLL_ERR_INVALID_ARG, "TCOLL_FALLBACK");
  EXPECT_ERROR(create_with_env("TCOLL_DEBUG", "LOUD", &c), TCOLL_ERR_INVALID_ARG, "TCOLL_DEBUG");
  EXPECT_ERROR(create_with_env("TCOLL_SEGMENT_BYTES", "12abc", &c), TCOLL_ERR_INVALID_ARG,
               "TCOLL_SEGMENT_BYTES");
  EXPECT_ERROR(create_with_env("TCOLL_SEGMENT_BYTES", "8", &c), TCOLL_ERR_INVALID_ARG, "TCOLL_SEGMENT_BYTES");
  EXPECT_ERROR(create_with_env("TCOLL_RANKS_PER_NODE", "-2", &c), TCOLL_ERR_INVALID_ARG,
               "TCOLL_RANKS_PER_NODE");

  /* a forced algorithm from the environment is used and reported */
  ck_assert_int_eq(create_with_env("TCOLL_ALLREDUCE_ALGO", "rabenseifner", &c), TCOLL_OK);
  assert_comm_works(c);
  ck_assert_str_eq(tcoll_last_algorithm(c, TCOLL_ALLREDUCE), "rabenseifner");
  /* the API overrides the environment */
  ck_assert_int_eq(tcoll_comm_set_algorithm(c, TCOLL_ALLREDUCE, "ring"), TCOLL_OK);
  assert_comm_works(c);
  ck_assert_str_eq(tcoll_last_algorithm(c, TCOLL_ALLREDUCE), "ring");
  ck_assert_int_eq(tcoll_comm_destroy(c), TCOLL_OK);

  /* emulated nodes of 2 ranks: the explanation reports the split */
  ck_assert_int_eq(create_with_env("TCOLL_RANKS_PER_NODE", "2", &c), TCOLL_OK);
  char text[4096], expect[64];
  ck_assert_int_eq(tcoll_explain(c, TCOLL_ALLREDUCE, 100, TCOLL_FLOAT32, TCOLL_SUM, text, sizeof text), TCOLL_OK);
  snprintf(expect, sizeof expect, "%d ranks on %d node(s)", P, (P + 1) / 2);
  ck_assert_msg(strstr(text, expect) != NULL, "explain says:\n%s\nexpected \"%s\"", text, expect);
  assert_comm_works(c);
  ck_assert_int_eq(tcoll_comm_destroy(c), TCOLL_OK);
}
END_TEST

/* Ranks that disagree on the shm chunk size would run different schedules:
 * the segment is not set up, shm declines with the reason, the communicator
 * works with the other algorithms. */
START_TEST(test_shm_chunk_disagreement) {
  if (P < 2) return;
  if (R == 0) setenv("TCOLL_SHM_CHUNK_BYTES", "4096", 1);
  tcoll_comm *c = NULL;
  tcoll_status st = create_with_env("TCOLL_FALLBACK", "error", &c);
  unsetenv("TCOLL_SHM_CHUNK_BYTES");
  ck_assert_int_eq(st, TCOLL_OK);
  ck_assert_int_eq(tcoll_comm_set_algorithm(c, TCOLL_ALLREDUCE, "shm"), TCOLL_OK);
  int32_t x = 1, y = 0;
  EXPECT_ERROR(tcoll_allreduce(c, &x, &y, 1, TCOLL_INT32, TCOLL_SUM), TCOLL_ERR_UNSUPPORTED,
               "TCOLL_SHM_CHUNK_BYTES differs between ranks");
  ck_assert_int_eq(tcoll_comm_set_algorithm(c, TCOLL_ALLREDUCE, NULL), TCOLL_OK);
  assert_comm_works(c);
  ck_assert_int_eq(tcoll_comm_destroy(c), TCOLL_OK);
}
END_TEST

START_TEST(test_comm_lifecycle) {
  tcoll_comm *c = (tcoll_comm *)&c;
  EXPECT_ERROR(tcoll_comm_create(MPI_COMM_NULL, &c), TCOLL_ERR_INVALID_ARG, "MPI_COMM_NULL");
  ck_assert_ptr_null(c);
  EXPECT_ERROR(tcoll_comm_create(MPI_COMM_WORLD, NULL), TCOLL_ERR_INVALID_ARG, "out");
  ck_assert_int_eq(tcoll_comm_destroy(NULL), TCOLL_OK);
  ck_assert_int_eq(tcoll_comm_rank(NULL), -1);
  ck_assert_int_eq(tcoll_comm_size(NULL), -1);
  /* a sub-communicator: even and odd ranks */
  MPI_Comm half;
  MPI_Comm_split(MPI_COMM_WORLD, R % 2, R, &half);
  ck_assert_int_eq(tcoll_comm_create(half, &c), TCOLL_OK);
  ck_assert_int_eq(tcoll_comm_size(c), (P - R % 2 + 1) / 2);
  ck_assert_int_eq(tcoll_comm_rank(c), R / 2);
  int64_t in = R, out = -1, expect = 0;
  for (int r = R % 2; r < P; r += 2) expect += r;
  ck_assert_int_eq(tcoll_allreduce(c, &in, &out, 1, TCOLL_INT64, TCOLL_SUM), TCOLL_OK);
  ck_assert_int_eq(out, expect);
  ck_assert_int_eq(tcoll_comm_destroy(c), TCOLL_OK);
  MPI_Comm_free(&half);
  /* many create/destroy cycles (leaks show under the sanitizer build) */
  for (int i = 0; i < 20; i++) {
    ck_assert_int_eq(tcoll_comm_create(MPI_COMM_WORLD, &c), TCOLL_OK);
    assert_comm_works(c);
    ck_assert_int_eq(tcoll_comm_destroy(c), TCOLL_OK);
  }
}
END_TEST

START_TEST(test_explain) {
  char text[8192];
  ck_assert_int_eq(tcoll_explain(comm, TCOLL_ALLREDUCE, 1 << 20, TCOLL_FLOAT32, TCOLL_SUM, text, sizeof text),
                   TCOLL_OK);
  for (size_t i = 0; i < tcoll_algorithm_count(TCOLL_ALLREDUCE); i++)
    ck_assert_msg(strstr(text, tcoll_algorithm_name(TCOLL_ALLREDUCE, i)) != NULL, "%s", text);
  ck_assert_msg(strstr(text, "choice: ") != NULL, "%s", text);
  /* the explained choice is what then runs */
  float *buf = calloc(1 << 20, sizeof *buf);
  ck_assert_ptr_nonnull(buf);
  ck_assert_int_eq(tcoll_comm_set_algorithm(comm, TCOLL_ALLREDUCE, NULL), TCOLL_OK);
  ck_assert_int_eq(tcoll_allreduce(comm, buf, buf, 1 << 20, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_OK);
  char expect[128];
  snprintf(expect, sizeof expect, "choice: %s (", tcoll_last_algorithm(comm, TCOLL_ALLREDUCE));
  ck_assert_msg(strstr(text, expect) != NULL, "explained:\n%s\nbut ran %s", text, expect);
  free(buf);
  /* forced: reported as such */
  ck_assert_int_eq(tcoll_comm_set_algorithm(comm, TCOLL_ALLREDUCE, "binomial_tree"), TCOLL_OK);
  ck_assert_int_eq(tcoll_explain(comm, TCOLL_ALLREDUCE, 10, TCOLL_INT8, TCOLL_MAX, text, sizeof text), TCOLL_OK);
  ck_assert_msg(strstr(text, "choice: binomial_tree (forced)") != NULL, "%s", text);
  ck_assert_int_eq(tcoll_comm_set_algorithm(comm, TCOLL_ALLREDUCE, NULL), TCOLL_OK);
  /* truncation is safe and terminated */
  char tiny[16];
  ck_assert_int_eq(tcoll_explain(comm, TCOLL_ALLREDUCE, 10, TCOLL_INT8, TCOLL_MAX, tiny, sizeof tiny), TCOLL_OK);
  ck_assert_uint_eq(strlen(tiny), sizeof tiny - 1);
  EXPECT_ERROR(tcoll_explain(comm, TCOLL_ALLREDUCE, 10, TCOLL_INT8, TCOLL_AVG, text, sizeof text),
               TCOLL_ERR_INVALID_ARG, "avg");
  EXPECT_ERROR(tcoll_explain(comm, TCOLL_ALLREDUCE, 10, TCOLL_INT8, TCOLL_SUM, NULL, 10), TCOLL_ERR_INVALID_ARG,
               "buf");
  /* every collective; op is ignored (even invalid) where nothing is reduced */
  for (int coll = 0; coll < TCOLL_NUM_COLLS; coll++) {
    int reduces = coll == TCOLL_ALLREDUCE || coll == TCOLL_REDUCE_SCATTER || coll == TCOLL_REDUCE;
    tcoll_op op = reduces ? TCOLL_SUM : (tcoll_op)77;
    ck_assert_int_eq(tcoll_explain(comm, (tcoll_coll)coll, 1000, TCOLL_FLOAT32, op, text, sizeof text), TCOLL_OK);
    for (size_t i = 0; i < tcoll_algorithm_count((tcoll_coll)coll); i++)
      ck_assert_msg(strstr(text, tcoll_algorithm_name((tcoll_coll)coll, i)) != NULL, "%s", text);
    ck_assert_msg(strstr(text, "choice: ") != NULL, "%s", text);
    ck_assert_msg((strstr(text, "op sum") != NULL) == reduces, "%s", text);
  }
  EXPECT_ERROR(tcoll_explain(comm, TCOLL_REDUCE, 10, TCOLL_INT8, TCOLL_AVG, text, sizeof text),
               TCOLL_ERR_INVALID_ARG, "avg");
  if ((P & (P - 1)) != 0) {
    ck_assert_int_eq(tcoll_explain(comm, TCOLL_ALLGATHER, 10, TCOLL_INT8, TCOLL_SUM, text, sizeof text), TCOLL_OK);
    ck_assert_msg(strstr(text, "recursive_doubling     not usable: needs a power-of-two") != NULL, "%s", text);
  }
  EXPECT_ERROR(tcoll_explain(NULL, TCOLL_ALLREDUCE, 10, TCOLL_INT8, TCOLL_SUM, text, sizeof text),
               TCOLL_ERR_INVALID_ARG, "comm");
}
END_TEST

START_TEST(test_status_strings) {
  ck_assert_str_eq(tcoll_status_string(TCOLL_OK), "success");
  for (int s = TCOLL_ERR_INVALID_ARG; s <= TCOLL_ERR_INTERNAL; s++) {
    ck_assert(strlen(tcoll_status_string((tcoll_status)s)) > 0);
    ck_assert_str_ne(tcoll_status_string((tcoll_status)s), tcoll_status_string((tcoll_status)(s - 1)));
  }
  ck_assert_str_eq(tcoll_status_string((tcoll_status)1000), "unknown status");
  char v[32];
  snprintf(v, sizeof v, "%d.%d.%d", TCOLL_VERSION_MAJOR, TCOLL_VERSION_MINOR, TCOLL_VERSION_PATCH);
  ck_assert_str_eq(tcoll_version(), v);
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
  Suite *s = suite_create("errors");
  TCase *tc = tcase_create("api");
  tcase_add_test(tc, test_bad_arguments);
  tcase_add_test(tc, test_bad_arguments_collectives);
  tcase_add_test(tc, test_last_algorithm_all);
  tcase_add_test(tc, test_forcing);
  tcase_add_test(tc, test_environment);
  tcase_add_test(tc, test_comm_lifecycle);
  tcase_add_test(tc, test_shm_chunk_disagreement);
  tcase_add_test(tc, test_explain);
  tcase_add_test(tc, test_status_strings);
  suite_add_tcase(s, tc);
  int status = check_mpi_run(s);
  tcoll_comm_destroy(comm);
  MPI_Finalize();
  return status;
}
