/*
 * allreduce ring: ring reduce-scatter followed by ring allgather
 * (Patarasuk & Yuan, "Bandwidth optimal all-reduce algorithms for clusters
 * of workstations", JPDC 2009; the schedule of NCCL and Horovod).
 *
 * Cost (n bytes, p ranks, g = segments per block = ceil(n/p / segment)):
 *   reduce-scatter: (p-1) g α + (p-1)/p n β + (p-1)/p n γ
 *   allgather:      (p-1) α   + (p-1)/p n β
 * Bandwidth-optimal (each rank sends 2(p-1)/p n), but 2(p-1) latency terms,
 * so it wins for large messages.
 * Needs: nothing; any p, any count (blocks of count < p are empty).
 * Parameters: TCOLL_SEGMENT_BYTES (pipelining granularity, pattern_ring.c).
 * Every block is reduced by one rank and then copied, so all ranks hold the
 * same bits.
 */
#include <math.h>

#include "patterns.h"

static double ring_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  const double block = n / p;
  const double segments = fmax(1.0, ceil(block / (double)c->segment_bytes));
  /* every step is a ring hop: charged at the farthest hop's level */
  return tcoll__cost_at(c, 1, (p - 1) * segments, (p - 1) * block) + tcoll__cost_reduce(c, call, (p - 1) * block) +
         tcoll__cost_at(c, 1, p - 1, (p - 1) * block);
}

static tcoll_status ring_run(tcoll_comm *c, const tcoll_call *call) {
  if (c->size == 1) {
    tcoll__copy_to_recv(call);
    return TCOLL_OK;
  }
  tcoll_status s = tcoll__ring_reduce_scatter(c, call, call->sendbuf, call->recvbuf);
  if (s == TCOLL_OK) s = tcoll__ring_allgather(c, call, call->recvbuf);
  return s;
}

const tcoll_algorithm tcoll__allreduce_ring = {
    .name = "ring",
    .coll = TCOLL_ALLREDUCE,
    .summary = "ring reduce-scatter + ring allgather; bandwidth-optimal, 2(p-1) steps",
    .check = tcoll__check_accepts_all,
    .cost = ring_cost,
    .run = ring_run,
};
