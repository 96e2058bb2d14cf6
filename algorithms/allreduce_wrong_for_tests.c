/*
 * allreduce wrong_for_tests: the ring, then rank 0 corrupts its first element.
 * Compiled only into libtcoll_testing (TCOLL_TEST_ALGORITHMS), never into the
 * installed library: it exists so that tests can prove tcoll-bench's #wrong
 * column and exit status really detect a wrong result.
 */
#include "patterns.h"

static double wrong_cost(const tcoll_comm *c, const tcoll_call *call) {
  return tcoll__allreduce_ring.cost(c, call) * 1000; /* never chosen automatically */
}

static tcoll_status wrong_run(tcoll_comm *c, const tcoll_call *call) {
  tcoll_status s = tcoll__allreduce_ring.run(c, call);
  if (s == TCOLL_OK && c->rank == 0) ((unsigned char *)call->recvbuf)[0] ^= 0x40;
  return s;
}

const tcoll_algorithm tcoll__allreduce_wrong_for_tests = {
    .name = "wrong_for_tests",
    .coll = TCOLL_ALLREDUCE,
    .summary = "ring with one corrupted element on rank 0 (test builds only)",
    .check = tcoll__check_accepts_all,
    .cost = wrong_cost,
    .run = wrong_run,
};
