/*
 * Reduction kernels: element-wise out[i] = a[i] OP b[i] for every dtype and op.
 *
 * The algorithms only ever call these; they never reduce by hand. AVG is not
 * a kernel op: algorithms reduce with SUM and the caller divides once at the
 * end (tcoll__kernel_divide), so every rank divides the same bits.
 */
#ifndef TCOLL_KERNELS_H
#define TCOLL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "tcoll.h"

/* Size in bytes of one element; 0 for an unknown dtype. */
size_t tcoll__dtype_size(tcoll_dtype dtype);
/* "float32", "int8", ...; "?" for an unknown dtype. */
const char *tcoll__dtype_name(tcoll_dtype dtype);
/* "sum", "prod", "min", "max", "avg"; "?" for an unknown op. */
const char *tcoll__op_name(tcoll_op op);
/* Nonzero for FLOAT16, BFLOAT16, FLOAT32, FLOAT64. */
int tcoll__dtype_is_float(tcoll_dtype dtype);

/* out[i] = a[i] op b[i] for i < n. op is SUM, PROD, MIN or MAX (AVG is
 * treated as SUM). out may alias a or b exactly (out == a or out == b) but
 * must not partially overlap either. Results are independent of operand order
 * (op(a,b) and op(b,a) give the same bits, NaN payloads aside). */
void tcoll__reduce(tcoll_dtype dtype, tcoll_op op, void *out, const void *a, const void *b,
                   size_t n);

/* buf[i] = buf[i] / divisor for floating dtypes (AVG's final step). FLOAT16
 * and BFLOAT16 are divided in float32 and rounded to nearest even. */
void tcoll__kernel_divide(tcoll_dtype dtype, void *buf, size_t n, double divisor);

/* Conversions, round to nearest even; NaN stays NaN (quiet), inf stays inf,
 * overflow gives inf, subnormals are handled exactly. */
float tcoll__half_to_float(uint16_t h);
uint16_t tcoll__float_to_half(float f);
float tcoll__bf16_to_float(uint16_t h);
uint16_t tcoll__float_to_bf16(float f);

#endif
