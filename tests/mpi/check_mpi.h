/*
 * Shared by the Check suites that run under mpirun: the runner (no fork,
 * which is unsafe under MPI; ranks agree on the verdict so the exit status
 * is the same everywhere; only rank 0 prints) and the assertions the
 * error-path suites all use.
 */
#ifndef TCOLL_TEST_CHECK_MPI_H
#define TCOLL_TEST_CHECK_MPI_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tcoll.h"

/* Runs the suite and returns the exit status, the same on every rank. */
static inline int check_mpi_run(Suite *s) {
  int rank = 0, failed, any_failed = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  SRunner *sr = srunner_create(s);
  srunner_set_fork_status(sr, CK_NOFORK);
  srunner_run_all(sr, rank == 0 ? CK_NORMAL : CK_SILENT);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  return any_failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* Status and message must both be right. */
#define EXPECT_ERROR(call, status, needle)                                                    \
  do {                                                                                        \
    tcoll_status st_ = (call);                                                                \
    ck_assert_msg(st_ == (status), "%s returned %s (%s), expected %s", #call,                 \
                  tcoll_status_string(st_), tcoll_last_error(), tcoll_status_string(status)); \
    ck_assert_msg(strstr(tcoll_last_error(), needle) != NULL,                                 \
                  "message \"%s\" does not mention \"%s\"", tcoll_last_error(), needle);      \
  } while (0)

/* The communicator (over MPI_COMM_WORLD) still performs a correct allreduce:
 * proof that a rejected call started no communication. */
static inline void assert_comm_works(tcoll_comm *c) {
  int p, r;
  MPI_Comm_size(MPI_COMM_WORLD, &p);
  MPI_Comm_rank(MPI_COMM_WORLD, &r);
  int32_t in[3] = {r, 1, -r}, out[3] = {0, 0, 0};
  ck_assert_int_eq(tcoll_allreduce(c, in, out, 3, TCOLL_INT32, TCOLL_SUM), TCOLL_OK);
  ck_assert_int_eq(out[0], p * (p - 1) / 2);
  ck_assert_int_eq(out[1], p);
  ck_assert_int_eq(out[2], -p * (p - 1) / 2);
}

#endif
