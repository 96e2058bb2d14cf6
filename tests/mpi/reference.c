/* Independent reference for the collective tests; see reference.h. */
#include "reference.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t ref_size(tcoll_dtype dt) {
  static const size_t sizes[] = {1, 1, 4, 4, 8, 8, 2, 2, 4, 8};
  return sizes[dt];
}

const char *ref_dtype_name(tcoll_dtype dt) {
  static const char *const names[] = {"int8",    "uint8",    "int32",   "uint32",  "int64",
                                      "uint64",  "float16",  "bfloat16", "float32", "float64"};
  return names[dt];
}

const char *ref_op_name(tcoll_op op) {
  static const char *const names[] = {"sum", "prod", "min", "max", "avg"};
  return names[op];
}

int ref_is_float(tcoll_dtype dt) { return dt >= TCOLL_FLOAT16; }

static int is_signed_int(tcoll_dtype dt) {
  return dt == TCOLL_INT8 || dt == TCOLL_INT32 || dt == TCOLL_INT64;
}

/* splitmix64 over a combination of the coordinates */
static uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

static uint64_t coord_hash(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int r, size_t i) {
  uint64_t h = mix(seed ^ ((uint64_t)dt << 56) ^ ((uint64_t)op << 48) ^ ((uint64_t)mode << 40));
  h = mix(h ^ (uint64_t)(unsigned)r);
  return mix(h ^ (uint64_t)i);
}

/* ---- floating formats, decoded by hand ---- */

static double half_to_double(uint16_t h) {
  int sign = h >> 15, exp = (h >> 10) & 31, mant = h & 1023;
  double v;
  if (exp == 0) v = ldexp(mant, -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = ldexp(1024 + mant, exp - 25);
  return sign ? -v : v;
}

static double bf16_to_double(uint16_t b) {
  uint32_t u = (uint32_t)b << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

/* Encodes a value that is exactly representable (the generator only asks
 * for such values); asserts exactness. */
static void encode_exact(tcoll_dtype dt, double v, void *elem) {
  switch (dt) {
    case TCOLL_FLOAT64: memcpy(elem, &v, 8); return;
    case TCOLL_FLOAT32: {
      float f = (float)v;
      assert((double)f == v);
      memcpy(elem, &f, 4);
      return;
    }
    case TCOLL_BFLOAT16: {
      float f = (float)v;
      uint32_t u;
      memcpy(&u, &f, 4);
      assert((u & 0xffff) == 0);
      uint16_t b = (uint16_t)(u >> 16);
      memcpy(elem, &b, 2);
      return;
    }
    case TCOLL_FLOAT16: {
      uint16_t h = 0;
      if (v != 0) {
        int e;
        double m = frexp(fabs(v), &e); /* |v| = m 2^e, m in [0.5, 1) */
        assert(e - 1 >= -14 && e - 1 <= 15);
        double frac = (m * 2 - 1) * 1024;
        assert(frac == floor(frac));
        h = (uint16_t)(((unsigned)(e - 1 + 15) << 10) | (unsigned)frac);
      }
      if (signbit(v)) h |= 0x8000;
      memcpy(elem, &h, 2);
      return;
    }
    default: assert(!"not a float type");
  }
}

static double decode_float(tcoll_dtype dt, const void *buf, size_t i) {
  const char *p = (const char *)buf + i * ref_size(dt);
  switch (dt) {
    case TCOLL_FLOAT64: { double d; memcpy(&d, p, 8); return d; }
    case TCOLL_FLOAT32: { float f; memcpy(&f, p, 4); return f; }
    case TCOLL_BFLOAT16: { uint16_t b; memcpy(&b, p, 2); return bf16_to_double(b); }
    case TCOLL_FLOAT16: { uint16_t h; memcpy(&h, p, 2); return half_to_double(h); }
    default: assert(!"not a float type"); return 0;
  }
}

/* Integer element as a 64-bit pattern: sign-extended for signed types. */
static uint64_t decode_int(tcoll_dtype dt, const void *buf, size_t i) {
  const char *p = (const char *)buf + i * ref_size(dt);
  switch (dt) {
    case TCOLL_INT8: { int8_t v; memcpy(&v, p, 1); return (uint64_t)(int64_t)v; }
    case TCOLL_UINT8: { uint8_t v; memcpy(&v, p, 1); return v; }
    case TCOLL_INT32: { int32_t v; memcpy(&v, p, 4); return (uint64_t)(int64_t)v; }
    case TCOLL_UINT32: { uint32_t v; memcpy(&v, p, 4); return v; }
    case TCOLL_INT64: case TCOLL_UINT64: { uint64_t v; memcpy(&v, p, 8); return v; }
    default: assert(!"not an integer type"); return 0;
  }
}

/* Random finite value with random sign and exponent in [lo, hi] binades
 * around 1, exactly representable in dt (built from its bit layout). */
static void random_float_bits(tcoll_dtype dt, uint64_t h, int lo, int hi, void *elem) {
  int e = lo + (int)((h >> 8) % (uint64_t)(hi - lo + 1));
  int sign = (int)(h & 1);
  uint64_t m = h >> 20;
  switch (dt) {
    case TCOLL_FLOAT16: {
      uint16_t b = (uint16_t)((sign << 15) | ((e + 15) << 10) | (m & 1023));
      memcpy(elem, &b, 2);
      return;
    }
    case TCOLL_BFLOAT16: {
      uint16_t b = (uint16_t)((sign << 15) | ((e + 127) << 7) | (m & 127));
      memcpy(elem, &b, 2);
      return;
    }
    case TCOLL_FLOAT32: {
      uint32_t b = ((uint32_t)sign << 31) | ((uint32_t)(e + 127) << 23) | (uint32_t)(m & 0x7fffff);
      memcpy(elem, &b, 4);
      return;
    }
    case TCOLL_FLOAT64: {
      uint64_t b = ((uint64_t)sign << 63) | ((uint64_t)(e + 1023) << 52) | (m & 0xfffffffffffffULL);
      memcpy(elem, &b, 8);
      return;
    }
    default: assert(!"not a float type");
  }
}

void ref_input(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int r, size_t i,
               void *elem) {
  uint64_t h = coord_hash(seed, dt, op, mode, r, i);
  if (!ref_is_float(dt)) {
    memcpy(elem, &h, ref_size(dt)); /* little-endian: the low bytes */
    return;
  }
  if (mode == REF_REAL && (op == TCOLL_SUM || op == TCOLL_AVG)) {
    random_float_bits(dt, h, -6, 2, elem);
    return;
  }
  switch (op) {
    case TCOLL_SUM:
    case TCOLL_AVG: encode_exact(dt, (double)((int64_t)(h % 33) - 16), elem); return;
    case TCOLL_PROD: {
      static const double factors[] = {0.5, 1, 2, -0.5, -1, -2};
      encode_exact(dt, factors[h % 6], elem);
      return;
    }
    case TCOLL_MIN:
    case TCOLL_MAX:
      /* signed zeros often (their order is part of the contract), otherwise
       * values over many binades, infinities included */
      switch (h % 16) {
        case 0: encode_exact(dt, 0.0, elem); return;
        case 1: encode_exact(dt, -0.0, elem); return;
        case 2: encode_exact(dt, (h & 16) ? INFINITY : -INFINITY, elem); return;
        default: random_float_bits(dt, h, -14, 14, elem); return;
      }
  }
}

void ref_fill(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int r, void *buf,
              size_t count) {
  size_t es = ref_size(dt);
  for (size_t i = 0; i < count; i++) ref_input(seed, dt, op, mode, r, i, (char *)buf + i * es);
}

/* a before b in tcoll's MIN order: -0 < +0 */
static int float_less(double a, double b) { return a < b || (a == b && signbit(a) && !signbit(b)); }

/* Unit roundoff of each float type (half an ulp at 1). */
static double roundoff(tcoll_dtype dt) {
  switch (dt) {
    case TCOLL_FLOAT16: return ldexp(1, -11);
    case TCOLL_BFLOAT16: return ldexp(1, -8);
    case TCOLL_FLOAT32: return ldexp(1, -24);
    default: return ldexp(1, -53);
  }
}

static long check_float(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int nranks,
                        size_t first, const void *result, size_t count, char *msg, size_t msglen) {
  unsigned char elem[8];
  for (size_t j = 0; j < count; j++) {
    const size_t i = first + j;
    double acc = 0, abs_sum = 0;
    for (int r = 0; r < nranks; r++) {
      ref_input(seed, dt, op, mode, r, i, elem);
      double x = decode_float(dt, elem, 0);
      abs_sum += fabs(x);
      if (r == 0) acc = x;
      else if (op == TCOLL_SUM || op == TCOLL_AVG) acc += x;
      else if (op == TCOLL_PROD) acc *= x;
      else if (op == TCOLL_MIN) acc = float_less(x, acc) ? x : acc;
      else acc = float_less(acc, x) ? x : acc;
    }
    if (op == TCOLL_AVG) acc /= nranks, abs_sum /= nranks;
    double got = decode_float(dt, result, j);
    double tol = 0;
    /* Exact inputs: every partial result is representable, so only AVG's
     * final division rounds (once, at most one ulp). Real inputs: each of
     * the nranks-1 additions rounds by at most one unit roundoff of the
     * running sum, bounded by the sum of magnitudes; factor 2 for the final
     * rounding of AVG and of the reference itself. */
    if (mode == REF_REAL && (op == TCOLL_SUM || op == TCOLL_AVG))
      tol = 2.0 * nranks * roundoff(dt) * abs_sum;
    else if (op == TCOLL_AVG)
      tol = 2.0 * roundoff(dt) * fabs(acc);
    int ok = (tol == 0) ? (got == acc && signbit(got) == signbit(acc)) : (fabs(got - acc) <= tol);
    if (isnan(got)) ok = 0;
    if (!ok) {
      snprintf(msg, msglen, "%s %s element %zu: got %.17g, expected %.17g (tolerance %.3g)",
               ref_dtype_name(dt), ref_op_name(op), i, got, acc, tol);
      return (long)j;
    }
  }
  return -1;
}

static long check_int(uint64_t seed, tcoll_dtype dt, tcoll_op op, int nranks, size_t first,
                      const void *result, size_t count, char *msg, size_t msglen) {
  const size_t es = ref_size(dt);
  const uint64_t width_mask = es == 8 ? ~0ULL : ((1ULL << (8 * es)) - 1);
  const int sign = is_signed_int(dt);
  unsigned char elem[8];
  for (size_t j = 0; j < count; j++) {
    const size_t i = first + j;
    uint64_t acc = 0;
    for (int r = 0; r < nranks; r++) {
      ref_input(seed, dt, op, REF_EXACT, r, i, elem);
      uint64_t x = decode_int(dt, elem, 0);
      if (r == 0) { acc = x; continue; }
      switch (op) {
        case TCOLL_SUM: acc += x; break; /* mod 2^64, then truncated */
        case TCOLL_PROD: acc *= x; break;
        case TCOLL_MIN: acc = (sign ? (int64_t)x < (int64_t)acc : x < acc) ? x : acc; break;
        case TCOLL_MAX: acc = (sign ? (int64_t)x > (int64_t)acc : x > acc) ? x : acc; break;
        default: assert(!"integer AVG is rejected by the API");
      }
    }
    uint64_t got = decode_int(dt, result, j);
    if ((got & width_mask) != (acc & width_mask)) {
      snprintf(msg, msglen, "%s %s element %zu: got 0x%llx, expected 0x%llx", ref_dtype_name(dt),
               ref_op_name(op), i, (unsigned long long)(got & width_mask),
               (unsigned long long)(acc & width_mask));
      return (long)j;
    }
  }
  return -1;
}

long ref_check_reduction(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int nranks,
                         size_t first, const void *result, size_t count, char *msg, size_t msglen) {
  if (ref_is_float(dt)) return check_float(seed, dt, op, mode, nranks, first, result, count, msg, msglen);
  return check_int(seed, dt, op, nranks, first, result, count, msg, msglen);
}

long ref_check_inputs(uint64_t seed, tcoll_dtype dt, tcoll_op op, ref_mode mode, int r, size_t first,
                      const void *result, size_t count, char *msg, size_t msglen) {
  const size_t es = ref_size(dt);
  unsigned char elem[8];
  for (size_t j = 0; j < count; j++) {
    ref_input(seed, dt, op, mode, r, first + j, elem);
    if (memcmp(elem, (const char *)result + j * es, es) != 0) {
      snprintf(msg, msglen, "%s element %zu: not rank %d's input element %zu", ref_dtype_name(dt), j, r,
               first + j);
      return (long)j;
    }
  }
  return -1;
}

/* ---- guarded buffers ---- */

/* Each allocation gets its own guard pattern (from a counter stored in its
 * header), so bytes copied from one buffer's guard into another's are
 * detected too: a single shared pattern would let an off-by-one memcpy from
 * sendbuf into recvbuf go unnoticed. */
typedef struct {
  size_t bytes;
  unsigned seed;
} guard_header;

static unsigned char guard_byte(unsigned seed, size_t k) {
  return (unsigned char)(seed * 151u + (unsigned)k * 7u + 0x5Bu);
}

void *ref_guarded_alloc(size_t bytes) {
  static unsigned next_seed = 1;
  unsigned char *base = malloc(sizeof(guard_header) + 2 * REF_GUARD + bytes + 1);
  if (!base) return NULL;
  guard_header h = {bytes, next_seed++};
  memcpy(base, &h, sizeof h);
  unsigned char *buf = base + sizeof h + REF_GUARD;
  for (size_t k = 0; k < REF_GUARD; k++) {
    buf[-1 - (long)k] = guard_byte(h.seed, k);
    buf[bytes + k] = guard_byte(h.seed, REF_GUARD + k);
  }
  return buf;
}

int ref_guards_intact(const void *buf, size_t bytes) {
  const unsigned char *p = buf;
  guard_header h;
  memcpy(&h, p - REF_GUARD - sizeof h, sizeof h);
  if (h.bytes != bytes) return 0;
  for (size_t k = 0; k < REF_GUARD; k++)
    if (p[-1 - (long)k] != guard_byte(h.seed, k) || p[bytes + k] != guard_byte(h.seed, REF_GUARD + k))
      return 0;
  return 1;
}

void ref_guarded_free(void *buf) {
  if (buf) free((unsigned char *)buf - REF_GUARD - sizeof(guard_header));
}
