/*
 * Allreduce inside a group of member ranks (patterns.h, tcoll_group): the
 * recursive_doubling allreduce runs it over the whole communicator, the
 * hierarchical allreduce among the ranks that own the same slice on every
 * node.
 *
 * Ring: the ring reduce-scatter and allgather of pattern_ring.c over the
 * members, 2(n-1) steps of 1/n of the vector each.
 *
 * Recursive doubling (Thakur, Rabenseifner & Gropp, IJHPCA 2005), with the
 * fold of pattern_fold.c for n not a power of two (members 0, 2, ..,
 * 2 extra - 2 hand their vector to the next member and get the result back):
 *
 *   n = 3: m0 -> m1 (m1 = a1 op a0); v0 = m1, v1 = m2 exchange and both
 *          reduce; m1 -> m0
 *
 * In each exchange both partners compute (lower member's operand) op
 * (higher member's), so the two hold the same bits even where a kernel is
 * not bitwise symmetric (min and max with a NaN operand).
 */
#include "patterns.h"

/* The exchange rounds of the power-of-two group: *src is this member's
 * operand (its input, or recvbuf after the fold); afterwards recvbuf holds
 * the result, unless there was no round at all. */
static tcoll_status doubling_rounds(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call,
                                    const tcoll_fold *f, const void **src) {
  if (f->p2 == 1) return TCOLL_OK;
  void *tmp = NULL;
  tcoll_status s = tcoll__scratch(c, call->bytes, &tmp);
  if (s != TCOLL_OK) return s;
  for (int mask = 1; mask < f->p2; mask <<= 1) {
    const int partner_v = f->vrank ^ mask;
    const int partner = tcoll__group_rank(g, tcoll__fold_real_rank(f, partner_v));
    s = tcoll__sendrecv_tag(c, *src, call->bytes, partner, tmp, call->bytes, partner, g->tag);
    if (s != TCOLL_OK) return s;
    if (f->vrank < partner_v) tcoll__reduce(call->dtype, call->op, call->recvbuf, *src, tmp, call->count);
    else tcoll__reduce(call->dtype, call->op, call->recvbuf, tmp, *src, call->count);
    *src = call->recvbuf;
  }
  return TCOLL_OK;
}

tcoll_status tcoll__group_doubling_allreduce(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call) {
  const void *src = call->sendbuf;
  const tcoll_fold f = tcoll__fold_plan(g->me, g->n);
  tcoll_status s = tcoll__fold_in_group(c, g, call, &f, &src);
  if (s == TCOLL_OK && f.vrank >= 0) {
    s = doubling_rounds(c, g, call, &f, &src);
    /* one member: nothing was reduced into recvbuf */
    if (s == TCOLL_OK && src == call->sendbuf) tcoll__copy_to_recv(call);
  }
  if (s == TCOLL_OK) s = tcoll__fold_out_group(c, g, &f, call->recvbuf, call->recvbuf, call->bytes);
  return s;
}

tcoll_status tcoll__group_allreduce(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call, bool ring) {
  if (g->n <= 1 || call->count == 0) return TCOLL_OK;
  if (!ring) return tcoll__group_doubling_allreduce(c, g, call);
  tcoll_status s = tcoll__ring_reduce_scatter_group(c, g, call, call->recvbuf, call->recvbuf);
  if (s == TCOLL_OK) s = tcoll__ring_allgather_group(c, g, call, call->recvbuf);
  return s;
}
