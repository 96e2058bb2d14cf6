/*
 * The O(T d^2) attention recurrences (forward and backward) against the
 * naive masked O(T^2) form, written here independently in double:
 *   A_ts = phi(q_t) . phi(k_s) for s <= t, 0 above the diagonal
 *   n_t = sum_s A_ts v_s,  den_t = sum_s A_ts + eps
 *   dA_ts = v_s . dn_t + dden_t,  dQ_t = sum_s dA_ts K_s,
 *   dK_s = sum_t dA_ts Q_t,  dv_s = sum_t A_ts dn_t
 * (and plain masked softmax attention for the softmax core). The code under
 * test runs in float32; the verdict is the normwise relative error
 * max|x - ref| / max|ref| of each output, which must stay below 1e-5.
 * Plain C, no MPI; exit status and the closing line give the verdict.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

#define TOL 1e-5

static int passed, failed;

static double dphi_d(double x) { return x > 0 ? 1 : exp(x); }
static double phi_d(double x) { return x > 0 ? x + 1 : exp(x); }

/* naive reference: o, dq, dk, dv (T x d, double) */
static void naive(attn_kind kind, int T, int d, const double *q, const double *k,
                  const double *v, const double *g, double *o, double *dq, double *dk,
                  double *dv) {
  size_t td = (size_t)T * d;
  double *A = calloc((size_t)T * T, sizeof *A), *dA = calloc((size_t)T * T, sizeof *dA);
  double *n = calloc(td, sizeof *n), *dn = calloc(td, sizeof *dn), *sc = calloc(T, sizeof *sc);
  double *dsc = calloc(T, sizeof *dsc);
  memset(dq, 0, td * sizeof *dq);
  memset(dk, 0, td * sizeof *dk);
  memset(dv, 0, td * sizeof *dv);
  double inv = 1 / sqrt((double)d);
  for (int t = 0; t < T; t++) {
    double mx = -INFINITY, sum = 0;
    for (int s = 0; s <= t; s++) {
      double a = 0;
      for (int i = 0; i < d; i++)
        a += kind == ATTN_SOFTMAX ? q[t * d + i] * k[s * d + i] * inv
                                  : phi_d(q[t * d + i]) * phi_d(k[s * d + i]);
      A[t * T + s] = a;
      if (a > mx) mx = a;
    }
    if (kind == ATTN_SOFTMAX) {
      for (int s = 0; s <= t; s++) sum += A[t * T + s] = exp(A[t * T + s] - mx);
      for (int s = 0; s <= t; s++) A[t * T + s] /= sum;
    }
    for (int s = 0; s <= t; s++)
      for (int j = 0; j < d; j++) n[t * d + j] += A[t * T + s] * v[s * d + j];
    if (kind == ATTN_LINEAR) {
      for (int s = 0; s <= t; s++) sc[t] += A[t * T + s];
      sc[t] += ATTN_EPS;
    } else if (kind == ATTN_NORM) {
      for (int j = 0; j < d; j++) sc[t] += n[t * d + j] * n[t * d + j];
      sc[t] = sqrt(sc[t] / d + ATTN_EPS);
    } else {
      sc[t] = 1;
    }
    double go = 0;
    for (int j = 0; j < d; j++) {
      o[t * d + j] = n[t * d + j] / sc[t];
      go += g[t * d + j] * o[t * d + j];
    }
    for (int j = 0; j < d; j++)
      dn[t * d + j] = kind == ATTN_NORM ? (g[t * d + j] - o[t * d + j] * go / d) / sc[t]
                                        : g[t * d + j] / sc[t];
    dsc[t] = kind == ATTN_LINEAR ? -go / sc[t] : 0;
  }
  for (int t = 0; t < T; t++) {
    double rowdot = 0;
    for (int s = 0; s <= t; s++) {
      double a = dsc[t];
      for (int j = 0; j < d; j++) a += v[s * d + j] * dn[t * d + j];
      dA[t * T + s] = a;
      rowdot += A[t * T + s] * a;
      for (int j = 0; j < d; j++) dv[s * d + j] += A[t * T + s] * dn[t * d + j];
    }
    for (int s = 0; s <= t; s++) {
      if (kind == ATTN_SOFTMAX) {
        double ds = A[t * T + s] * (dA[t * T + s] - rowdot) * inv;
        for (int i = 0; i < d; i++) {
          dq[t * d + i] += ds * k[s * d + i];
          dk[s * d + i] += ds * q[t * d + i];
        }
      } else {
        for (int i = 0; i < d; i++) {
          dq[t * d + i] += dA[t * T + s] * phi_d(k[s * d + i]);
          dk[s * d + i] += dA[t * T + s] * phi_d(q[t * d + i]);
        }
      }
    }
  }
  if (kind != ATTN_SOFTMAX)
    for (size_t e = 0; e < td; e++) {
      dq[e] *= dphi_d(q[e]);
      dk[e] *= dphi_d(k[e]);
    }
  free(A);
  free(dA);
  free(n);
  free(dn);
  free(sc);
  free(dsc);
}

static double relerr(const real *x, const double *ref, size_t n) {
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs((double)x[i] - ref[i]);
    if (e > num || isnan(e)) num = isnan(e) ? INFINITY : e;
    if (fabs(ref[i]) > den) den = fabs(ref[i]);
  }
  return den > 0 ? num / den : num;
}

static void one_case(attn_kind kind, int T, int d, uint64_t seed) {
  size_t td = (size_t)T * d;
  real *in = malloc(8 * td * sizeof *in);
  double *din = malloc(4 * td * sizeof *din), *ref = malloc(4 * td * sizeof *ref);
  real *q = in, *k = in + td, *v = in + 2 * td, *g = in + 3 * td, *o = in + 4 * td;
  real *dq = in + 5 * td, *dk = in + 6 * td, *dv = in + 7 * td;
  uint64_t st = seed;
  /* inputs rounded to float first, so both sides see the same numbers */
  for (size_t e = 0; e < 4 * td; e++) din[e] = (double)(in[e] = (real)train_gauss(&st));
  attn_cache c;
  if (attn_cache_alloc(&c, T, d) != TRAIN_OK) {
    printf("FAIL %s T=%d d=%d: out of memory\n", attn_name(kind), T, d);
    failed++;
    return;
  }
  attn_forward(kind, T, d, q, k, v, &c, o);
  attn_backward(kind, T, d, q, k, v, &c, g, dq, dk, dv);
  naive(kind, T, d, din, din + td, din + 2 * td, din + 3 * td, ref, ref + td, ref + 2 * td,
        ref + 3 * td);
  const real *got[4] = {o, dq, dk, dv};
  static const char *const what[4] = {"o", "dq", "dk", "dv"};
  for (int i = 0; i < 4; i++) {
    double e = relerr(got[i], ref + i * td, td);
    int ok = e < TOL;
    ok ? passed++ : failed++;
    printf("%s %-7s T=%2d d=%2d %-2s relative error %.2e\n", ok ? "ok  " : "FAIL", attn_name(kind),
           T, d, what[i], e);
  }
  attn_cache_free(&c);
  free(in);
  free(din);
  free(ref);
}

/* No T = 1: there o_1 does not depend on q and k (up to eps) in the linear
 * and norm cores, so dq and dk are pure rounding noise in both forms. */
int main(void) {
  static const int shapes[][2] = {{2, 3}, {3, 4}, {7, 5}, {24, 8}, {24, 32}, {48, 64}};
  for (int kind = 0; kind < 3; kind++)
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
      one_case((attn_kind)kind, shapes[s][0], shapes[s][1], 1000 + 17 * s + kind);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
