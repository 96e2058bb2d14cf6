/*
 * Finite-difference check of the whole backward pass, float64 build
 * (compiled with -DTRAIN_FLOAT64 against the float64 training core).
 *
 * For each attention variant, with and without token shift, a small model
 * (width 6, 2 layers, 3 pairs, 2 sequences) and every single parameter:
 * centred difference (L(p + h) - L(p - h)) / 2h with h = 1e-5, compared per
 * tensor by the normwise relative error |fd - analytic|_2 / |analytic|_2,
 * which must stay below 1e-6 (measured 1e-10..4e-9; truncation error is
 * O(h^2) ~ 1e-10 relative, rounding ~ 1e-16 / h ~ 1e-11 absolute).
 * Parameters start from model_init plus noise, so the biases and every
 * weight are away from special values.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

#define NSEQ 2
#define STEP 1e-5
#define TOL 1e-6

static int passed, failed;

static double loss_of(const model_layout *m, model_work *w, const real *p, int seqs[][2][96],
                      double scale, real *grad) {
  double l = 0;
  for (int s = 0; s < NSEQ; s++)
    l += model_sequence(m, w, p, seqs[s][0], seqs[s][1], scale, grad, NULL);
  return l * scale;
}

static void check(attn_kind kind, int shift) {
  model_dims dims = {6, 2, 3, kind, shift};
  model_layout m;
  char err[200];
  if (model_layout_init(&m, &dims, err, sizeof err) != TRAIN_OK) {
    printf("FAIL layout: %s\n", err);
    failed++;
    return;
  }
  model_work *w = model_work_new(&m);
  real *p = malloc(m.nparams * sizeof *p), *g = calloc(m.nparams, sizeof *g);
  real *fd = malloc(m.nparams * sizeof *fd);
  int seqs[NSEQ][2][96];
  double scale = 1.0 / (NSEQ * dims.pairs);
  for (int s = 0; s < NSEQ; s++)
    task_sequence(dims.pairs, 7, TASK_STREAM_TRAIN, (uint64_t)s, seqs[s][0], seqs[s][1]);
  model_init(&m, 3, p);
  uint64_t st = 99;
  for (size_t i = 0; i < m.nparams; i++) p[i] += 0.1 * train_gauss(&st);
  loss_of(&m, w, p, seqs, scale, g);
  for (size_t i = 0; i < m.nparams; i++) {
    real keep = p[i];
    p[i] = keep + STEP;
    double up = loss_of(&m, w, p, seqs, scale, NULL);
    p[i] = keep - STEP;
    double down = loss_of(&m, w, p, seqs, scale, NULL);
    p[i] = keep;
    fd[i] = (up - down) / (2 * STEP);
  }
  for (int t = 0; t < m.ntensors; t++) {
    const model_tensor *mt = &m.tensors[t];
    double diff = 0, norm = 0;
    for (size_t e = mt->offset; e < mt->offset + mt->rows * mt->cols; e++) {
      diff += (fd[e] - g[e]) * (fd[e] - g[e]);
      norm += g[e] * g[e];
    }
    double rel = norm > 0 ? sqrt(diff / norm) : sqrt(diff);
    int ok = rel < TOL && norm > 0;
    ok ? passed++ : failed++;
    printf("%s %-7s shift %-3s %-8s |g| %.3e relative error %.2e\n", ok ? "ok  " : "FAIL",
           attn_name(kind), shift ? "on" : "off", mt->name, sqrt(norm), rel);
  }
  model_work_free(w);
  free(p);
  free(g);
  free(fd);
}

int main(void) {
  for (int kind = 0; kind < 3; kind++)
    for (int shift = 1; shift >= 0; shift--) check((attn_kind)kind, shift);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
