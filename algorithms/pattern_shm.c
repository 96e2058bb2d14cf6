/*
 * The data path through a shared segment (src/shm.h), shared by the shm
 * allreduce and the hierarchical one on a single node (every rank a
 * slice). Across nodes the hierarchical allreduce runs its own pipelined
 * schedule on the same primitives (allreduce_hierarchical.c).
 *
 * One chunk, three phases separated by "every rank got here" waits on the
 * segment's monotonic counters:
 *
 *   1 copy in:  each rank copies chunk c of its input into its slot c % 2,
 *               all but its own slice
 *   2 reduce:   rank i < slices reduces slice i of the chunk over the other
 *               ranks' slots and its own input, in rank order, into its
 *               recvbuf, and writes it into its own slot
 *   3 copy out: each rank copies every other slice from its owner's slot
 *
 * Two slots per rank let a fast rank copy in chunk c+1 while others still
 * copy out chunk c; it refills slot c % 2 (chunk c+2) only once every rank
 * has consumed chunk c.
 */
#include <math.h>
#include <string.h>

#include "patterns.h"
#include "shm.h"

double tcoll__shm_conversion_seconds_per_byte(const tcoll_comm *c, const tcoll_call *call) {
  const double extra = c->model.gamma[tcoll__gamma_class(call->dtype)] - c->model.gamma[TCOLL_GAMMA_FLOAT];
  return extra > 0 ? extra : 0;
}

/* Per rank that owns a slice, g = ceil(n / S) chunks, k ranks, m slices:
 * 3 waits per chunk, and bytes read or written: copy in all but its own
 * slice 2n(m-1)/m, read k slices of n/m, write its slice twice (recvbuf and
 * slot), copy the other m-1 slices out (read and write). With k = m = p
 * this is shm's large path. */
double tcoll__cost_shm_sliced(const tcoll_comm *c, const tcoll_call *call, int ranks, int slices) {
  const double k = ranks, m = slices, n = (double)call->bytes;
  const double chunks = ceil(n / (double)c->shm_chunk_bytes);
  const double traffic = 2 * n * (m - 1) / m + k * n / m + 2 * n / m + 2 * n * (m - 1) / m;
  return 3 * chunks * TCOLL_SHM_WAIT_SECONDS + traffic * TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE +
         (k - 1) / m * n * tcoll__shm_conversion_seconds_per_byte(c, call);
}

void tcoll__shm_copy_in(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes, size_t hole,
                        size_t hole_bytes) {
  tcoll__shm_publish_around(s, chunk, src, bytes, hole, hole_bytes);
  tcoll__shm_wait_all(s, TCOLL_SHM_WRITTEN, chunk + 1);
  /* every rank wrote this chunk, so each had consumed all before it */
  tcoll__shm_note_consumed(s, chunk);
}

void tcoll__shm_reduce_slots(const tcoll_shm *s, const tcoll_call *call, uint64_t chunk, size_t first, size_t n,
                             void *out) {
  const size_t es = call->elem_size;
  if (s->size == 1) { /* a node of one rank (hierarchical): its input is the sum */
    memcpy(out, tcoll__shm_slot(s, 0, chunk) + first * es, n * es);
    return;
  }
  tcoll__reduce(call->dtype, call->op, out, tcoll__shm_slot(s, 0, chunk) + first * es,
                tcoll__shm_slot(s, 1, chunk) + first * es, n);
  for (int q = 2; q < s->size; q++)
    tcoll__reduce(call->dtype, call->op, out, out, tcoll__shm_slot(s, q, chunk) + first * es, n);
}

typedef struct {
  const tcoll_shm *s;
  uint64_t chunk;
  size_t byte_offset; /* of the piece within the chunk */
} slot_piece;

/* Rank q's operand of one piece of this rank's slice: its slot, in place. */
static const void *slot_operand(void *arg, int q, void *buf) {
  (void)buf;
  const slot_piece *x = arg;
  return tcoll__shm_slot(x->s, q, x->chunk) + x->byte_offset;
}

/* out = this rank's slice [first, first + n) of the chunk, reduced in rank
 * order from the other ranks' slots and its own input `own` (which may be
 * out: in place), in pieces of one scratch part so that the out and own
 * lines of a piece stay in L2 across the p - 1 passes. */
static void reduce_own_slice(const tcoll_shm *s, const tcoll_call *call, uint64_t chunk, size_t first, size_t n,
                             const unsigned char *own, unsigned char *out) {
  const size_t es = call->elem_size, piece = TCOLL_SHM_SCRATCH_PART / es;
  if (s->size == 1) { /* a node of one rank (hierarchical): its input is the sum */
    if (out != own) memcpy(out, own, n * es);
    return;
  }
  for (size_t done = 0; done < n; done += piece) {
    const size_t m = n - done < piece ? n - done : piece;
    slot_piece x = {s, chunk, (first + done) * es};
    tcoll__shm_reduce_rank_order(s, call, m, out + done * es, own + done * es, slot_operand, &x);
  }
}

/* One chunk of `n` elements starting at element `offset` of the vector. A
 * slice owner leaves its own slice out of its slot at copy-in (nobody else
 * reads it there) and reduces it from its input directly: per rank 4n bytes
 * of traffic at 2 ranks instead of 5n. */
static void sliced_chunk(tcoll_shm *s, const tcoll_call *call, int slices, size_t offset, size_t n) {
  const size_t es = call->elem_size;
  const int me = s->rank;
  const uint64_t chunk = s->next_chunk++;
  const unsigned char *in = (const unsigned char *)call->sendbuf + offset * es;
  unsigned char *out = (unsigned char *)call->recvbuf + offset * es;
  const bool owner = me < slices;
  const size_t mine = owner ? tcoll__block_offset(n, slices, me) : 0;
  const size_t mine_n = owner ? tcoll__block_count(n, slices, me) : 0;
  tcoll__shm_copy_in(s, chunk, in, n * es, mine * es, mine_n * es);
  if (mine_n > 0) {
    reduce_own_slice(s, call, chunk, mine, mine_n, in + mine * es, out + mine * es);
    if (s->size > 1) memcpy(tcoll__shm_slot(s, me, chunk) + mine * es, out + mine * es, mine_n * es);
  }
  tcoll__shm_signal(s, TCOLL_SHM_REDUCED, chunk + 1);
  tcoll__shm_wait_all(s, TCOLL_SHM_REDUCED, chunk + 1);
  for (int q = 0; q < slices; q++) {
    if (q == me) continue;
    const size_t first = tcoll__block_offset(n, slices, q);
    memcpy(out + first * es, tcoll__shm_slot(s, q, chunk) + first * es, tcoll__block_count(n, slices, q) * es);
  }
  tcoll__shm_signal(s, TCOLL_SHM_CONSUMED, chunk + 1);
}

tcoll_status tcoll__shm_sliced_allreduce(tcoll_shm *s, const tcoll_call *call, int slices) {
  const size_t chunk_elems = s->chunk_bytes / call->elem_size;
  for (size_t offset = 0; offset < call->count; offset += chunk_elems)
    sliced_chunk(s, call, slices, offset, call->count - offset < chunk_elems ? call->count - offset : chunk_elems);
  return TCOLL_OK;
}
