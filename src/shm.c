/* The shared segments behind the shm and hierarchical algorithms; see shm.h. */
#include "shm.h"

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Control block rounded to a cache line, the two line sets, then the two
 * slots. */
static size_t control_bytes(void) { return (sizeof(tcoll_shm_control) + 63) & ~(size_t)63; }
static size_t lines_bytes(void) { return 2 * TCOLL_SHM_LINES * sizeof(tcoll_shm_line); }
_Static_assert(sizeof(tcoll_shm_line) == 64, "a line is one cache line");

void tcoll__shm_signal(tcoll_shm *s, int counter, uint64_t value) {
  atomic_store_explicit(&s->control[s->rank]->counter[counter].value, value, memory_order_release);
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

static long now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long)t.tv_sec * 1000000000L + t.tv_nsec;
}

/* How long a wait spins before it yields the core. Yielding early costs a
 * whole time slice whenever another process wants the core: measured with
 * other jobs on the 2-core VM, bcast shm's median at 512 KiB-2 MiB was
 * 10-25x MPI's (whose ranks never yield) when every wait yielded after 512
 * pauses (50-75 µs here, shorter than one 512 KiB chunk's copy under load),
 * and 1.1-1.5x faster than MPI with a 200 µs budget (1 ms measured no better
 * and doubled the stress test's time). Ranks of an oversubscribed host (more
 * processes than CPUs, segment_create) yield after the 512 pauses: there the
 * rank we wait for needs this core. */
#define FAST_SPINS 512
#define PATIENT_SPIN_NS 200000L
/* Spins between probes of MPI progress on a node segment (see below). */
#define SPINS_PER_PROBE 256

static void wait_counter(const tcoll_shm *s, const _Atomic uint64_t *v, uint64_t value) {
  long start = 0;
  for (unsigned spins = 0; atomic_load_explicit(v, memory_order_acquire) < value; spins++) {
    if (s->poll && spins % TCOLL_SHM_POLL_SPINS == TCOLL_SHM_POLL_SPINS - 1) s->poll(s->poll_arg);
    if (spins < FAST_SPINS) {
      cpu_relax();
      continue;
    }
    if (spins == FAST_SPINS) start = now_ns();
    /* On a multi-node communicator the rank we wait for may be inside an
     * inter-node exchange, and its partners elsewhere may be in MPI calls
     * whose completion needs this process to move its own pending traffic:
     * Open MPI's TCP transport progresses only inside MPI calls (a
     * rendezvous, a full socket buffer). An Iprobe that matches nothing we
     * would misread (it never receives) keeps that engine turning. */
    if (s->progress != MPI_COMM_NULL && spins % SPINS_PER_PROBE == 0) {
      int flag = 0;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, s->progress, &flag, MPI_STATUS_IGNORE);
    }
    if (s->yield_early || now_ns() - start > PATIENT_SPIN_NS) sched_yield();
    else cpu_relax();
  }
}

void tcoll__shm_wait_one(const tcoll_shm *s, int q, int counter, uint64_t value) {
  wait_counter(s, &s->control[q]->counter[counter].value, value);
}

void tcoll__shm_wait_all(const tcoll_shm *s, int counter, uint64_t value) {
  for (int q = 0; q < s->size; q++) wait_counter(s, &s->control[q]->counter[counter].value, value);
}

/* Slot or line set chunk % 2 last held chunk - 2, read by everyone once
 * consumed >= chunk - 1. */
static void wait_until_free(tcoll_shm *s, uint64_t chunk) {
  const uint64_t need = chunk >= 1 ? chunk - 1 : 0;
  if (s->known_consumed >= need) return;
  tcoll__shm_wait_all(s, TCOLL_SHM_CONSUMED, need);
  tcoll__shm_note_consumed(s, need);
}

void tcoll__shm_publish_around(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes, size_t hole,
                               size_t hole_bytes) {
  unsigned char *slot = tcoll__shm_slot(s, s->rank, chunk);
  const unsigned char *from = src;
  wait_until_free(s, chunk);
  memcpy(slot, from, hole);
  memcpy(slot + hole + hole_bytes, from + hole + hole_bytes, bytes - hole - hole_bytes);
  tcoll__shm_signal(s, TCOLL_SHM_WRITTEN, chunk + 1);
}

void tcoll__shm_publish(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes) {
  tcoll__shm_publish_around(s, chunk, src, bytes, bytes, 0);
}

void tcoll__shm_publish_lines(tcoll_shm *s, uint64_t chunk, const void *src, size_t bytes) {
  wait_until_free(s, chunk);
  tcoll_shm_line *line = s->lines[s->rank] + (chunk & 1) * TCOLL_SHM_LINES;
  const unsigned char *from = src;
  for (size_t done = 0; done < bytes; done += TCOLL_SHM_LINE_DATA, line++) {
    const size_t n = bytes - done < TCOLL_SHM_LINE_DATA ? bytes - done : TCOLL_SHM_LINE_DATA;
    memcpy(line->data, from + done, n);
    atomic_store_explicit(&line->seq, chunk + 1, memory_order_release);
  }
}

void tcoll__shm_read_lines(const tcoll_shm *s, int q, uint64_t chunk, void *dst, size_t bytes) {
  const tcoll_shm_line *line = s->lines[q] + (chunk & 1) * TCOLL_SHM_LINES;
  unsigned char *to = dst;
  for (size_t done = 0; done < bytes; done += TCOLL_SHM_LINE_DATA, line++) {
    const size_t n = bytes - done < TCOLL_SHM_LINE_DATA ? bytes - done : TCOLL_SHM_LINE_DATA;
    wait_counter(s, &line->seq, chunk + 1);
    memcpy(to + done, line->data, n);
  }
}

bool tcoll__shm_read_peer(const tcoll_shm *s, int q, uint64_t remote, void *local, size_t bytes) {
#ifdef __linux__
  unsigned char *to = local;
  while (bytes > 0) {
    struct iovec here = {to, bytes}, there = {(void *)(uintptr_t)remote, bytes};
    const ssize_t got = process_vm_readv(s->pids[q], &here, 1, &there, 1, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      if (got == 0) errno = EFAULT;
      return false;
    }
    to += got;
    remote += (uint64_t)got;
    bytes -= (size_t)got;
  }
  return true;
#else
  (void)s, (void)q, (void)remote, (void)local, (void)bytes;
  errno = ENOSYS;
  return false;
#endif
}

/* Collective over c->mpi, after the segment exists: learns the pids of the
 * segment's ranks and whether each can read every other's memory (same
 * user, no ptrace restriction, no seccomp filter in the way: a container's
 * default profile refuses process_vm_readv). Reads a known word from every
 * other rank's stack; all ranks agree on the verdict. */
static int all_agree(tcoll_comm *c, int ok);
static void probe_single_copy(tcoll_comm *c, tcoll_shm *s) {
  const uint64_t word = 0x7c011c0ffee00000ULL + (uint64_t)s->rank;
  long long mine[2] = {(long long)getpid(), (long long)(uintptr_t)&word};
  long long *all = malloc(2 * (size_t)s->size * sizeof *all);
  const char *failed = all ? NULL : "out of memory";
  if (all && MPI_Allgather(mine, 2, MPI_LONG_LONG, all, 2, MPI_LONG_LONG, s->node_comm) != MPI_SUCCESS)
    failed = "MPI_Allgather of the pids failed";
  int ok = !failed, err = 0;
  for (int q = 0; ok && q < s->size; q++) s->pids[q] = (int)all[2 * q];
  for (int q = 0; ok && q < s->size; q++) {
    uint64_t seen = 0;
    if (q == s->rank) continue;
    if (!tcoll__shm_read_peer(s, q, (uint64_t)all[2 * q + 1], &seen, sizeof seen)) {
      err = errno;
      ok = 0;
    } else if (seen != 0x7c011c0ffee00000ULL + (uint64_t)q) {
      err = EIO;
      ok = 0;
    }
  }
  free(all);
  /* also keeps `word` alive until every rank has read it */
  s->single_copy = all_agree(c, ok);
  if (!s->single_copy)
    snprintf(s->single_copy_unavailable, sizeof s->single_copy_unavailable, "process_vm_readv between the ranks: %s",
             ok ? "failed on another rank" : failed ? failed : strerror(err));
}

void tcoll__shm_lines_done(tcoll_shm *s, uint64_t chunk) {
  /* every rank wrote this chunk, so each had consumed all before it */
  tcoll__shm_note_consumed(s, chunk);
  tcoll__shm_signal(s, TCOLL_SHM_CONSUMED, chunk + 1);
}

void tcoll__shm_reduce_rank_order(const tcoll_shm *s, const tcoll_call *call, size_t n, void *out, const void *own,
                                  tcoll_shm_operand_fn operand, void *arg) {
  unsigned char *own_copy = s->scratch, *buf[2] = {s->scratch + TCOLL_SHM_SCRATCH_PART,
                                                   s->scratch + 2 * TCOLL_SHM_SCRATCH_PART};
  if (own == out && s->rank >= 2) { /* out is written (ranks 0 and 1) before own is used */
    memcpy(own_copy, own, n * call->elem_size);
    own = own_copy;
  }
  const void *first = s->rank == 0 ? own : operand(arg, 0, buf[0]);
  const void *second = s->rank == 1 ? own : operand(arg, 1, buf[1]);
  tcoll__reduce(call->dtype, call->op, out, first, second, n);
  for (int q = 2; q < s->size; q++)
    tcoll__reduce(call->dtype, call->op, out, out, q == s->rank ? own : operand(arg, q, buf[1]), n);
}

/* Every set-up step ends here: the ranks of the whole communicator agree on
 * whether all of them succeeded, so that none goes on to a collective (or
 * frees one) alone. An MPI failure of the agreement itself counts as
 * failure. */
static int all_agree(tcoll_comm *c, int ok) {
  int all = 0;
  if (MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, c->mpi) != MPI_SUCCESS) return 0;
  return all;
}

static void segment_free(tcoll_shm *s) {
  if (!s) return;
  if (s->win != MPI_WIN_NULL) MPI_Win_free(&s->win);
  if (s->node_comm != MPI_COMM_NULL) MPI_Comm_free(&s->node_comm);
  free(s->control);
  free(s->lines);
  free(s->slots);
  free(s->scratch);
  free(s->pids);
  free(s->peer_words);
  free(s);
}

/* Collective over c->mpi: every rank builds the segment of its node, the
 * ranks with c->node equal to its own (in rank order, so segment ranks are
 * local ranks). Returns it on every rank, or NULL on every rank with the
 * reason in why. `apart` names the failure of the shared-memory test. */
static tcoll_shm *segment_create(tcoll_comm *c, const char *apart, char *why, size_t whylen) {
  tcoll_shm *s = calloc(1, sizeof *s);
  if (s) {
    s->node_comm = MPI_COMM_NULL;
    s->win = MPI_WIN_NULL;
    s->progress = MPI_COMM_NULL;
    s->size = c->local_size;
    s->rank = c->local_rank;
    s->chunk_bytes = c->shm_chunk_bytes;
    s->control = calloc((size_t)c->local_size, sizeof *s->control);
    s->lines = calloc((size_t)c->local_size, sizeof *s->lines);
    s->slots = calloc((size_t)c->local_size, sizeof *s->slots);
    s->scratch = malloc(3 * TCOLL_SHM_SCRATCH_PART);
    s->pids = calloc((size_t)c->local_size, sizeof *s->pids);
    s->peer_words = calloc((size_t)c->local_size * TCOLL_SHM_PEER_WORDS, sizeof *s->peer_words);
  }
  if (!all_agree(c, s && s->control && s->lines && s->slots && s->scratch && s->pids && s->peer_words)) {
    snprintf(why, whylen, "out of memory for the segment tables");
    goto fail;
  }
  /* The chunk size shapes every call's schedule: ranks must agree on it. */
  unsigned long long chunk[2] = {c->shm_chunk_bytes, ~(unsigned long long)c->shm_chunk_bytes};
  if (MPI_Allreduce(MPI_IN_PLACE, chunk, 2, MPI_UNSIGNED_LONG_LONG, MPI_MAX, c->mpi) != MPI_SUCCESS ||
      chunk[0] != ~chunk[1]) {
    snprintf(why, whylen, "TCOLL_SHM_CHUNK_BYTES differs between ranks");
    goto fail;
  }
  /* The node split may be emulated (TCOLL_RANKS_PER_NODE) on a job that
   * really spans hosts: only a shared split covering the node's ranks proves
   * they share memory. Keyed by rank: node ranks stay in rank order. */
  int err = MPI_Comm_split(c->mpi, c->node, c->rank, &s->node_comm);
  if (err != MPI_SUCCESS) s->node_comm = MPI_COMM_NULL;
  MPI_Comm shared = MPI_COMM_NULL;
  int shared_size = 0;
  if (err == MPI_SUCCESS) err = MPI_Comm_split_type(s->node_comm, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &shared);
  if (err == MPI_SUCCESS) {
    MPI_Comm_size(shared, &shared_size);
    MPI_Comm_free(&shared);
  }
  /* the processes of this host, emulated nodes or not, against its CPUs */
  MPI_Comm host = MPI_COMM_NULL;
  int host_size = 0;
  if (err == MPI_SUCCESS) err = MPI_Comm_split_type(c->mpi, MPI_COMM_TYPE_SHARED, c->rank, MPI_INFO_NULL, &host);
  if (err == MPI_SUCCESS) {
    MPI_Comm_size(host, &host_size);
    MPI_Comm_free(&host);
    s->yield_early = host_size > sysconf(_SC_NPROCESSORS_ONLN);
  }
  if (!all_agree(c, err == MPI_SUCCESS && shared_size == c->local_size)) {
    snprintf(why, whylen, "%s", apart);
    goto fail;
  }
  MPI_Info info;
  MPI_Info_create(&info);
  /* each rank's part in its own pages, so first touch puts it near its owner */
  MPI_Info_set(info, "alloc_shared_noncontig", "true");
  void *base = NULL;
  const size_t bytes = control_bytes() + lines_bytes() + 2 * s->chunk_bytes;
  err = MPI_Win_allocate_shared((MPI_Aint)bytes, 1, info, s->node_comm, &base, &s->win);
  MPI_Info_free(&info);
  if (err != MPI_SUCCESS) s->win = MPI_WIN_NULL;
  /* Allocation is collective: it fails everywhere or nowhere in practice; if
   * it failed on some ranks only, the others still free their window below,
   * which is the best a partial collective failure allows. */
  if (!all_agree(c, err == MPI_SUCCESS)) {
    snprintf(why, whylen, "MPI_Win_allocate_shared failed");
    goto fail;
  }
  MPI_Win_set_errhandler(s->win, MPI_ERRORS_RETURN);
  memset(base, 0, control_bytes() + lines_bytes()); /* counters and line stamps start at 0 */
  int ok = 1;
  for (int q = 0; q < s->size && ok; q++) {
    MPI_Aint qsize;
    int disp;
    void *qbase;
    ok = MPI_Win_shared_query(s->win, q, &qsize, &disp, &qbase) == MPI_SUCCESS;
    if (ok) {
      s->control[q] = qbase;
      s->lines[q] = (tcoll_shm_line *)((unsigned char *)qbase + control_bytes());
      s->slots[q] = (unsigned char *)qbase + control_bytes() + lines_bytes();
    }
  }
  /* also the barrier after which every owner has zeroed its counters */
  if (!all_agree(c, ok)) {
    snprintf(why, whylen, "MPI_Win_shared_query failed");
    goto fail;
  }
  probe_single_copy(c, s);
  return s;
fail:
  /* Not an error: the communicator works without it; check() says why. */
  segment_free(s);
  return NULL;
}

tcoll_status tcoll__shm_setup(tcoll_comm *c) {
  if (c->num_nodes > 1) {
    snprintf(c->shm_unavailable, sizeof c->shm_unavailable, "ranks span %d nodes", c->num_nodes);
    c->node_shm = segment_create(c, "the ranks of a node do not share memory", c->node_shm_unavailable,
                                 sizeof c->node_shm_unavailable);
    if (c->node_shm) c->node_shm->progress = c->mpi;
    return TCOLL_OK;
  }
  snprintf(c->node_shm_unavailable, sizeof c->node_shm_unavailable, "one node (its segment is the shm one)");
  if (c->size == 1) return TCOLL_OK; /* nothing to share; the algorithms copy */
  c->shm = segment_create(c, "the ranks do not all share one node", c->shm_unavailable, sizeof c->shm_unavailable);
  return TCOLL_OK;
}

void tcoll__shm_free(tcoll_comm *c) {
  segment_free(c->shm);
  c->shm = NULL;
  segment_free(c->node_shm);
  c->node_shm = NULL;
}

bool tcoll__shm_check(const tcoll_comm *c, char *why, size_t whylen) {
  if (c->size == 1 && c->num_nodes <= 1) return true;
  if (c->num_nodes > 1) snprintf(why, whylen, "ranks span %d nodes", c->num_nodes);
  else if (!c->shm) snprintf(why, whylen, "no shared segment: %s", c->shm_unavailable);
  return c->num_nodes <= 1 && c->shm;
}
