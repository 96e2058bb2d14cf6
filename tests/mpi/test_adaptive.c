/*
 * The measured choice (TCOLL_ADAPTIVE, src/adapt.c), under mpirun, with the
 * test library's slow_for_tests allreduce: a ring after a 2 ms sleep that
 * the cost model prices at a quarter of the ring, so the model picks it
 * (TCOLL_TEST_SLOW_ALGORITHM=1 makes it usable; main sets it).
 *  - adaptive on: within the first rounds the calls stop running it; every
 *    call's result is right and every rank ran the same algorithm;
 *    tcoll_explain names the measured choice and the sampled times;
 *  - below TCOLL_ADAPTIVE_MIN_BYTES, with TCOLL_ADAPTIVE=0, and with a
 *    forced algorithm, the model's (or the forced) pick runs every time;
 *  - a bad TCOLL_ADAPTIVE or TCOLL_ADAPTIVE_MIN_BYTES fails the create,
 *    naming the variable.
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

/* 64 KiB of int32: exact sums, independent of the algorithm's order. */
enum { COUNT = 16384 };
/* src/tcoll_internal.h's TCOLL_ADAPT_CANDIDATES (this test sees only the
 * public API): enough calls for any candidate count */
#define TCOLL_ADAPT_CANDIDATES_MAX 5

/* Runs `calls` allreduces of `count` ints, checking every result on every
 * rank and that all ranks ran the same algorithm; returns how many calls
 * ran `name`. */
static int run_calls(tcoll_comm *c, int calls, size_t count, const char *name) {
  int32_t *in = malloc(count * sizeof *in), *out = malloc(count * sizeof *out);
  ck_assert_ptr_nonnull(in);
  ck_assert_ptr_nonnull(out);
  int ran_name = 0;
  for (int k = 0; k < calls; k++) {
    for (size_t i = 0; i < count; i++) in[i] = (int32_t)((size_t)R * 1000 + i % 977 + (size_t)k);
    memset(out, 0x5a, count * sizeof *out);
    ck_assert_int_eq(tcoll_allreduce(c, in, out, count, TCOLL_INT32, TCOLL_SUM), TCOLL_OK);
    long wrong = 0;
    for (size_t i = 0; i < count; i++) {
      /* sum over ranks r of r*1000 + i%977 + k */
      const int64_t want = (int64_t)1000 * P * (P - 1) / 2 + (int64_t)P * (int64_t)(i % 977 + (size_t)k);
      if (out[i] != (int32_t)want) wrong++;
    }
    ck_assert_msg(wrong == 0, "call %d: %ld wrong elements on rank %d", k, wrong, R);
    const char *ran = tcoll_last_algorithm(c, TCOLL_ALLREDUCE);
    ck_assert_ptr_nonnull(ran);
    /* every rank ran the same: compare a hash of the name */
    uint64_t h = 1469598103934665603ull;
    for (const char *p = ran; *p; p++) h = (h ^ (unsigned char)*p) * 1099511628211ull;
    uint64_t lo = h, hi = h;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    ck_assert_msg(lo == hi, "call %d: ranks ran different algorithms (rank %d: %s)", k, R, ran);
    if (strcmp(ran, name) == 0) ran_name++;
  }
  free(in);
  free(out);
  return ran_name;
}

/* How many candidates the explanation lists: the pick and those after
 * "closest:", up to ';'. */
static int candidates_in(const char *text) {
  const char *p = strstr(text, "closest:");
  ck_assert_msg(p != NULL, "no candidate list in:\n%s", text);
  int n = 2;
  for (; *p && *p != ';' && *p != '\n'; p++) n += *p == ',';
  return n;
}

static tcoll_comm *create(void) {
  tcoll_comm *c = NULL;
  ck_assert_msg(tcoll_comm_create(MPI_COMM_WORLD, &c) == TCOLL_OK, "%s", tcoll_last_error());
  return c;
}

START_TEST(test_measured_choice_replaces_slow_pick) {
  tcoll_comm *c = create();
  char text[4096];
  ck_assert_int_eq(tcoll_explain(c, TCOLL_ALLREDUCE, COUNT, TCOLL_INT32, TCOLL_SUM, text, sizeof text), TCOLL_OK);
  ck_assert_msg(strstr(text, "choice: slow_for_tests (cost model"), "before any call:\n%s", text);
  ck_assert_msg(strstr(text, "among slow_for_tests (cost model)") && strstr(text, "timed on the first calls"), "%s",
                text);
  /* the warm-up round, then a look of two rounds, each of n candidates x
   * 4 calls: slow_for_tests runs 12 of the first 12 n calls, then not again
   * until the next look, at least 128 calls later */
  const int n = candidates_in(text);
  ck_assert_int_ge(n, 2);
  const int slow_early = run_calls(c, 12 * n, COUNT, "slow_for_tests");
  ck_assert_int_eq(slow_early, 12);
  const int slow_later = run_calls(c, 100, COUNT, "slow_for_tests");
  ck_assert_int_eq(slow_later, 0);
  ck_assert_str_ne(tcoll_last_algorithm(c, TCOLL_ALLREDUCE), "slow_for_tests");
  ck_assert_int_eq(tcoll_explain(c, TCOLL_ALLREDUCE, COUNT, TCOLL_INT32, TCOLL_SUM, text, sizeof text), TCOLL_OK);
  ck_assert_msg(strstr(text, "(measured: the fastest of these, or within 3% of it)"), "%s", text);
  ck_assert_msg(strstr(text, "slow_for_tests 2"), "the sleep (>= 2000 us) is in the sampled times:\n%s", text);
  ck_assert_msg(!strstr(text, "choice: slow_for_tests"), "%s", text);
  tcoll_comm_destroy(c);
}
END_TEST

/* Calls that alternate between two counts of one size bucket (64 and 80 KiB)
 * share its looks: slow_for_tests still runs only the 12 sampled calls. */
START_TEST(test_counts_of_one_bucket_share_the_looks) {
  tcoll_comm *c = create();
  char text[4096];
  ck_assert_int_eq(tcoll_explain(c, TCOLL_ALLREDUCE, COUNT, TCOLL_INT32, TCOLL_SUM, text, sizeof text), TCOLL_OK);
  const int n = candidates_in(text);
  int slow = 0;
  for (int k = 0; k < 12 * n + 100; k++) slow += run_calls(c, 1, k % 2 ? COUNT : COUNT + 4096, "slow_for_tests");
  ck_assert_int_eq(slow, 12);
  tcoll_comm_destroy(c);
}
END_TEST

/* A candidate whose calls fail (on every rank alike) is timed in the first
 * look, its failures reach the caller, and then it is never run again: the
 * other calls succeed with right results on every rank. */
START_TEST(test_failing_candidate_is_dropped) {
  setenv("TCOLL_TEST_SLOW_ALGORITHM", "fail", 1);
  tcoll_comm *c = create();
  char text[4096];
  ck_assert_int_eq(tcoll_explain(c, TCOLL_ALLREDUCE, COUNT, TCOLL_INT32, TCOLL_SUM, text, sizeof text), TCOLL_OK);
  const int n = candidates_in(text);
  int32_t *in = malloc(COUNT * sizeof *in), *out = malloc(COUNT * sizeof *out);
  ck_assert_ptr_nonnull(in);
  ck_assert_ptr_nonnull(out);
  int failed = 0;
  /* enough calls for a second look (a run is 128 to a few thousand calls) */
  for (int k = 0; k < 12 * n + 8000; k++) {
    for (size_t i = 0; i < COUNT; i++) in[i] = (int32_t)(R + (int)i);
    const tcoll_status s = tcoll_allreduce(c, in, out, COUNT, TCOLL_INT32, TCOLL_SUM);
    if (s != TCOLL_OK) {
      ck_assert_msg(strstr(tcoll_last_error(), "fails on purpose"), "call %d: %s", k, tcoll_last_error());
      ck_assert_msg(k < 12 * n, "call %d failed after the first look", k);
      failed++;
      continue;
    }
    ck_assert_str_ne(tcoll_last_algorithm(c, TCOLL_ALLREDUCE), "slow_for_tests");
    long wrong = 0; /* (one assertion per call: Check's cost per assertion would skew the ranks) */
    for (size_t i = 0; i < COUNT; i++) wrong += out[i] != (int32_t)(P * (int)i + P * (P - 1) / 2);
    ck_assert_msg(wrong == 0, "call %d: %ld wrong elements on rank %d", k, wrong, R);
  }
  /* the warm-up round's 4 calls and the look's 8 */
  ck_assert_int_eq(failed, 12);
  ck_assert_int_eq(tcoll_explain(c, TCOLL_ALLREDUCE, COUNT, TCOLL_INT32, TCOLL_SUM, text, sizeof text), TCOLL_OK);
  ck_assert_msg(strstr(text, "slow_for_tests inf us"), "the failures are in the agreed times:\n%s", text);
  const char *look = strstr(text, "; look ");
  ck_assert_msg(look && atoi(look + 7) >= 2, "a second look, without it:\n%s", text);
  ck_assert_msg(!strstr(text, "choice: slow_for_tests"), "%s", text);
  free(in);
  free(out);
  tcoll_comm_destroy(c);
  setenv("TCOLL_TEST_SLOW_ALGORITHM", "1", 1);
}
END_TEST

START_TEST(test_model_pick_where_not_adaptive) {
  tcoll_comm *c = create();
  /* below TCOLL_ADAPTIVE_MIN_BYTES (8 KiB by default): 4 KiB */
  ck_assert_int_eq(run_calls(c, 20, 1024, "slow_for_tests"), 20);
  /* forced: never second-guessed */
  ck_assert_int_eq(tcoll_comm_set_algorithm(c, TCOLL_ALLREDUCE, "ring"), TCOLL_OK);
  ck_assert_int_eq(run_calls(c, 40, COUNT, "ring"), 40);
  tcoll_comm_destroy(c);
  /* TCOLL_ADAPTIVE=0: the model's pick every time */
  setenv("TCOLL_ADAPTIVE", "0", 1);
  c = create();
  unsetenv("TCOLL_ADAPTIVE");
  ck_assert_int_eq(run_calls(c, 20, COUNT, "slow_for_tests"), 20);
  tcoll_comm_destroy(c);
  /* a lower threshold makes 4 KiB adaptive */
  setenv("TCOLL_ADAPTIVE_MIN_BYTES", "4K", 1);
  c = create();
  unsetenv("TCOLL_ADAPTIVE_MIN_BYTES");
  run_calls(c, 12 * TCOLL_ADAPT_CANDIDATES_MAX, 1024, "slow_for_tests");
  ck_assert_int_eq(run_calls(c, 40, 1024, "slow_for_tests"), 0);
  tcoll_comm_destroy(c);
}
END_TEST

/* A tuning rule's algorithm is preferred, not imposed: measured like the
 * model's pick, and obeyed as it is with TCOLL_ADAPTIVE=0. */
START_TEST(test_rule_is_measured_too) {
  char path[64] = "";
  if (R == 0) {
    snprintf(path, sizeof path, "/tmp/tcoll_adaptive_rule_%d.json", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"format\": \"tcoll-tuning\", \"version\": 2, \"rules\": [{\"collective\": \"allreduce\", "
          "\"bytes\": [0, 1048576], \"algorithm\": \"slow_for_tests\"}]}",
          f);
    ck_assert_int_eq(fclose(f), 0);
  }
  MPI_Bcast(path, sizeof path, MPI_CHAR, 0, MPI_COMM_WORLD);
  tcoll_comm *c = create();
  ck_assert_msg(tcoll_comm_load_tuning(c, path) == TCOLL_OK, "%s", tcoll_last_error());
  char text[4096];
  ck_assert_int_eq(tcoll_explain(c, TCOLL_ALLREDUCE, COUNT, TCOLL_INT32, TCOLL_SUM, text, sizeof text), TCOLL_OK);
  ck_assert_msg(strstr(text, "among slow_for_tests (rule 0 of ") && strstr(text, "choice: slow_for_tests (rule 0 of "),
                "%s", text);
  ck_assert_int_eq(run_calls(c, 12 * candidates_in(text), COUNT, "slow_for_tests"), 12);
  ck_assert_int_eq(run_calls(c, 40, COUNT, "slow_for_tests"), 0);
  tcoll_comm_destroy(c);
  setenv("TCOLL_ADAPTIVE", "0", 1);
  setenv("TCOLL_TUNING_FILE", path, 1);
  c = create();
  unsetenv("TCOLL_ADAPTIVE");
  unsetenv("TCOLL_TUNING_FILE");
  ck_assert_int_eq(run_calls(c, 10, COUNT, "slow_for_tests"), 10);
  tcoll_comm_destroy(c);
  MPI_Barrier(MPI_COMM_WORLD);
  if (R == 0) unlink(path);
}
END_TEST

START_TEST(test_bad_environment) {
  tcoll_comm *c = NULL;
  setenv("TCOLL_ADAPTIVE", "yes", 1);
  EXPECT_ERROR(tcoll_comm_create(MPI_COMM_WORLD, &c), TCOLL_ERR_INVALID_ARG, "TCOLL_ADAPTIVE=\"yes\"");
  ck_assert_ptr_null(c);
  unsetenv("TCOLL_ADAPTIVE");
  setenv("TCOLL_ADAPTIVE_MIN_BYTES", "lots", 1);
  EXPECT_ERROR(tcoll_comm_create(MPI_COMM_WORLD, &c), TCOLL_ERR_INVALID_ARG, "TCOLL_ADAPTIVE_MIN_BYTES");
  ck_assert_ptr_null(c);
  unsetenv("TCOLL_ADAPTIVE_MIN_BYTES");
  /* on one rank only: every rank fails (none is left in a round alone) */
  if (R == 0) setenv("TCOLL_ADAPTIVE", "0", 1);
  EXPECT_ERROR(tcoll_comm_create(MPI_COMM_WORLD, &c), TCOLL_ERR_INVALID_ARG, "differs between ranks");
  ck_assert_ptr_null(c);
  if (R == 0) setenv("TCOLL_ADAPTIVE", "maybe", 1);
  EXPECT_ERROR(tcoll_comm_create(MPI_COMM_WORLD, &c), TCOLL_ERR_INVALID_ARG,
               R == 0 ? "TCOLL_ADAPTIVE=\"maybe\"" : "invalid on another rank");
  ck_assert_ptr_null(c);
  unsetenv("TCOLL_ADAPTIVE");
  tcoll_comm *works = create();
  assert_comm_works(works);
  tcoll_comm_destroy(works);
}
END_TEST

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  MPI_Comm_rank(MPI_COMM_WORLD, &R);
  setenv("TCOLL_TEST_SLOW_ALGORITHM", "1", 1);
  Suite *s = suite_create("adaptive");
  TCase *tc = tcase_create("measured choice");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_measured_choice_replaces_slow_pick);
  tcase_add_test(tc, test_failing_candidate_is_dropped);
  tcase_add_test(tc, test_counts_of_one_bucket_share_the_looks);
  tcase_add_test(tc, test_model_pick_where_not_adaptive);
  tcase_add_test(tc, test_rule_is_measured_too);
  tcase_add_test(tc, test_bad_environment);
  suite_add_tcase(s, tc);
  const int status = check_mpi_run(s);
  MPI_Finalize();
  return status;
}
