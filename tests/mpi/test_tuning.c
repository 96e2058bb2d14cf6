/*
 * Tuning files, argument agreement and the node split under MPI (run at 2
 * and 4 ranks): TCOLL_CHECK_ARGS turns disagreeing arguments into
 * TCOLL_ERR_MISMATCH on every rank; tcoll_comm_load_tuning and
 * TCOLL_TUNING_FILE apply rules (and drop the cached choice), reject bad
 * files on every rank with the path and the place, and keep the previous
 * table; uneven emulated nodes.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check_mpi.h"
#include "tcoll.h"

static int P, R;

static tcoll_comm *create(void) {
  tcoll_comm *c = NULL;
  tcoll_status s = tcoll_comm_create(MPI_COMM_WORLD, &c);
  ck_assert_msg(s == TCOLL_OK, "tcoll_comm_create: %s", tcoll_last_error());
  return c;
}

START_TEST(test_check_args) {
  setenv("TCOLL_CHECK_ARGS", "1", 1);
  tcoll_comm *c = create();
  unsetenv("TCOLL_CHECK_ARGS");
  float a[8] = {0}, b[8] = {0};
  /* rank 1 differs in each field in turn; every rank must report it */
  const int odd = R == 1;
  EXPECT_ERROR(tcoll_allreduce(c, a, b, odd ? 5 : 4, TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_MISMATCH, "count");
  EXPECT_ERROR(tcoll_allreduce(c, a, b, 4, odd ? TCOLL_INT32 : TCOLL_FLOAT32, TCOLL_SUM), TCOLL_ERR_MISMATCH,
               "dtype");
  EXPECT_ERROR(tcoll_allreduce(c, a, b, 4, TCOLL_FLOAT32, odd ? TCOLL_MAX : TCOLL_SUM), TCOLL_ERR_MISMATCH, "op");
  EXPECT_ERROR(tcoll_bcast(c, a, 4, TCOLL_FLOAT32, odd ? 1 : 0), TCOLL_ERR_MISMATCH, "root");
  EXPECT_ERROR(tcoll_reduce(c, a, b, 4, TCOLL_FLOAT32, TCOLL_SUM, odd ? 1 : 0), TCOLL_ERR_MISMATCH, "root");
  EXPECT_ERROR(tcoll_allgather(c, a, b, R == P - 1 ? 1 : 2, TCOLL_FLOAT32), TCOLL_ERR_MISMATCH, "count");
  /* agreeing calls run, the root of a non-rooted collective is not compared */
  assert_comm_works(c);
  ck_assert_int_eq(tcoll_bcast(c, a, 4, TCOLL_FLOAT32, P - 1), TCOLL_OK);
  tcoll_comm_destroy(c);
  setenv("TCOLL_CHECK_ARGS", "yes", 1);
  tcoll_comm *bad = NULL;
  EXPECT_ERROR(tcoll_comm_create(MPI_COMM_WORLD, &bad), TCOLL_ERR_INVALID_ARG, "TCOLL_CHECK_ARGS");
  unsetenv("TCOLL_CHECK_ARGS");
}
END_TEST

/* Rank 0 writes text to a fresh file; every rank gets the path. */
static void write_file(char *path, const char *text) {
  if (R == 0) {
    strcpy(path, "/tmp/tcoll-tuning-XXXXXX");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
  }
  MPI_Bcast(path, 64, MPI_CHAR, 0, MPI_COMM_WORLD);
}

static void remove_file(const char *path) {
  MPI_Barrier(MPI_COMM_WORLD);
  if (R == 0) unlink(path);
}

/* 8 bytes of allreduce: the model takes a latency-optimal algorithm, never
 * the ring, so a rule naming the ring is visible. */
static const char *allreduce_8_bytes(tcoll_comm *c) {
  int32_t in[2] = {R, 1}, out[2];
  ck_assert_int_eq(tcoll_allreduce(c, in, out, 2, TCOLL_INT32, TCOLL_SUM), TCOLL_OK);
  ck_assert_int_eq(out[1], P);
  return tcoll_last_algorithm(c, TCOLL_ALLREDUCE);
}

#define RING_RULE                                                                                      \
  "{\"format\": \"tcoll-tuning\", \"version\": 2, \"rules\": [{\"collective\": \"allreduce\", "       \
  "\"bytes\": [0, 64], \"algorithm\": \"ring\"}]}"

START_TEST(test_load_tuning) {
  tcoll_comm *c = create();
  const char *model = allreduce_8_bytes(c);
  ck_assert_str_ne(model, "ring");
  char good[64], bad[64], unknown[64];
  write_file(good, RING_RULE);
  write_file(bad, "{\"format\": \"tcoll-tuning\",\n \"version\": 2,\n \"rules\": [{\"collective\": }]}");
  write_file(unknown, "{\"format\": \"tcoll-tuning\", \"version\": 2, \"rules\": [{\"collective\": "
                      "\"allreduce\", \"algorithm\": \"warp_drive\"}]}");
  ck_assert_msg(tcoll_comm_load_tuning(c, good) == TCOLL_OK, "%s", tcoll_last_error());
  /* the cached model choice was dropped */
  ck_assert_str_eq(allreduce_8_bytes(c), "ring");
  char text[4096];
  ck_assert_int_eq(tcoll_explain(c, TCOLL_ALLREDUCE, 2, TCOLL_INT32, TCOLL_SUM, text, sizeof text), TCOLL_OK);
  ck_assert_msg(strstr(text, "choice: ring (rule 0 of ") && strstr(text, good), "%s", text);
  /* invalid: every rank fails with path and line; the previous table stays */
  EXPECT_ERROR(tcoll_comm_load_tuning(c, bad), TCOLL_ERR_TUNING_FILE, bad);
  ck_assert_ptr_nonnull(strstr(tcoll_last_error(), "line 3"));
  ck_assert_str_eq(allreduce_8_bytes(c), "ring");
  EXPECT_ERROR(tcoll_comm_load_tuning(c, "/nonexistent/tuning.json"), TCOLL_ERR_TUNING_FILE,
               "/nonexistent/tuning.json: cannot read it");
  ck_assert_str_eq(allreduce_8_bytes(c), "ring");
  EXPECT_ERROR(tcoll_comm_load_tuning(c, NULL), TCOLL_ERR_INVALID_ARG, "path");
  /* unknown algorithm: loads, rule disabled, back to the model */
  ck_assert_int_eq(tcoll_comm_load_tuning(c, unknown), TCOLL_OK);
  ck_assert_str_eq(allreduce_8_bytes(c), model);
  tcoll_comm_destroy(c);
  /* at create, from the environment; a bad file fails the create */
  setenv("TCOLL_TUNING_FILE", good, 1);
  c = create();
  ck_assert_str_eq(allreduce_8_bytes(c), "ring");
  tcoll_comm_destroy(c);
  setenv("TCOLL_TUNING_FILE", bad, 1);
  c = NULL;
  EXPECT_ERROR(tcoll_comm_create(MPI_COMM_WORLD, &c), TCOLL_ERR_TUNING_FILE, bad);
  ck_assert_ptr_null(c);
  unsetenv("TCOLL_TUNING_FILE");
  remove_file(good);
  remove_file(bad);
  remove_file(unknown);
}
END_TEST

/* TCOLL_RANKS_PER_NODE = 3: nodes of 3 and P - 3 ranks (uneven at P = 4). */
START_TEST(test_uneven_nodes) {
  setenv("TCOLL_RANKS_PER_NODE", "3", 1);
  tcoll_comm *c = create();
  unsetenv("TCOLL_RANKS_PER_NODE");
  char text[4096], expect[64];
  snprintf(expect, sizeof expect, "%d ranks on %d node(s)", P, P > 3 ? 2 : 1);
  ck_assert_int_eq(tcoll_explain(c, TCOLL_ALLREDUCE, 1 << 20, TCOLL_FLOAT32, TCOLL_SUM, text, sizeof text),
                   TCOLL_OK);
  ck_assert_msg(strstr(text, expect) != NULL, "%s", text);
  assert_comm_works(c);
  tcoll_comm_destroy(c);
}
END_TEST

/* A topology from another machine (HWLOC_XMLFILE): this process's binding
 * says nothing about it, so every rank is reported unbound and the
 * communicator works as usual. */
START_TEST(test_foreign_topology) {
  const char *dir = getenv("TCOLL_TOPOLOGY_DIR");
  char path[1024];
  snprintf(path, sizeof path, "%s/epyc-corona.xml", dir ? dir : "../shared/topologies");
  if (access(path, R_OK) != 0) {
    if (R == 0) printf("SKIP test_foreign_topology: %s not found\n", path);
    return;
  }
  setenv("HWLOC_XMLFILE", path, 1);
  tcoll_comm *c = create();
  unsetenv("HWLOC_XMLFILE");
  assert_comm_works(c);
  tcoll_comm_destroy(c);
}
END_TEST

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  MPI_Comm_rank(MPI_COMM_WORLD, &R);
  Suite *s = suite_create("tuning");
  TCase *tc = tcase_create("mpi");
  if (P >= 2) tcase_add_test(tc, test_check_args);
  tcase_add_test(tc, test_load_tuning);
  tcase_add_test(tc, test_uneven_nodes);
  tcase_add_test(tc, test_foreign_topology);
  suite_add_tcase(s, tc);
  int status = check_mpi_run(s);
  MPI_Finalize();
  return status;
}
