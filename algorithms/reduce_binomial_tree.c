/*
 * reduce binomial_tree: binomial reduce to the root (pattern_tree.c); every
 * rank reduces its children's subtrees into its accumulator and passes the
 * result to its parent.
 *
 *   p = 6, root 0:  mask 1: 1->0 3->2 5->4; mask 2: 2->0; mask 4: 4->0
 *
 * Cost: ceil(log2 p) (α + n β + n γ)
 * Fewest rounds, whole vector per round: small messages.
 * Needs: nothing. The accumulator is recvbuf at the root and scratch
 * elsewhere (recvbuf is not significant at non-roots and is never written);
 * leaves need none.
 */
#include "patterns.h"

static double tree_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double n = (double)call->bytes;
  const int rounds = tcoll__ceil_log2(c->size);
  return tcoll__cost_each_round(c, rounds, 1, n) + rounds * tcoll__cost_reduce(c, call, n);
}

static tcoll_status tree_run(tcoll_comm *c, const tcoll_call *call) {
  const int v = (c->rank - call->root + c->size) % c->size;
  const bool has_children = v % 2 == 0 && v + 1 < c->size;
  void *acc = call->recvbuf;
  const void *src = call->sendbuf;
  tcoll_status s = TCOLL_OK;
  if (c->rank != call->root && has_children) s = tcoll__scratch_acc(c, call->bytes, &acc);
  if (s == TCOLL_OK) s = tcoll__binomial_reduce(c, call, call->root, &src, acc);
  /* p == 1: the root never reduced into recvbuf */
  if (s == TCOLL_OK && c->rank == call->root && src == call->sendbuf) tcoll__copy_to_recv(call);
  return s;
}

const tcoll_algorithm tcoll__reduce_binomial_tree = {
    .name = "binomial_tree",
    .coll = TCOLL_REDUCE,
    .summary = "binomial reduce to the root; ceil(log2 p) rounds of the whole vector",
    .check = tcoll__check_accepts_all,
    .cost = tree_cost,
    .run = tree_run,
};
