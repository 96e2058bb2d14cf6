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
 *
 * "Block v" is whatever the caller's tcoll_group_blocks says member v owns:
 * for allreduce one of p2 equal-ish blocks; for reduce_scatter on p = 6
 * (members v0 = {r0,r1}, v1 = {r2,r3}, v2 = r4, v3 = r5) member v0 owns the
 * blocks of r0 and r1, so the halving ends with every real rank's block at
 * the member that stands for it and no block is ever split.
 */
#include "patterns.h"

/* Offset of the range owned by members [v, ...): the first base block of v. */
size_t tcoll__group_block_offset(const tcoll_call *call, const tcoll_fold *f,
                                 tcoll_group_blocks blocks, int v) {
  int first = blocks.by_rank ? tcoll__fold_first_rank(f, v) : v;
  return tcoll__block_offset(call->count, blocks.base_parts, first);
}

size_t tcoll__group_block_count(const tcoll_call *call, const tcoll_fold *f,
                                tcoll_group_blocks blocks, int v) {
  return tcoll__group_block_offset(call, f, blocks, v + 1) -
         tcoll__group_block_offset(call, f, blocks, v);
}

/* Elements of the members' ranges [first, first + n), contiguous. */
static size_t range_count(const tcoll_call *call, const tcoll_fold *f, tcoll_group_blocks blocks,
                          int first, int n) {
  return tcoll__group_block_offset(call, f, blocks, first + n) -
         tcoll__group_block_offset(call, f, blocks, first);
}

tcoll_status tcoll__halving_reduce_scatter(tcoll_comm *c, const tcoll_call *call,
                                           const tcoll_fold *f, tcoll_group_blocks blocks,
                                           const void **src) {
  const size_t es = call->elem_size;
  int lo = 0, n = f->p2; /* members' ranges [lo, lo + n) still being reduced here */
  void *tmp = NULL;
  tcoll_status s;
  if (f->p2 > 1) {
    /* the kept half is at most the larger of the two halves of the vector */
    size_t a = range_count(call, f, blocks, 0, f->p2 / 2);
    size_t b = range_count(call, f, blocks, f->p2 / 2, f->p2 / 2);
    s = tcoll__scratch(c, (a > b ? a : b) * es, &tmp);
    if (s != TCOLL_OK) return s;
  }
  for (int mask = f->p2 / 2; mask >= 1; mask /= 2) {
    int half = n / 2;
    int keep_lo = (f->vrank & mask) ? lo + half : lo;
    int send_lo = (f->vrank & mask) ? lo : lo + half;
    int partner = tcoll__fold_real_rank(f, f->vrank ^ mask);
    size_t keep_off = tcoll__group_block_offset(call, f, blocks, keep_lo);
    size_t keep_n = range_count(call, f, blocks, keep_lo, half);
    size_t send_off = tcoll__group_block_offset(call, f, blocks, send_lo);
    size_t send_n = range_count(call, f, blocks, send_lo, half);
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

tcoll_status tcoll__doubling_allgather(tcoll_comm *c, const tcoll_call *call, const tcoll_fold *f,
                                       tcoll_group_blocks blocks) {
  const size_t es = call->elem_size;
  for (int mask = 1; mask < f->p2; mask *= 2) {
    int mine = f->vrank & ~(mask - 1); /* first member of the range held here */
    int theirs = (f->vrank ^ mask) & ~(mask - 1);
    int partner = tcoll__fold_real_rank(f, f->vrank ^ mask);
    size_t my_off = tcoll__group_block_offset(call, f, blocks, mine);
    size_t my_n = range_count(call, f, blocks, mine, mask);
    size_t th_off = tcoll__group_block_offset(call, f, blocks, theirs);
    size_t th_n = range_count(call, f, blocks, theirs, mask);
    tcoll_status s = tcoll__sendrecv(c, tcoll__at(call->recvbuf, my_off, es), my_n * es, partner,
                                     tcoll__at(call->recvbuf, th_off, es), th_n * es, partner);
    if (s != TCOLL_OK) return s;
  }
  return TCOLL_OK;
}
