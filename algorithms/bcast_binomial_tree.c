/*
 * bcast binomial_tree: the root sends the whole vector down a binomial tree
 * rooted at it (pattern_tree.c); every rank forwards it to its subtrees,
 * largest first.
 *
 *   p = 6, root 0:  round 1: 0 -> 4
 *                   round 2: 0 -> 2, 4 -> 5
 *                   round 3: 0 -> 1, 2 -> 3
 *
 * Cost: ceil(log2 p) (α + n β)
 * Fewest rounds, but every round moves the whole vector: small messages.
 * Needs: nothing.
 */
#include "patterns.h"

static double tree_cost(const tcoll_comm *c, const tcoll_call *call) {
  return tcoll__cost_each_round(c, tcoll__ceil_log2(c->size), 1, (double)call->bytes);
}

static tcoll_status tree_run(tcoll_comm *c, const tcoll_call *call) {
  return tcoll__binomial_bcast(c, call->recvbuf, call->bytes, call->root);
}

const tcoll_algorithm tcoll__bcast_binomial_tree = {
    .name = "binomial_tree",
    .coll = TCOLL_BCAST,
    .summary = "binomial tree from the root; ceil(log2 p) rounds of the whole vector",
    .check = tcoll__check_accepts_all,
    .cost = tree_cost,
    .run = tree_run,
};
