/*
 * tcoll-tune's model fit and rule builder (tune_model.h). Pure arithmetic:
 * no MPI, no I/O.
 *
 * Fit. Times span six decades (8 B to 64 MiB), so the residual that counts
 * is the relative one: first minimise sum w_i ((t_i - x0_i - x_i.theta) / t_i)^2
 * (linear), then, from there, sum w_i (ln t_i - ln(x0_i + x_i.theta))^2 by
 * Gauss-Newton (log_refine: symmetric in too fast and too slow).
 * The weights are Huber's (k = 1.345 robust standard deviations, the scale
 * from the median absolute residual), re-estimated until theta settles, so
 * a size that ran in a slow phase of the machine pulls the line less than a
 * square would let it. Columns are scaled to unit norm before solving
 * (alpha multiplies message counts, beta bytes: 10^7 apart). A parameter
 * that comes out negative is not physical: it is fixed at 0 and the rest
 * refitted. Standard errors: sigma^2 (Z'WZ)^-1 with sigma^2 the weighted
 * residual variance over n - k degrees of freedom.
 *
 * Rules. See tune_build_rules.
 */
#include "tune_model.h"

#include "tuning.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tune_param_name(int j, char *buf, size_t len) {
  if (j < 2 * TCOLL_NUM_LEVELS)
    snprintf(buf, len, "%s.%s", tcoll__level_name((tcoll_level)(j / 2)), j % 2 ? "beta" : "alpha");
  else
    snprintf(buf, len, "gamma.%s", tcoll__gamma_class_name((tcoll_gamma_class)(j - 2 * TCOLL_NUM_LEVELS)));
  return buf;
}

void tune_params_of(const tcoll_cost_model *m, double theta[TUNE_NUM_PARAMS]) {
  for (int l = 0; l < TCOLL_NUM_LEVELS; l++) {
    theta[tune_param_alpha((tcoll_level)l)] = m->level[l].alpha;
    theta[tune_param_beta((tcoll_level)l)] = m->level[l].beta;
  }
  for (int k = 0; k < TCOLL_NUM_GAMMA_CLASSES; k++) theta[tune_param_gamma((tcoll_gamma_class)k)] = m->gamma[k];
}

void tune_model_of(const double theta[TUNE_NUM_PARAMS], tcoll_cost_model *m) {
  for (int l = 0; l < TCOLL_NUM_LEVELS; l++) {
    m->level[l].alpha = theta[tune_param_alpha((tcoll_level)l)];
    m->level[l].beta = theta[tune_param_beta((tcoll_level)l)];
  }
  for (int k = 0; k < TCOLL_NUM_GAMMA_CLASSES; k++) m->gamma[k] = theta[tune_param_gamma((tcoll_gamma_class)k)];
}

double tune_design_row(const tcoll_comm *c, const tcoll_algorithm *a, const tcoll_call *call, tune_obs *o) {
  tcoll_comm unit = *c; /* cost() is pure: only the model changes */
  double theta[TUNE_NUM_PARAMS] = {0};
  tune_model_of(theta, &unit.model);
  o->x0 = a->cost(&unit, call);
  for (int j = 0; j < TUNE_NUM_PARAMS; j++) {
    theta[j] = 1;
    tune_model_of(theta, &unit.model);
    o->x[j] = a->cost(&unit, call) - o->x0;
    theta[j] = 0;
  }
  tune_params_of(&tcoll__default_cost_model, theta);
  unit.model = tcoll__default_cost_model;
  const double full = a->cost(&unit, call), lin = tune_predict(o, theta);
  return full > 0 ? fabs(full - lin) / full : fabs(lin);
}

double tune_predict(const tune_obs *o, const double theta[TUNE_NUM_PARAMS]) {
  double t = o->x0;
  for (int j = 0; j < TUNE_NUM_PARAMS; j++) t += o->x[j] * theta[j];
  return t;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median_of(double *v, size_t n) {
  qsort(v, n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int tune_fit_error(const tune_obs *obs, size_t n, int alg, const double theta[TUNE_NUM_PARAMS], double *median,
                   double *max) {
  double *e = malloc(sizeof(double) * (n ? n : 1));
  int m = 0;
  *median = *max = 0;
  if (!e) return 0;
  for (size_t i = 0; i < n; i++) {
    if (obs[i].alg != alg || !(obs[i].t > 0)) continue;
    e[m] = fabs(tune_predict(&obs[i], theta) - obs[i].t) / obs[i].t;
    if (e[m] > *max) *max = e[m];
    m++;
  }
  if (m) *median = median_of(e, (size_t)m);
  free(e);
  return m;
}

/* Inverts the k x k symmetric matrix a in place (Gauss-Jordan with partial
 * pivoting). Returns -1 on success, or the column found singular. */
static int invert(double *a, int k) {
  double *inv = calloc((size_t)(k * k), sizeof *inv);
  if (!inv) return 0;
  double scale = 0;
  for (int i = 0; i < k; i++) inv[i * k + i] = 1, scale = fmax(scale, fabs(a[i * k + i]));
  for (int col = 0; col < k; col++) {
    int piv = col;
    for (int r = col + 1; r < k; r++)
      if (fabs(a[r * k + col]) > fabs(a[piv * k + col])) piv = r;
    if (!(fabs(a[piv * k + col]) > 1e-12 * scale)) {
      free(inv);
      return col;
    }
    for (int c = 0; c < k; c++) {
      double t = a[col * k + c];
      a[col * k + c] = a[piv * k + c], a[piv * k + c] = t;
      t = inv[col * k + c];
      inv[col * k + c] = inv[piv * k + c], inv[piv * k + c] = t;
    }
    const double d = a[col * k + col];
    for (int c = 0; c < k; c++) a[col * k + c] /= d, inv[col * k + c] /= d;
    for (int r = 0; r < k; r++) {
      if (r == col) continue;
      const double f = a[r * k + col];
      if (f == 0) continue;
      for (int c = 0; c < k; c++) a[r * k + c] -= f * a[col * k + c], inv[r * k + c] -= f * inv[col * k + c];
    }
  }
  memcpy(a, inv, sizeof(double) * (size_t)(k * k));
  free(inv);
  return -1;
}

#define HUBER_K 1.345
#define MAX_IRLS 100

/* One IRLS fit over the active parameters act[0..k). Returns -1 on
 * success, or the position in act of a column that cannot be told apart
 * from the others. Fills theta (by parameter index), cov (k x k, by
 * position) and the final weights. */
static int irls(const tune_obs *obs, const size_t *use, size_t n, const int *act, int k, double *theta,
                double *cov, double *w, double *sigma, int *iterations) {
  double *z = malloc(sizeof(double) * n * (size_t)k), *y = malloc(sizeof(double) * n);
  double *r = malloc(sizeof(double) * n), *ar = malloc(sizeof(double) * n);
  double a[TUNE_NUM_PARAMS * TUNE_NUM_PARAMS], b[TUNE_NUM_PARAMS], s[TUNE_NUM_PARAMS], phi[TUNE_NUM_PARAMS];
  int bad = -1;
  if (!z || !y || !r || !ar) {
    bad = 0;
    goto done;
  }
  for (int j = 0; j < k; j++) s[j] = 0;
  for (size_t i = 0; i < n; i++) {
    const tune_obs *o = &obs[use[i]];
    y[i] = (o->t - o->x0) / o->t;
    for (int j = 0; j < k; j++) {
      z[i * k + j] = o->x[act[j]] / o->t;
      s[j] += z[i * k + j] * z[i * k + j];
    }
    w[i] = 1;
  }
  for (int j = 0; j < k; j++) {
    s[j] = sqrt(s[j]);
    for (size_t i = 0; i < n; i++) z[i * k + j] /= s[j];
  }
  double prev[TUNE_NUM_PARAMS] = {0};
  for (int it = 1; it <= MAX_IRLS; it++) {
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    for (size_t i = 0; i < n; i++)
      for (int j = 0; j < k; j++) {
        b[j] += w[i] * z[i * k + j] * y[i];
        for (int m = 0; m < k; m++) a[j * k + m] += w[i] * z[i * k + j] * z[i * k + m];
      }
    if ((bad = invert(a, k)) >= 0) goto done;
    double change = 0;
    for (int j = 0; j < k; j++) {
      phi[j] = 0;
      for (int m = 0; m < k; m++) phi[j] += a[j * k + m] * b[m];
      change = fmax(change, fabs(phi[j] - prev[j]) / fmax(fabs(phi[j]), 1e-300));
      prev[j] = phi[j];
    }
    for (size_t i = 0; i < n; i++) {
      double p = 0;
      for (int j = 0; j < k; j++) p += z[i * k + j] * phi[j];
      r[i] = y[i] - p;
      ar[i] = fabs(r[i]);
    }
    /* robust scale; a floor so that exact synthetic data keeps weights 1 */
    *sigma = fmax(1.4826 * median_of(ar, n), 1e-9);
    for (size_t i = 0; i < n; i++) w[i] = fabs(r[i]) <= HUBER_K * *sigma ? 1 : HUBER_K * *sigma / fabs(r[i]);
    *iterations = it;
    if (it > 1 && change < 1e-9) break;
  }
  /* residual variance with the final weights, over n - k degrees of freedom */
  double ss = 0;
  for (size_t i = 0; i < n; i++) ss += w[i] * r[i] * r[i];
  const double var = n > (size_t)k ? ss / (double)(n - (size_t)k) : 0;
  for (int j = 0; j < k; j++) {
    theta[act[j]] = phi[j] / s[j];
    for (int m = 0; m < k; m++) cov[j * k + m] = var * a[j * k + m] / (s[j] * s[m]);
  }
done:
  free(z), free(y), free(r), free(ar);
  return bad;
}

/* Predictions of the active parameters theta (by parameter index) at the
 * used observations; false when one is not positive (no logarithm). */
static bool predict_all(const tune_obs *obs, const size_t *use, size_t n, const int *act, int k,
                        const double *theta, double *p) {
  for (size_t i = 0; i < n; i++) {
    const tune_obs *o = &obs[use[i]];
    p[i] = o->x0;
    for (int j = 0; j < k; j++) p[i] += o->x[act[j]] * theta[act[j]];
    if (!(p[i] > 0)) return false;
  }
  return true;
}

/* Second stage: the same Huber IRLS on log residuals, ln t - ln p(theta),
 * by Gauss-Newton with step halving, started from the linear fit. The
 * relative residual (t - p) / t is bounded above by 1 but not below, so on
 * data with large slow outliers it prefers predictions that are too low;
 * the logarithm treats a factor 2 too slow and too fast alike. Returns 0
 * and replaces theta, cov, sigma, iterations; -1 leaves them. */
static int log_refine(const tune_obs *obs, const size_t *use, size_t n, const int *act, int k, double *theta,
                      double *cov, double *sigma, int *iterations) {
  double *p = malloc(sizeof(double) * n), *r = malloc(sizeof(double) * n), *w = malloc(sizeof(double) * n);
  double *ar = malloc(sizeof(double) * n), *jz = malloc(sizeof(double) * n * (size_t)k);
  double a[TUNE_NUM_PARAMS * TUNE_NUM_PARAMS], b[TUNE_NUM_PARAMS], sc[TUNE_NUM_PARAMS];
  double th[TUNE_NUM_PARAMS], trial[TUNE_NUM_PARAMS];
  int rc = -1, it = 0;
  double sig = 1;
  if (!p || !r || !w || !ar || !jz) goto done;
  memcpy(th, theta, sizeof th);
  memcpy(trial, theta, sizeof trial);
  if (!predict_all(obs, use, n, act, k, th, p)) goto done;
  for (it = 1; it <= MAX_IRLS; it++) {
    for (size_t i = 0; i < n; i++) r[i] = log(obs[use[i]].t) - log(p[i]), ar[i] = fabs(r[i]);
    sig = fmax(1.4826 * median_of(ar, n), 1e-9);
    double obj = 0;
    for (size_t i = 0; i < n; i++) {
      w[i] = fabs(r[i]) <= HUBER_K * sig ? 1 : HUBER_K * sig / fabs(r[i]);
      obj += w[i] * r[i] * r[i];
    }
    for (int j = 0; j < k; j++) sc[j] = 0;
    for (size_t i = 0; i < n; i++)
      for (int j = 0; j < k; j++) {
        jz[i * k + j] = obs[use[i]].x[act[j]] / p[i];
        sc[j] += jz[i * k + j] * jz[i * k + j];
      }
    for (int j = 0; j < k; j++) sc[j] = sqrt(sc[j]) > 0 ? sqrt(sc[j]) : 1;
    memset(a, 0, sizeof a);
    memset(b, 0, sizeof b);
    for (size_t i = 0; i < n; i++)
      for (int j = 0; j < k; j++) {
        b[j] += w[i] * jz[i * k + j] / sc[j] * r[i];
        for (int m = 0; m < k; m++) a[j * k + m] += w[i] * jz[i * k + j] / sc[j] * jz[i * k + m] / sc[m];
      }
    if (invert(a, k) >= 0) goto done;
    double delta[TUNE_NUM_PARAMS];
    for (int j = 0; j < k; j++) {
      delta[j] = 0;
      for (int m = 0; m < k; m++) delta[j] += a[j * k + m] * b[m];
      delta[j] /= sc[j];
    }
    /* step halving: a step that makes a prediction non-positive or the
     * weighted squares larger is shortened */
    double step = 1, change = 0;
    bool accepted = false;
    for (int h = 0; h < 40 && !accepted; h++, step /= 2) {
      for (int j = 0; j < k; j++) trial[act[j]] = th[act[j]] + step * delta[j];
      if (!predict_all(obs, use, n, act, k, trial, p)) continue;
      double o2 = 0;
      for (size_t i = 0; i < n; i++) {
        double d = log(obs[use[i]].t) - log(p[i]);
        o2 += w[i] * d * d;
      }
      accepted = o2 <= obj * (1 + 1e-12);
    }
    if (!accepted) { /* no step improves: the current point is the answer */
      predict_all(obs, use, n, act, k, th, p);
      break;
    }
    for (int j = 0; j < k; j++) {
      change = fmax(change, fabs(trial[act[j]] - th[act[j]]) / fmax(fabs(trial[act[j]]), 1e-300));
      th[act[j]] = trial[act[j]];
    }
    if (change < 1e-9) break;
  }
  /* covariance at the solution: sigma^2 (J'WJ)^-1 */
  double ss = 0;
  for (size_t i = 0; i < n; i++) {
    r[i] = log(obs[use[i]].t) - log(p[i]);
    ss += w[i] * r[i] * r[i];
  }
  memset(a, 0, sizeof a);
  for (size_t i = 0; i < n; i++)
    for (int j = 0; j < k; j++)
      for (int m = 0; m < k; m++)
        a[j * k + m] += w[i] * obs[use[i]].x[act[j]] / p[i] / sc[j] * obs[use[i]].x[act[m]] / p[i] / sc[m];
  if (invert(a, k) >= 0) goto done;
  const double var = n > (size_t)k ? ss / (double)(n - (size_t)k) : 0;
  for (int j = 0; j < k; j++) {
    theta[act[j]] = th[act[j]];
    for (int m = 0; m < k; m++) cov[j * k + m] = var * a[j * k + m] / (sc[j] * sc[m]);
  }
  *sigma = sig;
  *iterations += it;
  rc = 0;
done:
  free(p), free(r), free(w), free(ar), free(jz);
  return rc;
}

int tune_fit_model(const tune_obs *obs, size_t n, const bool want[TUNE_NUM_PARAMS], tune_fit *fit) {
  memset(fit, 0, sizeof *fit);
  bool active[TUNE_NUM_PARAMS];
  for (int j = 0; j < TUNE_NUM_PARAMS; j++) {
    active[j] = false;
    if (!want[j]) continue;
    for (size_t i = 0; i < n && !active[j]; i++) active[j] = obs[i].t > 0 && obs[i].x[j] != 0;
  }
  size_t *use = malloc(sizeof(size_t) * (n ? n : 1));
  double *w = malloc(sizeof(double) * (n ? n : 1));
  int rc = -1;
  if (!use || !w) {
    snprintf(fit->error, sizeof fit->error, "out of memory");
    goto done;
  }
  for (;;) {
    int act[TUNE_NUM_PARAMS], k = 0;
    for (int j = 0; j < TUNE_NUM_PARAMS; j++)
      if (active[j]) act[k++] = j;
    /* observations that depend on an active parameter */
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
      bool dep = false;
      for (int j = 0; j < k; j++) dep = dep || obs[i].x[act[j]] != 0;
      if (dep && obs[i].t > 0 && isfinite(obs[i].t)) use[m++] = i;
    }
    if (k == 0) {
      snprintf(fit->error, sizeof fit->error, "no measurement depends on a parameter to fit");
      goto done;
    }
    if (m < (size_t)k + 2) {
      snprintf(fit->error, sizeof fit->error, "%zu measurements for %d parameters: too few", m, k);
      goto done;
    }
    double theta[TUNE_NUM_PARAMS] = {0}, cov[TUNE_NUM_PARAMS * TUNE_NUM_PARAMS];
    int bad = irls(obs, use, m, act, k, theta, cov, w, &fit->sigma, &fit->iterations);
    if (bad >= 0) { /* cannot be told apart from the others: leave it out */
      active[act[bad]] = false;
      continue;
    }
    log_refine(obs, use, m, act, k, theta, cov, &fit->sigma, &fit->iterations);
    int worst = -1;
    for (int j = 0; j < k; j++)
      if (theta[act[j]] < 0 && (worst < 0 || theta[act[j]] < theta[act[worst]])) worst = j;
    if (worst >= 0) {
      active[act[worst]] = false;
      fit->clamped[act[worst]] = true;
      continue;
    }
    for (int j = 0; j < k; j++) {
      fit->fitted[act[j]] = true;
      fit->value[act[j]] = theta[act[j]];
      fit->stderr_[act[j]] = sqrt(fmax(cov[j * k + j], 0));
    }
    fit->nobs = (int)m;
    rc = 0;
    break;
  }
done:
  free(use);
  free(w);
  return rc;
}

/* ------------------------------------------------------------ rules */

int tune_simplicity(const char *name) {
  /* simplest first: fewer steps, fewer special cases, no shared state */
  static const char *const order[] = {"binomial_tree",     "recursive_doubling", "ring",     "pairwise",
                                      "recursive_halving", "bruck",              "scatter_allgather",
                                      "rabenseifner",      "double_binary_tree", "hierarchical", "shm"};
  const int n = (int)(sizeof order / sizeof *order);
  for (int i = 0; i < n; i++)
    if (strcmp(name, order[i]) == 0) return i;
  return n;
}

static bool usable(const tune_point *p, int a) { return p->med[a] > 0 && isfinite(p->med[a]); }

/* med[a] / best - 1, or INFINITY when a cannot run this size. */
static double loss_of(const tune_point *p, int a, int best) {
  if (a < 0 || best < 0 || !usable(p, a)) return INFINITY;
  return p->med[a] / p->med[best] - 1;
}

static double margin_of(const tune_point *p, int a, int best, double floor_) {
  return fmax(floor_, 2 * sqrt(p->noise[a] * p->noise[a] + p->noise[best] * p->noise[best]));
}

/* a is within the noise of the fastest at this point */
static bool near_best(const tune_point *p, int a, int best, double floor_) {
  return usable(p, a) && loss_of(p, a, best) <= margin_of(p, a, best, floor_);
}

typedef struct {
  int alg, first, last; /* point indices, inclusive */
} segment;

/* Merges adjacent segments of the same algorithm; returns the new count. */
static size_t merge_segments(segment *s, size_t n) {
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    if (m && s[m - 1].alg == s[i].alg) s[m - 1].last = s[i].last;
    else s[m++] = s[i];
  }
  return m;
}

static double regret(const tune_point *pts, const int *best, int first, int last, int alg) {
  double r = 0;
  for (int i = first; i <= last; i++)
    if (best[i] >= 0) r += loss_of(&pts[i], alg, best[i]);
  return r;
}

size_t tune_build_rules(const tune_point *pts, size_t npts, int nalgs, const int *simplicity,
                        const tune_rule_options *opt, tune_range *ranges, tune_decision *dec) {
  const double fl = opt->margin_floor;
  const int confirm = opt->confirm < 1 ? 1 : opt->confirm;
  int *best = malloc(sizeof(int) * (npts ? npts : 1)), *assign = malloc(sizeof(int) * (npts ? npts : 1));
  segment *seg = malloc(sizeof(segment) * (npts ? npts : 1));
  size_t nseg = 0, nranges = 0;
  if (!best || !assign || !seg) goto done;
  /* 1. per size: the fastest, and the simplest of those within the noise of it */
  for (size_t i = 0; i < npts; i++) {
    best[i] = -1;
    for (int a = 0; a < nalgs; a++)
      if (usable(&pts[i], a) && (best[i] < 0 || pts[i].med[a] < pts[i].med[best[i]])) best[i] = a;
    dec[i] = (tune_decision){.best = best[i], .chosen = -1};
  }
  /* 2. walk up the sizes keeping the incumbent while it is within the noise
   *    of the fastest; switch only when it is beaten beyond the noise here
   *    and at the next confirm-1 sizes (at the last size: beaten by twice
   *    the margin), to the simplest algorithm near the best at all of them */
  int cur = -1;
  for (size_t i = 0; i < npts; i++) {
    const tune_point *p = &pts[i];
    assign[i] = cur;
    if (best[i] < 0) {
      snprintf(dec[i].note, sizeof dec[i].note, "no algorithm ran this size");
      continue;
    }
    int lastj = (int)i + confirm - 1 < (int)npts ? (int)i + confirm - 1 : (int)npts - 1;
    /* the simplest algorithm within the noise at points i..lastj */
    int pick = -1;
    for (int a = 0; a < nalgs; a++) {
      bool ok = true;
      for (int j = (int)i; j <= lastj && ok; j++) ok = best[j] >= 0 && near_best(&pts[j], a, best[j], fl);
      if (ok && (pick < 0 || simplicity[a] < simplicity[pick])) pick = a;
    }
    if (pick < 0)
      for (int a = 0; a < nalgs; a++)
        if (near_best(p, a, best[i], fl) && (pick < 0 || simplicity[a] < simplicity[pick])) pick = a;
    if (cur < 0 || !usable(p, cur)) {
      snprintf(dec[i].note, sizeof dec[i].note, "%s: simplest within the noise of the fastest",
               cur < 0 ? "start" : "previous choice cannot run");
      cur = assign[i] = pick;
      continue;
    }
    if (near_best(p, cur, best[i], fl)) {
      if (cur == best[i]) snprintf(dec[i].note, sizeof dec[i].note, "fastest");
      else
        snprintf(dec[i].note, sizeof dec[i].note, "within the noise of the fastest (+%.1f%% <= %.1f%%)",
                 100 * loss_of(p, cur, best[i]), 100 * margin_of(p, cur, best[i], fl));
      continue;
    }
    bool confirmed = true;
    for (int c = 1; c < confirm && confirmed; c++) {
      size_t j = i + (size_t)c;
      if (j >= npts) {
        confirmed = loss_of(p, cur, best[i]) > 2 * margin_of(p, cur, best[i], fl);
        break;
      }
      confirmed = best[j] >= 0 && !near_best(&pts[j], cur, best[j], fl);
    }
    if (confirmed) {
      snprintf(dec[i].note, sizeof dec[i].note, "switch: previous choice %.1f%% slower (margin %.1f%%)%s",
               100 * loss_of(p, cur, best[i]), 100 * margin_of(p, cur, best[i], fl),
               confirm > 1 ? ", confirmed at the next size" : "");
      cur = assign[i] = pick;
    } else {
      if (i + 1 < npts)
        snprintf(dec[i].note, sizeof dec[i].note, "kept: %.1f%% slower here only (not confirmed at the next size)",
                 100 * loss_of(p, cur, best[i]));
      else
        snprintf(dec[i].note, sizeof dec[i].note, "kept: %.1f%% slower at the last size, less than twice the margin",
                 100 * loss_of(p, cur, best[i]));
    }
  }
  /* leading sizes nothing ran take the first choice */
  int first_alg = -1;
  for (size_t i = 0; i < npts && first_alg < 0; i++) first_alg = assign[i];
  if (first_alg < 0) goto done;
  for (size_t i = 0; i < npts && assign[i] < 0; i++) assign[i] = first_alg;
  /* 3. segments; an algorithm that comes back (A B A) is a flip-flop: of
   *    the three ways to remove it (A over the middle, the middle over the
   *    second A, the middle over the first A) keep the one that costs the
   *    least in summed loss against the fastest */
  for (size_t i = 0; i < npts; i++) seg[nseg++] = (segment){assign[i], (int)i, (int)i};
  nseg = merge_segments(seg, nseg);
  for (;;) {
    size_t a = 0, b = 0;
    bool found = false;
    for (size_t i = 0; i < nseg && !found; i++)
      for (size_t j = i + 2; j < nseg && !found; j++)
        if (seg[j].alg == seg[i].alg) a = i, b = j, found = true;
    if (!found) break;
    const int x = seg[a].alg;
    double cost_a = 0, cost_b, cost_c;
    for (size_t m = a + 1; m < b; m++)
      cost_a += regret(pts, best, seg[m].first, seg[m].last, x) - regret(pts, best, seg[m].first, seg[m].last, seg[m].alg);
    cost_b = regret(pts, best, seg[b].first, seg[b].last, seg[b - 1].alg) - regret(pts, best, seg[b].first, seg[b].last, x);
    cost_c = regret(pts, best, seg[a].first, seg[a].last, seg[a + 1].alg) - regret(pts, best, seg[a].first, seg[a].last, x);
    if (cost_a <= cost_b && cost_a <= cost_c)
      for (size_t m = a + 1; m < b; m++) seg[m].alg = x;
    else if (cost_b <= cost_c) seg[b].alg = seg[b - 1].alg;
    else seg[a].alg = seg[a + 1].alg;
    nseg = merge_segments(seg, nseg);
  }
  /* 4. the final choice per size, and the byte ranges: a boundary sits
   *    where the two medians cross (interpolated in log time over log
   *    size), or halfway (geometrically) when they do not cross */
  for (size_t s = 0; s < nseg; s++)
    for (int i = seg[s].first; i <= seg[s].last; i++) {
      if (assign[i] != seg[s].alg && dec[i].note[0]) {
        size_t len = strlen(dec[i].note);
        snprintf(dec[i].note + len, sizeof dec[i].note - len, "; monotone ranges: no flip-flop");
      }
      dec[i].chosen = seg[s].alg;
      dec[i].loss = best[i] >= 0 ? loss_of(&pts[i], seg[s].alg, best[i]) : 0;
    }
  for (size_t s = 0; s < nseg; s++) {
    ranges[nranges++] = (tune_range){.lo = 0, .hi = TCOLL_RANGE_ANY, .alg = seg[s].alg};
    if (s == 0) continue;
    const tune_point *pa = &pts[seg[s - 1].last], *pb = &pts[seg[s].first];
    const int A = seg[s - 1].alg, B = seg[s].alg;
    double lsa = log(pa->bytes), lsb = log(pb->bytes), x = 0.5 * (lsa + lsb);
    if (usable(pa, A) && usable(pa, B) && usable(pb, A) && usable(pb, B)) {
      double da = log(pa->med[A] / pa->med[B]), db = log(pb->med[A] / pb->med[B]);
      if (da < 0 && db > 0) x = lsa + da / (da - db) * (lsb - lsa);
    }
    double boundary = ceil(exp(x));
    if (boundary <= pa->bytes) boundary = pa->bytes + 1;
    if (boundary > pb->bytes) boundary = pb->bytes;
    ranges[nranges - 2].hi = boundary - 1;
    ranges[nranges - 1].lo = boundary;
  }
done:
  free(best);
  free(assign);
  free(seg);
  return nranges;
}

int tune_append_rules(tcoll_tuning *t, tcoll_coll coll, const tune_range *r, size_t n, const char *const *names,
                      int ranks, int nodes, int ranks_per_node) {
  tcoll_rule *rules = realloc(t->rules, sizeof *rules * (t->num_rules + n + 1));
  if (!rules) return -1;
  t->rules = rules;
  for (size_t i = 0; i < n; i++) {
    tcoll_rule *x = &t->rules[t->num_rules++];
    memset(x, 0, sizeof *x);
    x->coll = coll;
    x->ranks = (tcoll_range){ranks, ranks};
    x->nodes = (tcoll_range){nodes, nodes};
    x->ranks_per_node = (tcoll_range){ranks_per_node, ranks_per_node};
    x->bytes = (tcoll_range){r[i].lo, r[i].hi};
    snprintf(x->algorithm, sizeof x->algorithm, "%s", names[r[i].alg]);
    x->alg = tcoll__algorithm_find(coll, x->algorithm);
  }
  return 0;
}
