/*
 * tcoll-tune: measure every usable algorithm on this job, fit the cost
 * model, derive rules, write and validate a tuning file, and report.
 *
 *   mpirun -n P tcoll-tune --out DIR [--coll allreduce,...] [--max-bytes 64M]
 *          [--budget SECONDS] [--min-bytes 8] [--dtype float32] [--op sum]
 *          [--rounds 11] [--no-progress]
 *
 * Steps (docs/tuning.md, "tcoll-tune"):
 *  1. sweep: every algorithm and MPI's own collective at sizes a factor 2
 *     apart, timed interleaved (tools/bench_core.c, as tcoll-bench), each
 *     result checked against the independent reference first;
 *  2. rules (tune_model.c): the winner per size within the noise, switches
 *     confirmed at consecutive sizes, monotone ranges; then one more size
 *     between the two sizes around each switch (factor sqrt 2) and the
 *     rules again;
 *  3. fit: α, β per link level present and γ of the measured dtype's class,
 *     Huber IRLS on the medians through each algorithm's own cost();
 *  4. DIR/tuning.json (written under a temporary name), loaded on every rank
 *     and validated: auto against every forced algorithm, interleaved;
 *  5. DIR/report.html and DIR/report.md (tune_report.c).
 * The three files appear together, by rename, only when every step
 * succeeded: an interrupted or failed run leaves no tuning file.
 *
 * Budget: the sweep gets 60% of --budget, the crossover refinement up to
 * 70%, validation up to 85%, the reports the rest; a size is started only
 * when its estimated time (2.5x the previous size's) fits, and a size that
 * runs late stops after fewer rounds (at least one).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <hwloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_core.h"
#include "reference.h"
#include "tune_report.h"
#include "tuning.h"

typedef struct {
  int colls[TCOLL_NUM_COLLS];
  size_t min_bytes, max_bytes;
  double budget;
  tcoll_dtype dtype;
  tcoll_op op;
  int rounds;
  int progress; /* -1 auto, 0 off */
  const char *out;
} options;

static void usage(FILE *f) {
  fprintf(f,
          "usage: mpirun -n P tcoll-tune --out DIR [options]\n"
          "  -o, --out DIR         where tuning.json, report.html and report.md go (created)\n"
          "  -c, --coll LIST       collectives to tune, comma separated, or all (default allreduce)\n"
          "  -b, --min-bytes SIZE  smallest message (default 8; suffixes K, M, G)\n"
          "  -e, --max-bytes SIZE  largest message (default 64M)\n"
          "  -B, --budget SECONDS  wall time for the whole run (default 300); sizes that would\n"
          "                        not fit are skipped and the report says so\n"
          "  -d, --dtype TYPE      element type measured (default float32); gamma is fitted for\n"
          "                        its class (integer, float, float16, bfloat16)\n"
          "      --op OP           reduction op (default sum)\n"
          "  -R, --rounds N        interleaved rounds per size (default 11)\n"
          "      --no-progress     no progress line (default: on when started from a terminal)\n"
          "  -h, --help            this text\n"
          "Sizes are the whole vector in bytes (nccl-tests convention). Run with --bind-to core.\n");
}

static int parse_size(const char *s, size_t *out) { return tcoll__parse_bytes(s, out) == TCOLL_OK ? 0 : -1; }

/* ------------------------------------------------------------ signals */

/* Files this rank may have created under temporary names; removed on an
 * interrupt (async-signal-safe: unlink and write only). */
static char tmp_paths[3][600];
static volatile sig_atomic_t tmp_count;

static void on_signal(int sig) {
  for (int i = 0; i < tmp_count; i++) unlink(tmp_paths[i]);
  static const char msg[] = "\ntcoll-tune: interrupted; no tuning file written\n";
  if (bench_rank == 0) (void)!write(STDERR_FILENO, msg, sizeof msg - 1);
  _exit(128 + sig);
}

static void remove_temporaries(void) {
  for (int i = 0; i < tmp_count; i++) unlink(tmp_paths[i]);
  tmp_count = 0;
}

/* ------------------------------------------------------------ progress */

static int progress_on;
static double t_start;

static double elapsed(void) { return MPI_Wtime() - t_start; }

static void progress(const char *phase, tcoll_coll coll, double bytes, double budget) {
  if (!progress_on) return;
  fprintf(stderr, "\r%-10s %-14s %12.0f B  %6.1f s of %.0f s   ", phase, tcoll__coll_name(coll), bytes, elapsed(),
          budget);
  fflush(stderr);
}

static void progress_clear(void) {
  if (progress_on) fprintf(stderr, "\r%70s\r", ""), fflush(stderr);
}

/* "Started from a terminal": stderr is one, or (under mpirun, where it is
 * a pipe) this process still has a controlling terminal. */
static int on_terminal(void) {
  if (isatty(STDERR_FILENO)) return 1;
  int fd = open("/dev/tty", O_WRONLY | O_NOCTTY);
  if (fd < 0) return 0;
  close(fd);
  return 1;
}

/* ------------------------------------------------------------ options */

static int parse_options(int argc, char **argv, options *o, char *err, size_t errlen) {
  static const struct option longopts[] = {
      {"out", required_argument, 0, 'o'},       {"coll", required_argument, 0, 'c'},
      {"min-bytes", required_argument, 0, 'b'}, {"max-bytes", required_argument, 0, 'e'},
      {"budget", required_argument, 0, 'B'},    {"dtype", required_argument, 0, 'd'},
      {"op", required_argument, 0, 1},          {"rounds", required_argument, 0, 'R'},
      {"no-progress", no_argument, 0, 2},       {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  memset(o, 0, sizeof *o);
  o->colls[TCOLL_ALLREDUCE] = 1;
  o->min_bytes = 8;
  o->max_bytes = (size_t)64 << 20;
  o->budget = 300;
  o->dtype = TCOLL_FLOAT32;
  o->op = TCOLL_SUM;
  o->rounds = 11;
  o->progress = -1;
  optind = 1;
  opterr = 0;
  int ch;
  char *end;
  while ((ch = getopt_long(argc, argv, "o:c:b:e:B:d:R:h", longopts, NULL)) != -1) {
    switch (ch) {
      case 'o': o->out = optarg; break;
      case 'c': {
        memset(o->colls, 0, sizeof o->colls);
        char buf[256];
        snprintf(buf, sizeof buf, "%s", optarg);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
          int found = -1;
          for (int k = 0; k < TCOLL_NUM_COLLS; k++)
            if (strcmp(t, "all") == 0 || strcmp(t, bench_coll_names[k]) == 0) o->colls[k] = 1, found = k;
          if (found < 0) return snprintf(err, errlen, "unknown collective \"%s\"", t), -1;
        }
        break;
      }
      case 'b':
        if (parse_size(optarg, &o->min_bytes) || o->min_bytes == 0)
          return snprintf(err, errlen, "bad --min-bytes \"%s\"", optarg), -1;
        break;
      case 'e':
        if (parse_size(optarg, &o->max_bytes)) return snprintf(err, errlen, "bad --max-bytes \"%s\"", optarg), -1;
        break;
      case 'B':
        errno = 0;
        o->budget = strtod(optarg, &end);
        if (errno || *end || !(o->budget > 0) || o->budget > 1e6)
          return snprintf(err, errlen, "--budget \"%s\" must be a positive number of seconds", optarg), -1;
        break;
      case 'd': {
        int k = -1;
        for (int i = 0; i < TCOLL_NUM_DTYPES; i++)
          if (strcmp(optarg, ref_dtype_name((tcoll_dtype)i)) == 0) k = i;
        if (k < 0) return snprintf(err, errlen, "unknown dtype \"%s\"", optarg), -1;
        o->dtype = (tcoll_dtype)k;
        break;
      }
      case 1: {
        int k = -1;
        for (int i = 0; i < TCOLL_NUM_OPS; i++)
          if (strcmp(optarg, ref_op_name((tcoll_op)i)) == 0) k = i;
        if (k < 0) return snprintf(err, errlen, "unknown op \"%s\"", optarg), -1;
        o->op = (tcoll_op)k;
        break;
      }
      case 'R': {
        long v = strtol(optarg, &end, 10);
        if (*end || v < 3 || v > TUNE_MAX_ROUNDS)
          return snprintf(err, errlen, "--rounds \"%s\": 3 to %d", optarg, TUNE_MAX_ROUNDS), -1;
        o->rounds = (int)v;
        break;
      }
      case 2: o->progress = 0; break;
      case 'h': return snprintf(err, errlen, "help"), -1;
      default: return snprintf(err, errlen, "unknown or incomplete option \"%s\"", argv[optind - 1]), -1;
    }
  }
  if (optind < argc) return snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]), -1;
  if (!o->out) return snprintf(err, errlen, "--out DIR is required"), -1;
  if (strlen(o->out) > 400) return snprintf(err, errlen, "--out path too long"), -1;
  if (o->min_bytes > o->max_bytes)
    return snprintf(err, errlen, "--min-bytes %zu is larger than --max-bytes %zu", o->min_bytes, o->max_bytes), -1;
  return 0;
}

/* ------------------------------------------------------------ the sweep */

/* Rank 0 decides, every rank follows: whether `need` more seconds fit
 * before `limit` (seconds since start). */
static int fits(double need, double limit) {
  int ok = bench_rank == 0 ? elapsed() + need <= limit : 0;
  MPI_Bcast(&ok, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return ok;
}

/* The call a size makes (selection needs no buffers). */
static tcoll_call call_of(tcoll_coll coll, const bench_layout *l, const bench_params *bp) {
  const size_t es = ref_size(bp->dtype);
  return (tcoll_call){.coll = coll, .count = l->count, .dtype = bp->dtype, .op = bp->op, .elem_size = es,
                      .bytes = l->count * es};
}

/* Measures one size of a collective into s: checks every variant once (a
 * variant that declines or fails is not run; one that computes a wrong
 * result is an error), then times the rest interleaved. Returns 0, or -1
 * (wrong result or no memory, message in err, same on every rank). */
static int measure_size(tcoll_comm *c, const bench_params *bp0, tune_coll_result *cr, double bytes, double limit,
                        void *send, void *recv, tune_size *s, char *err, size_t errlen) {
  bench_params params = *bp0;
  params.deadline = t_start + limit; /* a slow size stops after fewer rounds rather than overrun */
  const bench_params *bp = &params;
  const size_t es = ref_size(bp->dtype);
  const bench_layout l = bench_layout_for(cr->coll, (size_t)bytes, es);
  bench_variant v[TUNE_MAX_VARIANTS];
  int usable[TUNE_MAX_VARIANTS] = {0};
  const int nv = cr->nalgs + (cr->has_mpi ? 1 : 0);
  const double t0 = MPI_Wtime();
  memset(s, 0, sizeof *s);
  s->bytes = (double)bench_layout_bytes(&l, es);
  s->call_bytes = (double)(l.count * es);
  for (int k = 0; k < nv; k++) {
    v[k] = (bench_variant){cr->coll, k < cr->nalgs ? cr->names[k] : "mpi"};
    char why[192] = "";
    if (k == cr->nalgs && bench_mpi_unavailable(bp, cr->coll, l.count)) continue;
    /* an algorithm that runs another's schedule in this job (hierarchical
     * on one node is shm) is that one: timing it twice only lets noise
     * pick between two names for the same code */
    const tcoll_algorithm *alg = k < cr->nalgs ? tcoll__algorithm_find(cr->coll, v[k].algo) : NULL;
    const tcoll_call call = call_of(cr->coll, &l, bp);
    const tcoll_algorithm *same = alg ? tcoll__twin(c, alg, &call) : NULL;
    if (same) {
      if (!cr->why_not[k][0]) snprintf(cr->why_not[k], sizeof cr->why_not[k], "runs %s's schedule in this job", same->name);
      continue;
    }
    if (k < cr->nalgs) tcoll_comm_set_algorithm(c, cr->coll, v[k].algo);
    long wrong = bench_check_variant(c, &v[k], bp, send, recv, &l, why, sizeof why);
    if (wrong > 0) {
      snprintf(err, errlen, "%s %s at %.0f bytes computed %ld wrong element(s): %s", tcoll__coll_name(cr->coll),
               v[k].algo, s->bytes, wrong, why);
      return -1;
    }
    if (wrong < 0) {
      if (k < cr->nalgs && !cr->why_not[k][0]) snprintf(cr->why_not[k], sizeof cr->why_not[k], "%s", why);
      continue;
    }
    usable[k] = 1;
  }
  double *t = malloc(sizeof(double) * (size_t)bp->rounds * (size_t)nv);
  if (!t) return snprintf(err, errlen, "out of memory"), -1;
  const int n = bench_time(c, bp, v, nv, usable, (size_t)s->bytes, send, recv, &l, t);
  const double copy_bw = bench_copy_bandwidth(recv, send, (size_t)s->bytes);
  s->copy_gbs = copy_bw / 1e9;
  double *sorted = malloc(sizeof(double) * (size_t)n), *ratio = malloc(sizeof(double) * (size_t)n);
  if (!sorted || !ratio) return free(t), free(sorted), free(ratio), snprintf(err, errlen, "out of memory"), -1;
  int ref = -1;
  for (int k = 0; k < nv; k++) {
    if (!usable[k]) continue;
    memcpy(sorted, t + k * bp->rounds, sizeof(double) * (size_t)n);
    bench_sort(sorted, n);
    double mn, p99;
    s->ran[k] = true;
    bench_stats(sorted, n, &mn, &s->med[k], &p99);
    s->q1[k] = bench_quantile(sorted, n, 0.25);
    s->q3[k] = bench_quantile(sorted, n, 0.75);
    s->busbw[k] = s->bytes / s->med[k] / 1e9 * bench_facts[cr->coll].busbw_factor(bench_nranks);
    s->pct_bound[k] = copy_bw > 0 ? 100 * bench_min_traffic(cr->coll, (size_t)s->bytes) / copy_bw / s->med[k] : 0;
    if (ref < 0 || s->med[k] < s->med[ref]) ref = k;
  }
  /* noise: the standard error of the median of the per-round ratio to the
   * fastest, from its interquartile range (normal: sigma = IQR / 1.349,
   * se(median) = 1.2533 sigma / sqrt(n)) */
  for (int k = 0; k < nv && ref >= 0; k++) {
    if (!usable[k]) continue;
    for (int r = 0; r < n; r++) ratio[r] = t[k * bp->rounds + r] / t[ref * bp->rounds + r];
    bench_sort(ratio, n);
    const double iqr = bench_quantile(ratio, n, 0.75) - bench_quantile(ratio, n, 0.25);
    const double m = bench_quantile(ratio, n, 0.5);
    s->noise[k] = k == ref ? 0 : 0.929 * iqr / sqrt((double)n) / m;
  }
  free(sorted);
  free(ratio);
  free(t);
  s->seconds = MPI_Wtime() - t0;
  return 0;
}

static tune_point point_of(const tune_coll_result *cr, const tune_size *s) {
  tune_point p;
  memset(&p, 0, sizeof p);
  p.bytes = s->call_bytes;
  for (int a = 0; a < cr->nalgs; a++)
    if (s->ran[a]) {
      p.med[a] = s->med[a];
      p.noise[a] = s->noise[a];
    }
  return p;
}

/* Noise below this is not believed: the machine's phases (MACHINE-FACTS)
 * move medians by a few percent between runs even when a run's rounds
 * agree closely. */
#define MARGIN_FLOOR 0.03

static int build_rules(tune_coll_result *cr) {
  tune_point *pts = malloc(sizeof *pts * (cr->nsizes ? cr->nsizes : 1));
  free(cr->decisions);
  cr->decisions = calloc(cr->nsizes ? cr->nsizes : 1, sizeof *cr->decisions);
  if (!pts || !cr->decisions) return free(pts), -1;
  for (size_t i = 0; i < cr->nsizes; i++) pts[i] = point_of(cr, &cr->sizes[i]);
  const tune_rule_options opt = {.margin_floor = MARGIN_FLOOR, .confirm = 2};
  cr->nranges = tune_build_rules(pts, cr->nsizes, cr->nalgs, cr->simplicity, &opt, cr->ranges, cr->decisions);
  free(pts);
  return 0;
}

static int add_size(tune_coll_result *cr, const tune_size *s) {
  tune_size *n = realloc(cr->sizes, sizeof *n * (cr->nsizes + 1));
  if (!n) return -1;
  cr->sizes = n;
  size_t at = cr->nsizes;
  while (at > 0 && cr->sizes[at - 1].bytes > s->bytes) at--;
  memmove(&cr->sizes[at + 1], &cr->sizes[at], sizeof *n * (cr->nsizes - at));
  cr->sizes[at] = *s;
  cr->nsizes++;
  return 0;
}

/* The sweep of one collective at sizes a factor 2 apart, within the budget. */
static int sweep(tcoll_comm *c, const options *o, const bench_params *bp, tune_coll_result *cr, void *send,
                 void *recv, double limit, char *err, size_t errlen) {
  const size_t es = ref_size(o->dtype);
  double last = 0.05;
  for (double b = (double)o->min_bytes; b <= (double)o->max_bytes * (1 + 1e-9); b *= 2) {
    if (bench_layout_for(cr->coll, (size_t)b, es).count == 0) continue;
    if (!fits(2.5 * last, limit)) {
      cr->truncated = true;
      break;
    }
    progress("sweep", cr->coll, b, o->budget);
    tune_size s;
    if (measure_size(c, bp, cr, b, limit, send, recv, &s, err, errlen) != 0 || add_size(cr, &s) != 0) return -1;
    last = s.seconds;
  }
  return 0;
}

/* One more size between the two around each switch of the rules. */
static int refine(tcoll_comm *c, const options *o, const bench_params *bp, tune_coll_result *cr, void *send,
                  void *recv, double limit, char *err, size_t errlen) {
  const size_t es = ref_size(o->dtype), unit = es * (size_t)bench_nranks;
  double extra[TUNE_MAX_ALGS];
  int n = 0;
  for (size_t r = 1; r < cr->nranges; r++) {
    /* the sizes around the boundary: the last below and the first above */
    size_t i = 0;
    while (i + 1 < cr->nsizes && cr->sizes[i + 1].call_bytes < cr->ranges[r].lo) i++;
    if (i + 1 >= cr->nsizes || cr->sizes[i + 1].bytes < 2 * cr->sizes[i].bytes * 0.99) continue;
    double mid = round(sqrt(cr->sizes[i].bytes * cr->sizes[i + 1].bytes) / (double)unit) * (double)unit;
    if (mid > cr->sizes[i].bytes && mid < cr->sizes[i + 1].bytes) extra[n++] = mid;
  }
  for (int k = 0; k < n; k++) {
    double est = 0;
    for (size_t i = 0; i < cr->nsizes; i++)
      if (cr->sizes[i].bytes > extra[k]) {
        est = cr->sizes[i].seconds;
        break;
      }
    if (!fits(1.5 * est, limit)) break;
    progress("refine", cr->coll, extra[k], o->budget);
    tune_size s;
    if (measure_size(c, bp, cr, extra[k], limit, send, recv, &s, err, errlen) != 0) return -1;
    s.refined = true;
    if (add_size(cr, &s) != 0) return -1;
  }
  return n > 0 ? build_rules(cr) : 0;
}

/* ------------------------------------------------------------ the fit */

static int fit_model(tcoll_comm *c, const options *o, tune_run *run) {
  size_t cap = 0;
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) cap += run->colls[k].nsizes * (size_t)run->colls[k].nalgs;
  run->obs = calloc(cap ? cap : 1, sizeof *run->obs);
  if (!run->obs) return -1;
  const size_t es = ref_size(o->dtype);
  /* algorithm numbering for the fit: collective * TUNE_MAX_ALGS + index */
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    const tune_coll_result *cr = &run->colls[k];
    for (int a = 0; a < cr->nalgs; a++) {
      const tcoll_algorithm *alg = tcoll__algorithm_find(cr->coll, cr->names[a]);
      for (size_t i = 0; alg && i < cr->nsizes; i++) {
        const tune_size *s = &cr->sizes[i];
        if (!s->ran[a]) continue;
        tcoll_call call = {.coll = cr->coll, .count = (size_t)s->call_bytes / es, .dtype = o->dtype,
                           .op = o->op, .elem_size = es, .bytes = (size_t)s->call_bytes};
        tune_obs *ob = &run->obs[run->nobs];
        ob->alg = k * TUNE_MAX_ALGS + a;
        ob->bytes = s->bytes;
        ob->t = s->med[a];
        /* a cost that is not linear in the parameters cannot be fitted this
         * way, and one that depends on none of them (shm's own constants)
         * has nothing to fit */
        bool depends = false;
        const double nonlinear = tune_design_row(c, alg, &call, ob);
        for (int j = 0; j < TUNE_NUM_PARAMS; j++) depends = depends || ob->x[j] != 0;
        if (nonlinear < 1e-6 && depends) run->nobs++;
      }
    }
  }
  bool want[TUNE_NUM_PARAMS] = {false};
  for (int l = 0; l < TCOLL_NUM_LEVELS; l++) {
    want[tune_param_alpha((tcoll_level)l)] = want[tune_param_beta((tcoll_level)l)] = true;
    for (size_t i = 0; i < run->nobs; i++)
      if (run->obs[i].x[tune_param_alpha((tcoll_level)l)] != 0 || run->obs[i].x[tune_param_beta((tcoll_level)l)] != 0)
        run->level_listed[l] = true;
  }
  want[tune_param_gamma(tcoll__gamma_class(o->dtype))] = true;
  tune_params_of(&tcoll__default_cost_model, run->theta);
  run->fit_ok = tune_fit_model(run->obs, run->nobs, want, &run->fit) == 0;
  if (run->fit_ok)
    for (int j = 0; j < TUNE_NUM_PARAMS; j++)
      if (run->fit.fitted[j]) run->theta[j] = run->fit.value[j];
  return 0;
}

/* ------------------------------------------------------------ validation */

static int validate(tcoll_comm *c, const options *o, const bench_params *bp, tune_coll_result *cr, void *send,
                    void *recv, double limit) {
  const size_t es = ref_size(o->dtype);
  cr->checks = calloc(cr->nsizes ? cr->nsizes : 1, sizeof *cr->checks);
  if (!cr->checks) return -1;
  for (size_t i = 0; i < cr->nsizes; i++) {
    const tune_size *s = &cr->sizes[i];
    tune_check *ck = &cr->checks[cr->nchecks++];
    ck->bytes = s->bytes;
    ck->call_bytes = s->call_bytes;
    ck->fastest = -1;
    /* twice the sweep's rounds: the verdict is a 5% line, and between
     * two runs of one algorithm the median of 11 per-round ratios here
     * spread by +-5% (placement flips, other tenants); 22 halve the
     * variance */
    bench_params params = *bp;
    params.rounds = 2 * bp->rounds < TUNE_MAX_ROUNDS ? 2 * bp->rounds : TUNE_MAX_ROUNDS;
    params.deadline = t_start + limit;
    if (!fits(1.2 * s->seconds * params.rounds / bp->rounds, limit)) continue;
    progress("validate", cr->coll, s->bytes, o->budget);
    const bench_layout l = bench_layout_for(cr->coll, (size_t)s->bytes, es);
    bench_variant v[TUNE_MAX_VARIANTS];
    int usable[TUNE_MAX_VARIANTS] = {0};
    const int nv = cr->nalgs + 1; /* the algorithms, then auto */
    for (int k = 0; k < nv; k++) {
      v[k] = (bench_variant){cr->coll, k < cr->nalgs ? cr->names[k] : NULL};
      usable[k] = k == cr->nalgs || s->ran[k];
    }
    double *t = malloc(sizeof(double) * (size_t)params.rounds * (size_t)nv);
    const char *auto_ran[TUNE_MAX_ROUNDS] = {NULL};
    int ok = t != NULL; /* every rank times, or none */
    MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (!ok) return free(t), -1;
    params.auto_ran = auto_ran;
    const int n = bench_time(c, &params, v, nv, usable, (size_t)s->bytes, send, recv, &l, t);
    /* what auto ran with the file loaded (the same on every rank): from
     * 8 KiB it may move off the rule's pick while it is timed
     * (TCOLL_ADAPTIVE), so the one that ran the most rounds, and in how
     * many */
    const char *ran = bench_majority(auto_ran, n, &ck->auto_held);
    ck->auto_rounds = n;
    /* a rule's hierarchical on one node runs shm's schedule: named so, as
     * the sweep left it out under its own name */
    const tcoll_algorithm *ran_alg = ran ? tcoll__algorithm_find(cr->coll, ran) : NULL;
    const tcoll_call call = call_of(cr->coll, &l, bp);
    const tcoll_algorithm *ran_same = ran_alg ? tcoll__twin(c, ran_alg, &call) : NULL;
    snprintf(ck->auto_alg, sizeof ck->auto_alg, "%s", ran_same ? ran_same->name : ran ? ran : "?");
    double mn, p99, med, sorted[TUNE_MAX_ROUNDS];
    for (int k = 0; k < nv; k++) {
      if (!usable[k]) continue;
      memcpy(sorted, t + k * params.rounds, sizeof(double) * (size_t)n);
      bench_sort(sorted, n);
      bench_stats(sorted, n, &mn, &med, &p99);
      if (k == cr->nalgs) ck->auto_med = med;
      else if (ck->fastest < 0 || med < ck->fastest_med) ck->fastest = k, ck->fastest_med = med;
      if (k < cr->nalgs && strcmp(cr->names[k], ck->auto_alg) == 0) ck->auto_forced_med = med;
    }
    /* The verdict's ratio pairs each round's auto with the same round's
     * fastest: a round's variants run back to back, so a change of the
     * machine's speed between rounds (this VM's vCPU placement flips every
     * few tens of seconds, moving medians by up to 2x at 4 MiB and more)
     * cancels out, where it skews the ratio of two medians. */
    if (ck->fastest >= 0) {
      for (int r = 0; r < n; r++) sorted[r] = t[cr->nalgs * params.rounds + r] / t[ck->fastest * params.rounds + r];
      bench_sort(sorted, n);
      bench_stats(sorted, n, &mn, &ck->paired_ratio, &p99);
    }
    ck->done = true;
    free(t);
  }
  tcoll_comm_set_algorithm(c, cr->coll, NULL);
  return 0;
}

/* ------------------------------------------------------------ provenance */

static void json_escape(char *dst, size_t len, const char *s) {
  size_t u = 0;
  for (; *s && u + 7 < len; s++) {
    if (*s == '"' || *s == '\\') dst[u++] = '\\', dst[u++] = *s;
    else if ((unsigned char)*s < 0x20) u += (size_t)snprintf(dst + u, len - u, "\\u%04x", *s);
    else dst[u++] = *s;
  }
  dst[u] = '\0';
}

/* The job: sizes, levels, bindings, machine, versions, command. */
static void describe_job(tcoll_comm *c, int argc, char **argv, tune_run *run) {
  run->ranks = c->size;
  run->nodes = c->num_nodes;
  run->ranks_per_node = c->max_local_size;
  snprintf(run->tcoll_version, sizeof run->tcoll_version, "%s", tcoll_version());
  if (gethostname(run->host, sizeof run->host) != 0) snprintf(run->host, sizeof run->host, "unknown");
  run->host[sizeof run->host - 1] = '\0';
  time_t now = time(NULL);
  strftime(run->date, sizeof run->date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  char *nl = strchr(lib, '\n');
  if (nl) *nl = '\0';
  char *comma = strchr(lib, ',');
  if (comma) *comma = '\0';
  snprintf(run->mpi_library, sizeof run->mpi_library, "%s", lib);
  /* the levels between every pair of ranks */
  bool present[TCOLL_NUM_LEVELS] = {false};
  for (int a = 0; a < c->size; a++)
    for (int b = a + 1; b < c->size; b++) present[tcoll__level_between(c, a, b)] = true;
  size_t u = 0;
  run->levels[0] = '\0';
  for (int l = 0; l < TCOLL_NUM_LEVELS; l++)
    if (present[l])
      u += (size_t)snprintf(run->levels + u, sizeof run->levels - u, "%s%s", u ? "," : "", tcoll__level_name((tcoll_level)l));
  if (!u) snprintf(run->levels, sizeof run->levels, "none (1 rank)");
  u = (size_t)snprintf(run->bindings, sizeof run->bindings, "%5s %5s %6s %8s %5s %4s\n", "rank", "node", "bound",
                       "package", "numa", "l3");
  for (int r = 0; r < c->size && u < sizeof run->bindings; r++) {
    const tcoll_place *p = c->place ? &c->place[r] : NULL;
    u += (size_t)snprintf(run->bindings + u, sizeof run->bindings - u, "%5d %5d %6s %8d %5d %4d\n", r,
                          c->node_of_rank[r], p && p->bound ? "yes" : "no", p ? p->package : -1, p ? p->numa : -1,
                          p ? p->l3 : -1);
  }
  /* hwloc's view of this host */
  hwloc_topology_t topo;
  run->machine[0] = '\0';
  if (hwloc_topology_init(&topo) == 0) {
    if (hwloc_topology_load(topo) == 0) {
      hwloc_obj_t root = hwloc_get_root_obj(topo);
      const char *cpu = hwloc_obj_get_info_by_name(hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0) ?
                                                       hwloc_get_obj_by_type(topo, HWLOC_OBJ_PACKAGE, 0) : root,
                                                   "CPUModel");
      snprintf(run->machine, sizeof run->machine, "%d package(s), %d NUMA node(s), %d L3, %d core(s)%s%s",
               hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE), hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE),
               hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_L3CACHE), hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE),
               cpu ? ": " : "", cpu ? cpu : "");
    }
    hwloc_topology_destroy(topo);
  }
  /* the command: mpirun's own line when it is our parent, else ours */
  u = 0;
  run->command[0] = '\0';
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/cmdline", (int)getppid());
  FILE *f = fopen(path, "rb");
  if (f) {
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (strstr(buf, "mpirun") || strstr(buf, "mpiexec") || strstr(buf, "orterun") || strstr(buf, "prterun"))
      for (size_t i = 0; i < n && u + 2 < sizeof run->command;) {
        u += (size_t)snprintf(run->command + u, sizeof run->command - u, "%s%s", u ? " " : "", buf + i);
        i += strlen(buf + i) + 1;
      }
  }
  if (!u)
    for (int i = 0; i < argc && u + 2 < sizeof run->command; i++)
      u += (size_t)snprintf(run->command + u, sizeof run->command - u, "%s%s", i ? " " : "", argv[i]);
}

static tcoll_tuning *make_tuning(const tune_run *run) {
  tcoll_tuning *t = calloc(1, sizeof *t);
  if (!t) return NULL;
  char host[256], mpi[512], machine[512];
  json_escape(host, sizeof host, run->host);
  json_escape(mpi, sizeof mpi, run->mpi_library);
  json_escape(machine, sizeof machine, run->machine);
  snprintf(t->created, sizeof t->created,
           "{\"host\":\"%s\",\"date\":\"%s\",\"tool\":\"tcoll-tune %s\",\"mpi\":\"%s\",\"dtype\":\"%s\","
           "\"op\":\"%s\"}",
           host, run->date, run->tcoll_version, mpi, ref_dtype_name(run->dtype), ref_op_name(run->op));
  snprintf(t->topology, sizeof t->topology,
           "{\"ranks\":%d,\"nodes\":%d,\"ranks_per_node\":%d,\"levels\":\"%s\",\"machine\":\"%s\"}", run->ranks,
           run->nodes, run->ranks_per_node, run->levels, machine);
  if (run->fit_ok) {
    t->has_model = true;
    tune_model_of(run->theta, &t->model);
    for (int l = 0; l < TCOLL_NUM_LEVELS; l++) t->level_listed[l] = run->level_listed[l];
    t->gamma_listed[tcoll__gamma_class(run->dtype)] = run->fit.fitted[tune_param_gamma(tcoll__gamma_class(run->dtype))];
  }
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    const tune_coll_result *cr = &run->colls[k];
    if (cr->nranges && tune_append_rules(t, cr->coll, cr->ranges, cr->nranges, cr->names, run->ranks, run->nodes,
                                         run->ranks_per_node) != 0) {
      tcoll__tuning_free(t);
      return NULL;
    }
  }
  return t;
}

static int write_text(const char *path, const char *text) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  int ok = fputs(text, f) >= 0;
  return fclose(f) == 0 && ok ? 0 : -1;
}

/* ------------------------------------------------------------ main */

static int finish(int code) {
  MPI_Finalize();
  return code;
}

/* Every rank learns whether rank 0 succeeded; returns the shared status. */
static int agree(int status) {
  MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return status;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  bench_init();
  t_start = MPI_Wtime();
  options o;
  char err[2048] = "";
  if (parse_options(argc, argv, &o, err, sizeof err) != 0) {
    int help = strcmp(err, "help") == 0;
    if (bench_rank == 0) {
      if (!help) fprintf(stderr, "tcoll-tune: %s\n", err);
      usage(help ? stdout : stderr);
    }
    return finish(help ? 0 : 2);
  }
  static tune_run run;
  memset(&run, 0, sizeof run);
  snprintf(run.dir, sizeof run.dir, "%s", o.out);
  run.dtype = o.dtype;
  run.op = o.op;
  run.rounds = o.rounds;
  run.budget = o.budget;
  run.validation_tolerance = 0.05;
  char final_path[3][600], *tmp = NULL;
  const char *names[3] = {"tuning.json", "report.html", "report.md"};
  for (int i = 0; i < 3; i++) {
    snprintf(final_path[i], sizeof final_path[i], "%s/%s", o.out, names[i]);
    snprintf(tmp_paths[i], sizeof tmp_paths[i], "%s/.%s.tmp%d", o.out, names[i], (int)getpid());
  }
  /* the output directory, before anything is measured */
  int status = 0;
  if (bench_rank == 0 && mkdir(o.out, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "tcoll-tune: cannot create %s: %s\n", o.out, strerror(errno));
    status = 2;
  }
  if (agree(status)) return finish(2);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  /* a measured algorithm must not fall back to another under its name, and
   * the starting point is the library's defaults */
  setenv("TCOLL_FALLBACK", "error", 1);
  unsetenv("TCOLL_TUNING_FILE");
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    char var[64];
    snprintf(var, sizeof var, "TCOLL_%s_ALGO", tcoll__coll_name((tcoll_coll)k));
    for (char *p = var; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
    unsetenv(var);
  }
  tcoll_comm *c = NULL;
  if (tcoll_comm_create(MPI_COMM_WORLD, &c) != TCOLL_OK) {
    if (bench_rank == 0) fprintf(stderr, "tcoll-tune: %s\n", tcoll_last_error());
    return finish(2);
  }
  progress_on = bench_rank == 0 && o.progress != 0 && on_terminal();
  describe_job(c, argc, argv, &run);
  const size_t es = ref_size(o.dtype);
  void *send = malloc(o.max_bytes + es), *recv = malloc(o.max_bytes + es);
  /* 10 warm-up calls per variant (warmup is stored + 1), and batches of
   * about 2 ms judged from them: a scaled warm-up of hundreds of calls, or
   * 1000-call batches of calls that a loaded machine or a sanitizer build
   * makes 100x slower, is what overran small budgets */
  const bench_params bp = {.dtype = o.dtype, .op = o.op, .root = 0, .inplace = 0, .rounds = o.rounds, .warmup = 11,
                           .batch_seconds = 2e-3, .shuffle = 1};
  if (!send || !recv) {
    snprintf(err, sizeof err, "cannot allocate 2 x %zu bytes", o.max_bytes);
    status = 2;
    goto done;
  }
  /* the variants of each collective */
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    if (!o.colls[k]) continue;
    tune_coll_result *cr = &run.colls[k];
    cr->coll = (tcoll_coll)k;
    for (size_t i = 0; i < tcoll_algorithm_count(cr->coll) && cr->nalgs < TUNE_MAX_ALGS; i++) {
      cr->names[cr->nalgs] = tcoll_algorithm_name(cr->coll, i);
      cr->simplicity[cr->nalgs] = tune_simplicity(cr->names[cr->nalgs]);
      cr->nalgs++;
    }
    cr->has_mpi = true;
    run.ncolls++;
  }
  /* 1-2. sweep, rules, refinement; the budget is shared out over collectives */
  int done_colls = 0;
  for (int k = 0; k < TCOLL_NUM_COLLS && status == 0; k++) {
    tune_coll_result *cr = &run.colls[k];
    if (!o.colls[k]) continue;
    done_colls++;
    const double share = (double)done_colls / run.ncolls;
    if (sweep(c, &o, &bp, cr, send, recv, 0.60 * o.budget * share, err, sizeof err) != 0 || build_rules(cr) != 0 ||
        refine(c, &o, &bp, cr, send, recv, 0.70 * o.budget * share, err, sizeof err) != 0)
      status = 2;
    else if (cr->nranges == 0) {
      snprintf(err, sizeof err, "%s: no size could be measured within the budget of %.0f s (try a larger --budget)",
               tcoll__coll_name(cr->coll), o.budget);
      status = 2;
    }
  }
  run.elapsed_sweep = elapsed();
  progress_clear();
  if (status) goto done;
  /* 3. the fit (the same arithmetic on every rank; rank 0's is written) */
  if (fit_model(c, &o, &run) != 0) {
    snprintf(err, sizeof err, "out of memory");
    status = 2;
    goto done;
  }
  /* 4. the tuning file, under its temporary name, loaded everywhere */
  tcoll_tuning *t = make_tuning(&run);
  tmp = t ? tcoll__tuning_write(t) : NULL;
  tcoll__tuning_free(t);
  if (bench_rank == 0) {
    tmp_count = 3;
    if (!tmp) status = 2, snprintf(err, sizeof err, "out of memory writing the tuning file");
    else if (write_text(tmp_paths[0], tmp) != 0)
      status = 2, snprintf(err, sizeof err, "cannot write %s: %s", tmp_paths[0], strerror(errno));
    if (tmp) snprintf(run.tuning_text, sizeof run.tuning_text, "%s", tmp);
  }
  if (agree(status)) goto done;
  if (tcoll_comm_load_tuning(c, tmp_paths[0]) != TCOLL_OK) {
    snprintf(err, sizeof err, "the new tuning file does not load: %s", tcoll_last_error());
    status = 2;
    goto done;
  }
  done_colls = 0;
  for (int k = 0; k < TCOLL_NUM_COLLS && status == 0; k++) {
    if (!o.colls[k]) continue;
    done_colls++;
    const double start = run.elapsed_sweep, span = 0.85 * o.budget - start;
    if (validate(c, &o, &bp, &run.colls[k], send, recv, start + span * done_colls / run.ncolls) != 0) {
      snprintf(err, sizeof err, "out of memory");
      status = 2;
    }
  }
  progress_clear();
  if (status) goto done;
  /* 5. reports, then the three files appear together */
  run.elapsed_total = elapsed();
  if (bench_rank == 0) {
    if (tune_write_reports(&run, tmp_paths[1], tmp_paths[2], err, sizeof err) != 0) status = 2;
    for (int i = 0; i < 3 && status == 0; i++)
      if (rename(tmp_paths[i], final_path[i]) != 0)
        status = 2, snprintf(err, sizeof err, "cannot rename %s: %s", tmp_paths[i], strerror(errno));
    if (status == 0) {
      tmp_count = 0;
      int bad = 0, checked = 0;
      for (int k = 0; k < TCOLL_NUM_COLLS; k++)
        for (size_t i = 0; i < run.colls[k].nchecks; i++) {
          const tune_check *ck = &run.colls[k].checks[i];
          if (!ck->done) continue;
          checked++;
          bad += !tune_check_ok(&run, &run.colls[k], ck);
        }
      printf("tcoll-tune: %s (rules and model), %s, %s\n", final_path[0], final_path[1], final_path[2]);
      printf("tcoll-tune: validation: the automatic choice was the fastest forced algorithm or within %.0f%% of it "
             "at %d of %d sizes; %.1f s\n",
             100 * run.validation_tolerance, checked - bad, checked, elapsed());
    }
  }
  status = agree(status);
done:
  if (status) {
    remove_temporaries();
    if (bench_rank == 0) fprintf(stderr, "tcoll-tune: %s; no tuning file written\n", err);
  }
  free(tmp);
  free(send);
  free(recv);
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    free(run.colls[k].sizes);
    free(run.colls[k].decisions);
    free(run.colls[k].checks);
  }
  free(run.obs);
  tcoll_comm_destroy(c);
  return finish(status);
}
