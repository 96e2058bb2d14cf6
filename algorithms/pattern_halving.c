/*
 * Hypercube schedules over the power-of-two group of a fold (pattern_fold.c),
 * on the partition of the vector into p2 blocks (pattern_blocks.c).
 *
 * Recursive halving reduce-scatter, p2 = 4, blocks B0..B3, mask = 2 then 1:
 *
 *   step 1 (mask 2): v0<->v2, v1<->v3 exchange halves; v0,v1 keep B0-B1,
 *                    v2,v3 keep B2-B3, each reducing what it receives
 *   step 2 (mask 1): v0<->v1 (keep B0 / B1), v2<->v3 (keep B2 / B3)
 *
 * so member v ends with block v reduced over all members. The allgather is
 * the same exchange in reverse order (mask 1, 2, ...), each step doubling the
 * range a member holds.
 */
#include "patterns.h"

/* Elements and offset of the blocks [first, first + n) of the partition. */
static size_t range_offset(const tcoll_call *call, int parts, int first) {
  return tcoll__block_offset(call->count, parts, first);
}
static size_t range_count(const tcoll_call *call, int parts, int first, int n) {
  return tcoll__block_offset(call->count, parts, first + n - 1) +
         tcoll__block_count(call->count, parts, first + n - 1) -
         tcoll__block_offset(call->count, parts, first);
}

tcoll_status tcoll__halving_reduce_scatter(tcoll_comm *c, const tcoll_call *call,
                                           const tcoll_fold *f, const void **src) {
  const size_t es = call->elem_size;
  int lo = 0, n = f->p2; /* blocks [lo, lo + n) still being reduced here */
  void *tmp = NULL;
  tcoll_status s;
  if (f->p2 > 1) {
    /* the largest kept range is half the vector rounded up to whole blocks */
    s = tcoll__scratch(c, range_count(call, f->p2, 0, f->p2 / 2) * es, &tmp);
    if (s != TCOLL_OK) return s;
  }
  for (int mask = f->p2 / 2; mask >= 1; mask /= 2) {
    int half = n / 2;
    int keep_lo = (f->vrank & mask) ? lo + half : lo;
    int send_lo = (f->vrank & mask) ? lo : lo + half;
    int partner = tcoll__fold_real_rank(f, f->vrank ^ mask);
    size_t keep_off = range_offset(call, f->p2, keep_lo), keep_n = range_count(call, f->p2, keep_lo, half);
    size_t send_off = range_offset(call, f->p2, send_lo), send_n = range_count(call, f->p2, send_lo, half);
    s = tcoll__sendrecv(c, tcoll__cat(*src, send_off, es), send_n * es, partner, tmp, keep_n * es,
                        partner);
    if (s != TCOLL_OK) return s;
    tcoll__reduce(call->dtype, call->op, tcoll__at(call->recvbuf, keep_off, es),
                  tcoll__cat(*src, keep_off, es), tmp, keep_n);
    *src = call->recvbuf;
    lo = keep_lo;
    n = half;
  }
  return TCOLL_OK;
}

tcoll_status tcoll__doubling_allgather(tcoll_comm *c, const tcoll_call *call, const tcoll_fold *f) {
  const size_t es = call->elem_size;
  for (int mask = 1; mask < f->p2; mask *= 2) {
    int mine = f->vrank & ~(mask - 1); /* first block of the range held here */
    int theirs = (f->vrank ^ mask) & ~(mask - 1);
    int partner = tcoll__fold_real_rank(f, f->vrank ^ mask);
    size_t my_off = range_offset(call, f->p2, mine), my_n = range_count(call, f->p2, mine, mask);
    size_t th_off = range_offset(call, f->p2, theirs), th_n = range_count(call, f->p2, theirs, mask);
    tcoll_status s = tcoll__sendrecv(c, tcoll__at(call->recvbuf, my_off, es), my_n * es, partner,
                                     tcoll__at(call->recvbuf, th_off, es), th_n * es, partner);
    if (s != TCOLL_OK) return s;
  }
  return TCOLL_OK;
}
