/*
 * bcast shm: through the segment shared by the ranks of one node (shm.h),
 * synchronised by its C11 acquire/release counters, no MPI call in the data
 * path. Only the root's two slots carry data.
 *
 * The vector goes in chunks of S = TCOLL_SHM_CHUNK_BYTES; chunk c (the
 * segment's sequence number, advanced identically on every rank):
 *
 *   root:    wait until every rank consumed chunk c-2 (slot c % 2 is free),
 *            copy chunk c into its slot c % 2, written = c+1, consumed = c+1
 *   others:  wait for the root's written >= c+1, copy the chunk out of the
 *            root's slot, consumed = c+1
 *
 *   p = 3, root 1, 3 chunks:   root   in0 in1 . in2
 *                              r0, r2     out0 out1 out2
 *
 * The two slots pipeline: the root copies chunk c+1 in while the others copy
 * chunk c out. A message of one chunk is the latency path: one wait on one
 * counter per receiver and nothing else. Ranks that take no part in a phase
 * still advance the shared sequence (every rank signals consumed for every
 * chunk), so calls of bcast, reduce and allreduce shm interleave on one
 * segment: a counter only grows and a wait asks for ">= this chunk".
 *
 * Cost, n bytes, g = ceil(n / S) chunks, a and b the
 * shm constants of shm.h:
 *   g a + (2n + 2 min(n, S)) b
 * the receivers' copy-out (read n, write n), plus the root's copy-in of the
 * first chunk before which nothing can be read (pipeline fill). The
 * receivers read the same slot at once from the shared L3, so p does not
 * appear (on this 2-core machine p > 2 is oversubscribed: a correctness
 * setting, not a performance one).
 * Needs: every rank on one node (a shared segment); check() declines
 * otherwise, with the reason recorded when the segment was set up.
 */
#include <math.h>
#include <string.h>

#include "patterns.h"
#include "shm.h"

static bool shm_check(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)call;
  return tcoll__shm_check(c, why, whylen);
}

static double shm_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double n = (double)call->bytes, chunk = (double)c->shm_chunk_bytes;
  const double chunks = fmax(1.0, ceil(n / chunk));
  return chunks * TCOLL_SHM_WAIT_SECONDS + (2 * n + 2 * fmin(n, chunk)) * TCOLL_SHM_TRAFFIC_SECONDS_PER_BYTE;
}

static void root_chunks(tcoll_shm *s, const unsigned char *buf, size_t bytes) {
  for (size_t off = 0; off < bytes; off += s->chunk_bytes) {
    const uint64_t chunk = s->next_chunk++;
    const size_t n = bytes - off < s->chunk_bytes ? bytes - off : s->chunk_bytes;
    tcoll__shm_publish(s, chunk, buf + off, n);
    tcoll__shm_signal(s, TCOLL_SHM_CONSUMED, chunk + 1); /* reads nothing */
  }
}

static void receiver_chunks(tcoll_shm *s, int root, unsigned char *buf, size_t bytes) {
  for (size_t off = 0; off < bytes; off += s->chunk_bytes) {
    const uint64_t chunk = s->next_chunk++;
    const size_t n = bytes - off < s->chunk_bytes ? bytes - off : s->chunk_bytes;
    tcoll__shm_wait_one(s, root, TCOLL_SHM_WRITTEN, chunk + 1);
    memcpy(buf + off, tcoll__shm_slot(s, root, chunk), n);
    tcoll__shm_signal(s, TCOLL_SHM_CONSUMED, chunk + 1);
  }
}

static tcoll_status shm_run(tcoll_comm *c, const tcoll_call *call) {
  if (c->size == 1) return TCOLL_OK;
  if (c->rank == call->root) root_chunks(c->shm, call->recvbuf, call->bytes);
  else receiver_chunks(c->shm, call->root, call->recvbuf, call->bytes);
  return TCOLL_OK;
}

const tcoll_algorithm tcoll__bcast_shm = {
    .name = "shm",
    .coll = TCOLL_BCAST,
    .summary = "shared-memory segment, root copies chunks in, the others copy out; two slots pipeline",
    .check = shm_check,
    .cost = shm_cost,
    .run = shm_run,
};
