/*
 * allgather bruck: ceil(log2 p) steps for any p (Bruck, Ho, Kipnis, Upfal &
 * Weathersby, "Efficient algorithms for all-to-all communications in
 * multiport message-passing systems", IEEE TPDS 1997). Rank r keeps a work
 * vector W in which W[i] is the block of rank (r+i) mod p. At distance d =
 * 1, 2, 4, ... it sends W[0 .. min(d, p-d)) to r-d and appends what r+d sends
 * as W[d ..]; then one local rotation puts W[i] at block (r+i) mod p.
 *
 *   p = 3, r0: W = B0;  d=1: gets B1 from r1 -> W = B0 B1
 *              d=2: gets B2 (r2's W[0]) from r2 -> W = B0 B1 B2; rotate by 0
 *
 * Cost (n = sendcount bytes): ceil(log2 p) α + (p-1) n β  (+ the rotation, a
 * local copy of p n bytes, not modelled)
 * Needs: nothing. Scratch: the work vector (p n bytes).
 */
#include <string.h>

#include "patterns.h"

static double bruck_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  /* round k sends 2^k blocks (the last round the rest) to rank - 2^k:
   * every rank, so a shift step, not a hypercube one */
  double t = 0, left = p - 1;
  for (int d = 1; d < c->size; d *= 2, left -= d / 2) t += tcoll__cost_at(c, d, 1, (left < d ? left : d) * n);
  return t;
}

/* W[i] belongs at block (r+i) mod p: two contiguous copies. */
static void rotate_into_place(const tcoll_comm *c, const tcoll_call *call, const void *work) {
  const size_t head = (size_t)(c->size - c->rank) * call->bytes; /* W[0 .. p-r) */
  memcpy(tcoll__at(call->recvbuf, (size_t)c->rank, call->bytes), work, head);
  memcpy(call->recvbuf, tcoll__cat(work, (size_t)(c->size - c->rank), call->bytes),
         (size_t)c->rank * call->bytes);
}

static tcoll_status bruck_run(tcoll_comm *c, const tcoll_call *call) {
  const int p = c->size, r = c->rank;
  void *work = NULL;
  tcoll_status s = tcoll__scratch(c, (size_t)p * call->bytes, &work);
  if (s != TCOLL_OK) return s;
  /* in place, sendbuf lies inside recvbuf: copied out before recvbuf is written */
  memcpy(work, call->sendbuf, call->bytes);
  for (int d = 1; d < p && s == TCOLL_OK; d *= 2) {
    const size_t blocks = (size_t)(d < p - d ? d : p - d);
    s = tcoll__sendrecv(c, work, blocks * call->bytes, (r - d + p) % p,
                        tcoll__at(work, (size_t)d, call->bytes), blocks * call->bytes, (r + d) % p);
  }
  if (s == TCOLL_OK) rotate_into_place(c, call, work);
  return s;
}

const tcoll_algorithm tcoll__allgather_bruck = {
    .name = "bruck",
    .coll = TCOLL_ALLGATHER,
    .summary = "Bruck: ceil(log2 p) steps for any p, then a local rotation",
    .check = tcoll__check_accepts_all,
    .cost = bruck_cost,
    .run = bruck_run,
};
