/*
 * tcoll-tune's arithmetic on synthetic data (tools/tune_model.c):
 *  - the fit recovers known α, β, γ from timings made with the algorithms'
 *    own cost() plus noise and outliers, within its stated uncertainty;
 *  - the rule builder, on noisy data with known crossovers, gives monotone
 *    ranges (each algorithm once), crossovers near the true ones, no switch
 *    for a one-size blip, ties to the simpler algorithm;
 *  - a file made from the ranges round-trips through the writer and the
 *    loader and selects what the ranges say at every boundary.
 */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tune_model.h"
#include "fake_comm.h"
#include "tuning.h"


/* deterministic uniform [0, 1) and standard normal */
static unsigned long long rng_state;
static double uniform(void) {
  rng_state = rng_state * 6364136223846793005ULL + 1442695040888963407ULL;
  return (double)(rng_state >> 11) / 9007199254740992.0;
}
static double normal(void) {
  double u = uniform() + 1e-12, v = uniform();
  return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* Observations of every usable allreduce algorithm at 8 B .. 64 MiB
 * (float32) on c, timed by the model `truth` with relative noise `noise`
 * and a fraction `outliers` of them 1.5-3x slow. */
static size_t synthetic_obs(const tcoll_comm *c, const tcoll_cost_model *truth, double noise, double outliers,
                            tune_obs *obs, size_t cap) {
  double theta[TUNE_NUM_PARAMS];
  tune_params_of(truth, theta);
  size_t n = 0;
  const tcoll_algorithm *a;
  for (size_t k = 0; (a = tcoll__algorithm_at(TCOLL_ALLREDUCE, k)) != NULL; k++)
    for (size_t bytes = 8; bytes <= ((size_t)64 << 20) && n < cap; bytes *= 2) {
      tcoll_call call = {.coll = TCOLL_ALLREDUCE, .count = bytes / 4, .dtype = TCOLL_FLOAT32, .op = TCOLL_SUM,
                         .elem_size = 4, .bytes = bytes};
      char why[192];
      if (!a->check(c, &call, why, sizeof why)) continue;
      tune_obs *o = &obs[n++];
      o->alg = (int)k;
      o->bytes = (double)bytes;
      ck_assert_double_lt(tune_design_row(c, a, &call, o), 1e-9); /* costs are linear in the parameters */
      o->t = tune_predict(o, theta) * (1 + noise * normal());
      if (uniform() < outliers) o->t *= 1.5 + 1.5 * uniform();
    }
  return n;
}

static void want_level_and_float(bool want[TUNE_NUM_PARAMS], tcoll_level l) {
  memset(want, 0, sizeof(bool) * TUNE_NUM_PARAMS);
  want[tune_param_alpha(l)] = want[tune_param_beta(l)] = true;
  want[tune_param_gamma(TCOLL_GAMMA_FLOAT)] = true;
}

START_TEST(test_fit_exact) {
  tcoll_comm c = fake_comm(2, 1); /* no places: every pair at the node level */
  tcoll_cost_model truth = tcoll__default_cost_model;
  truth.level[TCOLL_LEVEL_NODE] = (tcoll_link_model){.alpha = 1.7e-6, .beta = 3.1e-10};
  truth.gamma[TCOLL_GAMMA_FLOAT] = 2.2e-10;
  tune_obs obs[400];
  rng_state = 1;
  size_t n = synthetic_obs(&c, &truth, 0, 0, obs, 400);
  ck_assert_uint_gt(n, 60);
  bool want[TUNE_NUM_PARAMS];
  want_level_and_float(want, TCOLL_LEVEL_NODE);
  want[tune_param_alpha(TCOLL_LEVEL_L3)] = true; /* wanted, but no call crosses l3: not fitted */
  tune_fit f;
  ck_assert_int_eq(tune_fit_model(obs, n, want, &f), 0);
  ck_assert(!f.fitted[tune_param_alpha(TCOLL_LEVEL_L3)]);
  double theta[TUNE_NUM_PARAMS];
  tune_params_of(&truth, theta);
  const int params[] = {tune_param_alpha(TCOLL_LEVEL_NODE), tune_param_beta(TCOLL_LEVEL_NODE),
                        tune_param_gamma(TCOLL_GAMMA_FLOAT)};
  for (int i = 0; i < 3; i++) {
    ck_assert(f.fitted[params[i]]);
    ck_assert_double_eq_tol(f.value[params[i]], theta[params[i]], 1e-6 * theta[params[i]]);
  }
}
END_TEST

START_TEST(test_fit_noisy_with_outliers) {
  tcoll_comm c = fake_comm(2, 1);
  tcoll_cost_model truth = tcoll__default_cost_model;
  truth.level[TCOLL_LEVEL_NODE] = (tcoll_link_model){.alpha = 0.9e-6, .beta = 1.3e-10};
  truth.gamma[TCOLL_GAMMA_FLOAT] = 4.0e-10;
  double theta[TUNE_NUM_PARAMS];
  tune_params_of(&truth, theta);
  bool want[TUNE_NUM_PARAMS];
  want_level_and_float(want, TCOLL_LEVEL_NODE);
  const int params[] = {tune_param_alpha(TCOLL_LEVEL_NODE), tune_param_beta(TCOLL_LEVEL_NODE),
                        tune_param_gamma(TCOLL_GAMMA_FLOAT)};
  int within = 0, total = 0;
  for (unsigned long long seed = 1; seed <= 20; seed++) {
    rng_state = seed;
    tune_obs obs[400];
    size_t n = synthetic_obs(&c, &truth, 0.05, 0.08, obs, 400);
    tune_fit f;
    ck_assert_int_eq(tune_fit_model(obs, n, want, &f), 0);
    for (int i = 0; i < 3; i++) {
      const int j = params[i];
      ck_assert(f.fitted[j]);
      ck_assert_double_gt(f.stderr_[j], 0);
      /* the one-sided outliers (8% of the points, 1.5-3x slow) must not drag
       * the estimate far: within 20% */
      ck_assert_msg(fabs(f.value[j] - theta[j]) < 0.20 * theta[j], "seed %llu param %d: %g vs %g", seed, j,
                    f.value[j], theta[j]);
      total++;
      within += fabs(f.value[j] - theta[j]) <= 3 * f.stderr_[j];
    }
    /* the fit error per algorithm reflects the noise, not the outliers */
    double med, max;
    ck_assert_int_gt(tune_fit_error(obs, n, 0, f.value, &med, &max), 10);
    ck_assert_double_lt(med, 0.1);
  }
  /* the stated uncertainties mean something: most estimates within 3 se */
  ck_assert_msg(within >= total * 8 / 10, "%d of %d within 3 standard errors", within, total);
}
END_TEST

START_TEST(test_fit_too_few) {
  tune_obs obs[2];
  memset(obs, 0, sizeof obs);
  obs[0].t = obs[1].t = 1e-6;
  obs[0].x[0] = obs[1].x[0] = 1;
  bool want[TUNE_NUM_PARAMS] = {true};
  tune_fit f;
  ck_assert_int_eq(tune_fit_model(obs, 2, want, &f), -1);
  ck_assert_ptr_nonnull(strstr(f.error, "too few"));
}
END_TEST

/* Three algorithms, t = a + s / b, crossing at ~4 KiB (0 -> 1) and
 * ~1 MiB (1 -> 2). */
#define NALG 3
static const double lat[NALG] = {1e-6, 3e-6, 300e-6};
static double bw[NALG];

static void setup_curves(void) {
  /* a0 + s/b0 = a1 + s/b1 at 4096; a1 + s/b1 = a2 + s/b2 at 1 MiB */
  bw[0] = 1e9;
  double s1 = 4096, s2 = 1 << 20;
  bw[1] = 1 / (1 / bw[0] - (lat[1] - lat[0]) / s1);
  bw[2] = 1 / (1 / bw[1] - (lat[2] - lat[1]) / s2);
}

static size_t noisy_points(tune_point *pts, double noise) {
  size_t n = 0;
  for (double s = 8; s <= 64.0 * (1 << 20); s *= 2, n++) {
    pts[n].bytes = s;
    for (int a = 0; a < NALG; a++) {
      pts[n].med[a] = (lat[a] + s / bw[a]) * (1 + noise * (2 * uniform() - 1));
      pts[n].noise[a] = noise / 2;
    }
  }
  return n;
}

static void assert_monotone(const tune_range *r, size_t n) {
  ck_assert_uint_ge(n, 1);
  ck_assert_double_eq(r[0].lo, 0);
  ck_assert_double_eq(r[n - 1].hi, TCOLL_RANGE_ANY);
  for (size_t i = 0; i < n; i++) {
    ck_assert_double_le(r[i].lo, r[i].hi);
    if (i) ck_assert_double_eq(r[i].lo, r[i - 1].hi + 1);
    for (size_t j = 0; j < i; j++) ck_assert_int_ne(r[i].alg, r[j].alg); /* no A/B/A */
  }
}

START_TEST(test_rules_known_crossovers) {
  setup_curves();
  const int simp[NALG] = {0, 1, 2};
  tune_rule_options opt = {.margin_floor = 0.03, .confirm = 2};
  for (unsigned long long seed = 1; seed <= 300; seed++) {
    rng_state = seed;
    tune_point pts[40];
    size_t n = noisy_points(pts, 0.06);
    tune_range r[NALG];
    tune_decision d[40];
    size_t nr = tune_build_rules(pts, n, NALG, simp, &opt, r, d);
    assert_monotone(r, nr);
    ck_assert_uint_eq(nr, 3);
    ck_assert_int_eq(r[0].alg, 0);
    ck_assert_int_eq(r[1].alg, 1);
    ck_assert_int_eq(r[2].alg, 2);
    /* near crossovers the curves are within the noise for a factor of a
     * few either way: the boundary must land inside that window */
    ck_assert_msg(r[1].lo >= 4096 / 8 && r[1].lo <= 4096 * 8, "seed %llu: first boundary %g", seed, r[1].lo);
    ck_assert_msg(r[2].lo >= (1 << 20) / 8 && r[2].lo <= (1 << 20) * 8, "seed %llu: second boundary %g", seed, r[2].lo);
    /* the chosen one is never worse than the noise allows */
    for (size_t i = 0; i < n; i++) ck_assert_double_lt(d[i].loss, 0.2);
  }
}
END_TEST

START_TEST(test_rules_ties_and_blips) {
  const int simp[2] = {1, 0}; /* algorithm 1 is the simpler one */
  tune_rule_options opt = {.margin_floor = 0.03, .confirm = 2};
  tune_point pts[20];
  tune_range r[2];
  tune_decision d[20];
  /* 1. a tie within the noise, the winner alternating: one range, the simpler */
  for (int i = 0; i < 20; i++) {
    pts[i].bytes = 8.0 * (1 << i);
    pts[i].med[0] = 1e-6 * (1 << i) * (i % 2 ? 0.99 : 1.01);
    pts[i].med[1] = 1e-6 * (1 << i);
    pts[i].noise[0] = pts[i].noise[1] = 0.01;
  }
  size_t nr = tune_build_rules(pts, 20, 2, simp, &opt, r, d);
  ck_assert_uint_eq(nr, 1);
  ck_assert_int_eq(r[0].alg, 1);
  /* 2. algorithm 0 wins by 30% at one size only: no switch */
  pts[7].med[0] = 0.7 * pts[7].med[1];
  nr = tune_build_rules(pts, 20, 2, simp, &opt, r, d);
  ck_assert_uint_eq(nr, 1);
  ck_assert_ptr_nonnull(strstr(d[7].note, "kept"));
  /* 3. ... and at two consecutive sizes, and then again later: A/B/A would
   *    follow; the rules stay monotone */
  pts[8].med[0] = 0.7 * pts[8].med[1];
  pts[15].med[0] = 0.6 * pts[15].med[1];
  pts[16].med[0] = 0.6 * pts[16].med[1];
  nr = tune_build_rules(pts, 20, 2, simp, &opt, r, d);
  assert_monotone(r, nr);
  /* 4. an algorithm that cannot run some sizes is never chosen there */
  for (int i = 0; i < 20; i++) pts[i].med[0] = 0.5 * pts[i].med[1];
  for (int i = 10; i < 20; i++) pts[i].med[0] = 0;
  nr = tune_build_rules(pts, 20, 2, simp, &opt, r, d);
  assert_monotone(r, nr);
  ck_assert_uint_eq(nr, 2);
  ck_assert_int_eq(r[0].alg, 0);
  ck_assert_double_lt(r[0].hi, pts[10].bytes);
  for (int i = 10; i < 20; i++) ck_assert_int_eq(d[i].chosen, 1);
}
END_TEST

START_TEST(test_file_round_trip) {
  tcoll_tuning *t = calloc(1, sizeof *t);
  ck_assert_ptr_nonnull(t);
  snprintf(t->created, sizeof t->created, "{\"host\":\"h\",\"tool\":\"tcoll-tune\"}");
  t->has_model = true;
  t->model = tcoll__default_cost_model;
  t->model.level[TCOLL_LEVEL_L3] = (tcoll_link_model){.alpha = 3.3e-7, .beta = 1.7e-10};
  t->model.gamma[TCOLL_GAMMA_FLOAT] = 2.9e-10;
  t->level_listed[TCOLL_LEVEL_L3] = true;
  t->gamma_listed[TCOLL_GAMMA_FLOAT] = true;
  const char *names[] = {"recursive_doubling", "rabenseifner", "ring"};
  tune_range r[3] = {{0, 4095, 0}, {4096, 1048575, 1}, {1048576, TCOLL_RANGE_ANY, 2}};
  ck_assert_int_eq(tune_append_rules(t, TCOLL_ALLREDUCE, r, 3, names, 2, 1, 2), 0);
  char *text = tcoll__tuning_write(t);
  ck_assert_ptr_nonnull(text);
  ck_assert_ptr_null(strstr(text, "\"network\"")); /* only the measured level */
  tcoll_tuning *b = NULL;
  ck_assert_int_eq(tcoll__tuning_parse(text, strlen(text), "round-trip", false, &b), TCOLL_OK);
  ck_assert_uint_eq(b->num_rules, 3);
  ck_assert(memcmp(&b->model, &t->model, sizeof b->model) == 0);
  ck_assert(b->level_listed[TCOLL_LEVEL_L3] && !b->level_listed[TCOLL_LEVEL_NETWORK]);
  for (int i = 0; i < 3; i++) ck_assert(memcmp(&b->rules[i], &t->rules[i], sizeof b->rules[i]) == 0);
  /* the loader picks what the ranges say, at and around every boundary */
  tcoll_comm c = fake_comm(2, 1);
  const size_t sizes[] = {8, 4092, 4096, 1048572, 1048576, (size_t)64 << 20};
  const int expect[] = {0, 0, 1, 1, 2, 2};
  for (int i = 0; i < 6; i++) {
    tcoll_call call = {.coll = TCOLL_ALLREDUCE, .count = sizes[i] / 4, .dtype = TCOLL_FLOAT32,
                       .op = TCOLL_SUM, .elem_size = 4, .bytes = sizes[i]};
    int k = tcoll__tuning_lookup(b, &c, &call);
    ck_assert_int_ge(k, 0);
    ck_assert_str_eq(b->rules[k].algorithm, names[expect[i]]);
  }
  /* another job shape: no rule applies */
  tcoll_comm c4 = fake_comm(4, 1);
  tcoll_call call = {.coll = TCOLL_ALLREDUCE, .count = 2, .dtype = TCOLL_FLOAT32, .op = TCOLL_SUM,
                     .elem_size = 4, .bytes = 8};
  ck_assert_int_eq(tcoll__tuning_lookup(b, &c4, &call), -1);
  free(text);
  tcoll__tuning_free(t);
  tcoll__tuning_free(b);
}
END_TEST

START_TEST(test_simplicity_order) {
  ck_assert_int_lt(tune_simplicity("binomial_tree"), tune_simplicity("ring"));
  ck_assert_int_lt(tune_simplicity("ring"), tune_simplicity("rabenseifner"));
  ck_assert_int_lt(tune_simplicity("rabenseifner"), tune_simplicity("shm"));
  ck_assert_int_lt(tune_simplicity("shm"), tune_simplicity("no_such_algorithm"));
}
END_TEST

int main(void) {
  Suite *s = suite_create("tune_model");
  TCase *tc = tcase_create("fit");
  tcase_add_test(tc, test_fit_exact);
  tcase_add_test(tc, test_fit_noisy_with_outliers);
  tcase_add_test(tc, test_fit_too_few);
  suite_add_tcase(s, tc);
  tc = tcase_create("rules");
  tcase_add_test(tc, test_rules_known_crossovers);
  tcase_add_test(tc, test_rules_ties_and_blips);
  tcase_add_test(tc, test_file_round_trip);
  tcase_add_test(tc, test_simplicity_order);
  suite_add_tcase(s, tc);
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
