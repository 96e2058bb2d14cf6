/*
 * tcoll: collective communication algorithms over MPI.
 *
 * One API that picks an algorithm for each call from the message size and the
 * communicator's shape, explains its choice and can be forced or tuned.
 *
 * Conventions that hold for every function below:
 *  - Every function that can fail returns a tcoll_status; on failure
 *    tcoll_last_error() gives a message naming what was wrong (thread-local).
 *  - Arguments are validated before any communication starts, so a bad
 *    argument never leaves other ranks waiting inside a half-started collective
 *    (provided every rank passes the same bad argument, as MPI requires).
 *  - Nothing in the library aborts or exits the process.
 *  - Counts are size_t and may exceed 2^31 elements.
 *  - In-place operation follows NCCL: allreduce, reduce (at the root) and
 *    bcast when sendbuf == recvbuf; reduce_scatter when recvbuf == sendbuf +
 *    rank*recvcount elements; allgather when sendbuf == recvbuf +
 *    rank*sendcount elements.
 *  - root and every count must be the same on every rank (as in MPI), so
 *    every rank reaches the same verdict on its arguments. With
 *    TCOLL_CHECK_ARGS=1 every collective first verifies that count, dtype,
 *    op and root agree and fails with TCOLL_ERR_MISMATCH on every rank when
 *    they do not (instead of a deadlock or silent corruption).
 */
#ifndef TCOLL_H
#define TCOLL_H

#include <mpi.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TCOLL_BUILDING_LIBRARY) && defined(__GNUC__)
#define TCOLL_API __attribute__((visibility("default")))
#else
#define TCOLL_API
#endif

#define TCOLL_VERSION_MAJOR 0
#define TCOLL_VERSION_MINOR 1
#define TCOLL_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the library actually linked (may differ from the
 * macros above when the header and the shared library come from different
 * installs). */
TCOLL_API const char *tcoll_version(void);

/* The one list of statuses: the enum and tcoll_status_string() are generated
 * from it. Values never change once released; new ones go at the end. */
#define TCOLL_STATUS_LIST(X)                                                              \
  X(TCOLL_OK, "success")                                                                 \
  X(TCOLL_ERR_INVALID_ARG, "invalid argument")                                           \
  X(TCOLL_ERR_UNSUPPORTED, "the forced algorithm cannot perform this call")              \
  X(TCOLL_ERR_NO_MEMORY, "out of memory")                                                \
  X(TCOLL_ERR_MPI, "an MPI call failed")                                                 \
  X(TCOLL_ERR_TOPOLOGY, "the machine topology could not be determined")                  \
  X(TCOLL_ERR_TUNING_FILE, "unreadable or invalid tuning file")                          \
  X(TCOLL_ERR_MISMATCH, "ranks passed different arguments to the same collective")       \
  X(TCOLL_ERR_INTERNAL, "internal error")

typedef enum {
#define TCOLL_X_ENUM(name, text) name,
  TCOLL_STATUS_LIST(TCOLL_X_ENUM)
#undef TCOLL_X_ENUM
} tcoll_status;

/* Short fixed description of a status ("invalid argument"); never NULL. */
TCOLL_API const char *tcoll_status_string(tcoll_status s);

/* Detail of the calling thread's most recent failure, e.g.
 * "tcoll_allreduce: recvbuf is NULL but count is 3". "" if none yet. */
TCOLL_API const char *tcoll_last_error(void);

typedef enum {
  TCOLL_INT8,
  TCOLL_UINT8,
  TCOLL_INT32,
  TCOLL_UINT32,
  TCOLL_INT64,
  TCOLL_UINT64,
  TCOLL_FLOAT16,  /* IEEE 754 binary16, stored as uint16_t bits */
  TCOLL_BFLOAT16, /* bfloat16, stored as uint16_t bits (upper half of a float32) */
  TCOLL_FLOAT32,
  TCOLL_FLOAT64
} tcoll_dtype;
#define TCOLL_NUM_DTYPES 10

/* Reduction operators.
 *  - Integer SUM and PROD wrap around modulo 2^bits (two's complement), as the
 *    hardware does; they never trap.
 *  - AVG: floating types only (TCOLL_ERR_INVALID_ARG on integers); the sum
 *    divided by the number of ranks.
 *  - FLOAT16/BFLOAT16 are converted to float32, reduced, and rounded back to
 *    nearest even at every reduction step.
 *  - MIN/MAX on floating types propagate NaN (if either operand is NaN the
 *    result is that NaN) and order -0 below +0 (min(-0,+0) = -0,
 *    max(-0,+0) = +0), so the result does not depend on operand order. */
typedef enum { TCOLL_SUM, TCOLL_PROD, TCOLL_MIN, TCOLL_MAX, TCOLL_AVG } tcoll_op;
#define TCOLL_NUM_OPS 5

typedef enum {
  TCOLL_ALLREDUCE,
  TCOLL_REDUCE_SCATTER,
  TCOLL_ALLGATHER,
  TCOLL_BCAST,
  TCOLL_REDUCE,
  TCOLL_NUM_COLLS
} tcoll_coll;

typedef struct tcoll_comm tcoll_comm; /* opaque */

/* Collective over `comm`. Duplicates it (tcoll's traffic never mixes with the
 * caller's), sets MPI_ERRORS_RETURN on the duplicate, records the node split,
 * and reads the TCOLL_* environment (see `tcoll-info --env`).
 * Fails with TCOLL_ERR_INVALID_ARG if out is NULL, comm is MPI_COMM_NULL or a
 * TCOLL_*_ALGO variable names an unknown algorithm; TCOLL_ERR_TUNING_FILE if
 * TCOLL_TUNING_FILE is set and unreadable or invalid; TCOLL_ERR_MPI if MPI fails;
 * TCOLL_ERR_NO_MEMORY. On failure *out is NULL. */
TCOLL_API tcoll_status tcoll_comm_create(MPI_Comm comm, tcoll_comm **out);

/* Collective. Frees the communicator and everything it holds. NULL is OK. */
TCOLL_API tcoll_status tcoll_comm_destroy(tcoll_comm *comm);

/* Rank and size in the communicator; -1 for NULL. */
TCOLL_API int tcoll_comm_rank(const tcoll_comm *comm);
TCOLL_API int tcoll_comm_size(const tcoll_comm *comm);

/* Element-wise reduction of `count` elements over all ranks; every rank
 * receives the result in recvbuf. In place when sendbuf == recvbuf. Every
 * rank's result is bitwise identical.
 * Failure: TCOLL_ERR_INVALID_ARG (NULL c, NULL buffer with count > 0, unknown
 * dtype or op, AVG on an integer type, count * element size overflowing
 * size_t, send and receive buffers that overlap without being identical),
 * TCOLL_ERR_UNSUPPORTED (the forced algorithm declines the call and
 * TCOLL_FALLBACK=error), TCOLL_ERR_NO_MEMORY, TCOLL_ERR_MPI. */
TCOLL_API tcoll_status tcoll_allreduce(tcoll_comm *c, const void *sendbuf, void *recvbuf,
                                       size_t count, tcoll_dtype dtype, tcoll_op op);

/* Element-wise reduction over all ranks of a vector of p * recvcount
 * elements (sendbuf) in equal blocks; rank r receives block r, recvcount
 * elements, in recvbuf. In place when recvbuf == sendbuf + rank*recvcount
 * elements (the rank's own block of its input). AVG as for tcoll_allreduce:
 * reduced as SUM, divided once at the end.
 * Failure: TCOLL_ERR_INVALID_ARG (NULL c, NULL buffer with recvcount > 0,
 * unknown dtype or op, AVG on an integer type, p * recvcount * element size
 * overflowing size_t, buffers that overlap without following the in-place
 * rule), TCOLL_ERR_UNSUPPORTED (the forced algorithm declines and
 * TCOLL_FALLBACK=error), TCOLL_ERR_NO_MEMORY, TCOLL_ERR_MPI. */
TCOLL_API tcoll_status tcoll_reduce_scatter(tcoll_comm *c, const void *sendbuf, void *recvbuf,
                                            size_t recvcount, tcoll_dtype dtype, tcoll_op op);

/* Every rank contributes sendcount elements; every rank receives all p
 * contributions, rank r's at recvbuf + r*sendcount elements (recvbuf holds
 * p * sendcount). In place when sendbuf == recvbuf + rank*sendcount elements.
 * Every rank's result is bitwise identical.
 * Failure: TCOLL_ERR_INVALID_ARG (NULL c, NULL buffer with sendcount > 0,
 * unknown dtype, p * sendcount * element size overflowing size_t, buffers
 * that overlap without following the in-place rule), TCOLL_ERR_UNSUPPORTED,
 * TCOLL_ERR_NO_MEMORY, TCOLL_ERR_MPI. */
TCOLL_API tcoll_status tcoll_allgather(tcoll_comm *c, const void *sendbuf, void *recvbuf,
                                       size_t sendcount, tcoll_dtype dtype);

/* Copies count elements of buf at rank `root` into buf at every rank.
 * Failure: TCOLL_ERR_INVALID_ARG (NULL c, NULL buf with count > 0, unknown
 * dtype, count * element size overflowing size_t, root outside [0, p)),
 * TCOLL_ERR_UNSUPPORTED, TCOLL_ERR_NO_MEMORY, TCOLL_ERR_MPI. */
TCOLL_API tcoll_status tcoll_bcast(tcoll_comm *c, void *buf, size_t count, tcoll_dtype dtype,
                                   int root);

/* Element-wise reduction of `count` elements over all ranks into recvbuf at
 * rank `root`. recvbuf is significant only at the root: elsewhere it may be
 * NULL and is never written. In place at the root when sendbuf == recvbuf.
 * AVG as for tcoll_allreduce (divided once, at the root).
 * Failure: TCOLL_ERR_INVALID_ARG (NULL c, NULL sendbuf with count > 0, NULL
 * recvbuf at the root with count > 0, unknown dtype or op, AVG on an integer
 * type, count * element size overflowing size_t, root outside [0, p), send
 * and receive buffers at the root that overlap without being identical; the
 * last two are seen only by the root, so, as in MPI, the other ranks are then
 * left in the collective), TCOLL_ERR_UNSUPPORTED, TCOLL_ERR_NO_MEMORY,
 * TCOLL_ERR_MPI. */
TCOLL_API tcoll_status tcoll_reduce(tcoll_comm *c, const void *sendbuf, void *recvbuf, size_t count,
                                    tcoll_dtype dtype, tcoll_op op, int root);

/* ---- Algorithms: listing, forcing, explaining ---- */

/* Number of registered algorithms for `coll` (0 for an unknown coll). */
TCOLL_API size_t tcoll_algorithm_count(tcoll_coll coll);

/* Name of the i-th algorithm for `coll` (lower_snake, stable across
 * releases); NULL past the end or for an unknown coll. */
TCOLL_API const char *tcoll_algorithm_name(tcoll_coll coll, size_t i);

/* Force `name` for every later call of `coll` on c, overriding
 * TCOLL_<COLL>_ALGO. NULL or "auto" restores automatic selection.
 * TCOLL_ERR_INVALID_ARG for an unknown name (the message lists the valid
 * ones), NULL c or unknown coll. Local: call it identically on every rank. */
TCOLL_API tcoll_status tcoll_comm_set_algorithm(tcoll_comm *c, tcoll_coll coll,
                                                const char *name);

/* Name of the algorithm that performed the last successful call of `coll` on
 * c (never a forced one that declined); NULL if none has run yet. */
TCOLL_API const char *tcoll_last_algorithm(const tcoll_comm *c, tcoll_coll coll);

/* Writes into buf (NUL-terminated, truncated to buflen) a report of how a call
 * of `coll` with these arguments would be served on c: every candidate,
 * usable or why not, with its predicted time; then the choice and its source
 * (forced, rule N of a tuning file, or cost model). `count` is the call's count argument (recvcount,
 * sendcount for reduce_scatter, allgather). `op` is ignored for collectives
 * without reduction; the root never changes the choice, so there is none.
 * Local, no communication. TCOLL_ERR_INVALID_ARG for bad arguments. */
TCOLL_API tcoll_status tcoll_explain(tcoll_comm *c, tcoll_coll coll, size_t count,
                                     tcoll_dtype dtype, tcoll_op op, char *buf, size_t buflen);

/* Collective: loads the tuning file at `path` (JSON, docs/tuning.md). Rank 0
 * reads it and broadcasts it; every rank parses the same bytes. Its model
 * parameters replace the current ones and its rules are consulted by
 * selection between a forced algorithm and the cost model. A rule naming an
 * unknown algorithm is disabled with one warning.
 * Failure: TCOLL_ERR_INVALID_ARG (NULL c or path), TCOLL_ERR_TUNING_FILE (the
 * file cannot be read or is invalid; the message names the path and the
 * place: line and column, or a JSON path such as rules[2].bytes), on every
 * rank; the communicator then keeps its previous table and model. */
TCOLL_API tcoll_status tcoll_comm_load_tuning(tcoll_comm *c, const char *path);

#ifdef __cplusplus
}
#endif

#endif /* TCOLL_H */
