/*
 * tcoll-tune's arithmetic, without MPI (tests/unit/test_tune_model.c runs it
 * on synthetic data):
 *
 *  - the model fit: α and β per link level and γ of one dtype class, by
 *    Huber-weighted iteratively reweighted least squares on the medians'
 *    relative residuals, refined on their logarithms. The design matrix comes from each algorithm's own
 *    cost(): every cost is linear in the parameters, so evaluating it with
 *    one parameter set to 1 and the others 0 gives that parameter's
 *    coefficient (and all at 0 gives the part no parameter explains);
 *  - the rule builder: the measured winner per size turned into size ranges
 *    that are monotone (each algorithm holds one contiguous range) and
 *    stable (a switch only where the challenger leads beyond the noise at
 *    consecutive sizes; ties go to the simpler algorithm).
 */
#ifndef TCOLL_TUNE_MODEL_H
#define TCOLL_TUNE_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include "tcoll_internal.h"

/* ---- parameters ---- */

/* Index space: level l's alpha = 2l, beta = 2l + 1, then one gamma per
 * dtype class. */
#define TUNE_NUM_PARAMS (2 * TCOLL_NUM_LEVELS + TCOLL_NUM_GAMMA_CLASSES)
static inline int tune_param_alpha(tcoll_level l) { return 2 * (int)l; }
static inline int tune_param_beta(tcoll_level l) { return 2 * (int)l + 1; }
static inline int tune_param_gamma(tcoll_gamma_class k) { return 2 * TCOLL_NUM_LEVELS + (int)k; }
/* "l3.alpha", "gamma.float", ... */
const char *tune_param_name(int j, char *buf, size_t len);
/* The parameter vector of a model, and back. */
void tune_params_of(const tcoll_cost_model *m, double theta[TUNE_NUM_PARAMS]);
void tune_model_of(const double theta[TUNE_NUM_PARAMS], tcoll_cost_model *m);

/* One measured median and its row of the design matrix. */
typedef struct {
  int alg;      /* index of the algorithm (the caller's numbering) */
  double bytes; /* call size */
  double t;     /* measured median, seconds */
  double x[TUNE_NUM_PARAMS]; /* d cost / d parameter */
  double x0;                 /* cost with every parameter 0 (constants of the algorithm) */
} tune_obs;

/* Fills o->x and o->x0 from a->cost() on c (whose model is not used; c is
 * copied). Returns the largest relative deviation between cost() with the
 * default model and x0 + x . theta_default: 0 for a linear cost. */
double tune_design_row(const tcoll_comm *c, const tcoll_algorithm *a, const tcoll_call *call, tune_obs *o);

typedef struct {
  bool fitted[TUNE_NUM_PARAMS];  /* estimated by this fit */
  bool clamped[TUNE_NUM_PARAMS]; /* came out negative: fixed at 0 and refitted */
  double value[TUNE_NUM_PARAMS];
  double stderr_[TUNE_NUM_PARAMS]; /* standard error (from residual variance and (X'WX)^-1) */
  double sigma;   /* robust scale of the (log) residuals */
  int iterations; /* IRLS iterations of the final fit */
  int nobs;       /* observations used */
  char error[160]; /* non-empty when the fit failed (then nothing is fitted) */
} tune_fit;

/* Fits the parameters in `want` (others stay 0 in the prediction; a wanted
 * parameter whose column is all zero is not fitted) to the observations.
 * 0 on success, -1 with fit->error. */
int tune_fit_model(const tune_obs *obs, size_t n, const bool want[TUNE_NUM_PARAMS], tune_fit *fit);
/* The model's prediction for one observation. */
double tune_predict(const tune_obs *o, const double theta[TUNE_NUM_PARAMS]);
/* Median and largest |predicted - measured| / measured over algorithm alg's
 * observations; returns how many there were. */
int tune_fit_error(const tune_obs *obs, size_t n, int alg, const double theta[TUNE_NUM_PARAMS], double *median,
                   double *max);

/* ---- rules ---- */

#define TUNE_MAX_ALGS 16

/* The medians of one size: med[a] <= 0 when algorithm a cannot run it;
 * noise[a] is the relative standard error of its median. Two medians
 * differ beyond the noise when they are more than two combined standard
 * errors (and at least margin_floor) apart. */
typedef struct {
  double bytes;
  double med[TUNE_MAX_ALGS];
  double noise[TUNE_MAX_ALGS];
} tune_point;

typedef struct {
  double margin_floor; /* smallest lead that counts as a lead (fraction, e.g. 0.03) */
  int confirm;         /* consecutive sizes a challenger must lead at (>= 1) */
} tune_rule_options;

/* How the choice at one size was made, for the report. */
typedef struct {
  int best;    /* fastest median */
  int chosen;  /* the algorithm the rules give this size */
  double loss; /* chosen's median / best's - 1 */
  char note[160];
} tune_decision;

/* A rule: [lo, hi] bytes (inclusive) -> alg. */
typedef struct {
  double lo, hi;
  int alg;
} tune_range;

/* Builds the ranges from points sorted by size. simplicity[a]: smaller =
 * simpler (ties go to it). Writes at most nalgs ranges (monotone: one per
 * algorithm at most) covering [0, TCOLL_RANGE_ANY] and one decision per
 * point; returns the number of ranges (0 when no algorithm ran any size). */
size_t tune_build_rules(const tune_point *pts, size_t npts, int nalgs, const int *simplicity,
                        const tune_rule_options *opt, tune_range *ranges, tune_decision *decisions);

/* Appends ranges of collective coll to t's rules, each for exactly this job
 * shape (ranks, nodes, ranks per node); names[alg] are the algorithms.
 * 0 on success, -1 on no memory. */
int tune_append_rules(tcoll_tuning *t, tcoll_coll coll, const tune_range *r, size_t n, const char *const *names,
                      int ranks, int nodes, int ranks_per_node);

/* Position of an algorithm name in the fixed simplicity order (simplest
 * first); unknown names come after all known ones. */
int tune_simplicity(const char *name);

#endif
