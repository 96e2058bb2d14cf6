/*
 * reduce shm: through the segment shared by the ranks of one node (shm.h),
 * synchronised by its C11 acquire/release counters, no MPI call in the data
 * path. allreduce shm's schedule, except that only the root copies out.
 *
 * Large messages go in chunks of S = TCOLL_SHM_CHUNK_BYTES; chunk c (the
 * segment's sequence number, advanced identically on every rank):
 *
 *   1 copy in:  each rank copies chunk c of its input into its slot c % 2
 *   2 reduce:   rank r reduces slice r of the chunk (blocks of pattern_blocks)
 *               over all p slots in rank order 0, 1, .., p-1: the root into
 *               its recvbuf, the others into slice r of rank 0's slot, which
 *               is the first operand and is read by nobody else
 *   3 copy out: the root copies the other slices out of rank 0's slot;
 *               the others are done with the chunk after phase 2
 *
 *   p = 3, root 2:  slot of r0 [A0|A1|A2]  r1 [B0|B1|B2]  r2 [C0|C1|C2]
 *                   r0: A0 = A0+B0+C0   r1: A1 = A1+B1+C1   r2: out2 = A2+B2+C2
 *                   r2: out0 = A0, out1 = A1
 *
 * Messages up to SMALL_MESSAGE_BYTES skip the slicing: every rank copies in
 * and the root reduces the whole message in rank order (2 waits at the root,
 * none elsewhere). Either way every element is reduced in the order of
 * allreduce shm, so reduce and allreduce shm give the same bits for the same
 * inputs. Ranks that take no part in a phase still signal it, so the counters
 * of every rank follow the one sequence and calls of bcast, reduce and
 * allreduce shm interleave on one segment.
 *
 * Cost, n bytes, g = ceil(n / S) chunks, a and b the shm constants of shm.h,
 * counted at the root (the others finish earlier):
 *   small: F + 2 (p-2) a + (2n + p n) b     (F = SMALL_FIXED_SECONDS, measured)
 *   large: 3 g a + (2n + n + 2n/p + 2n(p-1)/p) b
 * the b term counting the root's reads and writes: small, copy in and read
 * all p slots; large, copy in, read the p parts of its slice, write it, copy
 * the other slices out. The 16-bit floats' widening and rounding is charged
 * as in allreduce shm (their class's γ beyond the float class's, per
 * element-pair reduced: n (p-1) small, n (p-1)/p large).
 * Needs: every rank on one node (a shared segment); check() declines
 * otherwise, with the reason recorded when the segment was set up.
 */
#include <string.h>

#include "patterns.h"
#include "shm.h"

/* Up to here one flag round costs more than reducing the whole message at
 * the root (allreduce shm's threshold: the same trade). */
#define SMALL_MESSAGE_BYTES 8192

/* The root's fixed time per small call at p = 2, measured (tcoll-bench, 2
 * ranks, medians of 21 interleaved rounds, 3 runs, docs/benchmarks.md):
 * 0.42-0.53 µs at 8-32 B, against 0.17-0.31 µs for binomial_tree, whose
 * single eager message the root receives in one cache-line handoff, where
 * the root here waits for two counters and the slot of every other rank and
 * publishes its own. From 512 B on shm measured 2x faster. So 0.5 µs: with
 * the default l3 model (α = 0.4 µs, β + γ = 5.8e-10 s/B) binomial_tree wins
 * up to ~260 B, shm beyond. Each further rank adds its two lines (2 a). */
#define SMALL_FIXED_SECONDS 0.5e-6

static bool shm_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)call;
  return tcoll__shm_check(c, why, whylen);
}

/* The large path moves the root's bytes exactly as allreduce shm's does
 * (pattern_shm.c): its copy-out reads rank 0's slot instead of the owners'. */
static double shm_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double p = c->size, n = (double)call->bytes;
  if (call->bytes <= SMALL_MESSAGE_BYTES)
    return SMALL_FIXED_SECONDS + (p - 2) * 2 * TCOLL_SHM_WAIT_SECONDS +
           (2 * n + p * n) * TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE +
           (p - 1) * n * tcoll__shm_conversion_seconds_per_byte(c, call);
  return tcoll__cost_shm_sliced(c, call, c->size, c->size);
}

static void run_small(tcoll_shm *s, const tcoll_call *call) {
  const uint64_t chunk = s->next_chunk++;
  tcoll__shm_publish(s, chunk, call->sendbuf, call->bytes);
  if (s->rank == call->root) {
    tcoll__shm_wait_all(s, TCOLL_SHM_WRITTEN, chunk + 1);
    tcoll__shm_reduce_slots(s, call, chunk, 0, call->count, call->recvbuf);
  }
  tcoll__shm_signal(s, TCOLL_SHM_REDUCED, chunk + 1);
  tcoll__shm_signal(s, TCOLL_SHM_CONSUMED, chunk + 1);
}

/* One chunk of `n` elements starting at element `offset` of the vector. */
static void run_chunk(tcoll_shm *s, const tcoll_call *call, size_t offset, size_t n) {
  const size_t es = call->elem_size;
  const int p = s->size, me = s->rank;
  const bool root = me == call->root;
  const uint64_t chunk = s->next_chunk++;
  unsigned char *out = root ? (unsigned char *)call->recvbuf + offset * es : NULL;
  unsigned char *acc = tcoll__shm_slot(s, 0, chunk); /* the non-roots' results */
  tcoll__shm_publish(s, chunk, (const unsigned char *)call->sendbuf + offset * es, n * es);
  tcoll__shm_wait_all(s, TCOLL_SHM_WRITTEN, chunk + 1);
  const size_t mine = tcoll__block_offset(n, p, me), mine_n = tcoll__block_count(n, p, me);
  if (mine_n > 0) tcoll__shm_reduce_slots(s, call, chunk, mine, mine_n, (root ? out : acc) + mine * es);
  tcoll__shm_signal(s, TCOLL_SHM_REDUCED, chunk + 1);
  if (root) {
    tcoll__shm_wait_all(s, TCOLL_SHM_REDUCED, chunk + 1);
    for (int q = 0; q < p; q++) {
      if (q == me) continue;
      const size_t first = tcoll__block_offset(n, p, q);
      memcpy(out + first * es, acc + first * es, tcoll__block_count(n, p, q) * es);
    }
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

const tcoll_algorithm tcoll__reduce_shm = {
    .name = "shm",
    .coll = TCOLL_REDUCE,
    .summary = "shared-memory segment, chunked copy-in / sliced reduce / root copies out, no MPI in the data path",
    .check = shm_check,
    .cost = shm_cost,
    .run = shm_run,
};
