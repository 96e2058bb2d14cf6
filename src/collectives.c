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

/* Distinct buffers must not overlap: the algorithms read sendbuf after they
 * have started writing recvbuf. */
static tcoll_status validate_disjoint(const char *fn, const void *send, size_t send_bytes,
                                      const void *recv, size_t recv_bytes) {
  uintptr_t s = (uintptr_t)send, r = (uintptr_t)recv;
  if (s < r + recv_bytes && r < s + send_bytes)
    return tcoll__error(TCOLL_ERR_INVALID_ARG,
                        "%s: sendbuf and recvbuf overlap without being in place (sendbuf == recvbuf)",
                        fn);
  return TCOLL_OK;
}

/* Select, run and record. */
static tcoll_status run_collective(tcoll_comm *c, const tcoll_call *call) {
  const tcoll_algorithm *alg = NULL;
  tcoll_choice_source source;
  tcoll_status status = tcoll__select(c, call, &alg, &source);
  if (status != TCOLL_OK) return status;
  /* Every rank agrees the call is empty: nothing to move. */
  if (call->count > 0) status = alg->run(c, call);
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
  if (status != TCOLL_OK) return status;
  if (count > 0 && !sendbuf)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: sendbuf is NULL but count is %zu", fn, count);
  if (count > 0 && !recvbuf)
    return tcoll__error(TCOLL_ERR_INVALID_ARG, "%s: recvbuf is NULL but count is %zu", fn, count);
  if (sendbuf != recvbuf &&
      (status = validate_disjoint(fn, sendbuf, call.bytes, recvbuf, call.bytes)) != TCOLL_OK)
    return status;
  status = run_collective(c, &call);
  /* AVG is reduced as SUM; every rank divides identical bits the same way. */
  if (status == TCOLL_OK && op == TCOLL_AVG && count > 0)
    tcoll__kernel_divide(dtype, recvbuf, count, (double)c->size);
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
  if (status == TCOLL_OK && (coll == TCOLL_ALLREDUCE || coll == TCOLL_REDUCE_SCATTER ||
                             coll == TCOLL_REDUCE))
    status = validate_op(fn, &call);
  if (status != TCOLL_OK) return status;
  tcoll__explain(c, &call, buf, buflen);
  return TCOLL_OK;
}
