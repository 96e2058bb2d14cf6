/*
 * allgather recursive_doubling: log2(p) rounds in which partners at distance
 * 1, 2, 4, ... exchange everything they hold, doubling it (Thakur,
 * Rabenseifner & Gropp, IJHPCA 2005); the second half of allreduce
 * rabenseifner (pattern_halving.c):
 *
 *   p = 4, mask 1: r0 <-> r1 (B0 | B1)  r2 <-> r3 (B2 | B3)
 *          mask 2: r0 <-> r2 (B0-B1 | B2-B3)  r1 <-> r3 (same)
 *
 * Cost (n = sendcount bytes): log2(p) α + (p-1) n β
 * Fewest rounds with optimal bandwidth, but only for powers of two.
 * Needs: p a power of two (check() declines otherwise; bruck covers any p).
 * No fold here: folding an allgather would send every block twice more.
 */
#include "patterns.h"

static bool rd_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)call;
  if (tcoll__pow2_floor(c->size) != c->size)
    return tcoll__decline(why, whylen, "needs a power-of-two number of ranks, not %d", c->size);
  return true;
}

static double rd_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  return tcoll__cost_doubling(c, tcoll__ceil_log2(c->size), 1, (p - 1) * n);
}

static tcoll_status rd_run(tcoll_comm *c, const tcoll_call *call) {
  const tcoll_fold f = tcoll__fold_plan(c->rank, c->size); /* p2 == p: nobody folds */
  const tcoll_group_blocks blocks = {.base_parts = c->size, .by_rank = false};
  tcoll__copy_own_block(call, c->rank);
  const tcoll_call vec = tcoll__vector_view(call, c->size, call->recvbuf);
  return tcoll__doubling_allgather(c, &vec, &f, blocks);
}

const tcoll_algorithm tcoll__allgather_recursive_doubling = {
    .name = "recursive_doubling",
    .coll = TCOLL_ALLGATHER,
    .summary = "log2(p) exchanges doubling what each rank holds; powers of two only",
    .check = rd_check,
    .cost = rd_cost,
    .run = rd_run,
};
