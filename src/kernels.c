/*
 * Reduction kernels: out[i] = a[i] OP b[i] for every dtype and op.
 *
 * Policy (the public contract is in tcoll.h; this is how it is met):
 *  - Integers: SUM and PROD are computed in the unsigned type of the same
 *    width and converted back, so signed overflow wraps modulo 2^bits without
 *    undefined behaviour (unsigned-to-signed conversion is modular in GCC and
 *    Clang). MIN/MAX are the ordinary ones.
 *  - Floats, MIN/MAX: if an operand is NaN the result is that NaN (the first
 *    one when both are). Equal operands are merged bitwise (OR for MIN, AND
 *    for MAX): identical bits stay identical and {-0,+0} gives -0 for MIN and
 *    +0 for MAX, so op(a,b) and op(b,a) give the same bits for non-NaN inputs.
 *    No libm fmin/fmax: they drop NaN and leave the sign of zero unspecified.
 *  - FLOAT16/BFLOAT16 are widened to float32 (exact), reduced by the very same
 *    float32 kernels, and rounded back to nearest, ties to even, per element.
 *    Conversions are hand-written: half subnormals widen exactly, floats in
 *    half's subnormal range round correctly, |x| >= 65520 becomes inf, NaN
 *    stays NaN with the quiet bit set (never inf). bf16 rounds to nearest even
 *    on the upper 16 bits, with NaN handled before rounding for the same
 *    reason. Where the CPU has F16C the half conversions use it; the portable
 *    code gives identical bits, so results never depend on the machine.
 *
 * Vectorisation: no `restrict`, because out may equal a or b. Each loop body
 * reads a[i] and b[i] and then writes out[i], so exact aliasing creates no
 * dependence between iterations; `#pragma GCC ivdep` states exactly that
 * (partial overlap is excluded by the contract), so GCC needs no runtime alias
 * check. Loops run in blocks with a constant trip count so that GCC 12 also
 * vectorises them at -O2, whose "very cheap" cost model refuses loops that
 * need an epilogue or versioning.
 */
#include "kernels.h"

#include <limits.h>
#include <string.h>

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && \
    !defined(TCOLL_KERNELS_NO_F16C)
#define HAVE_F16C_PATH 1
#include <cpuid.h>
#include <immintrin.h>
#include <stdatomic.h>
#else
#define HAVE_F16C_PATH 0
#endif

/* Clang vectorises with runtime alias checks at -O2 already, and warns when
 * its equivalent hint meets a loop it chose to unroll instead. */
#if defined(__GNUC__) && !defined(__clang__)
#define IVDEP _Pragma("GCC ivdep")
#else
#define IVDEP
#endif

/* Elements per vectorised block: a multiple of every vector length in
 * elements (up to 64 int8 lanes with AVX-512). */
enum { BLOCK = 64 };
/* float32 scratch per operand when reducing 16-bit floats (2 x 1 KiB stack). */
enum { CHUNK = 4 * BLOCK };

/* Runs the statements for i in [0, n): full blocks first, where the inner
 * trip count is the constant BLOCK, then the remainder. */
#define BLOCKED_FOR(i, n, ...)                                                \
  do {                                                                        \
    size_t blk_ = 0;                                                          \
    for (; (n)-blk_ >= BLOCK; blk_ += BLOCK) {                                \
      IVDEP                                                                   \
      for (size_t j_ = 0; j_ < BLOCK; j_++) {                                 \
        size_t i = blk_ + j_;                                                 \
        __VA_ARGS__;                                                          \
      }                                                                       \
    }                                                                         \
    for (size_t i = blk_; i < (n); i++) {                                     \
      __VA_ARGS__;                                                            \
    }                                                                         \
  } while (0)

/* Were int wider than 32 bits, uint32_t operands would promote to (signed)
 * int and the wrapping product could overflow. */
_Static_assert(INT_MAX < UINT32_MAX, "int wider than 32 bits is not supported");

typedef void (*kernel_fn)(void *out, const void *a, const void *b, size_t n);

/* ---- Element operations on floats ---- */

/* x != x is the NaN test below (it vectorises, unlike an integer test on
 * 64-bit lanes without SSE4.2); it and the -0 handling need IEEE semantics. */
#if defined(__FAST_MATH__) || (defined(__FINITE_MATH_ONLY__) && __FINITE_MATH_ONLY__)
#error "kernels.c must not be compiled with -ffast-math or -ffinite-math-only"
#endif

#define DEFINE_FLOAT_MINMAX(sfx, T, UT)                                       \
  static inline T min_##sfx(T x, T y)                                         \
  {                                                                           \
    UT ux, uy, ue;                                                            \
    T e;                                                                      \
    memcpy(&ux, &x, sizeof ux);                                               \
    memcpy(&uy, &y, sizeof uy);                                               \
    ue = ux | uy;                                                             \
    memcpy(&e, &ue, sizeof e);                                                \
    T r = x < y ? x : y;                                                      \
    r = x == y ? e : r;                                                       \
    /* A NaN y already won the comparison above; a NaN x did not. */          \
    r = x != x ? x : r;                                                       \
    return r;                                                                 \
  }                                                                           \
  static inline T max_##sfx(T x, T y)                                         \
  {                                                                           \
    UT ux, uy, ue;                                                            \
    T e;                                                                      \
    memcpy(&ux, &x, sizeof ux);                                               \
    memcpy(&uy, &y, sizeof uy);                                               \
    ue = ux & uy;                                                             \
    memcpy(&e, &ue, sizeof e);                                                \
    T r = y < x ? x : y;                                                      \
    r = x == y ? e : r;                                                       \
    r = x != x ? x : r;                                                       \
    return r;                                                                 \
  }

DEFINE_FLOAT_MINMAX(f32, float, uint32_t)
DEFINE_FLOAT_MINMAX(f64, double, uint64_t)

/* ---- Per-(dtype, op) kernels ---- */

#define DEFINE_KERNEL(name, T, EXPR)                                          \
  static void name(void *out_, const void *a_, const void *b_, size_t n)      \
  {                                                                           \
    T *out = out_;                                                            \
    const T *a = a_;                                                          \
    const T *b = b_;                                                          \
    BLOCKED_FOR(i, n, T x = a[i]; T y = b[i]; out[i] = (EXPR));               \
  }

/* X(suffix, element type, unsigned type the arithmetic is done in). 8-bit
 * values are promoted anyway, so they use unsigned int explicitly. */
#define INT_TYPES(X)                                                          \
  X(i8, int8_t, unsigned)                                                     \
  X(u8, uint8_t, unsigned)                                                    \
  X(i32, int32_t, uint32_t)                                                   \
  X(u32, uint32_t, uint32_t)                                                  \
  X(i64, int64_t, uint64_t)                                                   \
  X(u64, uint64_t, uint64_t)

#define INT_KERNELS(sfx, T, UT)                                               \
  DEFINE_KERNEL(k_##sfx##_sum, T, (T)((UT)x + (UT)y))                         \
  DEFINE_KERNEL(k_##sfx##_prod, T, (T)((UT)x * (UT)y))                        \
  DEFINE_KERNEL(k_##sfx##_min, T, y < x ? y : x)                              \
  DEFINE_KERNEL(k_##sfx##_max, T, x < y ? y : x)
INT_TYPES(INT_KERNELS)

#define FLOAT_TYPES(X) X(f32, float) X(f64, double)

#define FLOAT_KERNELS(sfx, T)                                                 \
  DEFINE_KERNEL(k_##sfx##_sum, T, x + y)                                      \
  DEFINE_KERNEL(k_##sfx##_prod, T, x * y)                                     \
  DEFINE_KERNEL(k_##sfx##_min, T, min_##sfx(x, y))                            \
  DEFINE_KERNEL(k_##sfx##_max, T, max_##sfx(x, y))
FLOAT_TYPES(FLOAT_KERNELS)

/* ---- 16-bit float conversions ---- */

float tcoll__half_to_float(uint16_t h)
{
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
  uint32_t exp = (h >> 10) & 0x1fu;
  uint32_t mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant ? 0x00400000u | (mant << 13) : 0u);
  } else if (exp != 0) {
    bits = sign | ((exp + (127u - 15u)) << 23) | (mant << 13);
  } else if (mant == 0) {
    bits = sign;
  } else {
    /* Subnormal mant * 2^-24: normalise so the leading 1 becomes implicit
     * (every half subnormal is a normal float). */
    uint32_t e = 127u - 14u;
    while (!(mant & 0x400u)) {
      mant <<= 1;
      e--;
    }
    bits = sign | (e << 23) | ((mant & 0x3ffu) << 13);
  }
  float f;
  memcpy(&f, &bits, sizeof f);
  return f;
}

uint16_t tcoll__float_to_half(float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  uint32_t sign = (u >> 16) & 0x8000u;
  uint32_t a = u & 0x7fffffffu;
  if (a > 0x7f800000u) /* NaN: keep the top payload bits, as F16C does */
    return (uint16_t)(sign | 0x7e00u | ((a >> 13) & 0x3ffu));
  /* >= 65520, halfway from 65504 to 2^16, where the tie goes up (the rounding
   * carry below would also reach inf; this keeps the exponent in range). */
  if (a >= 0x477ff000u)
    return (uint16_t)(sign | 0x7c00u);
  if (a >= 0x38800000u) { /* half normal range, >= 2^-14 */
    /* Rebias the exponent, then round on the 13 dropped bits; a carry out of
     * the mantissa correctly bumps the exponent. */
    uint32_t r = a - ((127u - 15u) << 23);
    r = (r + 0x0fffu + ((r >> 13) & 1u)) >> 13;
    return (uint16_t)(sign | r);
  }
  if (a <= 0x33000000u) /* <= 2^-25, half the smallest subnormal: tie to 0 */
    return (uint16_t)sign;
  /* Half subnormal: value in units of 2^-24 is m >> shift, shift in 14..24.
   * Float subnormals never get here (they are far below 2^-25). */
  uint32_t m = (a & 0x7fffffu) | 0x800000u;
  uint32_t shift = 126u - (a >> 23);
  uint32_t h = m >> shift;
  uint32_t rem = m & ((1u << shift) - 1u);
  uint32_t halfway = 1u << (shift - 1u);
  if (rem > halfway || (rem == halfway && (h & 1u)))
    h++; /* may become 0x0400, the smallest normal: still correct */
  return (uint16_t)(sign | h);
}

/* Inline, branch-free forms so the bf16 conversion loops vectorise. */
static inline float bf16_to_float(uint16_t h)
{
  uint32_t u = (uint32_t)h << 16;
  u = (u & 0x7fffffffu) > 0x7f800000u ? u | 0x00400000u : u;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

static inline uint16_t float_to_bf16(float f)
{
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  /* Adding 0x7fff plus the kept lsb rounds to nearest even; finite values
   * past the largest bf16 carry into the exponent and give inf, as they
   * should. A NaN could carry into inf too, hence the separate quiet NaN. */
  uint32_t rounded = (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
  uint32_t qnan = (u >> 16) | 0x0040u;
  return (uint16_t)((u & 0x7fffffffu) > 0x7f800000u ? qnan : rounded);
}

/* The widening inside reduce16 skips bf16_to_float's NaN quieting: every
 * result goes through float_to_bf16, which quiets NaNs itself, and a
 * signalling NaN operand of the float32 kernels comes out as the same NaN
 * (MIN/MAX copy it, x86 arithmetic quiets it), so the bits are identical and
 * the loop is a third shorter (test_kernels compares against the scalar
 * reference on every NaN class). */
static inline float bf16_bits_to_float(uint16_t h)
{
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

float tcoll__bf16_to_float(uint16_t h) { return bf16_to_float(h); }
uint16_t tcoll__float_to_bf16(float f) { return float_to_bf16(f); }

/* ---- Bulk conversions between 16-bit floats and float32 scratch ---- */

typedef enum { FMT_HALF, FMT_BF16 } fmt16;

#if HAVE_F16C_PATH
/* cpuid rather than __builtin_cpu_supports, whose feature names differ
 * between compilers (Clang 14 has no "f16c"). The 256-bit forms also need
 * the OS to save YMM state, hence the XGETBV check. */
static int detect_f16c(void)
{
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
    return 0;
  const unsigned need = bit_OSXSAVE | bit_AVX | bit_F16C;
  if ((ecx & need) != need)
    return 0;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  (void)xcr0_hi;
  return (xcr0_lo & 0x6u) == 0x6u; /* XMM and YMM state enabled */
}

static int have_f16c(void)
{
  /* -1 = not probed yet; racing first calls store the same answer. */
  static atomic_int cached = -1;
  int v = atomic_load_explicit(&cached, memory_order_relaxed);
  if (v < 0) {
    v = detect_f16c();
    atomic_store_explicit(&cached, v, memory_order_relaxed);
  }
  return v;
}

__attribute__((target("avx,f16c"))) static void half_to_float_f16c(float *dst,
                                                                   const uint16_t *src,
                                                                   size_t n)
{
  size_t i = 0;
  for (; n - i >= 8; i += 8)
    _mm256_storeu_ps(dst + i,
                     _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)(src + i))));
  for (; i < n; i++)
    dst[i] = tcoll__half_to_float(src[i]);
}

__attribute__((target("avx,f16c"))) static void float_to_half_f16c(uint16_t *dst,
                                                                   const float *src,
                                                                   size_t n)
{
  size_t i = 0;
  for (; n - i >= 8; i += 8)
    _mm_storeu_si128((__m128i *)(void *)(dst + i),
                     _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
  for (; i < n; i++)
    dst[i] = tcoll__float_to_half(src[i]);
}
#endif

/* The bf16 conversions are plain integer SIMD; the 256-bit forms double
 * their rate where the CPU has AVX2 (chosen once at load time by the ifunc
 * behind target_clones; same bits either way). */
#if HAVE_F16C_PATH && !defined(__clang__)
#define BF16_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define BF16_CLONES
#endif

BF16_CLONES static void widen_bf16(float *dst, const uint16_t *src, size_t n)
{
  BLOCKED_FOR(i, n, dst[i] = bf16_bits_to_float(src[i]));
}

BF16_CLONES static void narrow_bf16(uint16_t *dst, const float *src, size_t n)
{
  BLOCKED_FOR(i, n, dst[i] = float_to_bf16(src[i]));
}

static void widen16(fmt16 fmt, float *dst, const uint16_t *src, size_t n)
{
  if (fmt == FMT_BF16) {
    widen_bf16(dst, src, n);
    return;
  }
#if HAVE_F16C_PATH
  if (have_f16c()) {
    half_to_float_f16c(dst, src, n);
    return;
  }
#endif
  for (size_t i = 0; i < n; i++)
    dst[i] = tcoll__half_to_float(src[i]);
}

static void narrow16(fmt16 fmt, uint16_t *dst, const float *src, size_t n)
{
  if (fmt == FMT_BF16) {
    narrow_bf16(dst, src, n);
    return;
  }
#if HAVE_F16C_PATH
  if (have_f16c()) {
    float_to_half_f16c(dst, src, n);
    return;
  }
#endif
  for (size_t i = 0; i < n; i++)
    dst[i] = tcoll__float_to_half(src[i]);
}

/* Reusing the float32 kernels keeps the NaN/-0 policy in one place. Each
 * chunk is read completely before any of it is written, so out == a or
 * out == b is safe. */
static void reduce16(fmt16 fmt, kernel_fn f32_kernel, uint16_t *out, const uint16_t *a,
                     const uint16_t *b, size_t n)
{
  float fa[CHUNK], fb[CHUNK];
  for (size_t off = 0; off < n; off += CHUNK) {
    size_t m = n - off < CHUNK ? n - off : CHUNK;
    widen16(fmt, fa, a + off, m);
    widen16(fmt, fb, b + off, m);
    f32_kernel(fa, fa, fb, m);
    narrow16(fmt, out + off, fa, m);
  }
}

#define DEFINE_KERNEL16(sfx, op, FMT)                                         \
  static void k_##sfx##_##op(void *out, const void *a, const void *b, size_t n) \
  {                                                                           \
    reduce16(FMT, k_f32_##op, out, a, b, n);                                  \
  }
#define KERNELS16(sfx, FMT)                                                   \
  DEFINE_KERNEL16(sfx, sum, FMT)                                              \
  DEFINE_KERNEL16(sfx, prod, FMT)                                             \
  DEFINE_KERNEL16(sfx, min, FMT)                                              \
  DEFINE_KERNEL16(sfx, max, FMT)
KERNELS16(f16, FMT_HALF)
KERNELS16(bf16, FMT_BF16)

/* ---- Dispatch and dtype tables ---- */

/* X(enum, kernel suffix, name, element type) */
#define DTYPES(X)                                                             \
  X(TCOLL_INT8, i8, "int8", int8_t)                                           \
  X(TCOLL_UINT8, u8, "uint8", uint8_t)                                        \
  X(TCOLL_INT32, i32, "int32", int32_t)                                       \
  X(TCOLL_UINT32, u32, "uint32", uint32_t)                                    \
  X(TCOLL_INT64, i64, "int64", int64_t)                                       \
  X(TCOLL_UINT64, u64, "uint64", uint64_t)                                    \
  X(TCOLL_FLOAT16, f16, "float16", uint16_t)                                  \
  X(TCOLL_BFLOAT16, bf16, "bfloat16", uint16_t)                               \
  X(TCOLL_FLOAT32, f32, "float32", float)                                     \
  X(TCOLL_FLOAT64, f64, "float64", double)

static const struct {
  const char *name;
  size_t size;
  kernel_fn kernel[TCOLL_MAX + 1];
} dtype_info[TCOLL_NUM_DTYPES] = {
#define DTYPE_ROW(E, sfx, NAME, T)                                            \
  [E] = {NAME,                                                                \
         sizeof(T),                                                           \
         {[TCOLL_SUM] = k_##sfx##_sum,                                        \
          [TCOLL_PROD] = k_##sfx##_prod,                                      \
          [TCOLL_MIN] = k_##sfx##_min,                                        \
          [TCOLL_MAX] = k_##sfx##_max}},
    DTYPES(DTYPE_ROW)
#undef DTYPE_ROW
};

static int dtype_valid(tcoll_dtype dtype) { return (unsigned)dtype < TCOLL_NUM_DTYPES; }

size_t tcoll__dtype_size(tcoll_dtype dtype)
{
  return dtype_valid(dtype) ? dtype_info[dtype].size : 0;
}

const char *tcoll__dtype_name(tcoll_dtype dtype)
{
  return dtype_valid(dtype) ? dtype_info[dtype].name : "?";
}

const char *tcoll__op_name(tcoll_op op)
{
  static const char *const names[TCOLL_NUM_OPS] = {
      [TCOLL_SUM] = "sum", [TCOLL_PROD] = "prod", [TCOLL_MIN] = "min",
      [TCOLL_MAX] = "max", [TCOLL_AVG] = "avg"};
  return (unsigned)op < TCOLL_NUM_OPS ? names[op] : "?";
}

int tcoll__dtype_is_float(tcoll_dtype dtype)
{
  return dtype == TCOLL_FLOAT16 || dtype == TCOLL_BFLOAT16 || dtype == TCOLL_FLOAT32 ||
         dtype == TCOLL_FLOAT64;
}

void tcoll__reduce(tcoll_dtype dtype, tcoll_op op, void *out, const void *a, const void *b,
                   size_t n)
{
  if (op == TCOLL_AVG)
    op = TCOLL_SUM; /* the caller divides once at the very end */
  /* Callers validate arguments; there is no error channel here, so an
   * unknown dtype or op is simply a no-op rather than a wild call. */
  if (!dtype_valid(dtype) || (unsigned)op > TCOLL_MAX || n == 0)
    return;
  dtype_info[dtype].kernel[op](out, a, b, n);
}

/* ---- AVG's final division ---- */

static void divide_f32(float *buf, size_t n, float d) { BLOCKED_FOR(i, n, buf[i] = buf[i] / d); }

static void divide_f64(double *buf, size_t n, double d) { BLOCKED_FOR(i, n, buf[i] = buf[i] / d); }

static void divide16(fmt16 fmt, uint16_t *buf, size_t n, float d)
{
  float tmp[CHUNK];
  for (size_t off = 0; off < n; off += CHUNK) {
    size_t m = n - off < CHUNK ? n - off : CHUNK;
    widen16(fmt, tmp, buf + off, m);
    divide_f32(tmp, m, d);
    narrow16(fmt, buf + off, tmp, m);
  }
}

void tcoll__kernel_divide(tcoll_dtype dtype, void *buf, size_t n, double divisor)
{
  switch (dtype) {
  case TCOLL_FLOAT16:
    divide16(FMT_HALF, buf, n, (float)divisor);
    break;
  case TCOLL_BFLOAT16:
    divide16(FMT_BF16, buf, n, (float)divisor);
    break;
  case TCOLL_FLOAT32:
    divide_f32(buf, n, (float)divisor);
    break;
  case TCOLL_FLOAT64:
    divide_f64(buf, n, divisor);
    break;
  default: /* integers have no AVG; callers never get here */
    break;
  }
}
