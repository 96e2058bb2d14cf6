/*
 * allreduce slow_for_tests: the ring plus a 2 ms sleep, priced by its
 * cost() at a quarter of the ring's, so the cost model picks it. Compiled only
 * into libtcoll_testing (TCOLL_TEST_ALGORITHMS), and usable only when the
 * environment sets TCOLL_TEST_SLOW_ALGORITHM=1 (the same on every rank
 * under mpirun), so that no other test's automatic choice sees it. It
 * exists to prove that the measured choice (src/adapt.c) replaces a model
 * pick that is wrong on the machine. With TCOLL_TEST_SLOW_ALGORITHM=fail it
 * fails every call instead, on every rank alike and before any message,
 * to prove that a candidate that fails stops being timed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "patterns.h"

static bool slow_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)c, (void)call;
  const char *on = getenv("TCOLL_TEST_SLOW_ALGORITHM");
  if (on && (strcmp(on, "1") == 0 || strcmp(on, "fail") == 0)) return true;
  return tcoll__decline(why, whylen, "TCOLL_TEST_SLOW_ALGORITHM is not 1 or fail");
}

/* A quarter of the ring's prediction: below every other algorithm's at the
 * test's sizes, and close enough that they remain candidates to time. */
static double slow_cost(const tcoll_comm *c, const tcoll_call *call) {
  return tcoll__allreduce_ring.cost(c, call) / 4;
}

static tcoll_status slow_run(tcoll_comm *c, const tcoll_call *call) {
  const char *on = getenv("TCOLL_TEST_SLOW_ALGORITHM");
  if (on && strcmp(on, "fail") == 0)
    return tcoll__error(TCOLL_ERR_INTERNAL, "slow_for_tests fails on purpose (TCOLL_TEST_SLOW_ALGORITHM=fail)");
  const struct timespec pause = {0, 2000000};
  nanosleep(&pause, NULL);
  return tcoll__allreduce_ring.run(c, call);
}

const tcoll_algorithm tcoll__allreduce_slow_for_tests = {
    .name = "slow_for_tests",
    .coll = TCOLL_ALLREDUCE,
    .summary = "ring after a 2 ms sleep, priced at a quarter of the ring (test builds only)",
    .check = slow_check,
    .cost = slow_cost,
    .run = slow_run,
};
