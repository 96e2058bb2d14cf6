/*
 * bcast scatter_allgather: binomial scatter of the p blocks of the vector
 * from the root, then ring allgather of the blocks (van de Geijn; Barnett,
 * Gupta, Payne, Shuler, van de Geijn & Watts, "Interprocessor collective
 * communication library (InterCom)", SHPCC 1994; MPICH's long-message bcast).
 *
 *   p = 4, root 0:  scatter  0 -> 2 (B2 B3), 0 -> 1 (B1), 2 -> 3 (B3)
 *                   allgather (ring): every rank passes blocks to r+1
 *
 * Block m belongs to rank m (tcoll__block_*), so a subtree's blocks wrap
 * around when the root is not 0 and travel as two pieces (pattern_tree.c).
 *
 * Cost: scatter  ceil(log2 p) α + (p-1)/p n β
 *       + allgather (p-1) α + (p-1)/p n β
 * About 2 n β instead of log2(p) n β: large messages.
 * Needs: nothing; count < p leaves some blocks empty.
 */
#include "patterns.h"

static double sag_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, moved = (p - 1) / p * (double)call->bytes;
  /* binomial scatter (halves shrink with the distance), then a ring */
  return tcoll__cost_doubling(c, tcoll__ceil_log2(c->size), 1, moved) + tcoll__cost_at(c, 1, p - 1, moved);
}

static tcoll_status sag_run(tcoll_comm *c, const tcoll_call *call) {
  const tcoll_tree_group g = {.n = c->size, .me = c->rank, .root = call->root, .fold = NULL};
  tcoll_status s = tcoll__binomial_scatter(c, call, &g);
  if (s == TCOLL_OK) s = tcoll__ring_allgather(c, call, call->recvbuf);
  return s;
}

const tcoll_algorithm tcoll__bcast_scatter_allgather = {
    .name = "scatter_allgather",
    .coll = TCOLL_BCAST,
    .summary = "binomial scatter of blocks + ring allgather (van de Geijn); large messages",
    .check = tcoll__check_accepts_all,
    .cost = sag_cost,
    .run = sag_run,
};
