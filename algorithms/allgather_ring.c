/*
 * allgather ring: p-1 steps; at step k rank r passes block (r-k) mod p to
 * r+1 and receives block (r-k-1) mod p from r-1 (pattern_ring.c, the second
 * half of allreduce ring):
 *
 *   p = 3, step 0: r0 B0 -> r1   r1 B1 -> r2   r2 B2 -> r0
 *          step 1: r0 B2 -> r1   r1 B0 -> r2   r2 B1 -> r0
 *
 * Cost (n = sendcount bytes): (p-1) α + (p-1) n β
 * Bandwidth-optimal with p-1 latency terms: large blocks.
 * Needs: nothing.
 */
#include "patterns.h"

static double ring_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  return tcoll__cost_at(c, 1, p - 1, (p - 1) * n);
}

static tcoll_status ring_run(tcoll_comm *c, const tcoll_call *call) {
  tcoll__copy_own_block(call, c->rank);
  const tcoll_call vec = tcoll__vector_view(call, c->size, call->recvbuf);
  return tcoll__ring_allgather(c, &vec, call->recvbuf);
}

const tcoll_algorithm tcoll__allgather_ring = {
    .name = "ring",
    .coll = TCOLL_ALLGATHER,
    .summary = "ring: p-1 steps passing one block to the right; bandwidth-optimal",
    .check = tcoll__check_accepts_all,
    .cost = ring_cost,
    .run = ring_run,
};
