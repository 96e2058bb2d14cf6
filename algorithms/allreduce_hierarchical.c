/*
 * allreduce hierarchical: shared memory inside each node, one inter-node
 * allreduce per slice, all of a node's ranks crossing the network at once.
 *
 * N nodes, k_i ranks on node i, m = min k_i slices (every slice then has
 * exactly one owner on every node: local rank j owns slice j; the extra
 * ranks of larger nodes take part in the shared-memory phases only).
 * Per chunk of S = TCOLL_SHM_CHUNK_BYTES (algorithms/pattern_shm.c):
 *
 *   1 copy in      every rank copies its chunk into its slot of the node
 *                  segment (src/shm.c)
 *   2 reduce-      local rank j < m reduces slice j over the node's slots,
 *     scatter      in local rank order
 *   3 inter-node   local rank j allreduces slice j with local rank j of
 *                  every other node (c->slice_group, pattern_group.c): ring
 *                  for large slices, recursive doubling for small ones,
 *                  whichever the model below prices lower
 *   4 allgather    every rank copies the m slices out of their owners'
 *                  slots
 *
 *   2 nodes x 2 ranks, slices A, B:
 *     node 0: r0 reduces A(r0+r1), r1 reduces B(r0+r1)
 *     node 1: r2 reduces A(r2+r3), r3 reduces B(r2+r3)
 *     r0 <-> r2 allreduce A, r1 <-> r3 allreduce B   (both at once)
 *     every rank copies A and B out of its node's segment
 *
 * Every element is reduced in the same order by whoever reduces it (local
 * rank order inside a node, a fixed schedule across nodes) and then copied,
 * so every rank holds the same bits. With one node there is no inter-node
 * phase and it is the shm algorithm's large-message path on c->shm.
 *
 * Cost, n bytes, g = ceil(n / S) chunks, n_s = n / (g m) bytes of a slice
 * per chunk, network level α, β:
 *   intra:  tcoll__cost_shm_sliced(k_max ranks, m slices) (shm's constants)
 *   inter:  g x min(ring, doubling) over N members, where the m slice owners
 *           of a node share its link, so each byte is charged m β:
 *     ring      2(N-1) α + 2(N-1)/N n_s m β + (N-1)/N n_s γ
 *     doubling  L (α + n_s m β + n_s γ) + [N != 2^L] (2(α + n_s m β) + n_s γ)
 *           with L = log2 of the largest power of two <= N.
 * Needs: a shared segment on every node (c->node_shm, or c->shm on one
 * node); check() declines otherwise with the reason from set-up.
 * Reference: the two-level schemes of Open MPI's coll/han and NCCL's
 * tree/ring split, here with all local ranks active across nodes.
 */
#include <math.h>

#include "patterns.h"
#include "shm.h"

static tcoll_shm *segment(const tcoll_comm *c) { return c->num_nodes > 1 ? c->node_shm : c->shm; }

static bool hier_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)call;
  if (c->size == 1 || segment(c)) return true;
  if (c->num_nodes > 1) return tcoll__decline(why, whylen, "no node segments: %s", c->node_shm_unavailable);
  return tcoll__decline(why, whylen, "no shared segment on the one node: %s", c->shm_unavailable);
}

/* The inter-node allreduce of one slice of `slice_bytes` among N members,
 * m of them per node sharing its link: modelled seconds, and whether the
 * ring is the cheaper schedule (what run() then uses: both sides of every
 * exchange decide from the same numbers). */
static double inter_cost(const tcoll_comm *c, const tcoll_call *call, double slice_bytes, bool *ring) {
  const int nodes = c->num_nodes, m = c->min_local_size > 0 ? c->min_local_size : 1;
  const tcoll_link_model *l = &c->model.level[TCOLL_LEVEL_NETWORK];
  const double nn = nodes, ns = slice_bytes, beta = m * l->beta;
  const double t_ring =
      2 * (nn - 1) * l->alpha + 2 * (nn - 1) / nn * ns * beta + tcoll__cost_reduce(c, call, (nn - 1) / nn * ns);
  const int p2 = tcoll__pow2_floor(nodes);
  double rounds = 0;
  for (int q = 1; q < p2; q *= 2) rounds++;
  double t_doubling = rounds * (l->alpha + ns * beta) + tcoll__cost_reduce(c, call, rounds * ns);
  if (p2 != nodes) t_doubling += 2 * (l->alpha + ns * beta) + tcoll__cost_reduce(c, call, ns);
  *ring = t_ring < t_doubling;
  return *ring ? t_ring : t_doubling;
}

static double hier_cost(const tcoll_comm *c, const tcoll_call *call) {
  if (c->num_nodes <= 1) return tcoll__cost_shm_sliced(c, call, c->size, c->size);
  const int m = c->min_local_size > 0 ? c->min_local_size : 1;
  const double n = (double)call->bytes;
  const double chunks = ceil(n / (double)c->shm_chunk_bytes);
  bool ring;
  double inter = chunks > 0 ? chunks * inter_cost(c, call, n / chunks / m, &ring) : 0;
  return tcoll__cost_shm_sliced(c, call, c->max_local_size, m) + inter;
}

/* Phase 3 for one slice: in place in recvbuf, among this rank's group. */
static tcoll_status inter_node(tcoll_comm *c, const tcoll_call *call, void *slice, size_t n, void *arg) {
  (void)arg;
  tcoll_call view = *call;
  view.sendbuf = view.recvbuf = slice;
  view.count = n;
  view.bytes = n * call->elem_size;
  const tcoll_group g = {c->num_nodes, c->node, c->slice_group, TCOLL_TAG_INTER_NODE};
  bool ring;
  inter_cost(c, call, (double)view.bytes, &ring);
  return tcoll__group_allreduce(c, &g, &view, ring);
}

static tcoll_status hier_run(tcoll_comm *c, const tcoll_call *call) {
  if (tcoll__alone(c, call)) return TCOLL_OK;
  tcoll_shm *s = segment(c);
  if (c->num_nodes <= 1) return tcoll__shm_sliced_allreduce(c, s, call, c->size, NULL, NULL);
  return tcoll__shm_sliced_allreduce(c, s, call, c->min_local_size, inter_node, NULL);
}

const tcoll_algorithm tcoll__allreduce_hierarchical = {
    .name = "hierarchical",
    .coll = TCOLL_ALLREDUCE,
    .summary = "shared-memory reduce-scatter per node, inter-node allreduce of every slice at once, "
               "shared-memory allgather",
    .check = hier_check,
    .cost = hier_cost,
    .run = hier_run,
};
