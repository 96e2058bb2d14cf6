/*
 * reduce_scatter pairwise: p-1 steps; at step k rank r sends block (r+k) mod p
 * of its input straight to its owner (r+k) mod p and receives the
 * contribution of rank (r-k) mod p to its own block, which it reduces at once
 * (MPICH's pairwise exchange for long messages with commutative ops):
 *
 *   p = 3, step 1: r0 -> r1 (B1)  r1 -> r2 (B2)  r2 -> r0 (B0)
 *          step 2: r0 -> r2 (B2)  r1 -> r0 (B0)  r2 -> r1 (B1)
 *
 * Cost (n = recvcount bytes): (p-1) α + (p-1) n β + (p-1) n γ
 * The ring's traffic without forwarding partial sums, so no accumulator and
 * no segment pipeline; every step talks to a different partner.
 * Needs: nothing (tcoll's ops are commutative, so the order in which a rank
 * folds in the contributions does not matter beyond rounding).
 */
#include "patterns.h"

static double pairwise_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  double t = tcoll__cost_reduce(c, call, (p - 1) * n);
  for (int k = 1; k < c->size; k++) t += tcoll__cost_at(c, k, 1, n); /* step k: to rank + k */
  return t;
}

static tcoll_status pairwise_run(tcoll_comm *c, const tcoll_call *call) {
  const int p = c->size, r = c->rank;
  const size_t es = call->elem_size;
  void *tmp = NULL;
  if (tcoll__alone(c, call)) return TCOLL_OK;
  tcoll_status s = tcoll__scratch(c, call->bytes, &tmp);
  /* in place, recvbuf is this block of sendbuf: the first reduction reads
   * and writes it exactly, which the kernels allow */
  const void *own = tcoll__cat(call->sendbuf, (size_t)r * call->count, es);
  for (int k = 1; k < p && s == TCOLL_OK; k++) {
    const int to = (r + k) % p, from = (r - k + p) % p;
    s = tcoll__sendrecv(c, tcoll__cat(call->sendbuf, (size_t)to * call->count, es), call->bytes, to, tmp,
                        call->bytes, from);
    if (s != TCOLL_OK) break;
    tcoll__reduce(call->dtype, call->op, call->recvbuf, own, tmp, call->count);
    own = call->recvbuf;
  }
  return s;
}

const tcoll_algorithm tcoll__reduce_scatter_pairwise = {
    .name = "pairwise",
    .coll = TCOLL_REDUCE_SCATTER,
    .summary = "p-1 direct exchanges of each block with its owner; no forwarding",
    .check = tcoll__check_accepts_all,
    .cost = pairwise_cost,
    .run = pairwise_run,
};
