/*
 * allreduce binomial_tree: binomial reduce to rank 0, then binomial
 * broadcast from it (pattern_tree.c). The textbook composition; the
 * MPICH/Open MPI fallback for non-commutative operations.
 *
 * Cost: ceil(log2 p) (α + n β + n γ) + ceil(log2 p) (α + n β)
 * Twice the rounds of recursive doubling and the root's links carry
 * everything; kept because it is the simplest correct algorithm, a
 * reference point in benchmarks, and the building block of reduce and bcast.
 * Needs: nothing. One rank computes the result, so all hold the same bits.
 */
#include "patterns.h"

static double tree_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double n = (double)call->bytes, rounds = tcoll__ceil_log2(c->size);
  return 2 * tcoll__cost_each_round(c, (int)rounds, 1, n) + rounds * tcoll__cost_reduce(c, call, n);
}

static tcoll_status tree_run(tcoll_comm *c, const tcoll_call *call) {
  const void *src = call->sendbuf;
  tcoll_status s = tcoll__binomial_reduce(c, call, 0, &src, call->recvbuf);
  /* leaves and p == 1 never reduced into recvbuf; the broadcast overwrites
   * it everywhere except at the root */
  if (s == TCOLL_OK && c->rank == 0 && src == call->sendbuf) tcoll__copy_to_recv(call);
  if (s == TCOLL_OK) s = tcoll__binomial_bcast(c, call->recvbuf, call->bytes, 0);
  return s;
}

const tcoll_algorithm tcoll__allreduce_binomial_tree = {
    .name = "binomial_tree",
    .coll = TCOLL_ALLREDUCE,
    .summary = "binomial reduce to rank 0 + binomial broadcast; simplest, latency 2 log2(p)",
    .check = tcoll__check_accepts_all,
    .cost = tree_cost,
    .run = tree_run,
};
