/*
 * TEMPORARY: removed when tcoll_bcast lands (delete bcast_shim.c,
 * bcast_shim.h and the one line marked TEMPORARY in meson.build).
 *
 * tcoll_bcast in terms of tcoll_allreduce: non-root ranks contribute zeros,
 * SUM. Exact for finite floating values (x + 0 = x; only a root's -0.0
 * arrives as +0.0, harmless for parameters) and for integers. It moves about
 * twice the data a real broadcast would, irrelevant for the demo's one-off
 * broadcasts of the initial parameters and a resumed checkpoint.
 */
#include <string.h>

#include "bcast_shim.h"

static size_t dtype_size(tcoll_dtype t) {
  switch (t) {
    case TCOLL_INT8:
    case TCOLL_UINT8: return 1;
    case TCOLL_FLOAT16:
    case TCOLL_BFLOAT16: return 2;
    case TCOLL_INT32:
    case TCOLL_UINT32:
    case TCOLL_FLOAT32: return 4;
    case TCOLL_INT64:
    case TCOLL_UINT64:
    case TCOLL_FLOAT64: return 8;
  }
  return 0;
}

tcoll_status tcoll_bcast(tcoll_comm *c, void *buf, size_t count, tcoll_dtype dtype, int root) {
  size_t es = dtype_size(dtype);
  int size = tcoll_comm_size(c);
  /* validate like the library does, and identically on every rank, before
   * any communication (then tcoll_allreduce reports its own argument errors) */
  if (c == NULL || es == 0 || root < 0 || root >= size || (buf == NULL && count > 0))
    return TCOLL_ERR_INVALID_ARG;
  if (tcoll_comm_rank(c) != root && count > 0) memset(buf, 0, count * es);
  return tcoll_allreduce(c, buf, buf, count, dtype, TCOLL_SUM);
}
