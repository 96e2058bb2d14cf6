/*
 * Independent reference for the collective tests: input generation and the
 * expected result, written without any tcoll code (its own half/bfloat16
 * decoding, its own integer wraparound, its own MIN/MAX rules), so a bug in
 * the library's kernels cannot hide in the reference.
 */
#ifndef TCOLL_TEST_REFERENCE_H
#define TCOLL_TEST_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

#include "tcoll.h"

/* How inputs are drawn:
 *  EXACT: every reduction order gives the same bits (integers of any value;
 *         floats that are small integers for SUM/AVG, powers of two for PROD,
 *         anything including signed zeros for MIN/MAX);
 *  REAL:  floats spread over several binades; SUM/AVG compared with a
 *         tolerance. */
typedef enum { REF_EXACT, REF_REAL } ref_mode;

size_t ref_size(tcoll_dtype dt);
const char *ref_dtype_name(tcoll_dtype dt);
const char *ref_op_name(tcoll_op op);
int ref_is_float(tcoll_dtype dt);

/* Writes element i of rank r's input into elem. Deterministic in
 * (seed, dt, op, mode, r, i), so every rank can regenerate every input. */
void ref_input(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int r, size_t i,
               void *elem);
void ref_fill(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int r, void *buf,
              size_t count);

/* Checks result[0..count) against the reduction over ranks 0..nranks-1 of
 * their input elements first .. first+count-1 (first > 0: one block of a
 * reduce_scatter). Returns the index in result of the first wrong element,
 * or -1; on failure writes a description into msg. */
long ref_check_reduction(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int nranks,
                         size_t first, const void *result, size_t count, char *msg, size_t msglen);

/* Checks that result[0..count) is bit for bit rank r's input elements
 * first .. first+count-1 (allgather blocks, bcast). Same return as above. */
long ref_check_inputs(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int r, size_t first,
                      const void *result, size_t count, char *msg, size_t msglen);

/* Guarded buffers: GUARD bytes of a known pattern on both sides. */
#define REF_GUARD 64
void *ref_guarded_alloc(size_t bytes);
/* Returns 1 when both guards are intact. */
int ref_guards_intact(const void *buf, size_t bytes);
void ref_guarded_free(void *buf);

#endif
