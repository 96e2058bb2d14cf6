/*
 * reduce rabenseifner: recursive-halving reduce-scatter over the
 * power-of-two group (pattern_halving.c, as in allreduce rabenseifner), then
 * a binomial gather of the reduced blocks to the root (pattern_tree.c)
 * (Rabenseifner, ICCS 2004; Thakur, Rabenseifner & Gropp, IJHPCA 2005).
 * Non-powers of two fold in first (pattern_fold.c). A root that folded out
 * is not in the group: its partner (root + 1) gathers and hands it the
 * result.
 *
 *   p = 4, root 0:  halving  v0<->v2, v1<->v3 (halves); v0<->v1, v2<->v3
 *                   gather   1 -> 0 (B1), 3 -> 2 (B3), 2 -> 0 (B2 B3)
 *
 * Cost (p2 = largest power of two <= p):
 *   reduce-scatter log2(p2) α + (p2-1)/p2 n β + (p2-1)/p2 n γ
 *   + gather       log2(p2) α + (p2-1)/p2 n β
 *   + fold and hand-over: 2 (α + n β) + n γ when p != p2 (root-independent
 *     bound: selection never depends on the root)
 * The reduction work is spread over all ranks: medium and large messages.
 * Needs: nothing. Scratch: a full-length accumulator at non-roots.
 */
#include "patterns.h"

static double rab_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p2 = tcoll__pow2_floor(c->size), rounds = tcoll__ceil_log2((int)p2);
  const double moved = (p2 - 1) / p2 * (double)call->bytes;
  const double reduce_scatter = tcoll__cost_doubling(c, (int)rounds, 1, moved) + tcoll__cost_reduce(c, call, moved);
  const double gather = tcoll__cost_doubling(c, (int)rounds, 1, moved);
  return reduce_scatter + gather + tcoll__cost_fold(c, call);
}

/* The group member that gathers: the root, or the partner it folded into. */
static int gathering_member(const tcoll_comm *c, int root) {
  tcoll_fold fr = tcoll__fold_plan(root, c->size);
  return fr.vrank >= 0 ? fr.vrank : tcoll__fold_plan(root + 1, c->size).vrank;
}

static tcoll_status rab_run(tcoll_comm *c, const tcoll_call *call) {
  const tcoll_fold f = tcoll__fold_plan(c->rank, c->size);
  const tcoll_group_blocks blocks = {.base_parts = f.p2, .by_rank = false};
  const tcoll_tree_group g = {.n = f.p2, .me = f.vrank, .root = gathering_member(c, call->root), .fold = &f};
  const int gatherer = tcoll__fold_real_rank(&f, g.root);
  void *acc = call->recvbuf;
  tcoll_status s = TCOLL_OK;
  if (c->size == 1) {
    tcoll__copy_to_recv(call);
    return TCOLL_OK;
  }
  if (c->rank != call->root && f.vrank >= 0) s = tcoll__scratch_acc(c, call->bytes, &acc);
  const tcoll_call vec = tcoll__vector_view(call, 1, acc);
  const void *src = call->sendbuf;
  if (s == TCOLL_OK) s = tcoll__fold_in(c, &vec, &f, &src);
  if (s == TCOLL_OK && f.vrank >= 0) {
    s = tcoll__halving_reduce_scatter(c, &vec, &f, blocks, &src);
    if (s == TCOLL_OK) s = tcoll__binomial_gather(c, &vec, &g);
  }
  if (s == TCOLL_OK && gatherer != call->root) {
    if (c->rank == gatherer) s = tcoll__send(c, acc, call->bytes, call->root);
    if (c->rank == call->root) s = tcoll__recv(c, call->recvbuf, call->bytes, gatherer);
  }
  return s;
}

const tcoll_algorithm tcoll__reduce_rabenseifner = {
    .name = "rabenseifner",
    .coll = TCOLL_REDUCE,
    .summary = "recursive-halving reduce-scatter + binomial gather to the root",
    .check = tcoll__check_accepts_all,
    .cost = rab_cost,
    .run = rab_run,
};
