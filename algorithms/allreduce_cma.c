/*
 * allreduce cma: single copy between the ranks of one node. Each rank reads
 * the others' buffers straight out of their address spaces with Linux
 * cross-memory attach (process_vm_readv), the mechanism Open MPI's vader
 * transport uses for large point-to-point messages; the shared segment
 * (shm.h) only carries the buffer addresses and the progress counters.
 * Where the slot-based shm algorithm copies bytes into the segment and out
 * again (4n of memory traffic per rank at 2 ranks), this moves each byte
 * across once (2.5n at 2 ranks, sliced). It still measured 1.2-1.5x slower
 * than shm here from 128 KiB up: the kernel's page pinning and mapping make
 * a single-copy byte cost about four local ones (SINGLE_COPY_SECONDS_PER_BYTE).
 *
 * Pieces are TCOLL_SHM_PIECE_BYTES, or TCOLL_SHM_CHUNK_BYTES when smaller.
 *
 * Every call: each rank publishes {sendbuf, recvbuf, in place} in its lines
 * (one cache-line transfer) and reads everyone's; then one of two schedules,
 * chosen from those rank-identical descriptors:
 *
 *   whole (nobody in place, (p-1) n <= WHOLE_READ_BYTES, 64 KiB): each rank reads
 *     every other rank's whole input, in pieces of TCOLL_SHM_PIECE_BYTES,
 *     and reduces all of it itself. One round of flags, p-1 reads per
 *     piece; the recursive doubling of the shared-memory world.
 *   sliced: rank r reduces slice r (pattern_blocks) piece by piece, reading
 *     slice r of every other input, into its own recvbuf, and counts each
 *     finished piece on its reduced counter; after its piece k it reads
 *     piece k-1 of every other slice from its owner's recvbuf (once the
 *     owner has counted it), while that is still in the owner's cache.
 *
 * Either way every element is reduced in rank order 0, 1, .., p-1 by one
 * reduction, so every rank holds the same bits. A rank must not return
 * while others may still read its buffers: every call ends with each rank
 * counting consumed and waiting for all the others' counts.
 *
 * In place (sendbuf == recvbuf) is safe in the sliced schedule only: rank r
 * overwrites slice q of its buffer (q != r) after q has reported that
 * piece reduced, i.e. read. Its own slice r nobody else reads.
 *
 * Sequence numbers: a call that begins at chunk b stamps its descriptor
 * lines b + 1, counts pieces k = 0..K-1 as reduced = b + k + 2, and ends
 * with consumed = b + K + 1; the next call begins at b + K + 1.
 *
 * Cost, n bytes, p ranks, K pieces, a the counter transfer, b the traffic
 * time per byte, sc the fixed cost of one process_vm_readv and sb its cost
 * per byte moved:
 *   whole:  2 a + (p-1) K sc + (p-1) n sb + (p n + (p-1) n) b
 *   sliced: (2 + K) a + (p-1)(K + 1) sc + 2 n (p-1)/p sb + (n + n/p) b
 * (sliced: the p-1 other parts of its slice and the p-1 other reduced
 * slices come by single copy; its own part is read and its slice written
 * locally).
 * Needs: a single-node communicator with its segment, and single copy
 * working between its ranks (probed at set-up: seccomp profiles of
 * containers and ptrace restrictions refuse it).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "patterns.h"
#include "shm.h"

/* Up to here (summed over the other ranks) each rank reads whole inputs and
 * reduces everything: one piece, one round of flags. Measured at 2 ranks,
 * whole and sliced tie at 32 KiB and sliced wins from 256 KiB (1.2-1.5x at
 * 256 KiB and 2 MiB: whole reduces twice the bytes). */
#define WHOLE_READ_BYTES (64 * 1024)
/* One process_vm_readv call: the system call and its page walk, measured
 * ~1 µs for a 4 KiB read here. */
#define SINGLE_COPY_CALL_SECONDS 1.0e-6
/* A byte moved by process_vm_readv, read and written: the kernel pins and
 * maps the other process's pages before it copies them, which made it about
 * four times shm's per-byte traffic cost here. Fitted at 2 ranks from
 * tcoll-bench (docs/benchmarks.md): cma took 1.2-1.5x shm's time from
 * 128 KiB to 16 MiB once shm's own slice no longer went through its slot,
 * i.e. cma's n single-copy bytes plus 1.5n local ones against shm's 4n. */
#define SINGLE_COPY_SECONDS_PER_BYTE (4 * TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE)

typedef struct {
  uint64_t send, recv, in_place;
} buffer_descriptor;
_Static_assert(sizeof(buffer_descriptor) <= TCOLL_SHM_LINE_DATA, "a descriptor fits in one line");
_Static_assert(sizeof(buffer_descriptor) == TCOLL_SHM_PEER_WORDS * sizeof(uint64_t), "s->peer_words holds them");

static bool cma_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)call;
  if (!tcoll__shm_check(c, why, whylen)) return false;
  if (c->size == 1) return true;
  if (!c->shm->single_copy) snprintf(why, whylen, "no single copy: %s", c->shm->single_copy_unavailable);
  return c->shm->single_copy;
}

static bool whole_reads(int p, size_t bytes, bool any_in_place) {
  return !any_in_place && bytes * (size_t)(p - 1) <= WHOLE_READ_BYTES;
}

/* Elements per piece: TCOLL_SHM_PIECE_BYTES, or the segment's chunk when
 * smaller (tests set tiny chunks so that small calls run many pieces). */
static size_t piece_elems(size_t chunk_bytes, size_t elem_size) {
  const size_t bytes = chunk_bytes < TCOLL_SHM_PIECE_BYTES ? chunk_bytes : TCOLL_SHM_PIECE_BYTES;
  return bytes / elem_size ? bytes / elem_size : 1;
}

static size_t pieces_of(size_t count, size_t per_piece) { return count == 0 ? 1 : (count + per_piece - 1) / per_piece; }

static double cma_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes, a = TCOLL_SHM_WAIT_SECONDS,
               b = TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE, sc = SINGLE_COPY_CALL_SECONDS,
               sb = SINGLE_COPY_SECONDS_PER_BYTE;
  const double convert = tcoll__shm_conversion_seconds_per_byte(c, call);
  if (c->size == 1) return n * b;
  /* the model cannot know about in place: it prices the out-of-place call */
  const size_t per_piece = piece_elems(c->shm_chunk_bytes, call->elem_size);
  if (whole_reads(c->size, call->bytes, false)) {
    const double k = (double)pieces_of(call->count, per_piece);
    return 2 * a + (p - 1) * k * sc + (p - 1) * n * sb + (p * n + (p - 1) * n) * b + (p - 1) * n * convert;
  }
  const double k = (double)pieces_of(tcoll__block_count(call->count, c->size, 0), per_piece);
  return (2 + k) * a + (p - 1) * (k + 1) * sc + 2 * n * (p - 1) / p * sb + (n + n / p) * b +
         (p - 1) / p * n * convert;
}

/* What one rank knows during a call. */
typedef struct {
  tcoll_shm *s;
  const tcoll_call *call;
  const buffer_descriptor *desc; /* [p]: every rank's buffers this call */
  int failed_peer;               /* first rank whose memory could not be read, or -1 */
  int failed_errno;
} cma_call;

static void note_failure(cma_call *x, int q) {
  if (x->failed_peer < 0) {
    x->failed_peer = q;
    x->failed_errno = errno;
  }
}

/* Where reduce_range reads: elements [first, first + n) of every input. */
typedef struct {
  cma_call *x;
  size_t first, n;
} range_read;

/* Rank q's operand: read from its sendbuf into buf. A failed read is
 * noted; the call still runs its schedule to the end (cma_run). */
static const void *peer_operand(void *arg, int q, void *buf) {
  const range_read *r = arg;
  const size_t es = r->x->call->elem_size;
  if (!tcoll__shm_read_peer(r->x->s, q, r->x->desc[q].send + r->first * es, buf, r->n * es)) note_failure(r->x, q);
  return buf;
}

/* out[0, n) = rank-order reduction of the p inputs at element `first`. */
static void reduce_range(cma_call *x, size_t first, size_t n, void *out) {
  range_read r = {x, first, n};
  const unsigned char *own = (const unsigned char *)x->call->sendbuf + first * x->call->elem_size;
  tcoll__shm_reduce_rank_order(x->s, x->call, n, out, own, peer_operand, &r);
}

static void run_whole(cma_call *x) {
  const size_t es = x->call->elem_size, piece = piece_elems(x->s->chunk_bytes, es);
  for (size_t first = 0; first < x->call->count; first += piece) {
    const size_t n = x->call->count - first < piece ? x->call->count - first : piece;
    reduce_range(x, first, n, (unsigned char *)x->call->recvbuf + first * es);
  }
}

/* Copies piece k of every other rank's slice from its owner's recvbuf once
 * the owner has counted it; starting after this rank spreads the readers
 * over the owners. */
static void gather_piece(cma_call *x, uint64_t begin, size_t k, size_t piece) {
  tcoll_shm *s = x->s;
  const tcoll_call *call = x->call;
  const int p = s->size, me = s->rank;
  const size_t es = call->elem_size;
  unsigned char *recv = call->recvbuf;
  for (int i = 1; i < p; i++) {
    const int q = (me + i) % p;
    const size_t at = tcoll__block_offset(call->count, p, q), total = tcoll__block_count(call->count, p, q);
    const size_t first = k * piece;
    if (first >= total) continue;
    const size_t n = total - first < piece ? total - first : piece;
    tcoll__shm_wait_one(s, q, TCOLL_SHM_REDUCED, begin + k + 2);
    if (!tcoll__shm_read_peer(s, q, x->desc[q].recv + (at + first) * es, recv + (at + first) * es, n * es))
      note_failure(x, q);
  }
}

/* Returns K, the number of pieces every rank counts. Piece k of the others'
 * slices is read right after this rank's own piece k is reduced, while the
 * owners' results are still in their caches: reading whole slices after the
 * last piece measured 1.2x slower at 16 MiB (they had gone to memory). */
static size_t run_sliced(cma_call *x, uint64_t begin) {
  tcoll_shm *s = x->s;
  const tcoll_call *call = x->call;
  const int p = s->size, me = s->rank;
  const size_t es = call->elem_size, piece = piece_elems(s->chunk_bytes, es);
  const size_t pieces = pieces_of(tcoll__block_count(call->count, p, 0), piece);
  unsigned char *recv = call->recvbuf;
  const size_t mine = tcoll__block_offset(call->count, p, me), mine_n = tcoll__block_count(call->count, p, me);
  for (size_t k = 0; k < pieces; k++) {
    const size_t first = k * piece;
    if (first < mine_n) {
      const size_t n = mine_n - first < piece ? mine_n - first : piece;
      reduce_range(x, mine + first, n, recv + (mine + first) * es);
    }
    tcoll__shm_signal(s, TCOLL_SHM_REDUCED, begin + k + 2);
    /* one piece behind: the others are reducing piece k meanwhile */
    if (k > 0) gather_piece(x, begin, k - 1, piece);
  }
  gather_piece(x, begin, pieces - 1, piece);
  return pieces;
}

static tcoll_status cma_run(tcoll_comm *c, const tcoll_call *call) {
  tcoll_shm *s = c->shm;
  if (c->size == 1) {
    tcoll__copy_to_recv(call);
    return TCOLL_OK;
  }
  const int p = s->size;
  const uint64_t begin = s->next_chunk;
  cma_call x = {.s = s, .call = call, .failed_peer = -1};
  buffer_descriptor *desc = (buffer_descriptor *)s->peer_words;
  const buffer_descriptor me = {(uint64_t)(uintptr_t)call->sendbuf, (uint64_t)(uintptr_t)call->recvbuf,
                                call->sendbuf == call->recvbuf};
  tcoll__shm_publish_lines(s, begin, &me, sizeof me);
  bool any_in_place = false;
  for (int q = 0; q < p; q++) {
    if (q == s->rank) desc[q] = me;
    else tcoll__shm_read_lines(s, q, begin, &desc[q], sizeof desc[q]);
    any_in_place |= desc[q].in_place != 0;
  }
  x.desc = desc;
  size_t pieces = 0; /* K: the whole schedule counts no pieces */
  if (whole_reads(p, call->bytes, any_in_place)) run_whole(&x);
  else pieces = run_sliced(&x, begin);
  const uint64_t end = begin + pieces + 1;
  s->next_chunk = end;
  if (x.failed_peer >= 0) tcoll__shm_signal(s, TCOLL_SHM_FAILED, begin + 1);
  tcoll__shm_signal(s, TCOLL_SHM_CONSUMED, end);
  tcoll__shm_wait_all(s, TCOLL_SHM_CONSUMED, end);
  tcoll__shm_note_consumed(s, end);
  if (x.failed_peer >= 0)
    return tcoll__error(TCOLL_ERR_MPI, "allreduce cma: reading rank %d's buffer failed: %s", x.failed_peer,
                        strerror(x.failed_errno));
  for (int q = 0; q < p; q++)
    if (atomic_load_explicit(&s->control[q]->counter[TCOLL_SHM_FAILED].value, memory_order_acquire) > begin)
      return tcoll__error(TCOLL_ERR_MPI, "allreduce cma: rank %d could not read another rank's buffer", q);
  return TCOLL_OK;
}

const tcoll_algorithm tcoll__allreduce_cma = {
    .name = "cma",
    .coll = TCOLL_ALLREDUCE,
    .summary = "single copy: each rank reads the others' buffers directly (process_vm_readv), "
               "whole inputs when small, sliced reduce then gather when large",
    .check = cma_check,
    .cost = cma_cost,
    .run = cma_run,
};
