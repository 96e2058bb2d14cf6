/*
 * The public collective entry points: validate every argument before any
 * communication, select, run, record what ran.
 */
#include <stdio.h>
#include <string.h>

#include "tcoll_internal.h"

/* Checks shared by every collective; fills the call's derived fields. */
static tcoll_status validate_common(const char *fn, const tcoll_comm *c, tcoll_call *call) {
  if (!c) return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: comm is NULL", fn);
  if ((unsigned)call->dtype >= TCOLL_NUM_DTYPES)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: dtype %d is not a tcoll_dtype", fn, (int)call->dtype);
  call->elem_size = tcoll__dtype_size(call->dtype);
  if (call->count > SIZE_MAX / call->elem_size)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: count %zu x %zu-byte %s overflows size_t", fn,
                        call->count, call->elem_size, tcoll__dtype_name(call->dtype));
  call->bytes = call->count * call->elem_size;
  return TCOLL_OK;
}

static tcoll_status validate_op(const char *fn, const tcoll_call *call) {
  if ((unsigned)call->op >= TCOLL_NUM_OPS)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: op %d is not a tcoll_op", fn, (int)call->op);
  if (call->op == TCOLL_AVG && !tcoll__dtype_is_float(call->dtype))
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: op avg needs a floating dtype, not %s", fn,
                        tcoll__dtype_name(call->dtype));
  return TCOLL_OK;
}

/* A buffer the call reads or writes must exist once there is data. */
static tcoll_status validate_buffer(const char *fn, const char *name, const void *buf, size_t count) {
  if (count > 0 && !buf)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: %s is NULL but count is %zu", fn, name, count);
  return TCOLL_OK;
}

/* reduce_scatter's input and allgather's output hold p blocks: p x count
 * elements must fit in size_t too. */
static tcoll_status validate_vector(const char *fn, const tcoll_comm *c, const tcoll_call *call,
                                    const char *count_name) {
  if (call->bytes > SIZE_MAX / (size_t)c->size)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: %s %zu x %d ranks x %zu-byte %s overflows size_t",
                        fn, count_name, call->count, c->size, call->elem_size,
                        tcoll__dtype_name(call->dtype));
  return TCOLL_OK;
}

/* Every rank passes the same root, so every rank reaches the same verdict. */
static tcoll_status validate_root(const char *fn, const tcoll_comm *c, int root) {
  if (root < 0 || root >= c->size)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: root %d is outside [0, %d)", fn, root, c->size);
  return TCOLL_OK;
}

/* Distinct buffers must not overlap: the algorithms read sendbuf after they
 * have started writing recvbuf. `in_place` is the collective's in-place rule,
 * named in the message because overlapping buffers are usually a wrong
 * in-place offset. */
static tcoll_status validate_disjoint(const char *fn, const void *send, size_t send_bytes,
                                      const void *recv, size_t recv_bytes, const char *in_place) {
  uintptr_t s = (uintptr_t)send, r = (uintptr_t)recv;
  if (s < r + recv_bytes && r < s + send_bytes)
    return tcoll__error(TCOLL_ERR_INVALID_ARG,
                        "%s: sendbuf and recvbuf overlap without being in place (%s)", fn, in_place);
  return TCOLL_OK;
}

/* Address `blocks` blocks of `bytes` past base, as an integer: only compared,
 * never dereferenced, so a NULL base with count 0 is harmless. */
static uintptr_t block_address(const void *base, int blocks, size_t bytes) {
  return (uintptr_t)base + (uintptr_t)blocks * bytes;
}

/* AVG is reduced as SUM; the result is divided once where it lives, so every
 * rank holding it divides identical bits the same way. */
static void finish_avg(const tcoll_comm *c, const tcoll_call *call, void *result, size_t count) {
  if (call->op == TCOLL_AVG && count > 0)
    tcoll__kernel_divide(call->dtype, result, count, (double)c->size);
}

tcoll_status tcoll__check_args(tcoll_comm *c, const tcoll_call *call) {
  /* The signature and its complement reduced with MAX in one allreduce:
   * max(~x) = ~min(x), so a field agrees iff its max equals its min. Fields
   * that do not apply to the collective are 0 everywhere. */
  enum { COLL, COUNT, DTYPE, OP, ROOT, FIELDS };
  static const char *const names[FIELDS] = {"collective", "count", "dtype", "op", "root"};
  const bool rooted = call->coll == TCOLL_BCAST || call->coll == TCOLL_REDUCE;
  uint64_t sig[2 * FIELDS] = {
      [COLL] = (uint64_t)call->coll,
      [COUNT] = (uint64_t)call->count,
      [DTYPE] = (uint64_t)call->dtype,
      [OP] = tcoll__coll_reduces(call->coll) ? (uint64_t)call->op : 0,
      [ROOT] = rooted ? (uint64_t)call->root : 0,
  };
  for (int i = 0; i < FIELDS; i++) sig[FIELDS + i] = ~sig[i];
  int err = MPI_Allreduce(MPI_IN_PLACE, sig, 2 * FIELDS, MPI_UINT64_T, MPI_MAX, c->mpi);
  if (err != MPI_SUCCESS) return tcoll__mpi_error(err, "MPI_Allreduce(TCOLL_CHECK_ARGS signature)");
  for (int i = 0; i < FIELDS; i++)
    if (sig[i] != ~sig[FIELDS + i])
      return tcoll__error(TCOLL_ERR_MISMATCH,
                          "%s: ranks passed different %s (from %llu to %llu; this rank: %llu) "
                          "(checked because TCOLL_CHECK_ARGS=1)",
                          tcoll__coll_name(call->coll), names[i], (unsigned long long)~sig[FIELDS + i],
                          (unsigned long long)sig[i],
                          (unsigned long long)(i == COUNT   ? call->count
                                               : i == DTYPE ? (size_t)call->dtype
                                               : i == OP    ? (size_t)call->op
                                               : i == ROOT  ? (size_t)call->root
                                                            : (size_t)call->coll));
  return TCOLL_OK;
}

/* Check (when asked), select, run and record. */
static tcoll_status run_collective(tcoll_comm *c, const tcoll_call *call) {
  const tcoll_algorithm *alg = NULL;
  tcoll_choice_source source;
  if (c->check_args) {
    tcoll_status s = tcoll__check_args(c, call);
    if (s != TCOLL_OK) return s;
  }
  tcoll_status status = tcoll__select(c, call, &alg, &source);
  if (status != TCOLL_OK) return status;
  /* Every rank agrees the call is empty: nothing to move. */
  if (call->count > 0 && tcoll__adapt_applies(c, call, source)) status = tcoll__adapt_run(c, call, alg, &alg);
  else if (call->count > 0) status = alg->run(c, call);
  tcoll__scratch_trim(c);
  if (status == TCOLL_OK) c->last[call->coll] = alg;
  return status;
}

tcoll_status tcoll_allreduce(tcoll_comm *c, const void *sendbuf, void *recvbuf, size_t count,
                             tcoll_dtype dtype, tcoll_op op) {
  static const char fn[] = "tcoll_allreduce";
  tcoll_call call = {.coll = TCOLL_ALLREDUCE, .sendbuf = sendbuf, .recvbuf = recvbuf,
                     .count = count, .dtype = dtype, .op = op, .root = 0};
  tcoll_status status = validate_common(fn, c, &call);
  if (status == TCOLL_OK) status = validate_op(fn, &call);
  if (status == TCOLL_OK) status = validate_buffer(fn, "sendbuf", sendbuf, count);
  if (status == TCOLL_OK) status = validate_buffer(fn, "recvbuf", recvbuf, count);
  if (status == TCOLL_OK && sendbuf != recvbuf)
    status = validate_disjoint(fn, sendbuf, call.bytes, recvbuf, call.bytes, "sendbuf == recvbuf");
  if (status == TCOLL_OK) status = run_collective(c, &call);
  if (status == TCOLL_OK) finish_avg(c, &call, recvbuf, count);
  return status;
}

tcoll_status tcoll_reduce_scatter(tcoll_comm *c, const void *sendbuf, void *recvbuf, size_t recvcount,
                                  tcoll_dtype dtype, tcoll_op op) {
  static const char fn[] = "tcoll_reduce_scatter";
  tcoll_call call = {.coll = TCOLL_REDUCE_SCATTER, .sendbuf = sendbuf, .recvbuf = recvbuf,
                     .count = recvcount, .dtype = dtype, .op = op, .root = 0};
  tcoll_status status = validate_common(fn, c, &call);
  if (status == TCOLL_OK) status = validate_op(fn, &call);
  if (status == TCOLL_OK) status = validate_vector(fn, c, &call, "recvcount");
  if (status == TCOLL_OK) status = validate_buffer(fn, "sendbuf", sendbuf, recvcount);
  if (status == TCOLL_OK) status = validate_buffer(fn, "recvbuf", recvbuf, recvcount);
  if (status == TCOLL_OK && (uintptr_t)recvbuf != block_address(sendbuf, c->rank, call.bytes))
    status = validate_disjoint(fn, sendbuf, (size_t)c->size * call.bytes, recvbuf, call.bytes,
                               "recvbuf == sendbuf + rank*recvcount");
  if (status == TCOLL_OK) status = run_collective(c, &call);
  if (status == TCOLL_OK) finish_avg(c, &call, recvbuf, recvcount);
  return status;
}

tcoll_status tcoll_allgather(tcoll_comm *c, const void *sendbuf, void *recvbuf, size_t sendcount,
                             tcoll_dtype dtype) {
  static const char fn[] = "tcoll_allgather";
  tcoll_call call = {.coll = TCOLL_ALLGATHER, .sendbuf = sendbuf, .recvbuf = recvbuf,
                     .count = sendcount, .dtype = dtype, .op = TCOLL_SUM, .root = 0};
  tcoll_status status = validate_common(fn, c, &call);
  if (status == TCOLL_OK) status = validate_vector(fn, c, &call, "sendcount");
  if (status == TCOLL_OK) status = validate_buffer(fn, "sendbuf", sendbuf, sendcount);
  if (status == TCOLL_OK) status = validate_buffer(fn, "recvbuf", recvbuf, sendcount);
  if (status == TCOLL_OK && (uintptr_t)sendbuf != block_address(recvbuf, c->rank, call.bytes))
    status = validate_disjoint(fn, sendbuf, call.bytes, recvbuf, (size_t)c->size * call.bytes,
                               "sendbuf == recvbuf + rank*sendcount");
  if (status == TCOLL_OK) status = run_collective(c, &call);
  return status;
}

tcoll_status tcoll_bcast(tcoll_comm *c, void *buf, size_t count, tcoll_dtype dtype, int root) {
  static const char fn[] = "tcoll_bcast";
  tcoll_call call = {.coll = TCOLL_BCAST, .sendbuf = buf, .recvbuf = buf, .count = count,
                     .dtype = dtype, .op = TCOLL_SUM, .root = root};
  tcoll_status status = validate_common(fn, c, &call);
  if (status == TCOLL_OK) status = validate_root(fn, c, root);
  if (status == TCOLL_OK) status = validate_buffer(fn, "buf", buf, count);
  if (status == TCOLL_OK) status = run_collective(c, &call);
  return status;
}

tcoll_status tcoll_reduce(tcoll_comm *c, const void *sendbuf, void *recvbuf, size_t count,
                          tcoll_dtype dtype, tcoll_op op, int root) {
  static const char fn[] = "tcoll_reduce";
  tcoll_call call = {.coll = TCOLL_REDUCE, .sendbuf = sendbuf, .recvbuf = recvbuf, .count = count,
                     .dtype = dtype, .op = op, .root = root};
  tcoll_status status = validate_common(fn, c, &call);
  if (status == TCOLL_OK) status = validate_op(fn, &call);
  if (status == TCOLL_OK) status = validate_root(fn, c, root);
  if (status == TCOLL_OK) status = validate_buffer(fn, "sendbuf", sendbuf, count);
  /* recvbuf is significant only at the root: elsewhere it may be anything */
  const bool at_root = status == TCOLL_OK && c->rank == root;
  if (at_root) status = validate_buffer(fn, "recvbuf at the root", recvbuf, count);
  if (at_root && status == TCOLL_OK && sendbuf != recvbuf)
    status = validate_disjoint(fn, sendbuf, call.bytes, recvbuf, call.bytes, "sendbuf == recvbuf");
  if (status == TCOLL_OK) status = run_collective(c, &call);
  if (status == TCOLL_OK && c->rank == root) finish_avg(c, &call, recvbuf, count);
  return status;
}

tcoll_status tcoll_explain(tcoll_comm *c, tcoll_coll coll, size_t count, tcoll_dtype dtype,
                           tcoll_op op, char *buf, size_t buflen) {
  static const char fn[] = "tcoll_explain";
  if (!buf || buflen == 0)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: buf is NULL or buflen is 0", fn);
  buf[0] = '\0';
  if ((unsigned)coll >= TCOLL_NUM_COLLS)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: unknown collective %d", fn, (int)coll);
  tcoll_call call = {.coll = coll, .count = count, .dtype = dtype, .op = op, .root = 0};
  tcoll_status status = validate_common(fn, c, &call);
  if (status == TCOLL_OK && tcoll__coll_reduces(coll)) status = validate_op(fn, &call);
  if (!tcoll__coll_reduces(coll)) call.op = TCOLL_SUM; /* ignored: no reduction */
  if (status == TCOLL_OK && (coll == TCOLL_REDUCE_SCATTER || coll == TCOLL_ALLGATHER))
    status = validate_vector(fn, c, &call, "count");
  if (status != TCOLL_OK) return status;
  tcoll__explain(c, &call, buf, buflen);
  return TCOLL_OK;
}
