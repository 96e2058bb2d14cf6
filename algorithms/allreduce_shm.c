/*
 * allreduce shm: through a segment shared by the ranks of one node (shm.h),
 * synchronised by C11 acquire/release counters, no MPI call in the data path.
 *
 * Large messages go in chunks of S = TCOLL_SHM_CHUNK_BYTES, each in three
 * phases separated by "every rank got here" waits (algorithms/pattern_shm.c,
 * shared with the hierarchical allreduce):
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
 * Cost, n bytes, g = ceil(n / S) chunks, a and b the two constants of
 * shm.h (TCOLL_SHM_WAIT_SECONDS, TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE):
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
#include "patterns.h"
#include "shm.h"

/* Up to here one flag round costs more than reducing the whole message. */
#define SMALL_MESSAGE_BYTES 8192

static bool shm_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)call;
  return tcoll__shm_check(c, why, whylen);
}

static double shm_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  if (call->bytes <= SMALL_MESSAGE_BYTES)
    return 2 * TCOLL_SHM_WAIT_SECONDS + (2 * n + p * n) * TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE +
           (p - 1) * n * tcoll__shm_conversion_seconds_per_byte(c, call);
  return tcoll__cost_shm_sliced(c, call, c->size, c->size);
}

static void run_small(tcoll_shm *s, const tcoll_call *call) {
  const uint64_t chunk = s->next_chunk++;
  tcoll__shm_copy_in(s, chunk, call->sendbuf, call->bytes);
  tcoll__shm_reduce_slots(s, call, chunk, 0, call->count, call->recvbuf);
  tcoll__shm_signal(s, TCOLL_SHM_REDUCED, chunk + 1);
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
  return tcoll__shm_sliced_allreduce(c, s, call, c->size, NULL, NULL);
}

const tcoll_algorithm tcoll__allreduce_shm = {
    .name = "shm",
    .coll = TCOLL_ALLREDUCE,
    .summary = "shared-memory segment, chunked copy-in / sliced reduce / copy-out, no MPI in the data path",
    .check = shm_check,
    .cost = shm_cost,
    .run = shm_run,
};
