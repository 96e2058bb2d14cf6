/*
 * Binomial trees over virtual ranks v = (rank - root) mod p, so any root
 * works. p = 6, root 0:
 *
 *   reduce (leaves first):  mask 1: 1->0  3->2  5->4
 *                           mask 2: 2->0  (6 absent)
 *                           mask 4: 4->0
 *   broadcast: the same edges in reverse order (4<-0, 2<-0, 1<-0, 3<-2, 5<-4).
 *
 * ceil(log2 p) rounds, each moving the whole vector (reduce, broadcast) or
 * the blocks of the subtree below the edge (scatter, gather): in the tree
 * above the subtree of v covers v's range [v, v + lowbit(v)) of virtual
 * ranks, e.g. 4->0 carries the blocks of 4 and 5, 2->0 those of 2 and 3.
 *
 * The walk is written once (tree_up, tree_down); what an edge moves is the
 * caller's edge function.
 */
#include "patterns.h"

/* One edge of the walk: this rank and real rank `peer` move the subtree of
 * virtual ranks [lo, hi); `to_peer` says whether this rank sends (toward the
 * root in tree_up, away from it in tree_down) or receives. */
typedef tcoll_status (*edge_fn)(tcoll_comm *c, void *ctx, int peer, int lo, int hi, bool to_peer);

static int member_rank(const tcoll_tree_group *g, int v) {
  int m = (v + g->root) % g->n;
  return g->fold ? tcoll__fold_real_rank(g->fold, m) : m;
}

static int min_int(int a, int b) { return a < b ? a : b; }

/* Leaves first: receive every child's subtree, then send ours to the parent. */
static tcoll_status tree_up(tcoll_comm *c, const tcoll_tree_group *g, edge_fn edge, void *ctx) {
  const int n = g->n, v = (g->me - g->root + n) % n;
  for (int mask = 1; mask < n; mask <<= 1) {
    if (v & mask) /* our subtree is complete: hand it to the parent */
      return edge(c, ctx, member_rank(g, v - mask), v, min_int(v + mask, n), true);
    if (v + mask >= n) continue;
    tcoll_status s = edge(c, ctx, member_rank(g, v + mask), v + mask, min_int(v + 2 * mask, n), false);
    if (s != TCOLL_OK) return s;
  }
  return TCOLL_OK;
}

/* Root first: receive our subtree from the parent, then serve the children,
 * largest subtree first so the deepest branch starts earliest. */
static tcoll_status tree_down(tcoll_comm *c, const tcoll_tree_group *g, edge_fn edge, void *ctx) {
  const int n = g->n, v = (g->me - g->root + n) % n;
  int mask = 1;
  while (mask < n) {
    if (v & mask) {
      tcoll_status s = edge(c, ctx, member_rank(g, v - mask), v, min_int(v + mask, n), false);
      if (s != TCOLL_OK) return s;
      break;
    }
    mask <<= 1;
  }
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (v + mask >= n) continue;
    tcoll_status s = edge(c, ctx, member_rank(g, v + mask), v + mask, min_int(v + 2 * mask, n), true);
    if (s != TCOLL_OK) return s;
  }
  return TCOLL_OK;
}

/* ---- reduce and broadcast: the whole vector on every edge ---- */

typedef struct {
  const tcoll_call *call;
  const void **src;
  void *acc, *tmp;
} reduce_ctx;

static tcoll_status reduce_edge(tcoll_comm *c, void *vctx, int peer, int lo, int hi, bool to_peer) {
  reduce_ctx *x = vctx;
  const tcoll_call *call = x->call;
  (void)lo, (void)hi;
  if (to_peer) return tcoll__send(c, *x->src, call->bytes, peer);
  if (!x->tmp) {
    tcoll_status s = tcoll__scratch(c, call->bytes, &x->tmp);
    if (s != TCOLL_OK) return s;
  }
  tcoll_status s = tcoll__recv(c, x->tmp, call->bytes, peer);
  if (s != TCOLL_OK) return s;
  tcoll__reduce(call->dtype, call->op, x->acc, *x->src, x->tmp, call->count);
  *x->src = x->acc;
  return TCOLL_OK;
}

tcoll_status tcoll__binomial_reduce(tcoll_comm *c, const tcoll_call *call, int root,
                                    const void **src, void *acc) {
  reduce_ctx x = {.call = call, .src = src, .acc = acc, .tmp = NULL};
  tcoll_tree_group g = {.n = c->size, .me = c->rank, .root = root, .fold = NULL};
  return tree_up(c, &g, reduce_edge, &x);
}

typedef struct {
  void *buf;
  size_t bytes;
} bcast_ctx;

static tcoll_status bcast_edge(tcoll_comm *c, void *vctx, int peer, int lo, int hi, bool to_peer) {
  bcast_ctx *x = vctx;
  (void)lo, (void)hi;
  return to_peer ? tcoll__send(c, x->buf, x->bytes, peer) : tcoll__recv(c, x->buf, x->bytes, peer);
}

tcoll_status tcoll__binomial_bcast(tcoll_comm *c, void *buf, size_t bytes, int root) {
  bcast_ctx x = {.buf = buf, .bytes = bytes};
  tcoll_tree_group g = {.n = c->size, .me = c->rank, .root = root, .fold = NULL};
  return tree_down(c, &g, bcast_edge, &x);
}

/* ---- scatter and gather: the subtree's blocks on every edge ---- */

typedef struct {
  const tcoll_call *call;
  const tcoll_tree_group *g;
} blocks_ctx;

/* Sends or receives the blocks of members [first, last) (member indices, not
 * virtual ranks), contiguous in the buffer. */
static tcoll_status move_members(tcoll_comm *c, const blocks_ctx *x, int peer, int first, int last,
                                 bool to_peer) {
  const tcoll_call *call = x->call;
  size_t off = tcoll__block_offset(call->count, x->g->n, first);
  size_t bytes = (tcoll__block_offset(call->count, x->g->n, last) - off) * call->elem_size;
  void *p = tcoll__at(call->recvbuf, off, call->elem_size);
  return to_peer ? tcoll__send(c, p, bytes, peer) : tcoll__recv(c, p, bytes, peer);
}

/* A subtree's virtual ranks [lo, hi) are members lo + root .. hi - 1 + root
 * modulo n: contiguous blocks but for one wrap-around, so one or two
 * transfers (both sides split identically). */
static tcoll_status blocks_edge(tcoll_comm *c, void *vctx, int peer, int lo, int hi, bool to_peer) {
  const blocks_ctx *x = vctx;
  const int n = x->g->n, a = lo + x->g->root, b = hi + x->g->root;
  if (b <= n || a >= n) return move_members(c, x, peer, a % n, (b - 1) % n + 1, to_peer);
  tcoll_status s = move_members(c, x, peer, a, n, to_peer);
  if (s == TCOLL_OK) s = move_members(c, x, peer, 0, b - n, to_peer);
  return s;
}

tcoll_status tcoll__binomial_scatter(tcoll_comm *c, const tcoll_call *call, const tcoll_tree_group *g) {
  blocks_ctx x = {.call = call, .g = g};
  return tree_down(c, g, blocks_edge, &x);
}

tcoll_status tcoll__binomial_gather(tcoll_comm *c, const tcoll_call *call, const tcoll_tree_group *g) {
  blocks_ctx x = {.call = call, .g = g};
  return tree_up(c, g, blocks_edge, &x);
}
