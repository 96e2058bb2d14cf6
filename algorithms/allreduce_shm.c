/*
 * allreduce shm: through a segment shared by the ranks of one node (shm.h),
 * synchronised by C11 acquire/release counters, no MPI call in the data path.
 *
 * Large messages go in chunks of S = TCOLL_SHM_CHUNK_BYTES, each in three
 * phases separated by "every rank got here" waits:
 *
 *   1 copy in:  each rank copies chunk c of its input into its slot c % 2
 *   2 reduce:   rank r reduces slice r of the chunk (blocks of pattern_blocks)
 *               over all p slots, in rank order 0, 1, .., p-1, into its
 *               recvbuf and back into its own slot
 *   3 copy out: each rank copies every other rank's reduced slice from that
 *               rank's slot into its recvbuf
 *
 * Two slots per rank let a fast rank copy in chunk c+1 while others still
 * copy out chunk c. The default chunk, 512 KiB, was the fastest of 256 KiB to
 * 4 MiB at 2 and 8 MiB here (docs/benchmarks.md): smaller chunks pay more
 * waits and bounce lines between the cores, larger ones fall out of L3.
 * Messages up to SMALL_MESSAGE_BYTES skip the slicing: every rank copies in,
 * then reduces the whole message itself in rank order (2 waits, not 3).
 * Either way each element is reduced in the same order everywhere, so every
 * rank holds the same bits.
 *
 * Cost, n bytes, g = ceil(n / S) chunks, a and b the two constants below:
 *   small: 2 a + (2n + p n) b
 *   large: 3 g a + (2n + n + 2n/p + 2n(p-1)/p) b
 * where the b term counts the bytes each rank reads and writes: small, copy
 * in and read all p slots; large, copy in, read the p parts of its slice,
 * write the slice twice, copy the rest out. For integers and float32/64 the
 * reduction is memory-bound, so its arithmetic hides under that traffic;
 * what does not hide is the widening and rounding of 16-bit floats, charged
 * as their class's γ beyond the float class's, per element-pair reduced
 * (n (p-1)/p bytes large, n (p-1) small).
 * Needs: every rank on one node (a shared segment); check() declines
 * otherwise, with the reason recorded when the segment was set up.
 */
#include <math.h>
#include <string.h>

#include "patterns.h"
#include "shm.h"

/* Up to here one flag round costs more than reducing the whole message. */
#define SMALL_MESSAGE_BYTES 8192

/* Measured here (MACHINE-FACTS): a release/acquire counter seen by the other
 * core in ~0.1 µs; ~20 GB/s of read+write traffic per core with both busy. */
static const double shm_wait_seconds = 0.1e-6;
static const double shm_traffic_seconds_per_byte = 1.0 / 20e9;

static bool shm_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)call;
  if (c->num_nodes > 1) return tcoll__decline(why, whylen, "ranks span %d nodes", c->num_nodes);
  if (c->size == 1 || c->shm) return true;
  return tcoll__decline(why, whylen, "no shared segment: %s", c->shm_unavailable);
}

/* Seconds per reduced byte that the memory traffic does not hide (see the
 * header): 0 for the classes whose arithmetic is at least as fast as
 * float's. */
static double conversion_seconds_per_byte(const tcoll_comm *c, const tcoll_call *call) {
  const double extra = c->model.gamma[tcoll__gamma_class(call->dtype)] - c->model.gamma[TCOLL_GAMMA_FLOAT];
  return extra > 0 ? extra : 0;
}

static double shm_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  const double convert = conversion_seconds_per_byte(c, call);
  if (call->bytes <= SMALL_MESSAGE_BYTES)
    return 2 * shm_wait_seconds + (2 * n + p * n) * shm_traffic_seconds_per_byte + (p - 1) * n * convert;
  const double chunks = ceil(n / (double)c->shm_chunk_bytes);
  const double traffic = 2 * n + n + 2 * n / p + 2 * n * (p - 1) / p;
  return 3 * chunks * shm_wait_seconds + traffic * shm_traffic_seconds_per_byte + (p - 1) / p * n * convert;
}

/* Waits until slot (chunk % 2) is free on every rank, then publishes this
 * rank's part of the chunk in it. */
static void copy_in(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes) {
  tcoll__shm_wait_all(s, TCOLL_SHM_CONSUMED, chunk >= 1 ? chunk - 1 : 0);
  memcpy(tcoll__shm_slot(s, s->rank, chunk), src, bytes);
  tcoll__shm_signal(s, TCOLL_SHM_WRITTEN, chunk + 1);
  tcoll__shm_wait_all(s, TCOLL_SHM_WRITTEN, chunk + 1);
}

/* out = slot[0] op slot[1] op ... op slot[p-1] over [first, first + n)
 * elements of the chunk: the same order on every rank. */
static void reduce_slots(const tcoll_shm *s, const tcoll_call *call, uint64_t chunk, size_t first,
                         size_t n, void *out) {
  const size_t es = call->elem_size;
  tcoll__reduce(call->dtype, call->op, out, tcoll__shm_slot(s, 0, chunk) + first * es,
                tcoll__shm_slot(s, 1, chunk) + first * es, n);
  for (int q = 2; q < s->size; q++)
    tcoll__reduce(call->dtype, call->op, out, out, tcoll__shm_slot(s, q, chunk) + first * es, n);
}

static void run_small(tcoll_shm *s, const tcoll_call *call) {
  const uint64_t chunk = s->next_chunk++;
  copy_in(s, chunk, call->sendbuf, call->bytes);
  reduce_slots(s, call, chunk, 0, call->count, call->recvbuf);
  tcoll__shm_signal(s, TCOLL_SHM_REDUCED, chunk + 1);
  tcoll__shm_signal(s, TCOLL_SHM_CONSUMED, chunk + 1);
}

/* One chunk of `n` elements starting at element `offset` of the vector. */
static void run_chunk(tcoll_shm *s, const tcoll_call *call, size_t offset, size_t n) {
  const size_t es = call->elem_size;
  const int p = s->size, me = s->rank;
  const uint64_t chunk = s->next_chunk++;
  unsigned char *out = (unsigned char *)call->recvbuf + offset * es;
  copy_in(s, chunk, (const unsigned char *)call->sendbuf + offset * es, n * es);
  const size_t mine = tcoll__block_offset(n, p, me), mine_n = tcoll__block_count(n, p, me);
  if (mine_n > 0) {
    reduce_slots(s, call, chunk, mine, mine_n, out + mine * es);
    memcpy(tcoll__shm_slot(s, me, chunk) + mine * es, out + mine * es, mine_n * es);
  }
  tcoll__shm_signal(s, TCOLL_SHM_REDUCED, chunk + 1);
  tcoll__shm_wait_all(s, TCOLL_SHM_REDUCED, chunk + 1);
  for (int q = 0; q < p; q++) {
    if (q == me) continue;
    const size_t first = tcoll__block_offset(n, p, q);
    memcpy(out + first * es, tcoll__shm_slot(s, q, chunk) + first * es, tcoll__block_count(n, p, q) * es);
  }
  tcoll__shm_signal(s, TCOLL_SHM_CONSUMED, chunk + 1);
}

static tcoll_status shm_run(tcoll_comm *c, const tcoll_call *call) {
  tcoll_shm *s = c->shm;
  if (c->size == 1) {
    tcoll__copy_to_recv(call);
    return TCOLL_OK;
  }
  if (call->bytes <= SMALL_MESSAGE_BYTES && call->bytes <= s->chunk_bytes) {
    run_small(s, call);
    return TCOLL_OK;
  }
  const size_t chunk_elems = s->chunk_bytes / call->elem_size;
  for (size_t offset = 0; offset < call->count; offset += chunk_elems)
    run_chunk(s, call, offset, call->count - offset < chunk_elems ? call->count - offset : chunk_elems);
  return TCOLL_OK;
}

const tcoll_algorithm tcoll__allreduce_shm = {
    .name = "shm",
    .coll = TCOLL_ALLREDUCE,
    .summary = "shared-memory segment, chunked copy-in / sliced reduce / copy-out, no MPI in the data path",
    .check = shm_check,
    .cost = shm_cost,
    .run = shm_run,
};
