/*
 * Shared schedules, each written once (algorithms/pattern_*.c) and composed
 * by the algorithm files.
 *
 * Conventions: `src` points at this rank's current contribution to the
 * reduction. It starts as the caller's sendbuf and becomes recvbuf once
 * anything has been reduced into recvbuf; schedules update it. Reading from
 * sendbuf until the first reduction spares the initial copy of the vector.
 *
 * The `call` a schedule receives describes the vector it works on. For
 * allreduce that is the caller's call. Collectives whose output is not the
 * whole vector (reduce_scatter, reduce at a non-root, allgather) pass a view:
 * a copy of the call with count/bytes of the whole vector and recvbuf
 * pointing at the full-length buffer that accumulates (tcoll__vector_view).
 */
#ifndef TCOLL_PATTERNS_H
#define TCOLL_PATTERNS_H

#include "tcoll_internal.h"

/* ---- pattern_blocks.c: the partition of a vector into blocks ---- */

/* `count` elements in `parts` blocks: the first count % parts blocks have one
 * element more. Every schedule uses this one partition. */
size_t tcoll__block_count(size_t count, int parts, int i);
size_t tcoll__block_offset(size_t count, int parts, int i);

/* recvbuf = sendbuf unless in place (p = 1 and other no-op schedules). */
void tcoll__copy_to_recv(const tcoll_call *call);
/* p = 1: the result is the input. Copies it and returns true, else false. */
bool tcoll__alone(const tcoll_comm *c, const tcoll_call *call);

/* The call seen as a vector of `blocks` x call->count elements held in
 * `vector` (reduce_scatter's input, allgather's output): what the schedules
 * below work on. */
tcoll_call tcoll__vector_view(const tcoll_call *call, int blocks, void *vector);
/* reduce_scatter: a full-length accumulator from scratch (recvbuf holds one
 * block only) and the view of the call over it. */
tcoll_status tcoll__accumulator_view(tcoll_comm *c, const tcoll_call *call, tcoll_call *vec);
/* reduce_scatter: recvbuf = block `rank` of the accumulator. */
void tcoll__deliver_block(const tcoll_call *call, const tcoll_call *vec, int rank);
/* allgather: block `rank` of recvbuf = sendbuf, unless in place. */
void tcoll__copy_own_block(const tcoll_call *call, int rank);

/* ---- groups: schedules over a list of member ranks ---- */

/* A group of n members: member i is real rank ranks[i] (ranks NULL: rank
 * i), this rank is member `me`, and the group's messages carry `tag`. The
 * whole communicator is the group {size, rank, NULL, TCOLL_TAG}. */
typedef struct {
  int n, me;
  const int *ranks;
  int tag;
} tcoll_group;

static inline tcoll_group tcoll__group_all(const tcoll_comm *c) {
  return (tcoll_group){c->size, c->rank, NULL, TCOLL_TAG};
}
static inline int tcoll__group_rank(const tcoll_group *g, int member) {
  return g->ranks ? g->ranks[member] : member;
}

/* ---- pattern_fold.c: fold a non-power-of-two group into a power of two ---- */

typedef struct {
  int p2;    /* largest power of two <= size */
  int extra; /* size - p2 ranks fold in */
  int vrank; /* rank inside the power-of-two group, -1 if folded out */
} tcoll_fold;

tcoll_fold tcoll__fold_plan(int rank, int size);
/* The real rank of the group member with index vrank. */
int tcoll__fold_real_rank(const tcoll_fold *f, int vrank);
/* The lowest real rank member vrank stands for (2 vrank for a folded pair);
 * vrank == p2 gives size, so member v stands for ranks [first(v), first(v+1)). */
int tcoll__fold_first_rank(const tcoll_fold *f, int vrank);
/* Ranks 0, 2, .., 2*extra-2 send their vector to the next odd rank, which
 * reduces it into recvbuf (src becomes recvbuf there). */
tcoll_status tcoll__fold_in(tcoll_comm *c, const tcoll_call *call, const tcoll_fold *f,
                            const void **src);
/* The odd ranks send `bytes` at `result` to their folded-out partner, which
 * receives them into `out` (allreduce: the whole vector; reduce_scatter: the
 * partner's own block). */
tcoll_status tcoll__fold_out(tcoll_comm *c, const tcoll_fold *f, const void *result, void *out,
                             size_t bytes);
/* The same two among a group's members (member i in the role of rank i). */
tcoll_status tcoll__fold_in_group(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call,
                                  const tcoll_fold *f, const void **src);
tcoll_status tcoll__fold_out_group(tcoll_comm *c, const tcoll_group *g, const tcoll_fold *f, const void *result,
                                   void *out, size_t bytes);

/* ---- pattern_halving.c: hypercube schedules over the power-of-two group ---- */

/* Which part of the vector each of the p2 group members ends up owning:
 * member v owns the base blocks [first(v), first(v+1)) of the partition of
 * the vector into `base_parts` blocks (tcoll__block_*). With by_rank false,
 * first(v) = v (allreduce: p2 equal-ish blocks of the vector). With by_rank
 * true the base blocks are the p real ranks' blocks and first(v) =
 * tcoll__fold_first_rank(v), so a member that stands for a folded pair owns
 * both ranks' blocks (reduce_scatter, as MPICH does). */
typedef struct {
  int base_parts;
  bool by_rank;
} tcoll_group_blocks;

/* Recursive halving reduce-scatter of the whole vector over the group:
 * afterwards group member v holds its fully reduced range (above) in
 * call->recvbuf, at the range's offset. Call only with f->vrank >= 0. */
tcoll_status tcoll__halving_reduce_scatter(tcoll_comm *c, const tcoll_call *call,
                                           const tcoll_fold *f, tcoll_group_blocks blocks,
                                           const void **src);
/* Recursive doubling allgather of those ranges, in call->recvbuf. */
tcoll_status tcoll__doubling_allgather(tcoll_comm *c, const tcoll_call *call, const tcoll_fold *f,
                                       tcoll_group_blocks blocks);
/* Elements and offset of the range group member v owns. */
size_t tcoll__group_block_offset(const tcoll_call *call, const tcoll_fold *f,
                                 tcoll_group_blocks blocks, int v);
size_t tcoll__group_block_count(const tcoll_call *call, const tcoll_fold *f,
                                tcoll_group_blocks blocks, int v);

/* ---- pattern_ring.c: ring schedules over all ranks (or a group) ---- */

/* Ring reduce-scatter of the call's vector (blocks of
 * tcoll__block_count(count, size, .)). `contrib` is this rank's full input
 * vector, `acc` a full-length working vector (may equal contrib when in
 * place). Afterwards block `rank` is fully reduced in acc. Transfers go in
 * segments of c->segment_bytes with the next receive posted before the
 * current segment is reduced. */
tcoll_status tcoll__ring_reduce_scatter(tcoll_comm *c, const tcoll_call *call, const void *contrib,
                                        void *acc);
/* Ring allgather: block `rank` of buf is this rank's; afterwards every block
 * is. */
tcoll_status tcoll__ring_allgather(tcoll_comm *c, const tcoll_call *call, void *buf);
/* The same two over the members of a group (blocks of
 * tcoll__block_count(count, g->n, .), member i in the role of rank i). */
tcoll_status tcoll__ring_reduce_scatter_group(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call,
                                              const void *contrib, void *acc);
tcoll_status tcoll__ring_allgather_group(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call,
                                         void *buf);

/* ---- pattern_group.c: allreduce inside a group ---- */

/* In-place allreduce of call->recvbuf (call->count elements) over the
 * group's members: ring reduce-scatter + allgather (ring true), or
 * recursive doubling with the non-power-of-two fold. Every member ends with
 * the same bits: a ring block is reduced by one member and copied; in
 * doubling each pair reduces the lower member's operand first. */
tcoll_status tcoll__group_allreduce(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call, bool ring);
/* Recursive doubling from call->sendbuf into call->recvbuf (may be equal)
 * over the group's members, non-powers of two folded in first: the
 * recursive_doubling allreduce over the whole communicator, and the
 * hierarchical one's small slices among nodes. */
tcoll_status tcoll__group_doubling_allreduce(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call);

/* ---- pattern_shm.c: the data path through a shared segment (shm.h) ---- */

/* Vocabulary: a chunk is the part of the vector that goes through the slots
 * at once (at most the segment's chunk_bytes); a slice is the part of a
 * chunk one rank reduces (block i of the chunk split into `slices`). */

struct tcoll_shm;
/* Allreduce of the call over the segment's ranks, chunk by chunk: copy in,
 * segment rank i < slices reduces slice i over every slot in segment-rank
 * order, then everyone copies every slice out. Ranks >= slices only copy in
 * and out. */
tcoll_status tcoll__shm_sliced_allreduce(struct tcoll_shm *s, const tcoll_call *call, int slices);
/* Copies this rank's bytes, except [hole, hole + hole_bytes), into its slot
 * of `chunk`, once the slot is free everywhere, and waits until every rank's
 * part is there. */
void tcoll__shm_copy_in(struct tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes, size_t hole,
                        size_t hole_bytes);
/* out = slot[0] op slot[1] op ... over elements [first, first + n) of the
 * chunk: the same order on every rank. out may be slot 0's own elements
 * (reduce shm accumulates there): each step reads and writes the same
 * element, which the kernels allow. */
void tcoll__shm_reduce_slots(const struct tcoll_shm *s, const tcoll_call *call, uint64_t chunk, size_t first,
                             size_t n, void *out);

/* Seconds per reduced byte that memory traffic does not hide: the 16-bit
 * classes' conversions (γ above float's), 0 otherwise. */
double tcoll__shm_conversion_seconds_per_byte(const tcoll_comm *c, const tcoll_call *call);
/* Modelled seconds of tcoll__shm_sliced_allreduce over `ranks` ranks and
 * `slices` slices. */
double tcoll__cost_shm_sliced(const tcoll_comm *c, const tcoll_call *call, int ranks, int slices);

/* ---- pattern_tree.c: binomial trees rooted anywhere ---- */

/* Binomial reduce to root of the vector at *src into acc (full length, at
 * every rank; the result is complete only at root). */
tcoll_status tcoll__binomial_reduce(tcoll_comm *c, const tcoll_call *call, int root,
                                    const void **src, void *acc);
/* Binomial broadcast of bytes at buf from root. */
tcoll_status tcoll__binomial_bcast(tcoll_comm *c, void *buf, size_t bytes, int root);

/* A binomial tree over `n` members whose blocks partition a vector: member m
 * is real rank tcoll__fold_real_rank(fold, m) (fold NULL: rank m), member
 * `me` is this rank, and member m's block is block m of `call` split into n
 * parts (tcoll__block_*). */
typedef struct {
  int n, me, root;
  const tcoll_fold *fold;
} tcoll_tree_group;
/* Binomial scatter from the root: afterwards every member holds its own
 * block of call->recvbuf (and the blocks of its subtree). */
tcoll_status tcoll__binomial_scatter(tcoll_comm *c, const tcoll_call *call, const tcoll_tree_group *g);
/* The reverse: each member starts with its own block of call->recvbuf;
 * afterwards the root holds every block. */
tcoll_status tcoll__binomial_gather(tcoll_comm *c, const tcoll_call *call, const tcoll_tree_group *g);

/* ---- cost helpers (pattern_cost.c) ---- */

/* A dependent handshake on a crowded machine (c->ranks_per_cpu > 1: more
 * ranks than CPUs, e.g. emulated hosts sharing one machine) often waits
 * for the partner to be scheduled: tcoll__crowd_seconds = (ranks_per_cpu -
 * 1) x TCOLL_CROWD_SECONDS, added to the α of every network message and
 * to each of the hierarchical allreduce's node-wide waits. Measured across
 * emulated hosts at 1 Gbit/s (docs/h9-results.md): 2 ranks per host on 2
 * CPUs, the schedules with more dependent steps lost more than the
 * built-in α (7 us, an idle machine) predicts: at 4 x 2, hierarchical's 3
 * waits cost 90-200 us over recursive_doubling from 8 B to 4 KiB but it
 * was 1.7x faster at 32 KiB, and the ring's 14 steps ran at 55-73% of the
 * link bound where hierarchical ran at 90-96%. 5 us per step and unit of
 * crowding puts the model's crossover from recursive_doubling to
 * hierarchical between 16 and 32 KiB at 4 x 2 and at 32 KiB at 2 x 2, as
 * measured, and keeps the ring behind hierarchical (10 us put it at 64 KiB
 * at 4 x 2, where recursive_doubling was measured 1.7x slower).
 * Only the network level: nothing was measured inside a node, and a
 * fitted α (tuning file) already holds what crowding its machine had. */
#define TCOLL_CROWD_SECONDS 5e-6
double tcoll__crowd_seconds(const tcoll_comm *c);

/* The farthest link level the communicator spans. */
const tcoll_link_model *tcoll__link(const tcoll_comm *c);
/* Seconds for `messages` messages carrying `bytes` in total at the farthest
 * level the communicator spans (for steps whose partners are not a fixed
 * distance apart), and for reducing `bytes`. */
double tcoll__cost_messages(const tcoll_comm *c, double messages, double bytes);
/* The same for a step in which each rank r talks to r + distance: charged at
 * the farthest level such a pair crosses (distance 1: a ring hop). */
double tcoll__cost_at(const tcoll_comm *c, int distance, double messages, double bytes);
/* Hypercube steps (r with r XOR 2^k): `rounds` steps at distances 1, 2, 4, ..., each of `messages` messages of
 * `bytes` (recursive doubling, binomial trees). */
double tcoll__cost_each_round(const tcoll_comm *c, int rounds, double messages, double bytes);
/* Hypercube steps at distances 1, 2, 4, ... whose bytes double with the
 * distance and total `total_bytes` (recursive halving read backwards,
 * recursive-doubling allgather, binomial scatter). */
double tcoll__cost_doubling(const tcoll_comm *c, int rounds, double messages, double total_bytes);
/* Reducing `bytes` of the call's dtype (γ of its class). */
double tcoll__cost_reduce(const tcoll_comm *c, const tcoll_call *call, double bytes);
/* Fold-in plus fold-out of a non-power-of-two group (0 for powers of two). */
double tcoll__cost_fold(const tcoll_comm *c, const tcoll_call *call);
/* check() of algorithms that have no restriction. */
bool tcoll__check_accepts_all(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen);
/* Writes "needs ..." into why and returns false when `cond` fails. */
bool tcoll__decline(char *why, size_t whylen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
