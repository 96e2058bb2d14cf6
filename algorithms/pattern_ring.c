/*
 * Ring schedules over all p ranks, on the partition of the vector into p
 * blocks (pattern_blocks.c). Rank r sends to r+1 and receives from r-1.
 *
 * Reduce-scatter, p = 3 (Bk = block k; "+" marks the partial sums):
 *
 *   step 0: r0 sends B2 -> r1   r1 sends B0 -> r2   r2 sends B1 -> r0
 *           r0 has B1+ r1 has B2+ r2 has B0+         (received + own)
 *   step 1: r0 sends B1+ -> r1  r1 sends B2+ -> r2  r2 sends B0+ -> r0
 *           r0 has B0 done, r1 has B1 done, r2 has B2 done
 *
 * At step k rank r sends block (r-k-1) mod p and receives block (r-k-2) mod p,
 * so after p-1 steps it holds block r (the reduce_scatter convention).
 * Each block travels in segments: the receive of segment s+1 is posted
 * before segment s is reduced, so the transfer of the next segment overlaps
 * the reduction of this one, and scratch stays two segments long.
 *
 * Allgather: at step k rank r sends block (r-k) and receives block (r-k-1).
 *
 * The _group versions run the same schedule over a list of member ranks
 * (patterns.h, tcoll_group): member i plays rank i. The hierarchical
 * allreduce uses them among the ranks that own one slice on every node.
 */
#include "patterns.h"

static int mod(int a, int p) { return ((a % p) + p) % p; }

/* One reduce-scatter step: send `send_n` elements at sbuf to the right,
 * receive `recv_n` from the left and reduce them with own[] into out[]. */
static tcoll_status ring_step_reduce(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call,
                                     const void *sbuf, size_t send_n, const void *own, void *out,
                                     size_t recv_n, void *tmp[2], size_t seg_n) {
  const size_t es = call->elem_size;
  const int right = tcoll__group_rank(g, mod(g->me + 1, g->n)), left = tcoll__group_rank(g, mod(g->me - 1, g->n));
  const int tag = g->tag;
  const size_t send_segs = (send_n + seg_n - 1) / seg_n, recv_segs = (recv_n + seg_n - 1) / seg_n;
  const size_t segs = send_segs > recv_segs ? send_segs : recv_segs;
  MPI_Request rreq[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL}, sreq = MPI_REQUEST_NULL;
  tcoll_status status = TCOLL_OK;
  int err = MPI_SUCCESS;
#define SEG_LEN(total, s) ((total) - (s) * seg_n < seg_n ? (total) - (s) * seg_n : seg_n)
  if (recv_segs > 0)
    err = MPI_Irecv(tmp[0], (int)(SEG_LEN(recv_n, 0) * es), MPI_BYTE, left, tag, c->mpi, &rreq[0]);
  for (size_t s = 0; s < segs && err == MPI_SUCCESS; s++) {
    if (s + 1 < recv_segs) {
      err = MPI_Irecv(tmp[(s + 1) % 2], (int)(SEG_LEN(recv_n, s + 1) * es), MPI_BYTE, left, tag,
                      c->mpi, &rreq[(s + 1) % 2]);
      if (err != MPI_SUCCESS) break;
    }
    if (s < send_segs) {
      err = MPI_Isend(tcoll__cat(sbuf, s * seg_n, es), (int)(SEG_LEN(send_n, s) * es), MPI_BYTE, right,
                      tag, c->mpi, &sreq);
      if (err != MPI_SUCCESS) break;
    }
    if (s < recv_segs) {
      err = MPI_Wait(&rreq[s % 2], MPI_STATUS_IGNORE);
      if (err != MPI_SUCCESS) break;
      tcoll__reduce(call->dtype, call->op, tcoll__at(out, s * seg_n, es),
                    tcoll__cat(own, s * seg_n, es), tmp[s % 2], SEG_LEN(recv_n, s));
    }
    if (s < send_segs) err = MPI_Wait(&sreq, MPI_STATUS_IGNORE);
  }
#undef SEG_LEN
  if (err != MPI_SUCCESS) {
    status = tcoll__mpi_error(err, "ring reduce-scatter step");
    /* Do not leave requests pointing into buffers the caller may free. */
    for (int i = 0; i < 2; i++)
      if (rreq[i] != MPI_REQUEST_NULL) {
        MPI_Cancel(&rreq[i]);
        MPI_Request_free(&rreq[i]);
      }
  }
  return status;
}

tcoll_status tcoll__ring_reduce_scatter(tcoll_comm *c, const tcoll_call *call, const void *contrib,
                                        void *acc) {
  const tcoll_group all = tcoll__group_all(c);
  return tcoll__ring_reduce_scatter_group(c, &all, call, contrib, acc);
}

tcoll_status tcoll__ring_reduce_scatter_group(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call,
                                              const void *contrib, void *acc) {
  const int p = g->n, r = g->me;
  const size_t es = call->elem_size;
  if (p == 1) return TCOLL_OK;
  size_t seg_n = c->segment_bytes / es;
  if (seg_n == 0) seg_n = 1;
  /* never more scratch than the largest block needs */
  size_t largest = tcoll__block_count(call->count, p, 0);
  if (seg_n > largest && largest > 0) seg_n = largest;
  void *scratch = NULL, *tmp[2];
  tcoll_status s = tcoll__scratch(c, 2 * seg_n * es, &scratch);
  if (s != TCOLL_OK) return s;
  tmp[0] = scratch;
  tmp[1] = tcoll__at(scratch, seg_n, es);
  for (int k = 0; k < p - 1; k++) {
    int sb = mod(r - k - 1, p), rb = mod(r - k - 2, p);
    /* the block sent at step 0 is untouched input; later it is the partial
     * sum this rank produced at the previous step */
    const void *sbase = (k == 0) ? contrib : acc;
    size_t soff = tcoll__block_offset(call->count, p, sb), roff = tcoll__block_offset(call->count, p, rb);
    s = ring_step_reduce(c, g, call, tcoll__cat(sbase, soff, es), tcoll__block_count(call->count, p, sb),
                         tcoll__cat(contrib, roff, es), tcoll__at(acc, roff, es),
                         tcoll__block_count(call->count, p, rb), tmp, seg_n);
    if (s != TCOLL_OK) return s;
  }
  return TCOLL_OK;
}

tcoll_status tcoll__ring_allgather(tcoll_comm *c, const tcoll_call *call, void *buf) {
  const tcoll_group all = tcoll__group_all(c);
  return tcoll__ring_allgather_group(c, &all, call, buf);
}

tcoll_status tcoll__ring_allgather_group(tcoll_comm *c, const tcoll_group *g, const tcoll_call *call,
                                         void *buf) {
  const int p = g->n, r = g->me;
  const size_t es = call->elem_size;
  for (int k = 0; k < p - 1; k++) {
    int sb = mod(r - k, p), rb = mod(r - k - 1, p);
    tcoll_status s = tcoll__sendrecv_tag(
        c, tcoll__at(buf, tcoll__block_offset(call->count, p, sb), es),
        tcoll__block_count(call->count, p, sb) * es, tcoll__group_rank(g, mod(r + 1, p)),
        tcoll__at(buf, tcoll__block_offset(call->count, p, rb), es),
        tcoll__block_count(call->count, p, rb) * es, tcoll__group_rank(g, mod(r - 1, p)), g->tag);
    if (s != TCOLL_OK) return s;
  }
  return TCOLL_OK;
}
