/*
 * allreduce rabenseifner: recursive-halving reduce-scatter followed by
 * recursive-doubling allgather (Rabenseifner, "Optimization of collective
 * reduction operations", ICCS 2004; Thakur, Rabenseifner & Gropp 2005).
 * Non-powers of two fold in first (pattern_fold.c).
 *
 * Cost (p2 = largest power of two <= p):
 *   2 log2(p2) α + 2 (p2-1)/p2 n β + (p2-1)/p2 n γ
 *   + fold: 2 (α + n β) + n γ when p != p2
 * The ring's bandwidth with log-many rounds: the usual choice for medium and
 * large messages when p is a power of two.
 * Needs: nothing (blocks of count < p2 are empty). Each block is reduced by
 * one rank and then copied, so all ranks hold the same bits.
 */
#include "patterns.h"

static double rab_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double n = (double)call->bytes;
  const double p2 = tcoll__pow2_floor(c->size), rounds = tcoll__ceil_log2((int)p2);
  const double moved = (p2 - 1) / p2 * n;
  /* halving then doubling: both pair the largest messages with the farthest partners */
  return 2 * tcoll__cost_doubling(c, (int)rounds, 1, moved) + tcoll__cost_reduce(c, call, moved) +
         tcoll__cost_fold(c, call);
}

static tcoll_status rab_run(tcoll_comm *c, const tcoll_call *call) {
  const void *src = call->sendbuf;
  tcoll_fold f = tcoll__fold_plan(c->rank, c->size);
  /* p2 equal-ish blocks of the vector, one per group member */
  const tcoll_group_blocks blocks = {.base_parts = f.p2, .by_rank = false};
  tcoll_status s = tcoll__fold_in(c, call, &f, &src);
  if (s == TCOLL_OK && f.vrank >= 0) {
    s = tcoll__halving_reduce_scatter(c, call, &f, blocks, &src);
    if (s == TCOLL_OK && src == call->sendbuf) tcoll__copy_to_recv(call); /* p == 1 */
    if (s == TCOLL_OK) s = tcoll__doubling_allgather(c, call, &f, blocks);
  }
  if (s == TCOLL_OK) s = tcoll__fold_out(c, &f, call->recvbuf, call->recvbuf, call->bytes);
  return s;
}

const tcoll_algorithm tcoll__allreduce_rabenseifner = {
    .name = "rabenseifner",
    .coll = TCOLL_ALLREDUCE,
    .summary = "recursive-halving reduce-scatter + recursive-doubling allgather",
    .check = tcoll__check_accepts_all,
    .cost = rab_cost,
    .run = rab_run,
};
