/*
 * Unit tests for the reduction kernels (src/kernels.c).
 *
 * Every expected value is computed here without the code under test:
 * integers in uint64_t modular arithmetic, floats with explicit branches, and
 * 16-bit floats decoded with ldexp and rounded by searching for the nearest
 * representable value in double arithmetic.
 */
#include <check.h>

#include "check_run.h"
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"

/* ---- Helpers ---- */

static uint32_t f2u(float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

static float u2f(uint32_t u)
{
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static uint64_t d2u(double d)
{
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

static double u2d(uint64_t u)
{
  double d;
  memcpy(&d, &u, sizeof d);
  return d;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static void rng_seed(uint64_t s) { rng_state = s * 0x9e3779b97f4a7c15u + 1u; }

static uint64_t rng_next(void)
{
  uint64_t x = rng_state;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_state = x;
  return x * 0x2545f4914f6cdd1du;
}

static const size_t test_sizes[] = {1, 2, 3, 7, 8, 9, 15, 16, 17, 31, 63, 64, 65, 127, 128,
                                    129, 255, 256, 257, 1000, 1023, 1029};
#define NUM_SIZES (sizeof test_sizes / sizeof test_sizes[0])

static size_t elem_size(tcoll_dtype dt)
{
  switch (dt) {
  case TCOLL_INT8:
  case TCOLL_UINT8:
    return 1;
  case TCOLL_FLOAT16:
  case TCOLL_BFLOAT16:
    return 2;
  case TCOLL_INT32:
  case TCOLL_UINT32:
  case TCOLL_FLOAT32:
    return 4;
  default:
    return 8;
  }
}

static int is_signed_int(tcoll_dtype dt)
{
  return dt == TCOLL_INT8 || dt == TCOLL_INT32 || dt == TCOLL_INT64;
}

static int is_int(tcoll_dtype dt) { return dt <= TCOLL_UINT64; }

static uint64_t width_mask(tcoll_dtype dt)
{
  size_t w = 8 * elem_size(dt);
  return w == 64 ? UINT64_MAX : (UINT64_C(1) << w) - 1u;
}

/* Little-endian independent: go through the typed lvalue. */
static uint64_t get_bits(tcoll_dtype dt, const void *buf, size_t i)
{
  const unsigned char *p = (const unsigned char *)buf + i * elem_size(dt);
  switch (elem_size(dt)) {
  case 1:
    return *p;
  case 2: {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
  }
  case 4: {
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
  }
  default: {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
  }
  }
}

static void put_bits(tcoll_dtype dt, void *buf, size_t i, uint64_t bits)
{
  unsigned char *p = (unsigned char *)buf + i * elem_size(dt);
  switch (elem_size(dt)) {
  case 1:
    *p = (unsigned char)bits;
    break;
  case 2: {
    uint16_t v = (uint16_t)bits;
    memcpy(p, &v, 2);
    break;
  }
  case 4: {
    uint32_t v = (uint32_t)bits;
    memcpy(p, &v, 4);
    break;
  }
  default:
    memcpy(p, &bits, 8);
    break;
  }
}

static int64_t sign_extend(uint64_t bits, tcoll_dtype dt)
{
  size_t w = 8 * elem_size(dt);
  if (w == 64)
    return (int64_t)bits;
  uint64_t m = UINT64_C(1) << (w - 1);
  bits &= width_mask(dt);
  return (int64_t)(bits ^ m) - (int64_t)m;
}

/* ---- Independent 16-bit float reference ---- */

static double ref_half_to_double(uint16_t h)
{
  int exp = (h >> 10) & 0x1f;
  int mant = h & 0x3ff;
  double v;
  if (exp == 31)
    v = mant ? NAN : INFINITY;
  else if (exp == 0)
    v = ldexp(mant, -24);
  else
    v = ldexp(1024 + mant, exp - 25);
  return (h & 0x8000) ? -v : v;
}

static double ref_bf16_to_double(uint16_t h)
{
  int exp = (h >> 7) & 0xff;
  int mant = h & 0x7f;
  double v;
  if (exp == 255)
    v = mant ? NAN : INFINITY;
  else if (exp == 0)
    v = ldexp(mant, -133);
  else
    v = ldexp(128 + mant, exp - 134);
  return (h & 0x8000) ? -v : v;
}

/* Magnitude of a non-negative pattern up to and including the inf pattern,
 * which stands for the next power of two so that overflow rounds like any
 * other value. */
static double mag16(int bf16, unsigned h)
{
  if (bf16)
    return h == 0x7f80 ? ldexp(1.0, 128) : ref_bf16_to_double((uint16_t)h);
  return h == 0x7c00 ? 65536.0 : ref_half_to_double((uint16_t)h);
}

/* Nearest representable value, ties to the even pattern, found by binary
 * search over the monotonic positive patterns. NaN gives the canonical NaN. */
static uint16_t ref_round16(int bf16, double v)
{
  unsigned inf = bf16 ? 0x7f80u : 0x7c00u;
  if (isnan(v))
    return (uint16_t)(inf | (bf16 ? 0x40u : 0x200u));
  unsigned sign = signbit(v) ? 0x8000u : 0u;
  double av = fabs(v);
  if (av >= mag16(bf16, inf))
    return (uint16_t)(sign | inf);
  unsigned lo = 0, hi = inf; /* mag(lo) <= av < mag(hi) */
  while (hi - lo > 1) {
    unsigned mid = (lo + hi) / 2;
    if (mag16(bf16, mid) <= av)
      lo = mid;
    else
      hi = mid;
  }
  double dlo = av - mag16(bf16, lo), dhi = mag16(bf16, hi) - av;
  unsigned r = dlo < dhi ? lo : dhi < dlo ? hi : (lo % 2 == 0 ? lo : hi);
  return (uint16_t)(sign | r);
}

static int half_is_nan(uint16_t h) { return (h & 0x7c00) == 0x7c00 && (h & 0x3ff); }
static int bf16_is_nan(uint16_t h) { return (h & 0x7f80) == 0x7f80 && (h & 0x7f); }

/* ---- Independent element-wise reference ---- */

static double ref_min(double x, double y)
{
  if (isnan(x))
    return x;
  if (isnan(y))
    return y;
  if (x == 0 && y == 0)
    return signbit(x) ? x : y;
  return x < y ? x : y;
}

static double ref_max(double x, double y)
{
  if (isnan(x))
    return x;
  if (isnan(y))
    return y;
  if (x == 0 && y == 0)
    return signbit(x) ? y : x;
  return x > y ? x : y;
}

static float ref_op_f32(tcoll_op op, float x, float y)
{
  switch (op) {
  case TCOLL_PROD:
    return x * y;
  case TCOLL_MIN:
    return (float)ref_min(x, y);
  case TCOLL_MAX:
    return (float)ref_max(x, y);
  default:
    return x + y;
  }
}

static double ref_op_f64(tcoll_op op, double x, double y)
{
  switch (op) {
  case TCOLL_PROD:
    return x * y;
  case TCOLL_MIN:
    return ref_min(x, y);
  case TCOLL_MAX:
    return ref_max(x, y);
  default:
    return x + y;
  }
}

/* Expected bits of x op y; *nan set when the result must be (any) NaN. */
static uint64_t ref_op(tcoll_dtype dt, tcoll_op op, uint64_t x, uint64_t y, int *nan)
{
  *nan = 0;
  if (is_int(dt)) {
    uint64_t m = width_mask(dt);
    int lt = is_signed_int(dt) ? sign_extend(x, dt) < sign_extend(y, dt) : (x & m) < (y & m);
    switch (op) {
    case TCOLL_PROD:
      return (x * y) & m;
    case TCOLL_MIN:
      return (lt ? x : y) & m;
    case TCOLL_MAX:
      return (lt ? y : x) & m;
    default:
      return (x + y) & m;
    }
  }
  if (dt == TCOLL_FLOAT32) {
    float r = ref_op_f32(op, u2f((uint32_t)x), u2f((uint32_t)y));
    *nan = isnan(r);
    return f2u(r);
  }
  if (dt == TCOLL_FLOAT64) {
    double r = ref_op_f64(op, u2d(x), u2d(y));
    *nan = isnan(r);
    return d2u(r);
  }
  int bf = dt == TCOLL_BFLOAT16;
  float fx = (float)(bf ? ref_bf16_to_double((uint16_t)x) : ref_half_to_double((uint16_t)x));
  float fy = (float)(bf ? ref_bf16_to_double((uint16_t)y) : ref_half_to_double((uint16_t)y));
  float r = ref_op_f32(op, fx, fy);
  *nan = isnan(r);
  return ref_round16(bf, r);
}

static int bits_are_nan(tcoll_dtype dt, uint64_t b)
{
  switch (dt) {
  case TCOLL_FLOAT16:
    return half_is_nan((uint16_t)b);
  case TCOLL_BFLOAT16:
    return bf16_is_nan((uint16_t)b);
  case TCOLL_FLOAT32:
    return isnan(u2f((uint32_t)b));
  case TCOLL_FLOAT64:
    return isnan(u2d(b));
  default:
    return 0;
  }
}

static uint64_t pick(const uint64_t *v, size_t n) { return v[rng_next() % n]; }

/* Mix of edge values and random ones in a range where sums and products are
 * interesting (rounding, overflow, subnormals). */
static uint64_t gen_value(tcoll_dtype dt)
{
  static const uint64_t f32_special[] = {0x00000000, 0x80000000, 0x7f800000, 0xff800000,
                                         0x7fc00000, 0xffc00001, 0x3f800000, 0xbf800000,
                                         0x7f7fffff, 0xff7fffff, 0x00800000, 0x00000001,
                                         0x80000001, 0x007fffff, 0x7f800001};
  static const uint64_t f64_special[] = {
      0, 0x8000000000000000u, 0x7ff0000000000000u, 0xfff0000000000000u, 0x7ff8000000000000u,
      0x3ff0000000000000u, 0xbff0000000000000u, 0x7fefffffffffffffu, 0x0000000000000001u,
      0x8000000000000001u, 0x000fffffffffffffu, 0x0010000000000000u, 0x7ff0000000000001u};
  static const uint64_t f16_special[] = {0x0000, 0x8000, 0x7c00, 0xfc00, 0x7e00, 0x7c01,
                                         0x3c00, 0xbc00, 0x7bff, 0xfbff, 0x0001, 0x8001,
                                         0x03ff, 0x0400, 0x6800};
  static const uint64_t bf16_special[] = {0x0000, 0x8000, 0x7f80, 0xff80, 0x7fc0, 0x7f81,
                                          0x3f80, 0xbf80, 0x7f7f, 0xff7f, 0x0001, 0x8001,
                                          0x007f, 0x0080, 0x4380};
  int special = rng_next() % 8 == 0;
  uint64_t r = rng_next();
  switch (dt) {
  case TCOLL_FLOAT32:
    if (special)
      return pick(f32_special, sizeof f32_special / 8);
    if (r % 16 == 0)
      return (uint32_t)(r >> 32);
    return (r & 0x807fffffu) | ((uint64_t)(127 - 20 + (r >> 40) % 41) << 23);
  case TCOLL_FLOAT64:
    if (special)
      return pick(f64_special, sizeof f64_special / 8);
    if (r % 16 == 0)
      return rng_next();
    return (r & 0x800fffffffffffffu) | ((uint64_t)(1023 - 40 + rng_next() % 81) << 52);
  case TCOLL_FLOAT16:
    return special ? pick(f16_special, sizeof f16_special / 8) : r & 0xffff;
  case TCOLL_BFLOAT16:
    if (special)
      return pick(bf16_special, sizeof bf16_special / 8);
    if (r % 8 == 0)
      return r >> 48;
    return (r & 0x807f) | ((uint64_t)(127 - 20 + (r >> 32) % 41) << 7);
  default:
    if (special) {
      static const int64_t edge[] = {0, 1, -1, 2, -2, 127, -128, 255, INT32_MAX, INT32_MIN,
                                     INT64_MAX, INT64_MIN};
      return (uint64_t)edge[rng_next() % (sizeof edge / sizeof edge[0])] & width_mask(dt);
    }
    /* Small magnitudes now and then so that products do not always wrap. */
    return (r % 3 == 0 ? r % 300 : r) & width_mask(dt);
  }
}

static void *alloc_fill(tcoll_dtype dt, size_t n)
{
  void *p = malloc(n * elem_size(dt) + 1);
  ck_assert_ptr_nonnull(p);
  for (size_t i = 0; i < n; i++)
    put_bits(dt, p, i, gen_value(dt));
  return p;
}

static const tcoll_op all_ops[] = {TCOLL_SUM, TCOLL_PROD, TCOLL_MIN, TCOLL_MAX, TCOLL_AVG};

static const char *dt_name(tcoll_dtype dt)
{
  static const char *n[] = {"int8",    "uint8",    "int32",   "uint32",  "int64",
                            "uint64",  "float16",  "bfloat16", "float32", "float64"};
  return n[dt];
}

static void check_against_ref(tcoll_dtype dt, tcoll_op op, const void *out, const void *a,
                              const void *b, size_t n, const char *what)
{
  for (size_t i = 0; i < n; i++) {
    int nan;
    uint64_t x = get_bits(dt, a, i), y = get_bits(dt, b, i);
    uint64_t want = ref_op(dt, op, x, y, &nan);
    uint64_t got = get_bits(dt, out, i);
    if (nan)
      ck_assert_msg(bits_are_nan(dt, got),
                    "%s %s op %d n=%zu i=%zu: x=%#llx y=%#llx got %#llx, want NaN", what,
                    dt_name(dt), (int)op, n, i, (unsigned long long)x, (unsigned long long)y,
                    (unsigned long long)got);
    else
      ck_assert_msg(got == want, "%s %s op %d n=%zu i=%zu: x=%#llx y=%#llx got %#llx want %#llx",
                    what, dt_name(dt), (int)op, n, i, (unsigned long long)x,
                    (unsigned long long)y, (unsigned long long)got, (unsigned long long)want);
  }
}

/* ---- Tables ---- */

START_TEST(test_dtype_tables)
{
  static const struct {
    tcoll_dtype dt;
    size_t size;
    const char *name;
    int is_float;
  } t[] = {{TCOLL_INT8, 1, "int8", 0},         {TCOLL_UINT8, 1, "uint8", 0},
           {TCOLL_INT32, 4, "int32", 0},       {TCOLL_UINT32, 4, "uint32", 0},
           {TCOLL_INT64, 8, "int64", 0},       {TCOLL_UINT64, 8, "uint64", 0},
           {TCOLL_FLOAT16, 2, "float16", 1},   {TCOLL_BFLOAT16, 2, "bfloat16", 1},
           {TCOLL_FLOAT32, 4, "float32", 1},   {TCOLL_FLOAT64, 8, "float64", 1}};
  ck_assert_int_eq(sizeof t / sizeof t[0], TCOLL_NUM_DTYPES);
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    ck_assert_uint_eq(tcoll__dtype_size(t[i].dt), t[i].size);
    ck_assert_str_eq(tcoll__dtype_name(t[i].dt), t[i].name);
    ck_assert_int_eq(!!tcoll__dtype_is_float(t[i].dt), t[i].is_float);
  }
  ck_assert_uint_eq(tcoll__dtype_size((tcoll_dtype)TCOLL_NUM_DTYPES), 0);
  ck_assert_uint_eq(tcoll__dtype_size((tcoll_dtype)-1), 0);
  ck_assert_str_eq(tcoll__dtype_name((tcoll_dtype)TCOLL_NUM_DTYPES), "?");
  ck_assert_str_eq(tcoll__dtype_name((tcoll_dtype)-1), "?");
  ck_assert_int_eq(tcoll__dtype_is_float((tcoll_dtype)TCOLL_NUM_DTYPES), 0);
}
END_TEST

START_TEST(test_op_names)
{
  ck_assert_str_eq(tcoll__op_name(TCOLL_SUM), "sum");
  ck_assert_str_eq(tcoll__op_name(TCOLL_PROD), "prod");
  ck_assert_str_eq(tcoll__op_name(TCOLL_MIN), "min");
  ck_assert_str_eq(tcoll__op_name(TCOLL_MAX), "max");
  ck_assert_str_eq(tcoll__op_name(TCOLL_AVG), "avg");
  ck_assert_str_eq(tcoll__op_name((tcoll_op)TCOLL_NUM_OPS), "?");
  ck_assert_str_eq(tcoll__op_name((tcoll_op)-1), "?");
}
END_TEST

/* ---- Integers ---- */

#define S(v) ((uint64_t)(int64_t)(v))

START_TEST(test_int_literal_cases)
{
  static const struct {
    tcoll_dtype dt;
    tcoll_op op;
    uint64_t a, b, want;
  } t[] = {
      {TCOLL_INT8, TCOLL_SUM, 127, 1, S(-128)},
      {TCOLL_INT8, TCOLL_SUM, S(-128), S(-1), 127},
      {TCOLL_INT8, TCOLL_PROD, 16, 16, 0},
      {TCOLL_INT8, TCOLL_PROD, 100, 3, 44},
      {TCOLL_INT8, TCOLL_PROD, S(-128), S(-1), S(-128)},
      {TCOLL_INT8, TCOLL_MIN, S(-128), 127, S(-128)},
      {TCOLL_INT8, TCOLL_MAX, S(-1), 0, 0},
      {TCOLL_UINT8, TCOLL_SUM, 255, 1, 0},
      {TCOLL_UINT8, TCOLL_PROD, 200, 2, 144},
      {TCOLL_UINT8, TCOLL_MAX, 0, 255, 255},
      {TCOLL_UINT8, TCOLL_MIN, 128, 127, 127},
      {TCOLL_INT32, TCOLL_SUM, INT32_MAX, 1, S(INT32_MIN)},
      {TCOLL_INT32, TCOLL_PROD, 65536, 65536, 0},
      {TCOLL_INT32, TCOLL_PROD, S(INT32_MIN), S(-1), S(INT32_MIN)},
      {TCOLL_INT32, TCOLL_PROD, 46341, 46341, S(-2147479015)},
      {TCOLL_INT32, TCOLL_MIN, S(-1), 0, S(-1)},
      {TCOLL_UINT32, TCOLL_SUM, UINT32_MAX, 2, 1},
      {TCOLL_UINT32, TCOLL_PROD, 0x10000, 0x10001, 0x10000},
      {TCOLL_UINT32, TCOLL_MIN, UINT32_MAX, 1, 1},
      {TCOLL_INT64, TCOLL_SUM, INT64_MAX, 1, S(INT64_MIN)},
      {TCOLL_INT64, TCOLL_SUM, S(INT64_MIN), S(-1), INT64_MAX},
      {TCOLL_INT64, TCOLL_PROD, S(INT64_MIN), S(-1), S(INT64_MIN)},
      {TCOLL_INT64, TCOLL_PROD, UINT64_C(1) << 32, UINT64_C(1) << 32, 0},
      {TCOLL_INT64, TCOLL_PROD, 3037000500, 3037000500, S(-9223372036709301616)},
      {TCOLL_INT64, TCOLL_MAX, S(INT64_MIN), S(-1), S(-1)},
      {TCOLL_UINT64, TCOLL_SUM, UINT64_MAX, 1, 0},
      {TCOLL_UINT64, TCOLL_PROD, UINT64_C(1) << 63, 2, 0},
      {TCOLL_UINT64, TCOLL_MAX, UINT64_C(1) << 63, 1, UINT64_C(1) << 63},
      {TCOLL_UINT64, TCOLL_MIN, UINT64_MAX, 0, 0},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    /* Same pair in both orders, replicated past one vector block so both the
     * vector loop and the scalar tail see it. */
    enum { N = 131 };
    unsigned char a[N * 8], b[N * 8], out[N * 8];
    for (size_t j = 0; j < N; j++) {
      put_bits(t[i].dt, a, j, j % 2 ? t[i].a : t[i].b);
      put_bits(t[i].dt, b, j, j % 2 ? t[i].b : t[i].a);
    }
    tcoll__reduce(t[i].dt, t[i].op, out, a, b, N);
    for (size_t j = 0; j < N; j++)
      ck_assert_msg(get_bits(t[i].dt, out, j) == (t[i].want & width_mask(t[i].dt)),
                    "case %zu (%s op %d) elem %zu: got %#llx want %#llx", i, dt_name(t[i].dt),
                    (int)t[i].op, j, (unsigned long long)get_bits(t[i].dt, out, j),
                    (unsigned long long)(t[i].want & width_mask(t[i].dt)));
  }
}
END_TEST

/* ---- Every dtype x op against the reference (loop test over dtypes) ---- */

START_TEST(test_random_vs_ref)
{
  tcoll_dtype dt = (tcoll_dtype)_i;
  rng_seed(1000u + (uint64_t)_i);
  for (size_t s = 0; s < NUM_SIZES; s++) {
    size_t n = test_sizes[s];
    void *a = alloc_fill(dt, n), *b = alloc_fill(dt, n);
    void *out = malloc(n * elem_size(dt)), *rev = malloc(n * elem_size(dt));
    for (size_t o = 0; o < sizeof all_ops / sizeof all_ops[0]; o++) {
      tcoll__reduce(dt, all_ops[o], out, a, b, n);
      check_against_ref(dt, all_ops[o], out, a, b, n, "random");
      /* Operand order must not matter (NaN payloads aside). */
      tcoll__reduce(dt, all_ops[o], rev, b, a, n);
      for (size_t i = 0; i < n; i++) {
        uint64_t g = get_bits(dt, out, i), r = get_bits(dt, rev, i);
        if (bits_are_nan(dt, g))
          ck_assert(bits_are_nan(dt, r));
        else
          ck_assert_msg(g == r, "%s op %d n=%zu i=%zu: a op b %#llx, b op a %#llx",
                        dt_name(dt), (int)all_ops[o], n, i, (unsigned long long)g,
                        (unsigned long long)r);
      }
    }
    free(a);
    free(b);
    free(out);
    free(rev);
  }
}
END_TEST

START_TEST(test_aliasing)
{
  tcoll_dtype dt = (tcoll_dtype)_i;
  rng_seed(2000u + (uint64_t)_i);
  static const size_t ns[] = {1, 3, 65, 1023};
  for (size_t s = 0; s < sizeof ns / sizeof ns[0]; s++) {
    size_t n = ns[s], bytes = n * elem_size(dt);
    void *a = alloc_fill(dt, n), *b = alloc_fill(dt, n);
    void *ref = malloc(bytes), *c = malloc(bytes), *aa = malloc(bytes);
    for (size_t o = 0; o < sizeof all_ops / sizeof all_ops[0]; o++) {
      tcoll_op op = all_ops[o];
      tcoll__reduce(dt, op, ref, a, b, n);
      memcpy(c, a, bytes);
      tcoll__reduce(dt, op, c, c, b, n);
      ck_assert_msg(memcmp(c, ref, bytes) == 0, "%s op %d n=%zu: out == a differs",
                    dt_name(dt), (int)op, n);
      memcpy(c, b, bytes);
      tcoll__reduce(dt, op, c, a, c, n);
      ck_assert_msg(memcmp(c, ref, bytes) == 0, "%s op %d n=%zu: out == b differs",
                    dt_name(dt), (int)op, n);
      tcoll__reduce(dt, op, aa, a, a, n);
      check_against_ref(dt, op, aa, a, a, n, "a==b");
      memcpy(c, a, bytes);
      tcoll__reduce(dt, op, c, c, c, n);
      ck_assert_msg(memcmp(c, aa, bytes) == 0, "%s op %d n=%zu: out == a == b differs",
                    dt_name(dt), (int)op, n);
    }
    free(a);
    free(b);
    free(ref);
    free(c);
    free(aa);
  }
}
END_TEST

START_TEST(test_zero_count_and_bad_args)
{
  unsigned char out[16], a[16] = {1}, b[16] = {2};
  memset(out, 0xa5, sizeof out);
  for (int dt = 0; dt < TCOLL_NUM_DTYPES; dt++)
    tcoll__reduce((tcoll_dtype)dt, TCOLL_SUM, out, a, b, 0);
  tcoll__reduce((tcoll_dtype)TCOLL_NUM_DTYPES, TCOLL_SUM, out, a, b, 1);
  tcoll__reduce(TCOLL_INT8, (tcoll_op)TCOLL_NUM_OPS, out, a, b, 1);
  for (size_t i = 0; i < sizeof out; i++)
    ck_assert_uint_eq(out[i], 0xa5);
}
END_TEST

/* ---- Float MIN/MAX policy ---- */

START_TEST(test_float_minmax_special)
{
  /* (x, y, min, max) as float32 bit patterns; NaN expected is 0x7fc00000. */
  static const uint32_t t[][4] = {
      {0x7fc00000, 0x3f800000, 0x7fc00000, 0x7fc00000},  /* NaN, 1 */
      {0x3f800000, 0x7fc00000, 0x7fc00000, 0x7fc00000},  /* 1, NaN */
      {0xffc00000, 0xff800000, 0x7fc00000, 0x7fc00000},  /* -NaN, -inf */
      {0x7f800000, 0xffc00000, 0x7fc00000, 0x7fc00000},  /* inf, -NaN */
      {0x7fc00000, 0x7fc00000, 0x7fc00000, 0x7fc00000},  /* NaN, NaN */
      {0x80000000, 0x00000000, 0x80000000, 0x00000000},  /* -0, +0 */
      {0x00000000, 0x80000000, 0x80000000, 0x00000000},  /* +0, -0 */
      {0x80000000, 0x80000000, 0x80000000, 0x80000000},  /* -0, -0 */
      {0x00000000, 0x00000000, 0x00000000, 0x00000000},  /* +0, +0 */
      {0x7f800000, 0x3f800000, 0x3f800000, 0x7f800000},  /* inf, 1 */
      {0xff800000, 0x7f800000, 0xff800000, 0x7f800000},  /* -inf, inf */
      {0x7f7fffff, 0x7f800000, 0x7f7fffff, 0x7f800000},  /* FLT_MAX, inf */
      {0x00000001, 0x00000002, 0x00000001, 0x00000002},  /* subnormals */
      {0x80000001, 0x00000001, 0x80000001, 0x00000001},  /* -sub, +sub */
      {0x80000000, 0x00000001, 0x80000000, 0x00000001},  /* -0, +sub */
      {0x80000001, 0x80000000, 0x80000001, 0x80000000},  /* -sub, -0 */
      {0x007fffff, 0x00800000, 0x007fffff, 0x00800000},  /* largest sub, FLT_MIN */
      {0xbf800000, 0x3f800000, 0xbf800000, 0x3f800000},  /* -1, 1 */
  };
  enum { NT = sizeof t / sizeof t[0], N = 7 * NT };
  float x[N], y[N], mn[N], mx[N];
  double dx[N], dy[N], dmn[N], dmx[N];
  for (size_t i = 0; i < N; i++) {
    x[i] = u2f(t[i % NT][0]);
    y[i] = u2f(t[i % NT][1]);
    dx[i] = x[i];
    dy[i] = y[i];
  }
  tcoll__reduce(TCOLL_FLOAT32, TCOLL_MIN, mn, x, y, N);
  tcoll__reduce(TCOLL_FLOAT32, TCOLL_MAX, mx, x, y, N);
  tcoll__reduce(TCOLL_FLOAT64, TCOLL_MIN, dmn, dx, dy, N);
  tcoll__reduce(TCOLL_FLOAT64, TCOLL_MAX, dmx, dx, dy, N);
  for (size_t i = 0; i < N; i++) {
    const uint32_t *r = t[i % NT];
    float wmin = u2f(r[2]), wmax = u2f(r[3]);
    if (isnan(wmin)) {
      ck_assert_msg(isnan(mn[i]) && isnan(dmn[i]), "case %zu: min not NaN", i % NT);
      ck_assert_msg(isnan(mx[i]) && isnan(dmx[i]), "case %zu: max not NaN", i % NT);
      continue;
    }
    ck_assert_msg(f2u(mn[i]) == r[2], "case %zu: f32 min %#x want %#x", i % NT, f2u(mn[i]),
                  r[2]);
    ck_assert_msg(f2u(mx[i]) == r[3], "case %zu: f32 max %#x want %#x", i % NT, f2u(mx[i]),
                  r[3]);
    ck_assert_msg(d2u(dmn[i]) == d2u((double)wmin), "case %zu: f64 min", i % NT);
    ck_assert_msg(d2u(dmx[i]) == d2u((double)wmax), "case %zu: f64 max", i % NT);
  }
  /* float64 subnormals that float32 cannot hold */
  double s1 = u2d(1), s2 = u2d(2), ns1 = u2d(0x8000000000000001u), r;
  tcoll__reduce(TCOLL_FLOAT64, TCOLL_MIN, &r, &s2, &s1, 1);
  ck_assert_uint_eq(d2u(r), 1);
  tcoll__reduce(TCOLL_FLOAT64, TCOLL_MAX, &r, &ns1, &s1, 1);
  ck_assert_uint_eq(d2u(r), 1);
  tcoll__reduce(TCOLL_FLOAT64, TCOLL_MIN, &r, &s1, &ns1, 1);
  ck_assert_uint_eq(d2u(r), 0x8000000000000001u);
}
END_TEST

START_TEST(test_16bit_minmax_special)
{
  /* (x, y, min, max) for float16 then bfloat16; 0xffff marks "NaN". */
  static const uint16_t th[][4] = {{0x8000, 0x0000, 0x8000, 0x0000}, {0x0000, 0x8000, 0x8000, 0x0000},
                                   {0x7e00, 0x3c00, 0xffff, 0xffff}, {0x3c00, 0x7e00, 0xffff, 0xffff},
                                   {0x7c01, 0x3c00, 0xffff, 0xffff}, {0x7c00, 0xfc00, 0xfc00, 0x7c00},
                                   {0x0001, 0x8001, 0x8001, 0x0001}, {0x03ff, 0x0400, 0x03ff, 0x0400}};
  static const uint16_t tb[][4] = {{0x8000, 0x0000, 0x8000, 0x0000}, {0x0000, 0x8000, 0x8000, 0x0000},
                                   {0x7fc0, 0x3f80, 0xffff, 0xffff}, {0x3f80, 0x7fc0, 0xffff, 0xffff},
                                   {0x7f81, 0x3f80, 0xffff, 0xffff}, {0x7f80, 0xff80, 0xff80, 0x7f80},
                                   {0x0001, 0x8001, 0x8001, 0x0001}, {0x007f, 0x0080, 0x007f, 0x0080}};
  enum { NT = sizeof th / sizeof th[0], N = 5 * NT };
  for (int bf = 0; bf < 2; bf++) {
    const uint16_t(*t)[4] = bf ? tb : th;
    tcoll_dtype dt = bf ? TCOLL_BFLOAT16 : TCOLL_FLOAT16;
    uint16_t x[N], y[N], mn[N], mx[N];
    for (size_t i = 0; i < N; i++) {
      x[i] = t[i % NT][0];
      y[i] = t[i % NT][1];
    }
    tcoll__reduce(dt, TCOLL_MIN, mn, x, y, N);
    tcoll__reduce(dt, TCOLL_MAX, mx, x, y, N);
    for (size_t i = 0; i < N; i++) {
      const uint16_t *r = t[i % NT];
      if (r[2] == 0xffff) {
        ck_assert_msg(bits_are_nan(dt, mn[i]) && bits_are_nan(dt, mx[i]),
                      "%s case %zu: want NaN, got %#x %#x", dt_name(dt), i % NT, mn[i], mx[i]);
      } else {
        ck_assert_msg(mn[i] == r[2], "%s case %zu: min %#x want %#x", dt_name(dt), i % NT,
                      mn[i], r[2]);
        ck_assert_msg(mx[i] == r[3], "%s case %zu: max %#x want %#x", dt_name(dt), i % NT,
                      mx[i], r[3]);
      }
    }
  }
}
END_TEST

/* ---- float16 conversions ---- */

START_TEST(test_half_to_float_known)
{
  static const struct {
    uint16_t h;
    uint32_t f;
  } t[] = {
      {0x0000, 0x00000000}, /* +0 */
      {0x8000, 0x80000000}, /* -0 */
      {0x3c00, 0x3f800000}, /* 1 */
      {0xc000, 0xc0000000}, /* -2 */
      {0x7bff, 0x477fe000}, /* 65504 */
      {0x0001, 0x33800000}, /* 2^-24, smallest subnormal */
      {0x8001, 0xb3800000},
      {0x0002, 0x34000000}, /* 2^-23 */
      {0x03ff, 0x387fc000}, /* 1023 * 2^-24, largest subnormal */
      {0x0400, 0x38800000}, /* 2^-14, smallest normal */
      {0x7c00, 0x7f800000}, /* inf */
      {0xfc00, 0xff800000}, /* -inf */
      {0x7e00, 0x7fc00000}, /* quiet NaN */
      {0x7c01, 0x7fc02000}, /* signalling NaN: quiet bit set, payload kept */
      {0xfe00, 0xffc00000},
      {0x3555, 0x3eaaa000}, /* 0.333251953125 */
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    ck_assert_msg(f2u(tcoll__half_to_float(t[i].h)) == t[i].f, "half %#x -> %#x, want %#x",
                  t[i].h, f2u(tcoll__half_to_float(t[i].h)), t[i].f);
  ck_assert(tcoll__half_to_float(0x0001) == 0x1p-24f);
  ck_assert(tcoll__half_to_float(0x03ff) == 1023 * 0x1p-24f);
  ck_assert(tcoll__half_to_float(0x7bff) == 65504.0f);
}
END_TEST

START_TEST(test_float_to_half_known)
{
  static const struct {
    float f;
    uint16_t h;
  } t[] = {
      {0.0f, 0x0000},
      {-0.0f, 0x8000},
      {1.0f, 0x3c00},
      {1.0f + 0x1p-11f, 0x3c00},                /* tie -> even (down) */
      {1.0f + 3 * 0x1p-11f, 0x3c02},            /* tie -> even (up) */
      {1.0f + 0x1p-11f + 0x1p-20f, 0x3c01},     /* just above the tie */
      {1.0f + 0x1p-11f - 0x1p-23f, 0x3c00},     /* just below the tie */
      {-(1.0f + 3 * 0x1p-11f), 0xbc02},
      {65504.0f, 0x7bff},
      {65519.0f, 0x7bff},
      {65519.99609375f, 0x7bff},                /* largest float below 65520 */
      {65520.0f, 0x7c00},                       /* tie with 2^16 -> inf */
      {-65520.0f, 0xfc00},
      {65536.0f, 0x7c00},
      {1e10f, 0x7c00},
      {FLT_MAX, 0x7c00},
      {INFINITY, 0x7c00},
      {-INFINITY, 0xfc00},
      {0x1p-14f, 0x0400},                       /* smallest normal */
      {0x1p-24f, 0x0001},                       /* smallest subnormal */
      {-0x1p-24f, 0x8001},
      {0x1p-25f, 0x0000},                       /* tie between 0 and 2^-24 -> 0 */
      {-0x1p-25f, 0x8000},
      {0x1p-25f + 0x1p-40f, 0x0001},            /* just above: rounds up */
      {0x1p-26f, 0x0000},
      {3 * 0x1p-25f, 0x0002},                   /* 1.5 ulp: tie -> 2 */
      {5 * 0x1p-25f, 0x0002},                   /* 2.5 ulp: tie -> 2 */
      {7 * 0x1p-25f, 0x0004},                   /* 3.5 ulp: tie -> 4 */
      {1022.5f * 0x1p-24f, 0x03fe},             /* tie -> even subnormal */
      {1023.5f * 0x1p-24f, 0x0400},             /* tie -> smallest normal */
      {1023.25f * 0x1p-24f, 0x03ff},
      {0x1p-149f, 0x0000},                      /* float subnormal */
      {-0x1p-149f, 0x8000},
      {0x1p-126f, 0x0000},
      {0.333333343f, 0x3555},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    ck_assert_msg(tcoll__float_to_half(t[i].f) == t[i].h, "case %zu: %a -> %#x, want %#x", i,
                  (double)t[i].f, tcoll__float_to_half(t[i].f), t[i].h);
  /* NaNs stay NaN (never inf), quiet, keeping sign and top payload bits. */
  ck_assert_uint_eq(tcoll__float_to_half(u2f(0x7fc00000)), 0x7e00);
  ck_assert_uint_eq(tcoll__float_to_half(u2f(0xffc00000)), 0xfe00);
  ck_assert_uint_eq(tcoll__float_to_half(u2f(0x7f800001)), 0x7e00);
  ck_assert_uint_eq(tcoll__float_to_half(u2f(0x7fffffff)), 0x7fff);
  ck_assert_uint_eq(tcoll__float_to_half(u2f(0x7f802000)), 0x7e01);
}
END_TEST

START_TEST(test_half_exhaustive_roundtrip)
{
  for (uint32_t h = 0; h <= 0xffff; h++) {
    float f = tcoll__half_to_float((uint16_t)h);
    uint16_t back = tcoll__float_to_half(f);
    if (half_is_nan((uint16_t)h)) {
      ck_assert_msg(isnan(f), "half %#x did not widen to NaN", h);
      ck_assert_msg(f2u(f) == ((h & 0x8000u) << 16 | 0x7fc00000u | (h & 0x3ffu) << 13),
                    "half NaN %#x widened to %#x", h, f2u(f));
      ck_assert_msg(back == (h | 0x200), "half NaN %#x -> %#x", h, back);
    } else {
      double want = ref_half_to_double((uint16_t)h);
      ck_assert_msg(f2u(f) == f2u((float)want), "half %#x widened to %a, want %a", h,
                    (double)f, want);
      ck_assert_msg(back == h, "half %#x round-tripped to %#x", h, back);
    }
  }
}
END_TEST

/* Every midpoint between adjacent halves (and its float neighbours) must
 * round as ties-to-even says. */
START_TEST(test_half_exhaustive_midpoints)
{
  for (uint32_t h = 0; h < 0x7c00; h++) {
    float lo = (float)mag16(0, h), hi = (float)mag16(0, h + 1);
    float mid = (float)(((double)lo + (double)hi) / 2);
    ck_assert(mid > lo && mid < hi && (double)mid == ((double)lo + (double)hi) / 2);
    uint16_t even = (uint16_t)(h % 2 == 0 ? h : h + 1);
    for (int s = 0; s < 2; s++) {
      float sg = s ? -1.0f : 1.0f;
      uint16_t sb = s ? 0x8000 : 0;
      ck_assert_msg(tcoll__float_to_half(sg * mid) == (sb | even), "mid of %#x: got %#x", h,
                    tcoll__float_to_half(sg * mid));
      ck_assert_msg(tcoll__float_to_half(sg * nextafterf(mid, 0)) == (sb | h),
                    "below mid of %#x: got %#x", h, tcoll__float_to_half(sg * nextafterf(mid, 0)));
      ck_assert_msg(tcoll__float_to_half(sg * nextafterf(mid, INFINITY)) == (sb | (h + 1)),
                    "above mid of %#x", h);
    }
  }
}
END_TEST

static float random_float_bits(uint32_t min_exp, uint32_t max_exp)
{
  uint64_t r = rng_next();
  if (r % 32 == 0)
    return u2f((uint32_t)(r >> 32)); /* anything, NaN and inf included */
  uint32_t e = min_exp + (uint32_t)((r >> 32) % (max_exp - min_exp + 1));
  return u2f((uint32_t)(r & 0x807fffffu) | e << 23);
}

START_TEST(test_float_to_half_random_vs_ref)
{
  rng_seed(3);
  for (int i = 0; i < 50000; i++) {
    /* float exponents 2^-28 .. 2^17: below the subnormals up to overflow */
    float f = random_float_bits(127 - 28, 127 + 17);
    uint16_t got = tcoll__float_to_half(f);
    if (isnan(f)) {
      ck_assert(half_is_nan(got));
      continue;
    }
    uint16_t want = ref_round16(0, f);
    ck_assert_msg(got == want, "%a (%#x) -> %#x, want %#x", (double)f, f2u(f), got, want);
  }
}
END_TEST

/* ---- bfloat16 conversions ---- */

START_TEST(test_bf16_known)
{
  static const struct {
    uint16_t h;
    uint32_t f;
  } w[] = {{0x0000, 0x00000000}, {0x8000, 0x80000000}, {0x3f80, 0x3f800000},
           {0x7f7f, 0x7f7f0000}, {0x0001, 0x00010000}, {0x0080, 0x00800000},
           {0x7f80, 0x7f800000}, {0xff80, 0xff800000}, {0x7fc0, 0x7fc00000},
           {0x7f81, 0x7fc10000}, /* signalling NaN gets the quiet bit */
           {0xffc1, 0xffc10000}};
  for (size_t i = 0; i < sizeof w / sizeof w[0]; i++)
    ck_assert_msg(f2u(tcoll__bf16_to_float(w[i].h)) == w[i].f, "bf16 %#x -> %#x want %#x",
                  w[i].h, f2u(tcoll__bf16_to_float(w[i].h)), w[i].f);
  static const struct {
    uint32_t f;
    uint16_t h;
  } n[] = {
      {0x00000000, 0x0000}, {0x80000000, 0x8000}, {0x3f800000, 0x3f80},
      {0x3f808000, 0x3f80}, /* 1 + 2^-8: tie -> even (down) */
      {0x3f818000, 0x3f82}, /* 1 + 3*2^-8: tie -> even (up) */
      {0x3f808001, 0x3f81}, /* just above the tie */
      {0x3f807fff, 0x3f80}, /* just below */
      {0xbf818000, 0xbf82}, {0x7f7f7fff, 0x7f7f},
      {0x7f7f8000, 0x7f80}, /* tie above the largest bf16 -> inf */
      {0x7f7fffff, 0x7f80}, /* FLT_MAX -> inf */
      {0xff7fffff, 0xff80}, {0x7f800000, 0x7f80}, {0xff800000, 0xff80},
      {0x00008000, 0x0000}, /* subnormal tie -> 0 */
      {0x00018000, 0x0002}, /* subnormal tie -> even */
      {0x00008001, 0x0001}, {0x007fffff, 0x0080}, /* largest subnormal -> FLT_MIN */
  };
  for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
    ck_assert_msg(tcoll__float_to_bf16(u2f(n[i].f)) == n[i].h, "float %#x -> %#x want %#x",
                  n[i].f, tcoll__float_to_bf16(u2f(n[i].f)), n[i].h);
  /* NaNs whose rounding would carry into inf or wrap to zero */
  ck_assert_uint_eq(tcoll__float_to_bf16(u2f(0x7f800001)), 0x7fc0);
  ck_assert_uint_eq(tcoll__float_to_bf16(u2f(0x7fffffff)), 0x7fff);
  ck_assert_uint_eq(tcoll__float_to_bf16(u2f(0xffffffff)), 0xffff);
  ck_assert_uint_eq(tcoll__float_to_bf16(u2f(0xff80ffff)), 0xffc0);
}
END_TEST

START_TEST(test_bf16_exhaustive)
{
  for (uint32_t h = 0; h <= 0xffff; h++) {
    float f = tcoll__bf16_to_float((uint16_t)h);
    uint16_t back = tcoll__float_to_bf16(f);
    if (bf16_is_nan((uint16_t)h)) {
      ck_assert(isnan(f));
      ck_assert_msg(back == (h | 0x40), "bf16 NaN %#x -> %#x", h, back);
      continue;
    }
    ck_assert_msg((double)f == ref_bf16_to_double((uint16_t)h) && !!signbit(f) == !!(h & 0x8000),
                  "bf16 %#x widened to %a", h, (double)f);
    ck_assert_msg(back == h, "bf16 %#x round-tripped to %#x", h, back);
    if ((h & 0x7fff) < 0x7f80) { /* midpoint with the next pattern up in magnitude */
      uint32_t mid = (h << 16) | 0x8000u;
      uint16_t even = (uint16_t)(h % 2 == 0 ? h : h + 1);
      ck_assert_msg(tcoll__float_to_bf16(u2f(mid)) == even, "mid %#x -> %#x", mid,
                    tcoll__float_to_bf16(u2f(mid)));
      ck_assert(tcoll__float_to_bf16(u2f(mid - 1)) == h);
      ck_assert(tcoll__float_to_bf16(u2f(mid + 1)) == h + 1);
    }
  }
}
END_TEST

START_TEST(test_float_to_bf16_random_vs_ref)
{
  rng_seed(4);
  for (int i = 0; i < 50000; i++) {
    float f = u2f((uint32_t)rng_next());
    uint16_t got = tcoll__float_to_bf16(f);
    if (isnan(f)) {
      ck_assert(bf16_is_nan(got));
      continue;
    }
    uint16_t want = ref_round16(1, f);
    ck_assert_msg(got == want, "%a (%#x) -> %#x, want %#x", (double)f, f2u(f), got, want);
  }
}
END_TEST

/* ---- 16-bit reductions ---- */

START_TEST(test_16bit_sum_cases)
{
  static const struct {
    tcoll_dtype dt;
    uint16_t a, b, want;
  } t[] = {
      {TCOLL_FLOAT16, 0x3c00, 0x4000, 0x4200}, /* 1 + 2 = 3, exact */
      {TCOLL_FLOAT16, 0x3800, 0x3400, 0x3a00}, /* 0.5 + 0.25 = 0.75 */
      {TCOLL_FLOAT16, 0x6800, 0x3c00, 0x6800}, /* 2048 + 1 = 2049: tie -> 2048 */
      {TCOLL_FLOAT16, 0x6800, 0x4200, 0x6802}, /* 2048 + 3 = 2051: tie -> 2052 */
      {TCOLL_FLOAT16, 0x7bff, 0x4c00, 0x7c00}, /* 65504 + 16 = 65520 -> inf */
      {TCOLL_FLOAT16, 0x7bff, 0x4a00, 0x7bff}, /* 65504 + 12 -> 65504 */
      {TCOLL_FLOAT16, 0x0001, 0x0001, 0x0002}, /* subnormals add exactly */
      {TCOLL_FLOAT16, 0x8000, 0x8000, 0x8000}, /* -0 + -0 = -0 */
      {TCOLL_FLOAT16, 0x7c00, 0xfc00, 0xffff}, /* inf - inf = NaN */
      {TCOLL_BFLOAT16, 0x3f80, 0x4000, 0x4040}, /* 1 + 2 = 3 */
      {TCOLL_BFLOAT16, 0x4380, 0x3f80, 0x4380}, /* 256 + 1: tie -> 256 */
      {TCOLL_BFLOAT16, 0x4380, 0x4040, 0x4382}, /* 256 + 3: tie -> 260 */
      {TCOLL_BFLOAT16, 0x7f7f, 0x7f7f, 0x7f80}, /* overflow -> inf */
  };
  enum { N = 70 };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    uint16_t a[N], b[N], out[N];
    for (size_t j = 0; j < N; j++) {
      a[j] = j % 2 ? t[i].a : t[i].b;
      b[j] = j % 2 ? t[i].b : t[i].a;
    }
    tcoll__reduce(t[i].dt, TCOLL_SUM, out, a, b, N);
    for (size_t j = 0; j < N; j++) {
      if (t[i].want == 0xffff)
        ck_assert(bits_are_nan(t[i].dt, out[j]));
      else
        ck_assert_msg(out[j] == t[i].want, "case %zu elem %zu: got %#x want %#x", i, j, out[j],
                      t[i].want);
    }
  }
}
END_TEST

/* x * 1 over every half pattern: exact, so the bulk (F16C when present)
 * conversions must reproduce every pattern. */
START_TEST(test_16bit_exhaustive_identity)
{
  enum { N = 65536 };
  uint16_t *a = malloc(N * 2), *one = malloc(N * 2), *out = malloc(N * 2);
  for (int bf = 0; bf < 2; bf++) {
    tcoll_dtype dt = bf ? TCOLL_BFLOAT16 : TCOLL_FLOAT16;
    for (size_t i = 0; i < N; i++) {
      a[i] = (uint16_t)i;
      one[i] = bf ? 0x3f80 : 0x3c00;
    }
    tcoll__reduce(dt, TCOLL_PROD, out, a, one, N);
    for (size_t i = 0; i < N; i++) {
      if (bits_are_nan(dt, a[i]))
        ck_assert_msg(bits_are_nan(dt, out[i]), "%s NaN %#zx lost", dt_name(dt), i);
      else
        ck_assert_msg(out[i] == a[i], "%s %#zx * 1 = %#x", dt_name(dt), i, out[i]);
    }
  }
  free(a);
  free(one);
  free(out);
}
END_TEST

/* ---- AVG's division ---- */

START_TEST(test_divide)
{
  static const double divisors[] = {1, 2, 3, 7, 0.1, 1e30};
  enum { N = 65536 };
  rng_seed(5);
  uint16_t *h = malloc(N * 2);
  float *f = malloc(N * sizeof *f);
  double *d = malloc(N * sizeof *d);
  for (size_t k = 0; k < sizeof divisors / sizeof divisors[0]; k++) {
    double dv = divisors[k];
    for (int bf = 0; bf < 2; bf++) {
      tcoll_dtype dt = bf ? TCOLL_BFLOAT16 : TCOLL_FLOAT16;
      for (size_t i = 0; i < N; i++)
        h[i] = (uint16_t)i;
      tcoll__kernel_divide(dt, h, N, dv);
      for (size_t i = 0; i < N; i++) {
        float x = (float)(bf ? ref_bf16_to_double((uint16_t)i) : ref_half_to_double((uint16_t)i));
        float q = x / (float)dv;
        if (isnan(q))
          ck_assert_msg(bits_are_nan(dt, h[i]), "%s %#zx / %g not NaN", dt_name(dt), i, dv);
        else
          ck_assert_msg(h[i] == ref_round16(bf, q), "%s %#zx / %g = %#x want %#x", dt_name(dt),
                        i, dv, h[i], ref_round16(bf, q));
      }
    }
    size_t n = 1029;
    float fin[1029];
    double din[1029];
    for (size_t i = 0; i < n; i++) {
      fin[i] = f[i] = u2f((uint32_t)gen_value(TCOLL_FLOAT32));
      din[i] = d[i] = u2d(gen_value(TCOLL_FLOAT64));
    }
    tcoll__kernel_divide(TCOLL_FLOAT32, f, n, dv);
    tcoll__kernel_divide(TCOLL_FLOAT64, d, n, dv);
    for (size_t i = 0; i < n; i++) {
      float wf = fin[i] / (float)dv;
      double wd = din[i] / dv;
      ck_assert_msg(isnan(wf) ? isnan(f[i]) : f2u(f[i]) == f2u(wf), "f32 %a / %g = %a", (double)fin[i],
                    dv, (double)f[i]);
      ck_assert_msg(isnan(wd) ? isnan(d[i]) : d2u(d[i]) == d2u(wd), "f64 %a / %g = %a", din[i], dv,
                    d[i]);
    }
  }
  /* Integers have no AVG: the buffer must be left alone. */
  int32_t iv[5] = {10, 20, 30, -7, 1};
  tcoll__kernel_divide(TCOLL_INT32, iv, 5, 3.0);
  ck_assert(iv[0] == 10 && iv[1] == 20 && iv[2] == 30 && iv[3] == -7 && iv[4] == 1);
  /* float32 divides by (float)divisor, not in double */
  float g = 1.0f;
  tcoll__kernel_divide(TCOLL_FLOAT32, &g, 1, 3.0);
  ck_assert(f2u(g) == f2u(1.0f / 3.0f));
  free(h);
  free(f);
  free(d);
}
END_TEST

static Suite *kernels_suite(void)
{
  Suite *s = suite_create("kernels");

  TCase *tc = tcase_create("tables");
  tcase_add_test(tc, test_dtype_tables);
  tcase_add_test(tc, test_op_names);
  suite_add_tcase(s, tc);

  tc = tcase_create("reduce");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_int_literal_cases);
  tcase_add_loop_test(tc, test_random_vs_ref, 0, TCOLL_NUM_DTYPES);
  tcase_add_loop_test(tc, test_aliasing, 0, TCOLL_NUM_DTYPES);
  tcase_add_test(tc, test_zero_count_and_bad_args);
  tcase_add_test(tc, test_float_minmax_special);
  tcase_add_test(tc, test_16bit_minmax_special);
  tcase_add_test(tc, test_16bit_sum_cases);
  tcase_add_test(tc, test_16bit_exhaustive_identity);
  suite_add_tcase(s, tc);

  tc = tcase_create("conversions");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_half_to_float_known);
  tcase_add_test(tc, test_float_to_half_known);
  tcase_add_test(tc, test_half_exhaustive_roundtrip);
  tcase_add_test(tc, test_half_exhaustive_midpoints);
  tcase_add_test(tc, test_float_to_half_random_vs_ref);
  tcase_add_test(tc, test_bf16_known);
  tcase_add_test(tc, test_bf16_exhaustive);
  tcase_add_test(tc, test_float_to_bf16_random_vs_ref);
  suite_add_tcase(s, tc);

  tc = tcase_create("divide");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_divide);
  suite_add_tcase(s, tc);

  return s;
}

int main(void)
{
  return check_run(kernels_suite());
}
