/*
 * Adam (Kingma & Ba 2015) with bias correction, no weight decay, and a
 * learning rate that rises linearly over `warmup` steps then follows a
 * cosine from lr down to final_frac * lr at the last step.
 *
 * Every rank runs this on identical inputs (the all-reduced gradient is
 * bitwise identical everywhere), in the same order, so replicas stay
 * bitwise identical without ever exchanging parameters.
 */
#include <math.h>

#include "train.h"

double lr_at(const adam_config *a, long step) {
  if (step < a->warmup) return a->lr * (double)(step + 1) / (double)a->warmup;
  long span = a->steps - a->warmup;
  if (span <= 1) return a->lr;
  double frac = (double)(step - a->warmup) / (double)(span - 1);
  if (frac > 1) frac = 1;
  double cosine = 0.5 * (1 + cos(3.141592653589793 * frac));
  return a->lr * (a->final_frac + (1 - a->final_frac) * cosine);
}

void adam_update(const adam_config *a, long step, size_t n, real *params, const real *grad,
                 real *m, real *v) {
  double lr = lr_at(a, step);
  double c1 = 1 - pow(a->beta1, (double)(step + 1)), c2 = 1 - pow(a->beta2, (double)(step + 1));
  /* fold the bias corrections into the step size: lr * sqrt(c2) / c1 */
  real alpha = (real)(lr * sqrt(c2) / c1), eps = (real)(a->eps * sqrt(c2));
  real b1 = (real)a->beta1, b2 = (real)a->beta2;
  for (size_t i = 0; i < n; i++) {
    real g = grad[i];
    m[i] = b1 * m[i] + (1 - b1) * g;
    v[i] = b2 * v[i] + (1 - b2) * g * g;
    params[i] -= alpha * m[i] / ((real)sqrt(v[i]) + eps);
  }
}
