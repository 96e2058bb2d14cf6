/*
 * The data path through a shared segment (src/shm.h), shared by the shm
 * allreduce and the hierarchical one on a single node (every rank a
 * slice). Across nodes the hierarchical allreduce runs its own pipelined
 * schedule on the same primitives (allreduce_hierarchical.c).
 *
 * One chunk, three phases separated by "every rank got here" waits on the
 * segment's monotonic counters:
 *
 *   1 copy in:  each rank copies chunk c of its input into its slot c % 2
 *   2 reduce:   rank i < slices reduces slice i of the chunk over all slots,
 *               in rank order, into its recvbuf, and writes it back
 *               into its own slot
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
 * 3 waits per chunk, and bytes read or written: copy in 2n, read k slices
 * of n/m, write its slice twice (recvbuf and slot), copy the other m-1
 * slices out (read and write). With k = m = p this is shm's large path. */
double tcoll__cost_shm_sliced(const tcoll_comm *c, const tcoll_call *call, int ranks, int slices) {
  const double k = ranks, m = slices, n = (double)call->bytes;
  const double chunks = ceil(n / (double)c->shm_chunk_bytes);
  const double traffic = 2 * n + k * n / m + 2 * n / m + 2 * n * (m - 1) / m;
  return 3 * chunks * TCOLL_SHM_WAIT_SECONDS + traffic * TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE +
         (k - 1) / m * n * tcoll__shm_conversion_seconds_per_byte(c, call);
}

void tcoll__shm_copy_in(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes) {
  tcoll__shm_publish(s, chunk, src, bytes);
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

/* One chunk of `n` elements starting at element `offset` of the vector. */
static void sliced_chunk(tcoll_shm *s, const tcoll_call *call, int slices, size_t offset, size_t n) {
  const size_t es = call->elem_size;
  const int me = s->rank;
  const uint64_t chunk = s->next_chunk++;
  unsigned char *out = (unsigned char *)call->recvbuf + offset * es;
  tcoll__shm_copy_in(s, chunk, (const unsigned char *)call->sendbuf + offset * es, n * es);
  if (me < slices) {
    const size_t mine = tcoll__block_offset(n, slices, me), mine_n = tcoll__block_count(n, slices, me);
    if (mine_n > 0) {
      tcoll__shm_reduce_slots(s, call, chunk, mine, mine_n, out + mine * es);
      memcpy(tcoll__shm_slot(s, me, chunk) + mine * es, out + mine * es, mine_n * es);
    }
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
