/*
 * Internal declarations shared by src/ and algorithms/. Not installed.
 *
 * Vocabulary used throughout:
 *  - element: one value of the call's dtype; counts are in elements.
 *  - block:   one rank's share of a vector partitioned over ranks
 *             (pattern_blocks.c decides the partition, once).
 *  - segment: a piece of a block sent as one MPI message so that large
 *             transfers pipeline with the reduction and stay under MPI's int
 *             count limit (size set by TCOLL_SEGMENT_BYTES).
 */
#ifndef TCOLL_INTERNAL_H
#define TCOLL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels.h"
#include "tcoll.h"

/* ---- status and errors (status.c) ---- */

/* Records a formatted detail for tcoll_last_error() and returns `s`. */
tcoll_status tcoll__error(tcoll_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Converts an MPI error code into TCOLL_ERR_MPI with MPI's own error string. */
tcoll_status tcoll__mpi_error(int mpi_err, const char *what);

/* ---- logging (log.c) ---- */

typedef enum { TCOLL_LOG_WARN = 0, TCOLL_LOG_INFO = 1, TCOLL_LOG_TRACE = 2 } tcoll_log_level;
extern int tcoll__log_threshold; /* current level; set from TCOLL_DEBUG */
void tcoll__log(tcoll_log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
#define TCOLL_LOG(level, ...)                                                              \
  do {                                                                                     \
    if ((int)(level) <= tcoll__log_threshold) tcoll__log(level, __FILE__, __LINE__, __VA_ARGS__); \
  } while (0)
#define TCOLL_WARN(...) TCOLL_LOG(TCOLL_LOG_WARN, __VA_ARGS__)
#define TCOLL_INFO(...) TCOLL_LOG(TCOLL_LOG_INFO, __VA_ARGS__)

/* ---- environment table (env.c) ---- */

#define TCOLL_ENV_LIST(X)                                                                  \
  X(TCOLL_ALLREDUCE_ALGO, "auto", "force the allreduce algorithm by name")                 \
  X(TCOLL_REDUCE_SCATTER_ALGO, "auto", "force the reduce_scatter algorithm by name")       \
  X(TCOLL_ALLGATHER_ALGO, "auto", "force the allgather algorithm by name")                 \
  X(TCOLL_BCAST_ALGO, "auto", "force the bcast algorithm by name")                         \
  X(TCOLL_REDUCE_ALGO, "auto", "force the reduce algorithm by name")                       \
  X(TCOLL_FALLBACK, "warn",                                                                 \
    "a forced algorithm that declines a call: warn once and select automatically (warn), " \
    "or fail with TCOLL_ERR_UNSUPPORTED (error)")                                           \
  X(TCOLL_DEBUG, "WARN", "log level: WARN, INFO or TRACE; lines are prefixed tcoll[rank]")  \
  X(TCOLL_RANKS_PER_NODE, "0",                                                              \
    "emulate nodes of k consecutive ranks (0: real nodes from MPI_COMM_TYPE_SHARED)")      \
  X(TCOLL_SEGMENT_BYTES, "1048576",                                                         \
    "largest single message of the segmented algorithms (ring); smaller pipelines finer")   \
  X(TCOLL_SHM_CHUNK_BYTES, "524288",                                                       \
    "chunk of the shared-memory algorithms: each rank keeps two in its segment (512 KiB "  \
    "measured best here against 256 KiB-4 MiB at 2 and 8 MiB; docs/benchmarks.md); "      \
    "hierarchical across N nodes of m slices pipelines at most m*N*32 KiB of it")           \
  X(TCOLL_SCRATCH_KEEP_BYTES, "16777216",                                                   \
    "scratch memory a communicator keeps between calls; larger needs are freed after use")   \
  X(TCOLL_TUNING_FILE, "",                                                                  \
    "tuning file (JSON, docs/tuning.md) loaded at comm create: model parameters and rules")  \
  X(TCOLL_CHECK_ARGS, "0",                                                                  \
    "1: verify before each collective that all ranks passed the same count, dtype, op and " \
    "root (TCOLL_ERR_MISMATCH on every rank otherwise; one small allreduce per call)")      \
  X(TCOLL_ADAPTIVE, "1",                                                                    \
    "1: where the cost model or a tuning rule chooses, time that pick and the model's "     \
    "closest others on the first calls of each size and keep the fastest, re-timing now "   \
    "and then (src/adapt.c); 0: the pick only, the same algorithm (and bits) for the same " \
    "call every time")                                                                      \
  X(TCOLL_ADAPTIVE_MIN_BYTES, "8192",                                                       \
    "smallest call TCOLL_ADAPTIVE times: below 8 KiB shm was the fastest in both of the "  \
    "build VM's vCPU placements, and a round costs more than it could win")

typedef enum {
#define TCOLL_X_ENV_ENUM(name, def, help) TCOLL_ENV_##name,
  TCOLL_ENV_LIST(TCOLL_X_ENV_ENUM)
#undef TCOLL_X_ENV_ENUM
      TCOLL_ENV_COUNT
} tcoll_env_id;

typedef struct {
  const char *name;
  const char *default_value;
  const char *help;
} tcoll_env_entry;

extern const tcoll_env_entry tcoll__env_table[TCOLL_ENV_COUNT];
/* The variable's value, or its default when unset or empty. */
const char *tcoll__env_get(tcoll_env_id id);
/* Parses a byte count with optional K/M/G suffix (powers of 1024) and checks
 * it lies in [min, max]; on error returns INVALID_ARG naming the variable. */
tcoll_status tcoll__env_get_bytes(tcoll_env_id id, size_t min, size_t max, size_t *out);
tcoll_status tcoll__parse_bytes(const char *text, size_t *out);
/* TCOLL_<COLL>_ALGO variable name for a collective ("TCOLL_ALLREDUCE_ALGO"). */
const char *tcoll__coll_name(tcoll_coll coll); /* "allreduce", ... */
/* Whether the collective reduces (has an op). */
static inline bool tcoll__coll_reduces(tcoll_coll coll) {
  return coll == TCOLL_ALLREDUCE || coll == TCOLL_REDUCE_SCATTER || coll == TCOLL_REDUCE;
}

/* ---- cost model (cost.c) ---- */

/* Hockney α-β per link level: a message between two ranks is charged at the
 * closest level they share (topology.c). */
typedef struct {
  double alpha; /* seconds per message */
  double beta;  /* seconds per byte moved */
} tcoll_link_model;

/* γ, seconds per byte reduced, depends on what the kernel does per element,
 * not on where the operand came from: one value per dtype class. Integers
 * and float32/64 use the CPU's own arithmetic; the 16-bit floats are widened
 * to float32 and rounded back, float16 with F16C where the CPU has it,
 * bfloat16 with integer SIMD (kernels.c), so their bytes cost more.
 * X(enum suffix, tuning file key) */
#define TCOLL_GAMMA_CLASS_LIST(X) \
  X(INTEGER, "integer")           \
  X(FLOAT, "float")               \
  X(FLOAT16, "float16")           \
  X(BFLOAT16, "bfloat16")

typedef enum {
#define TCOLL_X_GAMMA_ENUM(suffix, key) TCOLL_GAMMA_##suffix,
  TCOLL_GAMMA_CLASS_LIST(TCOLL_X_GAMMA_ENUM)
#undef TCOLL_X_GAMMA_ENUM
      TCOLL_NUM_GAMMA_CLASSES
} tcoll_gamma_class;

tcoll_gamma_class tcoll__gamma_class(tcoll_dtype dtype);
const char *tcoll__gamma_class_name(tcoll_gamma_class k); /* the tuning file key */

/* Ordered from closest to farthest: a step's level is the farthest any of
 * its messages crosses. NODE = same node, different package (or a rank
 * whose placement is unknown). */
typedef enum {
  TCOLL_LEVEL_L3 = 0,
  TCOLL_LEVEL_NUMA,
  TCOLL_LEVEL_PACKAGE,
  TCOLL_LEVEL_NODE,
  TCOLL_LEVEL_NETWORK,
  TCOLL_NUM_LEVELS
} tcoll_level;

/* "l3", "numa", "package", "node", "network" (also the tuning file keys). */
const char *tcoll__level_name(tcoll_level level);

typedef struct {
  tcoll_link_model level[TCOLL_NUM_LEVELS];
  double gamma[TCOLL_NUM_GAMMA_CLASSES]; /* seconds per byte reduced */
} tcoll_cost_model;

extern const tcoll_cost_model tcoll__default_cost_model;

/* ---- topology (topology.c) ---- */

/* Where a rank sits inside its node: logical indices of the package, NUMA
 * node and L3 cache that contain its whole CPU binding; -1 when unknown (an
 * unbound rank on a machine with several of them, or a binding that spans
 * several). Indices compare only between ranks of the same node. */
typedef struct {
  int package, numa, l3;
  int bound; /* 1: bound to a proper subset of the node's CPUs */
} tcoll_place;

/* ---- the communicator ---- */

struct tcoll_algorithm;
typedef struct tcoll_shm tcoll_shm; /* shm.h */
typedef struct tcoll_tuning tcoll_tuning; /* tuning.h */

typedef struct {
  bool valid;
  int rule; /* index of the tuning rule that chose alg, -1: the cost model */
  size_t count;
  tcoll_dtype dtype;
  tcoll_op op;
  const struct tcoll_algorithm *alg;
} tcoll_choice_cache;

/* Measured choice (adapt.c) for one collective and size bucket: the cost
 * model's closest candidates for the call they were evaluated for, and the
 * sampling rounds that time them. Every field changes identically on every
 * rank (the agreed times come from one allreduce), so all ranks run the same
 * algorithm for each call. */
#define TCOLL_ADAPT_CANDIDATES 5
#define TCOLL_ADAPT_BUCKETS 64 /* size buckets 2^b bytes, b < 64 */
#define TCOLL_ADAPT_SAMPLES 6  /* timed calls of a candidate per look (adapt.c) */
typedef struct {
  bool ready;
  size_t count; /* the last call's (prepare's fast path) */
  tcoll_dtype dtype;
  tcoll_op op;
  int num;
  const struct tcoll_algorithm *cand[TCOLL_ADAPT_CANDIDATES]; /* the pick first */
  size_t ref_bytes; /* the call the candidates were evaluated for; samples are scaled to it */
  double samples[TCOLL_ADAPT_CANDIDATES][TCOLL_ADAPT_SAMPLES]; /* this rank's timed calls of the look */
  bool failed[TCOLL_ADAPT_CANDIDATES]; /* a call of the candidate failed in this look (this rank) */
  bool excluded[TCOLL_ADAPT_CANDIDATES]; /* failed in a look on some rank: no longer timed */
  double last_agree;    /* this rank's time in the last look's agreement */
  double agree_seconds; /* what a look's agreement costs: the smallest agreed time so far */
  double measured[TCOLL_ADAPT_CANDIDATES]; /* last look: the slowest rank's median call */
  int winner;             /* index into cand; -1 until a look has ended */
  bool sampling;          /* in a round (else running the winner) */
  bool warming;           /* the current round is the untimed warm-up */
  unsigned round;         /* rounds of the current look finished */
  unsigned done;          /* calls in the current round or run of the winner */
  unsigned winner_calls;  /* length of the current run of the winner */
  unsigned looks;         /* looks finished */
} tcoll_adapt_state;

struct tcoll_comm {
  MPI_Comm mpi; /* private duplicate with MPI_ERRORS_RETURN */
  int rank;
  int size;
  /* node split: nodes are numbered in order of their lowest rank */
  int node;        /* this rank's node */
  int num_nodes;
  int local_rank;  /* rank within its node */
  int local_size;  /* ranks on this node */
  int *node_of_rank; /* [size]; identical on every rank */
  /* The smallest node (comm.c, node_tables; identical on every rank): the
   * hierarchical allreduce cuts each chunk into that many slices, so every
   * slice has exactly one owner on every node. */
  int min_local_size;
  /* The ranks that own this rank's slice (local index local_rank) on every
   * node, in node order: its inter-node group. [num_nodes], NULL when
   * local_rank >= min_local_size (this rank owns no slice). */
  int *slice_group;
  tcoll_cost_model model;
  size_t segment_bytes;
  bool fallback_is_error;
  const struct tcoll_algorithm *forced[TCOLL_NUM_COLLS]; /* NULL = automatic */
  const struct tcoll_algorithm *last[TCOLL_NUM_COLLS];
  bool warned_fallback[TCOLL_NUM_COLLS];
  uint64_t logged_buckets[TCOLL_NUM_COLLS]; /* bit b: choice for ~2^b bytes logged */
  /* The last automatic choice per collective: a training loop repeats the
   * same call, and evaluating every cost() each time would be its overhead. */
  tcoll_choice_cache choice_cache[TCOLL_NUM_COLLS];
  /* scratch reused across calls so the hot path does not allocate; two
   * independent buffers (see tcoll_scratch_slot) */
  void *scratch[2];
  size_t scratch_bytes[2];
  size_t scratch_keep_bytes;
  /* shared segment of a single-node communicator (shm.h), or NULL and why */
  tcoll_shm *shm;
  char shm_unavailable[128];
  /* segment of this rank's node when the communicator spans several nodes
   * (NULL: one node, or not set up on every rank; node_shm_unavailable
   * says why, identical on every rank) */
  tcoll_shm *node_shm;
  char node_shm_unavailable[128];
  size_t shm_chunk_bytes;
  /* topology (topology.c): [size], identical on every rank; NULL when not
   * detected (then every pair on a node is charged at TCOLL_LEVEL_NODE) */
  tcoll_place *place;
  int unbound_ranks; /* ranks bound to no proper subset of their node's CPUs */
  int max_local_size; /* ranks on the largest node: the rules' ranks_per_node */
  /* Ranks per online CPU of the machine they run on, the largest over the
   * machines (comm.c, machine_load; identical on every rank; 0 when not
   * measured, as in tools planning a hypothetical job). Emulated hosts
   * (network namespaces) on one machine count together: they share its
   * CPUs. Above 1, a wait for another rank is often a wait for the
   * scheduler; the hierarchical allreduce's cost charges its node-wide
   * waits for it. */
  double ranks_per_cpu;
  tcoll_tuning *tuning; /* loaded tuning table, NULL if none */
  bool check_args;      /* TCOLL_CHECK_ARGS */
  bool adaptive;        /* TCOLL_ADAPTIVE */
  size_t adaptive_min_bytes;
  tcoll_adapt_state *adapt[TCOLL_NUM_COLLS]; /* [TCOLL_ADAPT_BUCKETS] when adaptive, else NULL */
};

/* Scratch slots. A schedule's receive buffer (TMP) must not alias the
 * full-length vector an algorithm accumulates into when its output buffer is
 * too small for that (ACC: reduce_scatter, reduce at non-roots, bruck). */
typedef enum { TCOLL_SCRATCH_TMP = 0, TCOLL_SCRATCH_ACC = 1 } tcoll_scratch_slot;

/* A buffer of at least `bytes`, valid until the end of the current call;
 * reused across calls. NULL (and NO_MEMORY recorded) when allocation fails.
 * Asking the same slot again may move it: patterns use TMP, algorithms ACC. */
tcoll_status tcoll__scratch(tcoll_comm *c, size_t bytes, void **out);
tcoll_status tcoll__scratch_acc(tcoll_comm *c, size_t bytes, void **out);
/* Called after each collective: frees scratch beyond scratch_keep_bytes. */
void tcoll__scratch_trim(tcoll_comm *c);

/* Collective: every rank learns whether `ok` held on all of them, so that a
 * step failing on one rank (no memory) fails everywhere instead of leaving
 * the others in the next collective. TCOLL_OK, or `failure` naming `what`
 * and whether this rank or another failed. */
tcoll_status tcoll__agree(tcoll_comm *c, bool ok, tcoll_status failure, const char *what);

/* Detects each rank's place with hwloc and gathers them (collective). Never
 * fails the communicator for an unknown placement: that rank is charged at
 * the node level and counted in unbound_ranks. */
tcoll_status tcoll__topology_detect(tcoll_comm *c);
/* The level a message from rank a to rank b crosses. */
tcoll_level tcoll__level_between(const tcoll_comm *c, int a, int b);
/* The farthest level crossed by a step in which every rank r talks to
 * r + distance (mod p): rings (1), recursive doubling and trees (2^k). */
tcoll_level tcoll__level_at_distance(const tcoll_comm *c, int distance);
/* The same for a hypercube step: r talks to r XOR distance (recursive
 * doubling and halving, binomial trees rooted at 0; folded groups and other
 * roots are approximated by it). */
tcoll_level tcoll__level_at_xor(const tcoll_comm *c, int distance);
/* In a step where every rank r sends to r + distance (mod p), or to r XOR
 * distance (xor_pairs): how many ranks of the busiest node send off-node at
 * once. They share that node's network link, so each of their bytes costs
 * that many times the network β (1 when nothing crosses). */
int tcoll__network_sharers(const tcoll_comm *c, int distance, bool xor_pairs);
/* The farthest level any two ranks of the communicator are apart. */
tcoll_level tcoll__span_level(const tcoll_comm *c);

/* ---- one call, as the algorithms see it ---- */

typedef struct {
  tcoll_coll coll;
  const void *sendbuf; /* == recvbuf when in place */
  void *recvbuf;
  size_t count;      /* elements: the vector (allreduce, bcast, reduce), one rank's
                        block (reduce_scatter recvcount, allgather sendcount) */
  tcoll_dtype dtype;
  tcoll_op op;       /* AVG included: the kernels reduce it as SUM, the core divides afterwards */
  int root;          /* bcast and reduce; never used by selection */
  size_t elem_size;
  size_t bytes;      /* count * elem_size */
} tcoll_call;

/* ---- algorithm descriptor and registry (registry.c) ---- */

typedef struct tcoll_algorithm {
  const char *name; /* lower_snake, never renamed */
  tcoll_coll coll;
  const char *summary;
  /* Pure, no MPI, same answer on every rank. Returns true if the algorithm
   * can perform the call; otherwise writes the reason into why. */
  bool (*check)(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen);
  /* Modelled seconds for the call (only asked when check() accepted). */
  double (*cost)(const tcoll_comm *c, const tcoll_call *call);
  tcoll_status (*run)(tcoll_comm *c, const tcoll_call *call);
  /* Optional: the algorithm whose very schedule this one runs on c (NULL:
   * its own). The measured choice times only one of the two. */
  const struct tcoll_algorithm *(*same_as)(const tcoll_comm *c);
} tcoll_algorithm;

/* The registry: every algorithm, by the name of its descriptor variable.
 * Adding an algorithm = one file in algorithms/ + one line here. */
#define TCOLL_ALGORITHM_LIST(X)                                                            \
  X(tcoll__allreduce_ring)                                                                 \
  X(tcoll__allreduce_recursive_doubling)                                                   \
  X(tcoll__allreduce_rabenseifner)                                                         \
  X(tcoll__allreduce_binomial_tree)                                                        \
  X(tcoll__allreduce_shm)                                                                  \
  X(tcoll__allreduce_cma)                                                                  \
  X(tcoll__allreduce_hierarchical)                                                         \
  X(tcoll__reduce_scatter_ring)                                                            \
  X(tcoll__reduce_scatter_recursive_halving)                                               \
  X(tcoll__reduce_scatter_pairwise)                                                        \
  X(tcoll__allgather_ring)                                                                 \
  X(tcoll__allgather_recursive_doubling)                                                   \
  X(tcoll__allgather_bruck)                                                                \
  X(tcoll__bcast_binomial_tree)                                                            \
  X(tcoll__bcast_scatter_allgather)                                                        \
  X(tcoll__bcast_shm)                                                                      \
  X(tcoll__reduce_binomial_tree)                                                           \
  X(tcoll__reduce_rabenseifner)                                                            \
  X(tcoll__reduce_shm)

/* Algorithms that exist only in the test build (libtcoll_testing): wrong or
 * slow on purpose, to prove that the checks of tcoll-bench and the tests can
 * fail, and that the measured choice corrects the model. */
#ifdef TCOLL_TEST_ALGORITHMS
#define TCOLL_TEST_ALGORITHM_LIST(X) X(tcoll__allreduce_wrong_for_tests) X(tcoll__allreduce_slow_for_tests)
#else
#define TCOLL_TEST_ALGORITHM_LIST(X)
#endif

#define TCOLL_X_DECLARE(var) extern const tcoll_algorithm var;
TCOLL_ALGORITHM_LIST(TCOLL_X_DECLARE)
TCOLL_TEST_ALGORITHM_LIST(TCOLL_X_DECLARE)
#undef TCOLL_X_DECLARE

/* i-th algorithm of coll in registry order, NULL past the end. */
const tcoll_algorithm *tcoll__algorithm_at(tcoll_coll coll, size_t i);
const tcoll_algorithm *tcoll__algorithm_find(tcoll_coll coll, const char *name);
/* Comma-separated names of coll's algorithms into buf (for messages). */
void tcoll__algorithm_names(tcoll_coll coll, char *buf, size_t buflen);

/* ---- selection (select.c) ---- */

typedef enum { TCOLL_SOURCE_FORCED, TCOLL_SOURCE_COST_MODEL, TCOLL_SOURCE_RULE } tcoll_choice_source;

/* Picks the algorithm for call: the forced one if it accepts (or fails /
 * falls back per TCOLL_FALLBACK), else the cheapest accepting one. */
tcoll_status tcoll__select(tcoll_comm *c, const tcoll_call *call, const tcoll_algorithm **out,
                           tcoll_choice_source *source);
/* Forgets the cached automatic choices: after the tuning table or the model
 * changed. */
void tcoll__select_invalidate(tcoll_comm *c);
/* Collective: TCOLL_ERR_MISMATCH on every rank when the ranks' count, dtype,
 * op (reducing collectives) or root (rooted ones) differ. */
tcoll_status tcoll__check_args(tcoll_comm *c, const tcoll_call *call);
/* The report behind tcoll_explain(). */
void tcoll__explain(const tcoll_comm *c, const tcoll_call *call, char *buf, size_t buflen);
/* The algorithm whose schedule `a` runs for this call (a->same_as), when
 * that one can run the call; NULL when `a` runs its own. Hierarchical on
 * one node is shm: one of the two is timed, listed, swept. */
const struct tcoll_algorithm *tcoll__twin(const tcoll_comm *c, const struct tcoll_algorithm *a,
                                          const tcoll_call *call);
/* The usable algorithms whose predicted time is within `span` times the
 * cheapest one's, cheapest first, at most max, leaving out one that has a
 * twin (tcoll__twin). Returns how many. */
size_t tcoll__closest_candidates(const tcoll_comm *c, const tcoll_call *call, double span,
                                 const struct tcoll_algorithm **out, size_t max);
/* snprintf that appends at buf + used and never overruns; returns the new
 * used length. */
size_t tcoll__append(char *buf, size_t buflen, size_t used, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Size bucket of a call: floor(log2(bytes)), 0 for 0 and 1 byte. */
int tcoll__size_bucket(size_t bytes);

/* ---- measured choice (adapt.c) ---- */

/* Whether the call's algorithm is chosen by timing: TCOLL_ADAPTIVE on, the
 * choice came from the cost model or a tuning rule (never a forced one), and
 * the call is at least TCOLL_ADAPTIVE_MIN_BYTES. */
bool tcoll__adapt_applies(const tcoll_comm *c, const tcoll_call *call, tcoll_choice_source source);
/* Runs the call with the measured choice (or a candidate being timed);
 * *ran is the algorithm that ran. `preferred` (the rule's or the model's
 * pick) is the first candidate, kept on ties, and runs alone when there is
 * nothing to compare. Collective over c at the end of each look (two sampling
 * rounds, adapt.c); the untimed warm-up round has no agreement. */
tcoll_status tcoll__adapt_run(tcoll_comm *c, const tcoll_call *call, const struct tcoll_algorithm *preferred,
                              const struct tcoll_algorithm **ran);
/* Appends the measured choice's part of an explanation: the candidates,
 * the last look's times, and the choice line when a look has ended.
 * Returns whether it wrote the choice line. */
bool tcoll__adapt_explain(const tcoll_comm *c, const tcoll_call *call, const struct tcoll_algorithm *preferred,
                          const char *preferred_by, char *buf, size_t buflen, size_t *used);
/* Collective, at create: the states of every collective and bucket (when
 * TCOLL_ADAPTIVE is on), on every rank or on none. */
tcoll_status tcoll__adapt_setup(tcoll_comm *c);
/* Forgets every measurement: after the model or the tuning table changed. */
void tcoll__adapt_reset(tcoll_comm *c);
void tcoll__adapt_free(tcoll_comm *c);

/* ---- point-to-point helpers (p2p.c): byte transfers of any size ---- */

/* Largest single MPI message tcoll sends: keeps counts inside MPI's int. */
#define TCOLL_MAX_MESSAGE_BYTES ((size_t)1 << 30)
#define TCOLL_TAG 7 /* all traffic is on the private dup, in call order */
/* The inter-node phase of the hierarchical allreduce: its own tags, so that
 * its messages can never match another schedule's even if one were ever
 * run concurrently on the same pair of ranks. Its pipelined rings use
 * TCOLL_TAG_INTER_NODE + (chunk % 2): two chunks' rings are in flight at
 * once between the same ranks (algorithms/allreduce_hierarchical.c). */
#define TCOLL_TAG_INTER_NODE 8

tcoll_status tcoll__send(tcoll_comm *c, const void *buf, size_t bytes, int dest);
tcoll_status tcoll__recv(tcoll_comm *c, void *buf, size_t bytes, int src);
/* Sends sbytes to dest while receiving rbytes from src (either may be 0). */
tcoll_status tcoll__sendrecv(tcoll_comm *c, const void *sbuf, size_t sbytes, int dest, void *rbuf,
                             size_t rbytes, int src);
/* The same with a tag other than TCOLL_TAG. */
tcoll_status tcoll__sendrecv_tag(tcoll_comm *c, const void *sbuf, size_t sbytes, int dest, void *rbuf,
                                 size_t rbytes, int src, int tag);

/* Pointer arithmetic in elements. */
static inline void *tcoll__at(void *base, size_t elements, size_t elem_size) {
  return (char *)base + elements * elem_size;
}
static inline const void *tcoll__cat(const void *base, size_t elements, size_t elem_size) {
  return (const char *)base + elements * elem_size;
}

/* Integer log2 helpers for the tree and hypercube schedules. */
static inline int tcoll__pow2_floor(int p) {
  int q = 1;
  while (q * 2 <= p) q *= 2;
  return q;
}
static inline int tcoll__ceil_log2(int p) {
  int l = 0;
  while ((1 << l) < p) l++;
  return l;
}

#endif
