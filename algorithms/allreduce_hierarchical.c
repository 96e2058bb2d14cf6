/*
 * allreduce hierarchical: shared memory inside each node, one inter-node
 * allreduce per slice, all of a node's ranks crossing the network at once.
 *
 * N nodes, k_i ranks on node i, m = min k_i slices (every slice then has
 * exactly one owner on every node: local rank j owns slice j; the extra
 * ranks of larger nodes take part in the shared-memory phases only).
 * Per chunk of S bytes (hier_chunk_bytes below: m N ring blocks of 32 KiB,
 * at most the segment's slot, TCOLL_SHM_CHUNK_BYTES):
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
 * Phase 3 of chunk c runs (nonblocking) while phases 1-2 of chunk c+1 and 4
 * of chunk c-1 do: see "across nodes" below.
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
 * Cost (hier_cost below): per chunk, the shared-memory phases
 * (tcoll__cost_shm_sliced, shm's constants, its waits priced for a crowded
 * machine) and the inter-node allreduce of a slice n_s = S / m among N
 * members, where the m slice owners of a node share its link, so each byte
 * is charged m β:
 *     ring      2(N-1) α + 2(N-1)/N n_s m β + (N-1)/N n_s γ
 *     doubling  L (α + n_s m β + n_s γ) + [N != 2^L] (2(α + n_s m β) + n_s γ)
 *           with L = log2 of the largest power of two <= N;
 * the chunks overlap, so past the first each costs the longer of the two.
 * Needs: a shared segment on every node (c->node_shm, or c->shm on one
 * node); check() declines otherwise with the reason from set-up.
 * Reference: the two-level schemes of Open MPI's coll/han and NCCL's
 * tree/ring split, here with all local ranks active across nodes.
 */
#include <math.h>
#include <sched.h>
#include <string.h>

#include "patterns.h"
#include "shm.h"

static tcoll_shm *segment(const tcoll_comm *c) { return c->num_nodes > 1 ? c->node_shm : c->shm; }

static bool hier_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)call;
  if (c->size == 1 || segment(c)) return true;
  if (c->num_nodes > 1) return tcoll__decline(why, whylen, "no node segments: %s", c->node_shm_unavailable);
  return tcoll__decline(why, whylen, "no shared segment on the one node: %s", c->shm_unavailable);
}

/* The pipeline's chunk: m slices of N ring blocks of HIER_BLOCK_BYTES, at
 * most the segment's slot. Measured at 1 Gbit/s with this pipeline and
 * TCOLL_SHM_CHUNK_BYTES as the chunk (docs/h9-results.md), hierarchical's
 * share of the link bound from 1 MiB to 16 MiB by ring message size:
 *   2 x 2: 16 KiB 94-95%, 32 KiB 94-96%, 64 KiB 50-61%, 128 KiB 62-79%
 *   4 x 2: 16 KiB 69-80%, 24 KiB 90-91%, 32 KiB 90-93% (one 55% outlier
 *          at 16 MiB, 93% when repeated), 64 KiB 37-46%
 * 64 KiB messages pass Open MPI TCP's 64 KiB eager limit (which counts its
 * header): each then waits a rendezvous round trip. The same on every
 * rank (m, N and the slot size are). */
#define HIER_BLOCK_BYTES (32 * 1024)
static size_t hier_chunk_bytes(const tcoll_comm *c) {
  const size_t want = (size_t)HIER_BLOCK_BYTES * (size_t)c->min_local_size * (size_t)c->num_nodes;
  return want < c->shm_chunk_bytes ? want : c->shm_chunk_bytes;
}

/* The inter-node allreduce of one slice of `slice_bytes` among N members,
 * m of them per node sharing its link: modelled seconds, and whether the
 * ring is the cheaper schedule (what run() then uses: both sides of every
 * exchange decide from the same numbers). */
static double inter_cost_parts(const tcoll_comm *c, const tcoll_call *call, double slice_bytes, bool *ring,
                               double *latency) {
  const int nodes = c->num_nodes, m = c->min_local_size > 0 ? c->min_local_size : 1;
  const tcoll_link_model *l = &c->model.level[TCOLL_LEVEL_NETWORK];
  const double nn = nodes, ns = slice_bytes, beta = m * l->beta, alpha = l->alpha + tcoll__crowd_seconds(c);
  const double ring_latency = 2 * (nn - 1) * alpha;
  const double t_ring = ring_latency + 2 * (nn - 1) / nn * ns * beta + tcoll__cost_reduce(c, call, (nn - 1) / nn * ns);
  const int p2 = tcoll__pow2_floor(nodes);
  double rounds = 0;
  for (int q = 1; q < p2; q *= 2) rounds++;
  double doubling_latency = rounds * alpha;
  double t_doubling = rounds * (alpha + ns * beta) + tcoll__cost_reduce(c, call, rounds * ns);
  if (p2 != nodes) {
    doubling_latency += 2 * alpha;
    t_doubling += 2 * (alpha + ns * beta) + tcoll__cost_reduce(c, call, ns);
  }
  if (*ring || t_ring < t_doubling) { /* *ring true on entry: the ring's price whatever the cheaper */
    *ring = true;
    *latency = ring_latency;
    return t_ring;
  }
  *latency = doubling_latency;
  return t_doubling;
}

static double inter_cost(const tcoll_comm *c, const tcoll_call *call, double slice_bytes, bool *ring) {
  double latency;
  *ring = false;
  return inter_cost_parts(c, call, slice_bytes, ring, &latency);
}

/* One node-wide wait of the shared-memory phases: TCOLL_SHM_WAIT_SECONDS
 * holds with a core per rank; on a crowded machine the rank waited for has
 * often not run yet (tcoll__crowd_seconds, patterns.h). */
static double wait_seconds(const tcoll_comm *c) { return TCOLL_SHM_WAIT_SECONDS + tcoll__crowd_seconds(c); }

/* Across nodes (run(): pipelined below), g chunks of n_c = n / g bytes of
 * at most hier_chunk_bytes: the first chunk's shared-memory phases and
 * exchange in sequence; past it, the phases of the chunks overlap, and so
 * do the latencies of the two rings in flight, so each further chunk costs
 * the longest of
 *   shm:      tcoll__cost_shm_sliced of one chunk, 3 waits of wait_seconds
 *   the link: the exchange's bytes and reduction (inter minus its α terms)
 *   latency:  half the exchange's α terms (two rings in flight)
 * where the exchange is inter_cost of a slice n_c / m (the ring when g > 1:
 * run() uses it). */
static double hier_cost(const tcoll_comm *c, const tcoll_call *call) {
  if (c->num_nodes <= 1) return tcoll__cost_shm_sliced(c, call, c->size, c->size);
  const int m = c->min_local_size > 0 ? c->min_local_size : 1;
  const double n = (double)call->bytes;
  if (n <= 0) return 0;
  const double chunks = ceil(n / (double)hier_chunk_bytes(c));
  tcoll_call one = *call;
  one.bytes = (size_t)ceil(n / chunks);
  one.count = one.bytes / (call->elem_size ? call->elem_size : 1);
  const double shm = tcoll__cost_shm_sliced(c, &one, c->max_local_size, m) +
                     3 * (wait_seconds(c) - TCOLL_SHM_WAIT_SECONDS);
  bool ring = chunks > 1;
  double latency;
  const double inter = inter_cost_parts(c, call, (double)one.bytes / m, &ring, &latency);
  return shm + inter + (chunks - 1) * fmax(shm, fmax(inter - latency, latency / 2));
}

/* ---- across nodes: the chunks' inter-node rings overlap the node's copies ----
 *
 * Measured before this schedule (docs/h9-results.md): with every chunk's
 * inter-node allreduce blocking between its copy-in and its copy-out, the
 * link carried nothing while the node's ranks copied and reduced, and from
 * 1 MiB (two or more chunks) hierarchical reached only 41-69% of the link
 * bound, against 96% for one chunk. Here a slice owner starts chunk c's
 * inter-node ring without waiting for it (MPI_Isend/Irecv, one ring step at
 * a time, advanced by hier_poll), copies chunk c+1 in and reduces its slice,
 * starts that ring too, and only then completes chunk c: waits for its
 * ring, publishes the slice and copies chunk c out. So the link always has
 * the next chunk's messages queued behind the current ones.
 *
 *   owner, per loop turn i:  copy in i | reduce slice i | start ring i |
 *                            finish i-1: wait ring i-1, write it to the
 *                            slot, every rank copies chunk i-1 out
 *
 * Slots: chunk i uses slot i % 2; copying chunk i+1 in waits (as always)
 * until every rank consumed chunk i-1, which every rank does in turn i, so
 * at most two chunks (two rings) are in flight per rank. The two rings of a
 * rank have their own tags (by the parity of the chunk's index in the
 * call, the same on every node): messages of chunk i and i+1
 * between the same two ranks may be posted in different orders at the two
 * ends; chunk i+2 reuses i's tag only after this rank completed ring i, and
 * MPI keeps messages of one tag and pair in order.
 *
 * Every wait of this rank (shm.c's counter waits through s->poll, and the
 * wait for its own ring) advances its rings: a partner on another node may
 * be waiting for this rank's next ring step while this rank waits for its
 * node, so no wait may stop the rings.
 *
 * The ring is that of pattern_ring.c (member i plays rank i over the
 * slice's blocks): a block is reduced along one fixed chain and then
 * copied, so every owner of the slice holds the same bits, independent of
 * timing. A one-chunk call with a slice small enough that the model
 * prices recursive doubling lower keeps the blocking doubling of
 * pattern_group.c (latency-bound: nothing to overlap). The choice is made
 * once per call, identical on every rank: a rank blocked in a doubling
 * exchange cannot advance a ring, so one call never mixes the two.
 *
 * Failure: an exchange that fails stops this rank's inter-node traffic for
 * the rest of the call (the schedule still runs to its end locally, so no
 * rank of the node is left waiting), and the owner raises the segment's
 * FAILED counter before it publishes the chunk, so every rank of its node
 * returns the error. */

typedef struct {
  bool active;
  unsigned char *slice; /* in recvbuf: the node's sum in, the result out */
  size_t n;             /* elements of the slice */
  int step;             /* 0 .. N-2 reduce-scatter, N-1 .. 2N-3 allgather */
  int tag;
  unsigned char *tmp;   /* a reduce-scatter step's incoming block */
  MPI_Request req[2];   /* receive, send of the current step */
} hier_ring;

typedef struct {
  tcoll_comm *c;
  const tcoll_call *call;
  tcoll_group g;
  hier_ring ring[2]; /* by chunk parity */
  tcoll_status status; /* this rank's first failed exchange */
} hier_pipe;

static int mod(int a, int p) { return ((a % p) + p) % p; }

static void ring_fail(hier_pipe *p, hier_ring *r, int err) {
  if (p->status == TCOLL_OK) p->status = tcoll__mpi_error(err, "hierarchical: inter-node ring step");
  /* no request may outlive the call and write into the caller's buffer */
  for (int i = 0; i < 2; i++)
    if (r->req[i] != MPI_REQUEST_NULL) {
      if (i == 0) MPI_Cancel(&r->req[i]);
      MPI_Request_free(&r->req[i]);
    }
  r->active = false;
}

/* Posts ring step r->step: reduce-scatter step k sends block me-k-1 and
 * receives block me-k-2 into tmp; allgather step k sends block me-k and
 * receives block me-k-1 in place (pattern_ring.c). */
static int ring_post(hier_pipe *p, hier_ring *r) {
  const int n = p->g.n, me = p->g.me, last_rs = n - 1;
  const size_t es = p->call->elem_size;
  const bool rs = r->step < last_rs;
  const int k = rs ? r->step : r->step - last_rs;
  const int sb = rs ? mod(me - k - 1, n) : mod(me - k, n), rb = rs ? mod(me - k - 2, n) : mod(me - k - 1, n);
  void *into = rs ? (void *)r->tmp : r->slice + tcoll__block_offset(r->n, n, rb) * es;
  int err = MPI_Irecv(into, (int)(tcoll__block_count(r->n, n, rb) * es), MPI_BYTE,
                      tcoll__group_rank(&p->g, mod(me - 1, n)), r->tag, p->c->mpi, &r->req[0]);
  if (err == MPI_SUCCESS)
    err = MPI_Isend(r->slice + tcoll__block_offset(r->n, n, sb) * es, (int)(tcoll__block_count(r->n, n, sb) * es),
                    MPI_BYTE, tcoll__group_rank(&p->g, mod(me + 1, n)), r->tag, p->c->mpi, &r->req[1]);
  return err;
}

static void ring_start(hier_pipe *p, hier_ring *r, unsigned char *slice, size_t n, size_t i) {
  r->slice = slice;
  r->n = n;
  r->step = 0;
  r->tag = TCOLL_TAG_INTER_NODE + (int)(i & 1);
  r->req[0] = r->req[1] = MPI_REQUEST_NULL;
  r->active = true;
  const int err = ring_post(p, r);
  if (err != MPI_SUCCESS) ring_fail(p, r, err);
}

/* Moves a ring on as far as its messages allow: after a reduce-scatter
 * step the received block is reduced into the slice, then the next step is
 * posted (it sends that block). */
static void ring_advance(hier_pipe *p, hier_ring *r) {
  const int n = p->g.n;
  while (r->active) {
    int done = 0;
    int err = MPI_Testall(2, r->req, &done, MPI_STATUSES_IGNORE);
    if (err != MPI_SUCCESS) {
      ring_fail(p, r, err);
      return;
    }
    if (!done) return;
    if (r->step < n - 1) {
      const int rb = mod(p->g.me - r->step - 2, n);
      const size_t es = p->call->elem_size, off = tcoll__block_offset(r->n, n, rb);
      unsigned char *acc = r->slice + off * es;
      tcoll__reduce(p->call->dtype, p->call->op, acc, acc, r->tmp, tcoll__block_count(r->n, n, rb));
    }
    if (++r->step == 2 * (n - 1)) {
      r->active = false;
      return;
    }
    err = ring_post(p, r);
    if (err != MPI_SUCCESS) ring_fail(p, r, err);
  }
}

static void hier_poll(void *arg) {
  hier_pipe *p = arg;
  for (int i = 0; i < 2; i++) ring_advance(p, &p->ring[i]);
}

/* The wait for this rank's own ring: polling is the progress. */
static void ring_wait(hier_pipe *p, hier_ring *r) {
  for (unsigned spins = 0; r->active; spins++) {
    hier_poll(p);
    if (r->active && spins >= 64) sched_yield();
  }
}

static tcoll_status pipelined(tcoll_comm *c, tcoll_shm *s, const tcoll_call *call) {
  const size_t es = call->elem_size;
  size_t chunk_elems = hier_chunk_bytes(c) / es;
  if (chunk_elems == 0) chunk_elems = 1;
  const int m = c->min_local_size, me = s->rank;
  const bool owner = me < m;
  const size_t chunks = (call->count + chunk_elems - 1) / chunk_elems;
  const uint64_t first = s->next_chunk;
  s->next_chunk += chunks;
  const size_t full = call->count < chunk_elems ? call->count : chunk_elems;
  bool ring;
  inter_cost(c, call, (double)(full * es) / m, &ring);
  /* several chunks: the ring, whose steps overlap the next chunk's copies;
   * with the default chunk its slices are past the model's crossover
   * anyway, and small TCOLL_SHM_CHUNK_BYTES (the tests) then exercise it */
  ring = ring || chunks > 1;
  hier_pipe p = {.c = c, .call = call, .status = TCOLL_OK};
  if (owner) {
    p.g = (tcoll_group){c->num_nodes, c->node, c->slice_group, TCOLL_TAG_INTER_NODE};
    if (ring) { /* one incoming block per ring: at most ceil(ceil(full / m) / N) elements */
      const size_t block = ((full + m - 1) / m + c->num_nodes - 1) / c->num_nodes;
      void *tmp = NULL;
      p.status = tcoll__scratch(c, 2 * block * es, &tmp);
      for (int i = 0; i < 2 && tmp; i++) p.ring[i].tmp = (unsigned char *)tmp + i * block * es;
    }
    if (ring) {
      s->poll = hier_poll;
      s->poll_arg = &p;
    }
  }
  const unsigned char *in = call->sendbuf;
  unsigned char *out = call->recvbuf;
  bool flagged = false;
  for (size_t i = 0; i <= chunks; i++) {
    if (i < chunks) { /* copy in chunk i, reduce its slice, start its exchange */
      const size_t off = i * chunk_elems, n = call->count - off < chunk_elems ? call->count - off : chunk_elems;
      /* not tcoll__shm_copy_in: a rank here writes chunk i before it has
       * consumed chunk i-1, so seeing every rank's write of chunk i proves
       * only that all consumed chunk i-2 (consumed >= i-1) */
      tcoll__shm_publish(s, first + i, in + off * es, n * es);
      tcoll__shm_wait_all(s, TCOLL_SHM_WRITTEN, first + i + 1);
      if (first + i > 0) tcoll__shm_note_consumed(s, first + i - 1);
      const size_t mine = owner ? tcoll__block_offset(n, m, me) : 0, mine_n = owner ? tcoll__block_count(n, m, me) : 0;
      if (mine_n > 0) {
        unsigned char *slice = out + (off + mine) * es;
        tcoll__shm_reduce_slots(s, call, first + i, mine, mine_n, slice);
        if (p.status == TCOLL_OK) {
          if (ring) ring_start(&p, &p.ring[i & 1], slice, mine_n, i);
          else {
            tcoll_call view = *call;
            view.sendbuf = view.recvbuf = slice;
            view.count = mine_n;
            view.bytes = mine_n * es;
            p.status = tcoll__group_allreduce(c, &p.g, &view, false);
          }
        }
      }
    }
    if (i == 0) continue;
    /* finish chunk i-1: its result into the slot, then everyone copies it out */
    const uint64_t chunk = first + i - 1;
    const size_t off = (i - 1) * chunk_elems, n = call->count - off < chunk_elems ? call->count - off : chunk_elems;
    if (owner) {
      const size_t mine = tcoll__block_offset(n, m, me), mine_n = tcoll__block_count(n, m, me);
      if (ring) ring_wait(&p, &p.ring[(i - 1) & 1]);
      memcpy(tcoll__shm_slot(s, me, chunk) + mine * es, out + (off + mine) * es, mine_n * es);
      if (p.status != TCOLL_OK && !flagged) { /* before the slice is published: see above */
        tcoll__shm_signal(s, TCOLL_SHM_FAILED, first + 1);
        flagged = true;
      }
    }
    tcoll__shm_signal(s, TCOLL_SHM_REDUCED, chunk + 1);
    tcoll__shm_wait_all(s, TCOLL_SHM_REDUCED, chunk + 1);
    /* every rank finished chunk-1 before it published chunk: the next
     * call's first refill then needs no look at the counters */
    tcoll__shm_note_consumed(s, chunk);
    for (int q = 0; q < m; q++) {
      if (q == me) continue;
      const size_t at = off + tcoll__block_offset(n, m, q);
      memcpy(out + at * es, tcoll__shm_slot(s, q, chunk) + (at - off) * es, tcoll__block_count(n, m, q) * es);
    }
    tcoll__shm_signal(s, TCOLL_SHM_CONSUMED, chunk + 1);
  }
  s->poll = NULL;
  s->poll_arg = NULL;
  if (p.status != TCOLL_OK) return p.status;
  /* every owner published its last chunk after raising FAILED, and this
   * rank waited for all of them: a failure anywhere on the node shows */
  for (int q = 0; q < m; q++)
    if (atomic_load_explicit(&s->control[q]->counter[TCOLL_SHM_FAILED].value, memory_order_acquire) > first)
      return tcoll__error(TCOLL_ERR_MPI, "allreduce hierarchical: local rank %d's inter-node exchange failed", q);
  return TCOLL_OK;
}

static tcoll_status hier_run(tcoll_comm *c, const tcoll_call *call) {
  if (tcoll__alone(c, call)) return TCOLL_OK;
  tcoll_shm *s = segment(c);
  if (c->num_nodes <= 1) return tcoll__shm_sliced_allreduce(s, call, c->size);
  return pipelined(c, s, call);
}

/* On one node this is shm's sliced path (shm's lines path below 280 B aside,
 * which the measured choice, from 8 KiB, never sees). */
static const tcoll_algorithm *hier_same_as(const tcoll_comm *c) {
  return c->num_nodes <= 1 ? &tcoll__allreduce_shm : NULL;
}

const tcoll_algorithm tcoll__allreduce_hierarchical = {
    .name = "hierarchical",
    .coll = TCOLL_ALLREDUCE,
    .summary = "shared-memory reduce-scatter per node, inter-node allreduce of every slice at once, "
               "shared-memory allgather",
    .check = hier_check,
    .cost = hier_cost,
    .run = hier_run,
    .same_as = hier_same_as,
};
