/*
 * reduce_scatter recursive_halving: log2(p2) rounds in which partners at
 * distance p2/2, p2/4, ... exchange the half of their range the other keeps
 * and reduce (Thakur, Rabenseifner & Gropp, IJHPCA 2005). The schedule is
 * allreduce rabenseifner's first half (pattern_halving.c). Non-powers of two
 * fold in first (pattern_fold.c); as in MPICH the member standing for a
 * folded pair owns both ranks' blocks, so blocks are never split, and hands
 * the folded-out rank its block at the end:
 *
 *   p = 3: r0 -> r1 (whole vector, reduced at r1); members v0 = r1 {B0,B1},
 *          v1 = r2 {B2}; v0 <-> v1 exchange; r1 -> r0 (B0)
 *
 * Cost (N = p n bytes of input, n = recvcount bytes, p2 = largest power of
 * two <= p):
 *   log2(p2) α + (p2-1)/p2 N β + (p2-1)/p2 N γ
 *   + fold when p != p2: (α + N β + N γ) + (α + n β)
 * Few rounds and the ring's bandwidth for powers of two: medium blocks.
 * Needs: nothing. Scratch: one full-length accumulator (N bytes).
 */
#include "patterns.h"

static double halving_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double n = (double)call->bytes, big_n = c->size * n;
  const double p2 = tcoll__pow2_floor(c->size), rounds = tcoll__ceil_log2((int)p2);
  const double moved = (p2 - 1) / p2 * big_n;
  double fold = 0;
  if (p2 != c->size)
    fold = tcoll__cost_at(c, 1, 2, big_n + n) + tcoll__cost_reduce(c, call, big_n);
  return tcoll__cost_doubling(c, (int)rounds, 1, moved) + tcoll__cost_reduce(c, call, moved) + fold;
}

static tcoll_status halving_run(tcoll_comm *c, const tcoll_call *call) {
  tcoll_call vec;
  if (tcoll__alone(c, call)) return TCOLL_OK;
  tcoll_status s = tcoll__accumulator_view(c, call, &vec);
  if (s != TCOLL_OK) return s;
  const tcoll_fold f = tcoll__fold_plan(c->rank, c->size);
  const tcoll_group_blocks blocks = {.base_parts = c->size, .by_rank = true};
  const void *src = call->sendbuf;
  s = tcoll__fold_in(c, &vec, &f, &src);
  if (s == TCOLL_OK && f.vrank >= 0) {
    s = tcoll__halving_reduce_scatter(c, &vec, &f, blocks, &src);
    if (s == TCOLL_OK) tcoll__deliver_block(call, &vec, c->rank);
  }
  /* a folded pair is ranks 2i, 2i+1: the partner's block is rank ^ 1 */
  if (s == TCOLL_OK)
    s = tcoll__fold_out(c, &f, tcoll__at(vec.recvbuf, (size_t)(c->rank ^ 1) * call->count, call->elem_size),
                        call->recvbuf, call->bytes);
  return s;
}

const tcoll_algorithm tcoll__reduce_scatter_recursive_halving = {
    .name = "recursive_halving",
    .coll = TCOLL_REDUCE_SCATTER,
    .summary = "recursive halving over the power-of-two group, folded pairs own both blocks",
    .check = tcoll__check_accepts_all,
    .cost = halving_cost,
    .run = halving_run,
};
