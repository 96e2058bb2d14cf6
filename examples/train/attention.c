/*
 * Causal attention cores, forward and backward, for one sequence of T tokens
 * of width d (single head).
 *
 * linear (Katharopoulos et al. 2020, "Transformers are RNNs", eq. 4-6):
 *   Q_t = phi(q_t), K_t = phi(k_t), phi(x) = elu(x) + 1 (positive, C^1)
 *   S_t = S_(t-1) + K_t v_t^T          (d x d)
 *   z_t = z_(t-1) + K_t                (d)
 *   n_t = S_t^T Q_t,  den_t = Q_t . z_t + eps,  o_t = n_t / den_t
 * norm (TransNormer-style, Qin et al. 2022): the same n_t without the
 *   denominator, o_t = n_t / rms(n_t), rms(n) = sqrt(mean(n^2) + eps).
 * softmax: o_t = sum_(s<=t) softmax_s(q_t . k_s / sqrt(d)) v_s, the O(T^2)
 *   baseline.
 *
 * Backward of linear/norm in O(T d^2) without storing S_t per step. With
 * g_t = dL/do_t, first the gradients of n_t and den_t:
 *   linear: dn_t = g_t / den_t,  dden_t = -(g_t . o_t) / den_t
 *   norm:   dn_t = (g_t - o_t mean(g_t * o_t)) / rms_t,  dden_t = 0
 * then, since n_t = sum_(s<=t) (Q_t . K_s) v_s and den_t = sum_(s<=t) Q_t . K_s:
 *   dQ_t = S_t dn_t + z_t dden_t                   (forward sweep, S_t rebuilt)
 *   dK_s = R_s v_s + r_s,  dv_s = R_s^T K_s        (reverse sweep)
 *   with R_s = sum_(t>=s) Q_t dn_t^T,  r_s = sum_(t>=s) dden_t Q_t
 * and finally dq = dQ * phi'(q), dk = dK * phi'(k).
 * The naive masked O(T^2) form in tests/ checks all of this independently.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

static const char *const attn_names[] = {"linear", "norm", "softmax"};

const char *attn_name(attn_kind k) {
  return (unsigned)k < 3 ? attn_names[k] : "?";
}

int attn_parse(const char *s, attn_kind *out) {
  for (int i = 0; i < 3; i++)
    if (strcmp(s, attn_names[i]) == 0) {
      *out = (attn_kind)i;
      return TRAIN_OK;
    }
  return TRAIN_EINVAL;
}

/* Backward scratch lives with the cache so that the per-sequence loop never
 * allocates: dn (T x d), dden (T), S and R (d x d), z and r (d). */
typedef struct {
  real *dn, *dden, *S, *z;
} attn_scratch;

int attn_cache_alloc(attn_cache *c, int T, int d) {
  size_t td = (size_t)T * (size_t)d, dd = (size_t)d * (size_t)d;
  memset(c, 0, sizeof *c);
  /* one block: fq fk o num (4 td) | scale (T) | p (T*T) | dn (td) | dden (T) | S (dd) | z (d) */
  size_t total = 5 * td + 2 * (size_t)T + (size_t)T * (size_t)T + dd + (size_t)d;
  real *b = calloc(total, sizeof *b);
  if (!b) return TRAIN_ENOMEM;
  c->fq = b;
  c->fk = b + td;
  c->o = b + 2 * td;
  c->num = b + 3 * td;
  c->scale = b + 4 * td;
  c->p = c->scale + T;
  return TRAIN_OK;
}

void attn_cache_free(attn_cache *c) {
  free(c->fq);
  memset(c, 0, sizeof *c);
}

static attn_scratch scratch_of(const attn_cache *c, int T, int d) {
  attn_scratch s;
  s.dn = c->p + (size_t)T * (size_t)T;
  s.dden = s.dn + (size_t)T * (size_t)d;
  s.S = s.dden + T;
  s.z = s.S + (size_t)d * (size_t)d;
  return s;
}

static inline real phi(real x) { return x > 0 ? x + 1 : (real)exp(x); }
static inline real dphi(real x) { return x > 0 ? 1 : (real)exp(x); }

static void linear_forward(attn_kind kind, int T, int d, const real *q, const real *k,
                           const real *v, attn_cache *c, real *out) {
  attn_scratch s = scratch_of(c, T, d);
  memset(s.S, 0, sizeof(real) * (size_t)d * (size_t)d);
  memset(s.z, 0, sizeof(real) * (size_t)d);
  for (int t = 0; t < T; t++) {
    const real *qt = q + (size_t)t * d, *kt = k + (size_t)t * d, *vt = v + (size_t)t * d;
    real *Q = c->fq + (size_t)t * d, *K = c->fk + (size_t)t * d;
    real *n = c->num + (size_t)t * d, *o = out + (size_t)t * d;
    for (int i = 0; i < d; i++) {
      Q[i] = phi(qt[i]);
      K[i] = phi(kt[i]);
    }
    for (int i = 0; i < d; i++) {
      real *Si = s.S + (size_t)i * d;
      for (int j = 0; j < d; j++) Si[j] += K[i] * vt[j];
      s.z[i] += K[i];
    }
    memset(n, 0, sizeof(real) * (size_t)d);
    for (int i = 0; i < d; i++) {
      const real *Si = s.S + (size_t)i * d;
      for (int j = 0; j < d; j++) n[j] += Q[i] * Si[j];
    }
    real sc;
    if (kind == ATTN_LINEAR) {
      real den = 0;
      for (int i = 0; i < d; i++) den += Q[i] * s.z[i];
      sc = den + (real)ATTN_EPS;
    } else {
      real ss = 0;
      for (int j = 0; j < d; j++) ss += n[j] * n[j];
      sc = (real)sqrt(ss / d + (real)ATTN_EPS);
    }
    c->scale[t] = sc;
    for (int j = 0; j < d; j++) o[j] = n[j] / sc;
  }
  memcpy(c->o, out, sizeof(real) * (size_t)T * (size_t)d);
}

static void linear_backward(attn_kind kind, int T, int d, const real *q, const real *k,
                            const real *v, const attn_cache *c, const real *dout, real *dq,
                            real *dk, real *dv) {
  attn_scratch s = scratch_of(c, T, d);
  size_t dd = (size_t)d * (size_t)d;
  /* gradients of n_t and den_t */
  for (int t = 0; t < T; t++) {
    const real *g = dout + (size_t)t * d, *o = c->o + (size_t)t * d;
    real *dn = s.dn + (size_t)t * d, sc = c->scale[t], go = 0;
    for (int j = 0; j < d; j++) go += g[j] * o[j];
    if (kind == ATTN_LINEAR) {
      for (int j = 0; j < d; j++) dn[j] = g[j] / sc;
      s.dden[t] = -go / sc;
    } else {
      real mean = go / d;
      for (int j = 0; j < d; j++) dn[j] = (g[j] - o[j] * mean) / sc;
      s.dden[t] = 0;
    }
  }
  /* forward sweep: dQ_t = S_t dn_t + z_t dden_t */
  memset(s.S, 0, sizeof(real) * dd);
  memset(s.z, 0, sizeof(real) * (size_t)d);
  for (int t = 0; t < T; t++) {
    const real *K = c->fk + (size_t)t * d, *vt = v + (size_t)t * d, *dn = s.dn + (size_t)t * d;
    real *dQ = dq + (size_t)t * d;
    for (int i = 0; i < d; i++) {
      real *Si = s.S + (size_t)i * d, acc = 0;
      for (int j = 0; j < d; j++) {
        Si[j] += K[i] * vt[j];
        acc += Si[j] * dn[j];
      }
      s.z[i] += K[i];
      dQ[i] = acc + s.z[i] * s.dden[t];
    }
  }
  /* reverse sweep: R_s = sum_(t>=s) Q_t dn_t^T, r_s = sum_(t>=s) dden_t Q_t;
   * S and z are reused as R and r. */
  real *R = s.S, *r = s.z;
  memset(R, 0, sizeof(real) * dd);
  memset(r, 0, sizeof(real) * (size_t)d);
  for (int t = T - 1; t >= 0; t--) {
    const real *Q = c->fq + (size_t)t * d, *K = c->fk + (size_t)t * d, *vt = v + (size_t)t * d;
    const real *dn = s.dn + (size_t)t * d;
    real *dK = dk + (size_t)t * d, *dV = dv + (size_t)t * d;
    memset(dV, 0, sizeof(real) * (size_t)d);
    for (int i = 0; i < d; i++) {
      real *Ri = R + (size_t)i * d, acc = 0;
      for (int j = 0; j < d; j++) {
        Ri[j] += Q[i] * dn[j];
        acc += Ri[j] * vt[j];
      }
      r[i] += s.dden[t] * Q[i];
      dK[i] = acc + r[i];
      for (int j = 0; j < d; j++) dV[j] += Ri[j] * K[i];
    }
  }
  for (size_t e = 0; e < (size_t)T * (size_t)d; e++) {
    dq[e] *= dphi(q[e]);
    dk[e] *= dphi(k[e]);
  }
}

static void softmax_forward(int T, int d, const real *q, const real *k, const real *v,
                            attn_cache *c, real *out) {
  real scale = (real)(1.0 / sqrt((double)d));
  for (int t = 0; t < T; t++) {
    const real *qt = q + (size_t)t * d;
    real *p = c->p + (size_t)t * T, *o = out + (size_t)t * d, mx = -INFINITY, sum = 0;
    for (int s = 0; s <= t; s++) {
      const real *ks = k + (size_t)s * d;
      real a = 0;
      for (int i = 0; i < d; i++) a += qt[i] * ks[i];
      p[s] = a * scale;
      if (p[s] > mx) mx = p[s];
    }
    for (int s = 0; s <= t; s++) {
      p[s] = (real)exp(p[s] - mx);
      sum += p[s];
    }
    memset(o, 0, sizeof(real) * (size_t)d);
    for (int s = 0; s <= t; s++) {
      p[s] /= sum;
      const real *vs = v + (size_t)s * d;
      for (int j = 0; j < d; j++) o[j] += p[s] * vs[j];
    }
    for (int s = t + 1; s < T; s++) p[s] = 0;
  }
}

static void softmax_backward(int T, int d, const real *q, const real *k, const real *v,
                             const attn_cache *c, const real *dout, real *dq, real *dk,
                             real *dv) {
  real scale = (real)(1.0 / sqrt((double)d));
  size_t td = (size_t)T * (size_t)d;
  memset(dq, 0, sizeof(real) * td);
  memset(dk, 0, sizeof(real) * td);
  memset(dv, 0, sizeof(real) * td);
  real *dp = scratch_of(c, T, d).dden; /* T entries of scratch */
  for (int t = 0; t < T; t++) {
    const real *g = dout + (size_t)t * d, *p = c->p + (size_t)t * T, *qt = q + (size_t)t * d;
    real dot = 0;
    for (int s = 0; s <= t; s++) {
      const real *vs = v + (size_t)s * d;
      real a = 0;
      for (int j = 0; j < d; j++) a += g[j] * vs[j];
      dp[s] = a;
      dot += p[s] * a;
    }
    real *dqt = dq + (size_t)t * d;
    for (int s = 0; s <= t; s++) {
      real ds = p[s] * (dp[s] - dot) * scale;
      const real *ks = k + (size_t)s * d;
      real *dks = dk + (size_t)s * d, *dvs = dv + (size_t)s * d;
      for (int i = 0; i < d; i++) {
        dqt[i] += ds * ks[i];
        dks[i] += ds * qt[i];
        dvs[i] += p[s] * g[i];
      }
    }
  }
}

void attn_forward(attn_kind kind, int T, int d, const real *q, const real *k, const real *v,
                  attn_cache *c, real *out) {
  if (kind == ATTN_SOFTMAX) {
    softmax_forward(T, d, q, k, v, c, out);
  } else {
    linear_forward(kind, T, d, q, k, v, c, out);
  }
}

void attn_backward(attn_kind kind, int T, int d, const real *q, const real *k, const real *v,
                   const attn_cache *c, const real *dout, real *dq, real *dk, real *dv) {
  if (kind == ATTN_SOFTMAX) {
    softmax_backward(T, d, q, k, v, c, dout, dq, dk, dv);
  } else {
    linear_backward(kind, T, d, q, k, v, c, dout, dq, dk, dv);
  }
}
