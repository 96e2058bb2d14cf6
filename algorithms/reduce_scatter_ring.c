/*
 * reduce_scatter ring: the ring reduce-scatter schedule of allreduce ring
 * (pattern_ring.c) on the vector of p blocks of recvcount elements, so block r
 * ends fully reduced at rank r (Patarasuk & Yuan, JPDC 2009; the first half
 * of NCCL's ring allreduce).
 *
 * Cost (n = recvcount bytes, g = segments per block = ceil(n / segment)):
 *   (p-1) g α + (p-1) n β + (p-1) n γ
 * Bandwidth-optimal, p-1 latency terms: for large blocks.
 * Needs: nothing. Scratch: one full-length accumulator (p n bytes), since
 * recvbuf holds only this rank's block.
 * Parameters: TCOLL_SEGMENT_BYTES (pipelining granularity).
 */
#include <math.h>

#include "patterns.h"

static double ring_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  const double segments = fmax(1.0, ceil(n / (double)c->segment_bytes));
  return tcoll__cost_at(c, 1, (p - 1) * segments, (p - 1) * n) + tcoll__cost_reduce(c, call, (p - 1) * n);
}

static tcoll_status ring_run(tcoll_comm *c, const tcoll_call *call) {
  tcoll_call vec;
  if (tcoll__alone(c, call)) return TCOLL_OK;
  tcoll_status s = tcoll__accumulator_view(c, call, &vec);
  if (s == TCOLL_OK) s = tcoll__ring_reduce_scatter(c, &vec, call->sendbuf, vec.recvbuf);
  if (s == TCOLL_OK) tcoll__deliver_block(call, &vec, c->rank);
  return s;
}

const tcoll_algorithm tcoll__reduce_scatter_ring = {
    .name = "ring",
    .coll = TCOLL_REDUCE_SCATTER,
    .summary = "ring reduce-scatter, pipelined in segments; bandwidth-optimal, p-1 steps",
    .check = tcoll__check_accepts_all,
    .cost = ring_cost,
    .run = ring_run,
};
