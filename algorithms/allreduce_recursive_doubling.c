/*
 * allreduce recursive_doubling: log2(p) rounds in which partners at distance
 * 1, 2, 4, ... exchange their whole vectors and both reduce (Thakur,
 * Rabenseifner & Gropp, "Optimization of collective communication
 * operations in MPICH", IJHPCA 2005). Non-powers of two fold in first
 * (pattern_fold.c).
 *
 * Cost (p2 = largest power of two <= p):
 *   log2(p2) (α + n β + n γ)  + fold: 2 (α + n β) + n γ when p != p2
 * Fewest rounds of any algorithm, but every round moves the whole vector:
 * best for small messages.
 * Needs: nothing. Both partners of an exchange reduce the lower one's
 * operand first, so every rank ends with the same bits.
 */
#include "patterns.h"

static double rd_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double n = (double)call->bytes;
  const double rounds = tcoll__ceil_log2(tcoll__pow2_floor(c->size));
  return tcoll__cost_each_round(c, (int)rounds, 1, n) + rounds * tcoll__cost_reduce(c, call, n) +
         tcoll__cost_fold(c, call);
}

/* The schedule lives in pattern_group.c: the hierarchical allreduce runs
 * the same one among nodes. */
static tcoll_status rd_run(tcoll_comm *c, const tcoll_call *call) {
  const tcoll_group all = tcoll__group_all(c);
  return tcoll__group_doubling_allreduce(c, &all, call);
}

const tcoll_algorithm tcoll__allreduce_recursive_doubling = {
    .name = "recursive_doubling",
    .coll = TCOLL_ALLREDUCE,
    .summary = "log2(p) full-vector exchanges at distance 1, 2, 4, ...; fewest rounds",
    .check = tcoll__check_accepts_all,
    .cost = rd_cost,
    .run = rd_run,
};
