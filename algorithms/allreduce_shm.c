/*
 * allreduce shm: through a segment shared by the ranks of one node (shm.h),
 * synchronised by C11 acquire/release counters, no MPI call in the data path.
 *
 * Large messages go in chunks of S = TCOLL_SHM_CHUNK_BYTES, each in three
 * phases separated by "every rank got here" waits (algorithms/pattern_shm.c,
 * shared with the hierarchical allreduce):
 *
 *   1 copy in:  each rank copies chunk c of its input into its slot c % 2,
 *               except its own slice r, which nobody else reads
 *   2 reduce:   rank r reduces slice r of the chunk (blocks of pattern_blocks)
 *               over the other p - 1 slots and its own input, in rank order
 *               0, 1, .., p-1, into its recvbuf and into its own slot
 *   3 copy out: each rank copies every other rank's reduced slice from that
 *               rank's slot into its recvbuf
 *
 * Two slots per rank let a fast rank copy in chunk c+1 while others still
 * copy out chunk c. The default chunk, 512 KiB, was the fastest of 256 KiB to
 * 4 MiB at 2 and 8 MiB here (docs/benchmarks.md): smaller chunks pay more
 * waits and bounce lines between the cores, larger ones fall out of L3.
 * Messages up to TCOLL_SHM_LINES_CAPACITY (280 B) skip the slots and the
 * slicing: each rank writes its input into its lines, 56 bytes per 64-byte
 * line with the chunk's stamp in the same line (shm.h), then reads every
 * other rank's lines and reduces the whole message itself in rank order. One
 * cache-line transfer per line and no flag round: the slot path it replaced
 * paid a written flag, the data, and the next call's consumed flags, each a
 * transfer between the cores in turn (docs/benchmarks.md has both).
 * Either way each element is reduced in the same order everywhere, so every
 * rank holds the same bits.
 *
 * Cost, n bytes, g = ceil(n / S) chunks, a and b the two constants of
 * shm.h (TCOLL_SHM_WAIT_SECONDS, TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE):
 *   lines: a + (2n + 2(p-1)n + (2p-1)n) b
 *   large: 3 g a + (2n(p-1)/p + n + 2n/p + 2n(p-1)/p) b
 * where the b term counts the bytes each rank reads and writes: lines, write
 * its lines, copy the p-1 others' out, read p operands and write p-1
 * results; large, copy in all but its slice, read the p parts of its slice,
 * write the slice twice, copy the rest out. For integers and float32/64 the
 * reduction is memory-bound, so its arithmetic hides under that traffic;
 * what does not hide is the widening and rounding of 16-bit floats, charged
 * as their class's γ beyond the float class's, per element-pair reduced
 * (n (p-1)/p bytes large, n (p-1) on the lines).
 * Needs: every rank on one node (a shared segment); check() declines
 * otherwise, with the reason recorded when the segment was set up.
 */
#include "patterns.h"
#include "shm.h"

static bool shm_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)call;
  return tcoll__shm_check(c, why, whylen);
}

static double shm_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  if (call->bytes <= TCOLL_SHM_LINES_CAPACITY)
    return TCOLL_SHM_WAIT_SECONDS + (2 * n + 2 * (p - 1) * n + (2 * p - 1) * n) * TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE +
           (p - 1) * n * tcoll__shm_conversion_seconds_per_byte(c, call);
  return tcoll__cost_shm_sliced(c, call, c->size, c->size);
}

typedef struct {
  const tcoll_shm *s;
  uint64_t chunk;
  size_t bytes;
} lines_call;

/* Rank q's operand of a lines call: its lines, copied into buf. */
static const void *lines_operand(void *arg, int q, void *buf) {
  const lines_call *x = arg;
  tcoll__shm_read_lines(x->s, q, x->chunk, buf, x->bytes);
  return buf;
}

static void run_lines(tcoll_shm *s, const tcoll_call *call) {
  lines_call x = {s, s->next_chunk++, call->bytes};
  tcoll__shm_publish_lines(s, x.chunk, call->sendbuf, call->bytes);
  tcoll__shm_reduce_rank_order(s, call, call->count, call->recvbuf, call->sendbuf, lines_operand, &x);
  tcoll__shm_lines_done(s, x.chunk);
}

static tcoll_status shm_run(tcoll_comm *c, const tcoll_call *call) {
  tcoll_shm *s = c->shm;
  if (c->size == 1) {
    tcoll__copy_to_recv(call);
    return TCOLL_OK;
  }
  if (call->bytes <= TCOLL_SHM_LINES_CAPACITY) {
    run_lines(s, call);
    return TCOLL_OK;
  }
  return tcoll__shm_sliced_allreduce(s, call, c->size);
}

const tcoll_algorithm tcoll__allreduce_shm = {
    .name = "shm",
    .coll = TCOLL_ALLREDUCE,
    .summary = "shared-memory segment, chunked copy-in / sliced reduce / copy-out, no MPI in the data path",
    .check = shm_check,
    .cost = shm_cost,
    .run = shm_run,
};
