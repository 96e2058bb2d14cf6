/* The shared segment behind the shm algorithms; see shm.h. */
#include "shm.h"

#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

/* Every set-up step ends here: the ranks agree on whether all of them
 * succeeded, so that none goes on to a collective (or frees one) alone. An
 * MPI failure of the agreement itself counts as failure. */
static int all_agree(tcoll_comm *c, int ok) {
  int all = 0;
  if (MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, c->mpi) != MPI_SUCCESS) return 0;
  return all;
}

tcoll_status tcoll__shm_setup(tcoll_comm *c) {
  if (c->num_nodes > 1) {
    snprintf(c->shm_unavailable, sizeof c->shm_unavailable, "ranks span %d nodes", c->num_nodes);
    return TCOLL_OK;
  }
  if (c->size == 1) return TCOLL_OK; /* nothing to share; the algorithm copies */
  tcoll_shm *s = calloc(1, sizeof *s);
  if (s) {
    s->node_comm = MPI_COMM_NULL;
    s->win = MPI_WIN_NULL;
    s->size = c->size;
    s->rank = c->rank;
    s->chunk_bytes = c->shm_chunk_bytes;
    s->control = calloc((size_t)c->size, sizeof *s->control);
    s->slots = calloc((size_t)c->size, sizeof *s->slots);
  }
  c->shm = s; /* so that tcoll__shm_free can undo a partial set-up */
  if (!all_agree(c, s && s->control && s->slots)) {
    unavailable(c, "out of memory for the segment tables");
    goto fail;
  }
  /* The chunk size shapes every call's schedule: ranks must agree on it. */
  unsigned long long chunk[2] = {c->shm_chunk_bytes, ~(unsigned long long)c->shm_chunk_bytes};
  if (MPI_Allreduce(MPI_IN_PLACE, chunk, 2, MPI_UNSIGNED_LONG_LONG, MPI_MAX, c->mpi) != MPI_SUCCESS ||
      chunk[0] != ~chunk[1]) {
    unavailable(c, "TCOLL_SHM_CHUNK_BYTES differs between ranks");
    goto fail;
  }
  /* num_nodes == 1 may be emulated (TCOLL_RANKS_PER_NODE >= size) on a job
   * that really spans hosts: only a shared split covering every rank proves
   * one node. Ordering by rank keeps node ranks equal to communicator ranks. */
  int err = MPI_Comm_split_type(c->mpi, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &s->node_comm);
  int node_size = 0;
  if (err == MPI_SUCCESS) MPI_Comm_size(s->node_comm, &node_size);
  if (!all_agree(c, err == MPI_SUCCESS && node_size == c->size)) {
    unavailable(c, "the ranks do not all share one node");
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
  if (err != MPI_SUCCESS) s->win = MPI_WIN_NULL;
  /* Allocation is collective: it fails everywhere or nowhere in practice; if
   * it failed on some ranks only, the others still free their window below,
   * which is the best a partial collective failure allows. */
  if (!all_agree(c, err == MPI_SUCCESS)) {
    unavailable(c, "MPI_Win_allocate_shared failed");
    goto fail;
  }
  MPI_Win_set_errhandler(s->win, MPI_ERRORS_RETURN);
  memset(base, 0, control_bytes()); /* counters start at 0 */
  int ok = 1;
  for (int q = 0; q < s->size && ok; q++) {
    MPI_Aint qsize;
    int disp;
    void *qbase;
    ok = MPI_Win_shared_query(s->win, q, &qsize, &disp, &qbase) == MPI_SUCCESS;
    if (ok) {
      s->control[q] = qbase;
      s->slots[q] = (unsigned char *)qbase + control_bytes();
    }
  }
  /* also the barrier after which every owner has zeroed its counters */
  if (!all_agree(c, ok)) {
    unavailable(c, "MPI_Win_shared_query failed");
    goto fail;
  }
  return TCOLL_OK;
fail:
  /* Not an error: the communicator works without shm; check() says why. */
  tcoll__shm_free(c);
  return TCOLL_OK;
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

/* Yielding early costs a whole time slice whenever another process wants
 * the core: measured with other jobs on the 2-core VM, bcast shm's median at
 * 512 KiB-2 MiB was 10-25x MPI's (whose ranks never yield) with the 512-pause
 * budget of tcoll__shm_wait_all (50-75 µs here, shorter than one 512 KiB
 * chunk's copy under load), and 1.1-1.5x faster than MPI with a 200 µs
 * budget (1 ms measured no better and doubled the stress test's time).
 * Oversubscribed ranks (more than the node's CPUs) keep the short budget:
 * there the peer needs this core. */
#define PATIENT_SPIN_NS 200000L

static bool oversubscribed(const tcoll_shm *s) {
  static _Atomic long cpus; /* sysconf reads /sys: once per process */
  long n = atomic_load_explicit(&cpus, memory_order_relaxed);
  if (n == 0) {
    n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1) n = 1;
    atomic_store_explicit(&cpus, n, memory_order_relaxed);
  }
  return s->size > n;
}

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

static void wait_patiently(const tcoll_shm *s, const _Atomic uint64_t *v, uint64_t value) {
  const bool yield_early = oversubscribed(s);
  long start = 0;
  for (unsigned spins = 0; atomic_load_explicit(v, memory_order_acquire) < value; spins++) {
    if (spins < 512) {
      cpu_relax();
    } else if (yield_early) {
      sched_yield();
    } else {
      if (spins == 512) start = now_ns();
      if (spins % 64 == 0 && now_ns() - start > PATIENT_SPIN_NS) sched_yield();
      else cpu_relax();
    }
  }
}

void tcoll__shm_wait_one(const tcoll_shm *s, int q, int counter, uint64_t value) {
  wait_patiently(s, &s->control[q]->counter[counter].value, value);
}

void tcoll__shm_wait_all_patiently(const tcoll_shm *s, int counter, uint64_t value) {
  for (int q = 0; q < s->size; q++) wait_patiently(s, &s->control[q]->counter[counter].value, value);
}

void tcoll__shm_publish(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes) {
  /* slot chunk % 2 last held chunk - 2, read by everyone once consumed >= chunk - 1 */
  tcoll__shm_wait_all_patiently(s, TCOLL_SHM_CONSUMED, chunk >= 1 ? chunk - 1 : 0);
  memcpy(tcoll__shm_slot(s, s->rank, chunk), src, bytes);
  tcoll__shm_signal(s, TCOLL_SHM_WRITTEN, chunk + 1);
}

bool tcoll__shm_check(const tcoll_comm *c, char *why, size_t whylen) {
  if (c->size == 1 && c->num_nodes <= 1) return true;
  if (c->num_nodes > 1) snprintf(why, whylen, "ranks span %d nodes", c->num_nodes);
  else if (!c->shm) snprintf(why, whylen, "no shared segment: %s", c->shm_unavailable);
  return c->num_nodes <= 1 && c->shm;
}
