/* The shared segment behind the shm algorithms; see shm.h. */
#include "shm.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Control block rounded to a cache line, then the two slots. */
static size_t control_bytes(void) { return (sizeof(tcoll_shm_control) + 63) & ~(size_t)63; }

void tcoll__shm_signal(tcoll_shm *s, int counter, uint64_t value) {
  atomic_store_explicit(&s->control[s->rank]->counter[counter].value, value, memory_order_release);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

void tcoll__shm_wait_all(const tcoll_shm *s, int counter, uint64_t value) {
  for (int q = 0; q < s->size; q++) {
    const _Atomic uint64_t *v = &s->control[q]->counter[counter].value;
    /* a few hundred pauses cover the usual skew between two busy cores;
     * past that another process probably needs this core */
    for (unsigned spins = 0; atomic_load_explicit(v, memory_order_acquire) < value; spins++) {
      if (spins < 512) cpu_relax();
      else sched_yield();
    }
  }
}

static void unavailable(tcoll_comm *c, const char *why) {
  snprintf(c->shm_unavailable, sizeof c->shm_unavailable, "%s", why);
}

tcoll_status tcoll__shm_setup(tcoll_comm *c) {
  tcoll_shm *s = NULL;
  tcoll_status status = TCOLL_OK;
  if (c->num_nodes > 1) {
    snprintf(c->shm_unavailable, sizeof c->shm_unavailable, "ranks span %d nodes", c->num_nodes);
    return TCOLL_OK;
  }
  if (c->size == 1) return TCOLL_OK; /* nothing to share; the algorithm copies */
  s = calloc(1, sizeof *s);
  if (s) {
    s->control = calloc((size_t)c->size, sizeof *s->control);
    s->slots = calloc((size_t)c->size, sizeof *s->slots);
  }
  int ok = s && s->control && s->slots;
  if (s) {
    s->node_comm = MPI_COMM_NULL;
    s->win = MPI_WIN_NULL;
    s->size = c->size;
    s->rank = c->rank;
    s->chunk_bytes = c->shm_chunk_bytes;
  }
  /* Every rank must agree before any collective step can fail on one. */
  int all_ok = 0;
  int err = MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, c->mpi);
  if (err != MPI_SUCCESS) {
    status = tcoll__mpi_error(err, "MPI_Allreduce(shared segment)");
    goto fail;
  }
  if (!all_ok) {
    unavailable(c, "out of memory for the segment tables");
    goto fail;
  }
  /* One node (checked above), so the shared split is the whole communicator;
   * ordering by rank keeps node ranks equal to communicator ranks. */
  err = MPI_Comm_split_type(c->mpi, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &s->node_comm);
  if (err != MPI_SUCCESS) {
    status = tcoll__mpi_error(err, "MPI_Comm_split_type(shared segment)");
    goto fail;
  }
  MPI_Info info;
  MPI_Info_create(&info);
  /* each rank's part in its own pages, so first touch puts it near its owner */
  MPI_Info_set(info, "alloc_shared_noncontig", "true");
  void *base = NULL;
  const size_t bytes = control_bytes() + 2 * s->chunk_bytes;
  err = MPI_Win_allocate_shared((MPI_Aint)bytes, 1, info, s->node_comm, &base, &s->win);
  MPI_Info_free(&info);
  ok = err == MPI_SUCCESS;
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, c->mpi);
  if (!ok) {
    if (err == MPI_SUCCESS) MPI_Win_free(&s->win);
    s->win = MPI_WIN_NULL;
    unavailable(c, "MPI_Win_allocate_shared failed");
    goto fail;
  }
  MPI_Win_set_errhandler(s->win, MPI_ERRORS_RETURN);
  memset(base, 0, control_bytes()); /* counters start at 0 */
  for (int q = 0; q < s->size; q++) {
    MPI_Aint qsize;
    int disp;
    void *qbase;
    err = MPI_Win_shared_query(s->win, q, &qsize, &disp, &qbase);
    if (err != MPI_SUCCESS) {
      status = tcoll__mpi_error(err, "MPI_Win_shared_query");
      goto fail;
    }
    s->control[q] = qbase;
    s->slots[q] = (unsigned char *)qbase + control_bytes();
  }
  /* nobody reads a counter before every owner has zeroed it */
  err = MPI_Barrier(c->mpi);
  if (err != MPI_SUCCESS) {
    status = tcoll__mpi_error(err, "MPI_Barrier(shared segment)");
    goto fail;
  }
  c->shm = s;
  return TCOLL_OK;
fail:
  c->shm = s;
  tcoll__shm_free(c);
  return status;
}

void tcoll__shm_free(tcoll_comm *c) {
  tcoll_shm *s = c->shm;
  if (!s) return;
  if (s->win != MPI_WIN_NULL) MPI_Win_free(&s->win);
  if (s->node_comm != MPI_COMM_NULL) MPI_Comm_free(&s->node_comm);
  free(s->control);
  free(s->slots);
  free(s);
  c->shm = NULL;
}
