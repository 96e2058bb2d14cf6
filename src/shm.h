/*
 * The shared segment of a communicator whose ranks share one node: every
 * rank owns a control block (three monotonic counters, each on its own cache
 * line) and two data slots of `chunk_bytes`, all in one MPI-3 shared window,
 * so the data path needs no MPI call at all.
 *
 * Counters count chunks: after rank q has copied chunk s into its slot it
 * sets written = s + 1; after reducing its slice of chunk s, reduced = s + 1;
 * after copying chunk s out of every slot, consumed = s + 1. They only grow,
 * so they never need resetting between calls, and a slot (s % 2) may be
 * refilled once every rank's consumed >= s - 1.
 *
 * Each rank also owns two sets (by chunk parity) of TCOLL_SHM_LINES lines
 * for messages of up to TCOLL_SHM_LINES_CAPACITY bytes: every 64-byte line
 * holds its own sequence number and 56 bytes of data, so a reader that sees
 * the number has the data in the same cache-line transfer, and a message
 * costs one transfer per line instead of a flag, then the data, then the
 * flags of the next phase (NCCL's "LL" protocol, on CPU cache lines).
 */
#ifndef TCOLL_SHM_H
#define TCOLL_SHM_H

#include <stdatomic.h>
#include <stdint.h>

#include "tcoll_internal.h"

/* FAILED: set to chunk + 1 by a rank whose single-copy read failed in the
 * call that began at chunk, so that every rank of that call reports it. */
enum { TCOLL_SHM_WRITTEN, TCOLL_SHM_REDUCED, TCOLL_SHM_CONSUMED, TCOLL_SHM_FAILED, TCOLL_SHM_NUM_COUNTERS };

typedef struct {
  struct {
    _Atomic uint64_t value;
    char pad[64 - sizeof(uint64_t)]; /* one cache line each: no false sharing */
  } counter[TCOLL_SHM_NUM_COUNTERS];
} tcoll_shm_control;

#define TCOLL_SHM_LINE_DATA 56
/* 5 lines of 56 bytes: 280 B, the largest message that takes them. At 2
 * ranks the lines path wins up to 256 B (0.27 against 0.42 µs for the
 * sliced slots), loses at 512 B (0.46 against 0.39, near vCPUs; a tie when
 * they are far apart) and from 1 KiB by 1.2-1.35x (docs/benchmarks.md): a
 * line costs a dependent stamp check, and the sliced path streams. */
#define TCOLL_SHM_LINES 5
#define TCOLL_SHM_LINES_CAPACITY (TCOLL_SHM_LINES * TCOLL_SHM_LINE_DATA)
/* Pieces of a single-copy allreduce: small enough that a piece and its
 * operands stay in L2 while reduced (docs/benchmarks.md) */
#define TCOLL_SHM_PIECE_BYTES (64 * 1024)
#define TCOLL_SHM_SCRATCH_PART TCOLL_SHM_PIECE_BYTES
#define TCOLL_SHM_PEER_WORDS 3
_Static_assert(TCOLL_SHM_SCRATCH_PART >= TCOLL_SHM_LINES_CAPACITY, "scratch holds a lines message");

typedef struct {
  _Atomic uint64_t seq; /* chunk + 1 once data holds that chunk's bytes */
  unsigned char data[TCOLL_SHM_LINE_DATA];
} tcoll_shm_line;

struct tcoll_shm {
  MPI_Comm node_comm;
  MPI_Win win;
  int size, rank;
  size_t chunk_bytes;
  tcoll_shm_control **control; /* [size]: each rank's control block */
  tcoll_shm_line **lines;      /* [size]: each rank's 2 x TCOLL_SHM_LINES lines */
  unsigned char **slots;       /* [size]: each rank's two slots, back to back */
  uint64_t next_chunk;         /* sequence number of the next chunk (same on every rank) */
  /* Every rank's consumed counter is known to be at least this (local
   * knowledge: a rank seen writing chunk c has consumed every chunk before
   * c), so a refill that needs no more skips reading the others' counters,
   * a cache miss each. */
  uint64_t known_consumed;
  /* 3 x TCOLL_SHM_SCRATCH_PART bytes of private scratch for the lines path
   * and the single-copy pieces, allocated with the segment so that a call
   * never fails on one rank only */
  unsigned char *scratch;
  /* Single copy (Linux cross-memory attach, process_vm_readv): every rank's
   * pid, and whether every rank could read every other's memory at set-up
   * (identical on every rank); why not otherwise. */
  int *pids;
  uint64_t *peer_words; /* [size * TCOLL_SHM_PEER_WORDS]: what each rank published for this call */
  bool single_copy;
  char single_copy_unavailable[96];
  /* MPI_COMM_NULL for a single-node communicator. On a node segment of a
   * multi-node communicator: that communicator, probed while waiting (see
   * tcoll__shm_wait_all). */
  MPI_Comm progress;
  bool yield_early; /* more processes on this host than CPUs: waits yield at once */
  /* Set by a schedule for the length of one call (the hierarchical
   * allreduce's pipeline), NULL otherwise: every wait on this segment calls
   * poll(poll_arg) every TCOLL_SHM_POLL_SPINS spins (besides the Iprobe
   * above), so that the caller's own nonblocking inter-node exchanges keep
   * moving (and the link busy) while it waits for the ranks of its node. */
  void (*poll)(void *arg);
  void *poll_arg;
};
#define TCOLL_SHM_POLL_SPINS 32

/* Collective over c->mpi at create. Sets c->shm when every rank of a
 * single-node communicator got its segment; otherwise leaves it NULL and
 * records why in c->shm_unavailable (identical on every rank). On a
 * communicator that spans several nodes, sets c->node_shm instead: one
 * segment per node, over that node's ranks in rank order, or NULL on every
 * rank with the reason in c->node_shm_unavailable. */
tcoll_status tcoll__shm_setup(tcoll_comm *c);
void tcoll__shm_free(tcoll_comm *c);

static inline unsigned char *tcoll__shm_slot(const tcoll_shm *s, int rank, uint64_t chunk) {
  return s->slots[rank] + (chunk & 1) * s->chunk_bytes;
}

/* Publishes this rank's counter (release: the data written before it is
 * visible to whoever acquires it). */
void tcoll__shm_signal(tcoll_shm *s, int counter, uint64_t value);
/* Waits until every rank's counter (wait_one: rank q's) is at least value
 * (acquire). Spins, then yields (shm.c says when), so oversubscribed ranks
 * still make progress; on a node segment also drives MPI's progress engine
 * now and then. */
void tcoll__shm_wait_all(const tcoll_shm *s, int counter, uint64_t value);
void tcoll__shm_wait_one(const tcoll_shm *s, int q, int counter, uint64_t value);
/* Waits until slot (chunk % 2) is free on every rank (all consumed chunk - 2),
 * copies `bytes` from src into this rank's slot and publishes it (written =
 * chunk + 1). Does not wait for the other ranks' writes. */
void tcoll__shm_publish(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes);
/* The same, leaving bytes [hole, hole + hole_bytes) of the slot unwritten:
 * the part that no other rank reads. */
void tcoll__shm_publish_around(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes, size_t hole,
                               size_t hole_bytes);

/* The latency path. publish_lines: waits (usually not at all, see
 * known_consumed) until the line set of chunk's parity is free everywhere,
 * writes `bytes` of src into it, each line stamped chunk + 1. read_lines:
 * copies rank q's bytes of chunk into dst, waiting for each line's stamp. A
 * rank that has read every other rank's lines of a chunk ends with
 * tcoll__shm_lines_done. bytes <= TCOLL_SHM_LINES_CAPACITY. */
void tcoll__shm_publish_lines(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes);
void tcoll__shm_read_lines(const tcoll_shm *s, int q, uint64_t chunk, void *dst, size_t bytes);
void tcoll__shm_lines_done(tcoll_shm *s, uint64_t chunk);

/* Gives rank q's operand (q != this rank) of a rank-order reduction: fills
 * buf (TCOLL_SHM_SCRATCH_PART bytes) or points elsewhere. */
typedef const void *(*tcoll_shm_operand_fn)(void *arg, int q, void *buf);
/* out[0, n) = in_0 op in_1 op .. op in_{p-1}, left to right, with in_q from
 * `operand` and this rank's own from `own`, which may be out itself (then
 * copied first where out would be overwritten before it is used). Every
 * rank reducing the same operands this way holds the same bits: the one
 * reduction order of the lines path and of cma. n elements fit one scratch
 * part. */
void tcoll__shm_reduce_rank_order(const tcoll_shm *s, const tcoll_call *call, size_t n, void *out, const void *own,
                                  tcoll_shm_operand_fn operand, void *arg);
/* Every rank's consumed counter is now known to be at least value. */
static inline void tcoll__shm_note_consumed(tcoll_shm *s, uint64_t value) {
  if (s->known_consumed < value) s->known_consumed = value;
}

/* Copies `bytes` at address `remote` in rank q's process into local
 * (process_vm_readv). false with errno set on failure. Needs s->single_copy. */
bool tcoll__shm_read_peer(const tcoll_shm *s, int q, uint64_t remote, void *local, size_t bytes);

/* check() of the shm algorithms: a single-node communicator with its segment
 * (or a single rank, which needs none); otherwise the reason why not. */
bool tcoll__shm_check(const tcoll_comm *c, char *why, size_t whylen);

/* Cost constants of the shm and hierarchical algorithms: a release/acquire
 * counter seen by the other core in ~0.1 µs; ~20 GB/s of read+write traffic per core with
 * both busy (MACHINE-FACTS; docs/benchmarks.md). */
#define TCOLL_SHM_WAIT_SECONDS 0.1e-6
#define TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE (1.0 / 20e9)

#endif
