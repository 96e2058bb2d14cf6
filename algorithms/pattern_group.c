/*
 * Allreduce inside a group of member ranks (patterns.h, tcoll_group), in
 * place on call->recvbuf: what the hierarchical allreduce runs among the
 * ranks that own the same slice on every node.
 *
 * Ring: the ring reduce-scatter and allgather of pattern_ring.c over the
 * members, 2(n-1) steps of 1/n of the vector each.
 *
 * Recursive doubling, with the fold of pattern_fold.c for n not a power of
 * two (members 0, 2, .., 2 extra - 2 hand their vector to the next member and
 * get the result back):
 *
 *   n = 3: m0 -> m1 (m1 = a0 op a1); v0 = m1, v1 = m2 exchange and both
 *          reduce; m1 -> m0
 *
 * In each exchange both partners compute (lower member's operand) op
 * (higher member's), so the two hold the same bits even for operations
 * whose kernel were not symmetric.
 */
#include "patterns.h"

/* out = lower op higher, out being one of the two. */
static void reduce_ordered(const tcoll_call *call, void *mine, const void *theirs, bool i_am_lower) {
  if (i_am_lower) tcoll__reduce(call->dtype, call->op, mine, mine, theirs, call->count);
  else tcoll__reduce(call->dtype, call->op, mine, theirs, mine, call->count);
}

static tcoll_status doubling(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call) {
  const size_t bytes = call->bytes;
  const tcoll_fold f = tcoll__fold_plan(g->me, g->n);
  void *tmp = NULL;
  tcoll_status s = tcoll__scratch(c, bytes, &tmp);
  if (s != TCOLL_OK) return s;
  /* fold in: even members below 2 extra hand their vector to the next */
  if (g->me < 2 * f.extra) {
    if (f.vrank < 0) {
      s = tcoll__sendrecv_tag(c, call->recvbuf, bytes, tcoll__group_rank(g, g->me + 1), NULL, 0, 0, g->tag);
      if (s != TCOLL_OK) return s;
    } else {
      s = tcoll__sendrecv_tag(c, NULL, 0, 0, tmp, bytes, tcoll__group_rank(g, g->me - 1), g->tag);
      if (s != TCOLL_OK) return s;
      reduce_ordered(call, call->recvbuf, tmp, false);
    }
  }
  if (f.vrank >= 0) {
    for (int mask = 1; mask < f.p2; mask *= 2) {
      const int partner_v = f.vrank ^ mask;
      const int partner = tcoll__group_rank(g, tcoll__fold_real_rank(&f, partner_v));
      s = tcoll__sendrecv_tag(c, call->recvbuf, bytes, partner, tmp, bytes, partner, g->tag);
      if (s != TCOLL_OK) return s;
      reduce_ordered(call, call->recvbuf, tmp, f.vrank < partner_v);
    }
  }
  /* fold out */
  if (g->me < 2 * f.extra) {
    if (f.vrank < 0)
      s = tcoll__sendrecv_tag(c, NULL, 0, 0, call->recvbuf, bytes, tcoll__group_rank(g, g->me + 1), g->tag);
    else
      s = tcoll__sendrecv_tag(c, call->recvbuf, bytes, tcoll__group_rank(g, g->me - 1), NULL, 0, 0, g->tag);
  }
  return s;
}

tcoll_status tcoll__group_allreduce(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call, bool ring) {
  if (g->n <= 1 || call->count == 0) return TCOLL_OK;
  if (!ring) return doubling(c, g, call);
  tcoll_status s = tcoll__ring_reduce_scatter_group(c, g, call, call->recvbuf, call->recvbuf);
  if (s == TCOLL_OK) s = tcoll__ring_allgather_group(c, g, call, call->recvbuf);
  return s;
}
