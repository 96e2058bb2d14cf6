/*
 * Fold a group of p ranks into the largest power of two p2 <= p, for the
 * hypercube schedules (recursive doubling and halving):
 *
 *   p = 6, p2 = 4, extra = 2
 *   rank:   0 -> 1    2 -> 3    4    5        (even ranks below 2*extra send
 *   vrank:  -    0    -    1    2    3         their vector to the odd one)
 *
 * After the power-of-two schedule the odd ranks send the result back. Cost:
 * two full-vector messages and one reduction, on the critical path.
 */
#include "patterns.h"

tcoll_fold tcoll__fold_plan(int rank, int size) {
  tcoll_fold f;
  f.p2 = tcoll__pow2_floor(size);
  f.extra = size - f.p2;
  if (rank < 2 * f.extra)
    f.vrank = (rank % 2) ? rank / 2 : -1;
  else
    f.vrank = rank - f.extra;
  return f;
}

int tcoll__fold_real_rank(const tcoll_fold *f, int vrank) {
  return vrank < f->extra ? 2 * vrank + 1 : vrank + f->extra;
}

int tcoll__fold_first_rank(const tcoll_fold *f, int vrank) {
  return vrank < f->extra ? 2 * vrank : vrank + f->extra;
}

tcoll_status tcoll__fold_in(tcoll_comm *c, const tcoll_call *call, const tcoll_fold *f,
                            const void **src) {
  const tcoll_group all = tcoll__group_all(c);
  return tcoll__fold_in_group(c, &all, call, f, src);
}

tcoll_status tcoll__fold_out(tcoll_comm *c, const tcoll_fold *f, const void *result, void *out,
                             size_t bytes) {
  const tcoll_group all = tcoll__group_all(c);
  return tcoll__fold_out_group(c, &all, f, result, out, bytes);
}

tcoll_status tcoll__fold_in_group(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call,
                                  const tcoll_fold *f, const void **src) {
  if (g->me >= 2 * f->extra) return TCOLL_OK;
  if (f->vrank < 0)
    return tcoll__sendrecv_tag(c, *src, call->bytes, tcoll__group_rank(g, g->me + 1), NULL, 0, 0, g->tag);
  void *tmp;
  tcoll_status s = tcoll__scratch(c, call->bytes, &tmp);
  if (s == TCOLL_OK)
    s = tcoll__sendrecv_tag(c, NULL, 0, 0, tmp, call->bytes, tcoll__group_rank(g, g->me - 1), g->tag);
  if (s != TCOLL_OK) return s;
  tcoll__reduce(call->dtype, call->op, call->recvbuf, *src, tmp, call->count);
  *src = call->recvbuf;
  return TCOLL_OK;
}

tcoll_status tcoll__fold_out_group(tcoll_comm *c, const tcoll_group *g, const tcoll_fold *f, const void *result,
                                   void *out, size_t bytes) {
  if (g->me >= 2 * f->extra) return TCOLL_OK;
  if (f->vrank < 0) return tcoll__sendrecv_tag(c, NULL, 0, 0, out, bytes, tcoll__group_rank(g, g->me + 1), g->tag);
  return tcoll__sendrecv_tag(c, result, bytes, tcoll__group_rank(g, g->me - 1), NULL, 0, 0, g->tag);
}
