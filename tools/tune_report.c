/*
 * tcoll-tune's reports (tune_report.h).
 *
 * report.html is one file with nothing outside it: the machine drawn by
 * `lstopo --of svg`, the plots drawn by gnuplot's svg terminal, both pasted
 * inline (their XML prologue dropped), and the tables. Every piece of text
 * that came from the machine (host names, MPI's version string, algorithm
 * notes) is escaped. report.md carries the same tables for a terminal.
 */
#include "tune_report.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reference.h"
#include "tuning.h"

void tune_html_escape(FILE *f, const char *s) {
  for (; *s; s++) {
    switch (*s) {
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '&': fputs("&amp;", f); break;
      case '"': fputs("&quot;", f); break;
      default: fputc(*s, f);
    }
  }
}

static const char *fmt_bytes(double b, char *buf, size_t len) {
  static const char *const unit[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  while (u < 3 && b >= 1024 && fmod(b, 1024) == 0) b /= 1024, u++;
  if (u == 0 && b >= 1024) {
    while (u < 3 && b >= 1024) b /= 1024, u++;
    snprintf(buf, len, "%.1f %s", b, unit[u]);
  } else {
    snprintf(buf, len, "%.0f %s", b, unit[u]);
  }
  return buf;
}

static const char *fmt_us(double s, char *buf, size_t len) {
  double us = s * 1e6;
  snprintf(buf, len, us < 10 ? "%.2f" : us < 1000 ? "%.1f" : "%.0f", us);
  return buf;
}

/* Reads a whole file; NULL when it cannot. */
static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    size_t got = fread(buf + n, 1, cap - n - 1, f);
    n += got;
    if (got == 0) break;
    if (n + 1 >= cap) {
      char *b = realloc(buf, cap * 2);
      if (!b) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = b, cap *= 2;
    }
  }
  fclose(f);
  if (buf) buf[n] = '\0';
  return buf;
}

/* The <svg ...>...</svg> part of an SVG document, or NULL. */
static const char *svg_element(const char *doc) {
  const char *s = doc ? strstr(doc, "<svg") : NULL;
  return s && strstr(s, "</svg>") ? s : NULL;
}

/* Scratch directory for gnuplot's and lstopo's files. */
typedef struct {
  char dir[64];
  int n;
} scratch;

static int run_gnuplot(scratch *sc, const char *script, char **svg) {
  char sp[128], out[128], cmd[400];
  snprintf(sp, sizeof sp, "%s/plot%d.gp", sc->dir, sc->n);
  snprintf(out, sizeof out, "%s/plot%d.svg", sc->dir, sc->n);
  sc->n++;
  FILE *f = fopen(sp, "w");
  if (!f) return -1;
  fprintf(f, "set terminal svg size 900,430 dynamic enhanced font 'Helvetica,12' background '#ffffff'\n"
             "set output '%s'\n%s",
          out, script);
  fclose(f);
  snprintf(cmd, sizeof cmd, "gnuplot '%s' 2>'%s/gnuplot.err'", sp, sc->dir);
  int rc = system(cmd);
  *svg = rc == 0 ? slurp(out) : NULL;
  unlink(sp);
  unlink(out);
  return *svg && svg_element(*svg) ? 0 : -1;
}

/* A growing string, for gnuplot scripts. */
typedef struct {
  char *s;
  size_t n, cap;
} text;

static void tprintf(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tprintf(text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int need = vsnprintf(t->s ? t->s + t->n : NULL, t->s ? t->cap - t->n : 0, fmt, ap);
    va_end(ap);
    if (need < 0) return;
    if (t->s && t->n + (size_t)need < t->cap) {
      t->n += (size_t)need;
      return;
    }
    size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)need;
    char *s = realloc(t->s, cap);
    if (!s) return;
    t->s = s, t->cap = cap;
  }
}

typedef enum { PLOT_TIME, PLOT_BUSBW, PLOT_BOUND, PLOT_FIT } plot_kind;

/* Index of the chosen algorithm's rule for a size, -1 if none. */
static int chosen_at(const tune_coll_result *cr, double call_bytes) {
  for (size_t i = 0; i < cr->nranges; i++)
    if (call_bytes >= cr->ranges[i].lo && call_bytes <= cr->ranges[i].hi) return cr->ranges[i].alg;
  return -1;
}

static double value_of(const tune_size *s, int k, plot_kind kind) {
  switch (kind) {
    case PLOT_BUSBW: return s->busbw[k];
    case PLOT_BOUND: return s->pct_bound[k];
    default: return s->med[k] * 1e6;
  }
}

/* The model's prediction for algorithm a of cr at size s, or -1. */
static double predicted(const tune_run *r, int coll, int a, double bytes) {
  for (size_t i = 0; i < r->nobs; i++)
    if (r->obs[i].alg == coll * TUNE_MAX_ALGS + a && r->obs[i].bytes == bytes)
      return tune_predict(&r->obs[i], r->theta) * 1e6;
  return -1;
}

static char *plot(scratch *sc, const tune_run *r, const tune_coll_result *cr, plot_kind kind) {
  static const char *const ylabel[] = {"time per call (us, median)", "bus bandwidth (GB/s)",
                                       "% of the hardware bound", "time per call (us)"};
  static const char *const title[] = {"time against size", "bus bandwidth against size",
                                      "percent of the hardware bound (memory traffic at the measured copy rate)",
                                      "fitted model (lines) against the measured medians (points)"};
  text t = {0};
  tprintf(&t, "set title '%s: %s' noenhanced\nset logscale x 2\n", tcoll__coll_name(cr->coll), title[kind]);
  /* tics every factor 8, labelled in B, KiB, MiB (gnuplot's own when none falls in range) */
  text tics = {0};
  for (double b = 1; b <= (double)(1ULL << 40); b *= 8) {
    if (!cr->nsizes || b < cr->sizes[0].bytes / 2 || b > cr->sizes[cr->nsizes - 1].bytes * 2) continue;
    char lab[32];
    tprintf(&tics, "%s'%s' %.0f", tics.s ? ", " : "", fmt_bytes(b, lab, sizeof lab), b);
  }
  if (tics.s) tprintf(&t, "set xtics (%s)\n", tics.s);
  free(tics.s);
  tprintf(&t, "set xlabel 'message size (whole vector)'\nset ylabel '%s'\nset key outside right top noenhanced\n"
              "set grid lc rgb '#dddddd'\n",
          ylabel[kind]);
  if (kind == PLOT_TIME || kind == PLOT_FIT) tprintf(&t, "set logscale y 10\n");
  if (kind == PLOT_BOUND) tprintf(&t, "set yrange [0:*]\n");
  const int nv = cr->nalgs + 1;
  int series = 0;
  text cmd = {0};
  for (int k = 0; k < nv; k++) {
    if (kind == PLOT_FIT && k == cr->nalgs) continue;
    int any = 0;
    tprintf(&t, "$d%d << EOD\n", k);
    for (size_t i = 0; i < cr->nsizes; i++) {
      const tune_size *s = &cr->sizes[i];
      if (!s->ran[k]) continue;
      double y = value_of(s, k, kind);
      if (!(y > 0)) continue;
      if (kind == PLOT_FIT) {
        double p = predicted(r, (int)cr->coll, k, s->bytes);
        tprintf(&t, "%.0f %.6g %.6g\n", s->bytes, y, p > 0 ? p : NAN);
      } else {
        tprintf(&t, "%.0f %.6g\n", s->bytes, y);
      }
      any = 1;
    }
    tprintf(&t, "EOD\n");
    if (!any) continue;
    const char *name = k < cr->nalgs ? cr->names[k] : "MPI (library)";
    if (kind == PLOT_FIT) {
      tprintf(&cmd, "%s$d%d using 1:2 with points pt 7 ps 0.6 lc %d title '%s', $d%d using 1:3 with lines lw 1.5 lc %d notitle",
              series ? ", " : "", k, k + 1, name, k, k + 1);
    } else {
      tprintf(&cmd, "%s$d%d using 1:2 with linespoints lw 1.5 pt 7 ps 0.5 lc %d %stitle '%s'", series ? ", " : "", k,
              k + 1, k == cr->nalgs ? "dt 2 " : "", name);
    }
    series++;
  }
  if (kind != PLOT_FIT) { /* the rules' choice, ringed */
    tprintf(&t, "$chosen << EOD\n");
    for (size_t i = 0; i < cr->nsizes; i++) {
      int a = chosen_at(cr, cr->sizes[i].call_bytes);
      if (a >= 0 && cr->sizes[i].ran[a] && value_of(&cr->sizes[i], a, kind) > 0)
        tprintf(&t, "%.0f %.6g\n", cr->sizes[i].bytes, value_of(&cr->sizes[i], a, kind));
    }
    tprintf(&t, "EOD\n");
    tprintf(&cmd, ", $chosen using 1:2 with points pt 6 ps 1.8 lw 2 lc rgb '#000000' title 'chosen by the rules'");
  }
  char *svg = NULL;
  if (series && cmd.s) {
    tprintf(&t, "plot %s\n", cmd.s);
    if (run_gnuplot(sc, t.s, &svg) != 0) {
      free(svg);
      svg = NULL;
    }
  }
  free(t.s);
  free(cmd.s);
  return svg;
}

static void figure(FILE *f, char *svg, const char *what) {
  const char *e = svg_element(svg);
  fprintf(f, "<figure>");
  if (e) fputs(e, f);
  else fprintf(f, "<p class=\"warn\">no plot: gnuplot failed or is not installed (%s)</p>", what);
  fprintf(f, "</figure>\n");
  free(svg);
}

/* ------------------------------------------------------------ tables */

/* auto ran the fastest forced algorithm in every round: any gap between
 * the two is timing, not choice */
static bool tune_check_ran_fastest(const tune_coll_result *cr, const tune_check *ck) {
  return ck->fastest >= 0 && ck->auto_held == ck->auto_rounds && strcmp(ck->auto_alg, cr->names[ck->fastest]) == 0;
}

bool tune_check_ok(const tune_run *r, const tune_coll_result *cr, const tune_check *ck) {
  if (!ck->done) return false;
  if (tune_check_ran_fastest(cr, ck)) return true;
  return ck->paired_ratio <= 1 + r->validation_tolerance;
}

static int validation_counts(const tune_run *r, int *checked, int *within) {
  *checked = *within = 0;
  for (int k = 0; k < TCOLL_NUM_COLLS; k++)
    for (size_t i = 0; i < r->colls[k].nchecks; i++) {
      const tune_check *ck = &r->colls[k].checks[i];
      if (!ck->done) continue;
      (*checked)++;
      *within += tune_check_ok(r, &r->colls[k], ck);
    }
  return *checked;
}

/* Which output: HTML or Markdown, so each table is written once. */
typedef struct {
  FILE *f;
  int html;
} out;

static void table_start(out *o, int ncols, const char *const *heads) {
  if (o->html) {
    fprintf(o->f, "<table><tr>");
    for (int i = 0; i < ncols; i++) fprintf(o->f, "<th>%s</th>", heads[i]);
    fprintf(o->f, "</tr>\n");
  } else {
    fprintf(o->f, "\n|");
    for (int i = 0; i < ncols; i++) fprintf(o->f, " %s |", heads[i]);
    fprintf(o->f, "\n|");
    for (int i = 0; i < ncols; i++) fprintf(o->f, " --- |");
    fprintf(o->f, "\n");
  }
}

static void table_row(out *o, int ncols, const char *const *cells, const char *cls) {
  if (o->html) {
    fprintf(o->f, cls ? "<tr class=\"%s\">" : "<tr>", cls);
    for (int i = 0; i < ncols; i++) {
      fprintf(o->f, "<td>");
      tune_html_escape(o->f, cells[i]);
      fprintf(o->f, "</td>");
    }
    fprintf(o->f, "</tr>\n");
  } else {
    fprintf(o->f, "|");
    for (int i = 0; i < ncols; i++) fprintf(o->f, " %s |", cells[i]);
    fprintf(o->f, "\n");
  }
}

static void table_end(out *o) { fprintf(o->f, o->html ? "</table>\n" : "\n"); }

static void heading(out *o, int level, const char *s) {
  if (o->html) {
    fprintf(o->f, "<h%d>", level);
    tune_html_escape(o->f, s);
    fprintf(o->f, "</h%d>\n", level);
  } else {
    fprintf(o->f, "\n%.*s %s\n\n", level, "####", s);
  }
}

static void para(out *o, const char *s) {
  if (o->html) {
    fprintf(o->f, "<p>");
    tune_html_escape(o->f, s);
    fprintf(o->f, "</p>\n");
  } else {
    fprintf(o->f, "%s\n\n", s);
  }
}

static void pre(out *o, const char *s) {
  if (o->html) {
    fprintf(o->f, "<pre>");
    tune_html_escape(o->f, s);
    fprintf(o->f, "</pre>\n");
  } else {
    fprintf(o->f, "```\n%s%s```\n\n", s, s[0] && s[strlen(s) - 1] == '\n' ? "" : "\n");
  }
}

static void decision_table(out *o, const tune_coll_result *cr) {
  static const char *const heads[] = {"bytes of the call (inclusive)", "about", "algorithm"};
  table_start(o, 3, heads);
  for (size_t i = 0; i < cr->nranges; i++) {
    char range[96], about[96], lo[32], hi[32];
    fmt_bytes(cr->ranges[i].lo, lo, sizeof lo);
    if (cr->ranges[i].hi >= TCOLL_RANGE_ANY) {
      snprintf(range, sizeof range, "%.0f and up", cr->ranges[i].lo);
      snprintf(about, sizeof about, "%s and up", lo);
    } else {
      snprintf(range, sizeof range, "%.0f to %.0f", cr->ranges[i].lo, cr->ranges[i].hi);
      snprintf(about, sizeof about, "%s to %s", lo, fmt_bytes(cr->ranges[i].hi + 1, hi, sizeof hi));
    }
    const char *cells[] = {range, about, cr->names[cr->ranges[i].alg]};
    table_row(o, 3, cells, NULL);
  }
  table_end(o);
}

static void derivation_table(out *o, const tune_coll_result *cr) {
  const char *heads[TUNE_MAX_VARIANTS + 5];
  char headbuf[TUNE_MAX_VARIANTS][80];
  int nc = 0;
  heads[nc++] = "size";
  for (int a = 0; a <= cr->nalgs; a++) {
    snprintf(headbuf[a], sizeof headbuf[a], "%s us", a < cr->nalgs ? cr->names[a] : "MPI");
    heads[nc++] = headbuf[a];
  }
  heads[nc++] = "fastest";
  heads[nc++] = "chosen";
  heads[nc++] = "chosen vs fastest";
  heads[nc++] = "why";
  table_start(o, nc, heads);
  for (size_t i = 0; i < cr->nsizes; i++) {
    const tune_size *s = &cr->sizes[i];
    const tune_decision *d = &cr->decisions[i];
    char cell[TUNE_MAX_VARIANTS + 5][200];
    const char *cells[TUNE_MAX_VARIANTS + 5];
    int n = 0;
    fmt_bytes(s->bytes, cell[n], sizeof cell[n]);
    if (s->refined) strncat(cell[n], " (refined)", sizeof cell[n] - strlen(cell[n]) - 1);
    n++;
    for (int a = 0; a <= cr->nalgs; a++, n++) {
      if (!s->ran[a]) {
        snprintf(cell[n], sizeof cell[n], "n/a");
        continue;
      }
      char us[32];
      snprintf(cell[n], sizeof cell[n], "%s ±%.0f%%", fmt_us(s->med[a], us, sizeof us),
               50 * (s->q3[a] - s->q1[a]) / s->med[a]);
    }
    snprintf(cell[n++], 200, "%s", d->best >= 0 ? cr->names[d->best] : "-");
    snprintf(cell[n++], 200, "%s", d->chosen >= 0 ? cr->names[d->chosen] : "-");
    snprintf(cell[n++], 200, "%+.1f%%", 100 * d->loss);
    snprintf(cell[n++], 200, "%s", d->note);
    for (int j = 0; j < n; j++) cells[j] = cell[j];
    table_row(o, n, cells, d->loss > 0.05 ? "slow" : NULL);
  }
  table_end(o);
}

static void fit_tables(out *o, const tune_run *r) {
  if (!r->fit_ok) {
    char msg[256];
    snprintf(msg, sizeof msg, "The fit failed (%s): the file has no model section; the defaults stay.", r->fit.error);
    para(o, msg);
    return;
  }
  static const char *const heads[] = {"parameter", "value", "± (1 s.e.)", "default", "status"};
  table_start(o, 5, heads);
  for (int j = 0; j < TUNE_NUM_PARAMS; j++) {
    const int is_gamma = j >= 2 * TCOLL_NUM_LEVELS;
    if (!r->fit.fitted[j] && !r->fit.clamped[j] && !(!is_gamma && r->level_listed[j / 2])) continue;
    double def[TUNE_NUM_PARAMS];
    tune_params_of(&tcoll__default_cost_model, def);
    char name[64], v[64], se[64], d[64];
    tune_param_name(j, name, sizeof name);
    const int alpha = !is_gamma && j % 2 == 0;
    const double unit = alpha ? 1e6 : 1e9;
    const char *u = alpha ? " us" : " ns/B";
    snprintf(v, sizeof v, "%.4g%s", r->theta[j] * unit, u);
    snprintf(se, sizeof se, r->fit.fitted[j] ? "%.2g%s (%.0f%%)" : "-", r->fit.stderr_[j] * unit, u,
             r->theta[j] > 0 ? 100 * r->fit.stderr_[j] / r->theta[j] : 0.0);
    snprintf(d, sizeof d, "%.4g%s", def[j] * unit, u);
    const char *cells[] = {name, v, se, d,
                           r->fit.fitted[j]    ? "fitted"
                           : r->fit.clamped[j] ? "fitted negative: default kept"
                                               : "not identifiable from these algorithms: default kept"};
    table_row(o, 5, cells, NULL);
  }
  table_end(o);
  char msg[256];
  snprintf(msg, sizeof msg,
           "Huber IRLS: relative residuals (linear), then log residuals (Gauss-Newton); %d medians, %d "
           "iterations; robust scale of the log residuals %.2f (0.10 = about 10%% scatter).",
           r->fit.nobs, r->fit.iterations, r->fit.sigma);
  para(o, msg);
  static const char *const h2[] = {"collective", "algorithm", "sizes", "median |error|", "largest |error|"};
  table_start(o, 5, h2);
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    const tune_coll_result *cr = &r->colls[k];
    for (int a = 0; a < cr->nalgs; a++) {
      double med, max;
      int n = tune_fit_error(r->obs, r->nobs, k * TUNE_MAX_ALGS + a, r->theta, &med, &max);
      char sn[16], m1[32], m2[32];
      snprintf(sn, sizeof sn, "%d", n);
      snprintf(m1, sizeof m1, "%.0f%%", 100 * med);
      snprintf(m2, sizeof m2, "%.0f%%", 100 * max);
      bool ran = false;
      for (size_t i = 0; i < cr->nsizes; i++) ran = ran || cr->sizes[i].ran[a];
      const char *cells[] = {tcoll__coll_name(cr->coll), cr->names[a], n ? sn : "0",
                             n ? m1 : (ran ? "not modelled by α-β-γ (own constants)" : "never ran"), n ? m2 : "-"};
      table_row(o, 5, cells, NULL);
    }
  }
  table_end(o);
}

static void validation_table(out *o, const tune_run *r, const tune_coll_result *cr) {
  /* "that algorithm forced" separates the two ways auto can lose: a wrong
   * choice (forced, it is slow too) or overhead of choosing (it is not) */
  static const char *const heads[] = {"size", "automatic (file loaded)", "auto us", "that algorithm forced us",
                                      "fastest forced", "fastest us", "auto / fastest, per round", "verdict"};
  table_start(o, 8, heads);
  for (size_t i = 0; i < cr->nchecks; i++) {
    const tune_check *ck = &cr->checks[i];
    char size[32], a[32], af[32], fm[32], ratio[32];
    fmt_bytes(ck->bytes, size, sizeof size);
    if (!ck->done) {
      const char *cells[] = {size, "-", "-", "-", "-", "-", "-", "not run: budget"};
      table_row(o, 8, cells, NULL);
      continue;
    }
    const double q = ck->paired_ratio;
    snprintf(ratio, sizeof ratio, "%.3f", q);
    const int ok = tune_check_ok(r, cr, ck), same = tune_check_ran_fastest(cr, ck);
    if (ck->auto_forced_med > 0) fmt_us(ck->auto_forced_med, af, sizeof af);
    else snprintf(af, sizeof af, "-");
    char ran[96];
    if (ck->auto_held == ck->auto_rounds) snprintf(ran, sizeof ran, "%s", ck->auto_alg);
    else snprintf(ran, sizeof ran, "%s (%d of %d rounds)", ck->auto_alg, ck->auto_held, ck->auto_rounds);
    const char *cells[] = {size, ran, fmt_us(ck->auto_med, a, sizeof a), af,
                           ck->fastest >= 0 ? cr->names[ck->fastest] : "-", fmt_us(ck->fastest_med, fm, sizeof fm),
                           ratio,
                           !ok ? "SLOWER" : same ? (q <= 1 + r->validation_tolerance ? "ok: the fastest" : "ok: chose the fastest (timing gap: compare forced)")
                               : "ok: within 5%"};
    table_row(o, 8, cells, ok ? NULL : "slow");
  }
  table_end(o);
}

static void summary(out *o, const tune_run *r) {
  char s[2048];
  int checked, within;
  validation_counts(r, &checked, &within);
  snprintf(s, sizeof s,
           "%d rank(s) on %d node(s), %d rank(s) per node, on %s, %s. tcoll %s, %s. dtype %s, op %s, %d "
           "interleaved rounds per size. Budget %.0f s: sweep %.1f s, everything %.1f s.",
           r->ranks, r->nodes, r->ranks_per_node, r->host, r->date, r->tcoll_version, r->mpi_library,
           ref_dtype_name(r->dtype), ref_op_name(r->op), r->rounds, r->budget, r->elapsed_sweep, r->elapsed_total);
  para(o, s);
  snprintf(s, sizeof s,
           "Validation: with the new file loaded, the automatic choice was the fastest forced algorithm or within "
           "%.0f%% of it at %d of %d measured sizes (interleaved, in up to twice the sweep's rounds; the median of per-round ratios).",
           100 * r->validation_tolerance, within, checked);
  para(o, s);
}

static void commands(out *o, const tune_run *r) {
  char s[4096];
  const tune_coll_result *first = NULL;
  for (int k = 0; k < TCOLL_NUM_COLLS && !first; k++)
    if (r->colls[k].nsizes) first = &r->colls[k];
  char lo[32] = "8", hi[32] = "64M";
  if (first) {
    snprintf(lo, sizeof lo, "%.0f", first->sizes[0].bytes);
    snprintf(hi, sizeof hi, "%.0f", first->sizes[first->nsizes - 1].bytes);
  }
  snprintf(s, sizeof s,
           "# this run\n%s\n\n"
           "# use the file\nexport TCOLL_TUNING_FILE=%s/tuning.json      # or tcoll_comm_load_tuning(comm, path)\n\n"
           "# check it again: the automatic choice against every algorithm, interleaved\n"
           "TCOLL_TUNING_FILE=%s/tuning.json mpirun -n %d --bind-to core tcoll-bench -c %s -a all --mpi -b %s -e %s -f 2\n\n"
           "# what the file decides for a call, offline\n"
           "tcoll-info --explain --coll %s --bytes 1M --nodes %d --ranks-per-node %d --tuning %s/tuning.json\n",
           r->command, r->dir, r->dir, r->ranks, first ? tcoll__coll_name(first->coll) : "allreduce", lo, hi,
           first ? tcoll__coll_name(first->coll) : "allreduce", r->nodes, r->ranks_per_node, r->dir);
  pre(o, s);
}

static const char *const method_text =
    "How the rules are derived: at each size the fastest median wins; an algorithm is within the noise of "
    "it when its median is slower by at most two combined standard errors of the two medians (estimated "
    "from the per-round ratios to the fastest, rounds being interleaved), and at least 3%. Walking up "
    "the sizes, the current algorithm is kept while it is within the noise of the fastest; it is replaced "
    "only when it is slower beyond the noise at this size and the next one too (a one-size lead is a "
    "blip), by the simplest algorithm that is within the noise at both. Ties go to the simpler algorithm "
    "(fixed order: binomial_tree, recursive_doubling, ring, pairwise, recursive_halving, bruck, "
    "scatter_allgather, rabenseifner, ..., shm). An algorithm never gets two ranges (no A/B/A): the "
    "cheapest of the three ways to remove a return, in summed loss against the fastest, is taken. A "
    "boundary sits where the two medians cross, interpolated in log size; one extra size (factor sqrt 2) "
    "is measured between the sizes around each boundary. Byte ranges are the call's bytes (count x element "
    "size; one rank's block for reduce_scatter and allgather), as in the tuning file.";

/* ------------------------------------------------------------ the files */

static const char *const css =
    "body{font-family:Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
    "h1{border-bottom:2px solid #446}h2{margin-top:2em;border-bottom:1px solid #aab}"
    "table{border-collapse:collapse;margin:1em 0;font-size:90%}"
    "td,th{border:1px solid #ccd;padding:3px 8px;text-align:left}th{background:#eef}"
    "tr.slow td{background:#fee}pre{background:#f6f6f8;padding:.8em;overflow-x:auto;font-size:85%}"
    "figure{margin:1em 0}figure svg{max-width:100%;height:auto}"
    ".machine svg{max-width:100%;height:auto;border:1px solid #ccd}.warn{color:#a00}";

static void write_md(FILE *f, const tune_run *r) {
  out o = {f, 0};
  fprintf(f, "# tcoll-tune report\n\n");
  summary(&o, r);
  heading(&o, 2, "Machine");
  char s[1024];
  snprintf(s, sizeof s, "%s. Link levels between the ranks: %s.", r->machine[0] ? r->machine : "hwloc gave no summary",
           r->levels);
  para(&o, s);
  pre(&o, r->bindings);
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    const tune_coll_result *cr = &r->colls[k];
    if (!cr->nsizes) continue;
    snprintf(s, sizeof s, "%s: decision table", tcoll__coll_name(cr->coll));
    heading(&o, 2, s);
    decision_table(&o, cr);
    if (cr->truncated) para(&o, "The budget stopped the sweep before --max-bytes: the last rule extends past the last size measured.");
    heading(&o, 3, "How it was derived");
    para(&o, method_text);
    derivation_table(&o, cr);
    heading(&o, 3, "Validation");
    validation_table(&o, r, cr);
  }
  heading(&o, 2, "Fitted model");
  fit_tables(&o, r);
  heading(&o, 2, "tuning.json");
  pre(&o, r->tuning_text);
  heading(&o, 2, "Commands");
  commands(&o, r);
}

static void write_html(FILE *f, const tune_run *r, scratch *sc) {
  out o = {f, 1};
  fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>tcoll-tune report: ");
  tune_html_escape(f, r->host);
  fprintf(f, "</title>\n<style>%s</style></head>\n<body>\n<h1>tcoll-tune report</h1>\n", css);
  summary(&o, r);
  fprintf(f, "<p>Contents: <a href=\"#machine\">machine</a>");
  for (int k = 0; k < TCOLL_NUM_COLLS; k++)
    if (r->colls[k].nsizes) fprintf(f, " · <a href=\"#%s\">%s</a>", tcoll__coll_name((tcoll_coll)k), tcoll__coll_name((tcoll_coll)k));
  fprintf(f, " · <a href=\"#model\">fitted model</a> · <a href=\"#file\">tuning.json</a> · <a href=\"#commands\">commands</a></p>\n");
  fprintf(f, "<h2 id=\"machine\">Machine</h2>\n");
  char s[1024];
  snprintf(s, sizeof s, "%s. Link levels between the ranks: %s.", r->machine[0] ? r->machine : "hwloc gave no summary",
           r->levels);
  para(&o, s);
  /* lstopo's drawing of this host */
  char svgpath[128], cmd[400];
  snprintf(svgpath, sizeof svgpath, "%s/machine.svg", sc->dir);
  snprintf(cmd, sizeof cmd, "lstopo --of svg --force '%s' >/dev/null 2>&1 || lstopo --of svg '%s' >/dev/null 2>&1",
           svgpath, svgpath);
  char *machine = system(cmd) == 0 ? slurp(svgpath) : NULL;
  unlink(svgpath);
  const char *m = svg_element(machine);
  fprintf(f, "<div class=\"machine\">");
  if (m) fputs(m, f);
  else fprintf(f, "<p class=\"warn\">no drawing: lstopo (Debian package hwloc) is not installed or failed</p>");
  fprintf(f, "</div>\n");
  free(machine);
  para(&o, "Each rank's binding as tcoll detected it (package, NUMA node and L3 that contain its whole CPU set; -1: unknown):");
  pre(&o, r->bindings);
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    const tune_coll_result *cr = &r->colls[k];
    if (!cr->nsizes) continue;
    fprintf(f, "<h2 id=\"%s\">%s</h2>\n<h3>Decision table</h3>\n", tcoll__coll_name(cr->coll), tcoll__coll_name(cr->coll));
    decision_table(&o, cr);
    if (cr->truncated) para(&o, "The budget stopped the sweep before --max-bytes: the last rule extends past the last size measured.");
    figure(f, plot(sc, r, cr, PLOT_TIME), "time");
    figure(f, plot(sc, r, cr, PLOT_BUSBW), "busbw");
    figure(f, plot(sc, r, cr, PLOT_BOUND), "bound");
    fprintf(f, "<h3>How the decision table was derived</h3>\n");
    para(&o, method_text);
    para(&o, "Medians in microseconds, ± half the interquartile range over the rounds; rows where the chosen algorithm is more than 5% behind the fastest are shaded.");
    derivation_table(&o, cr);
    fprintf(f, "<h3>Validation</h3>\n");
    para(&o, "The file was loaded on every rank; the automatic choice and every forced algorithm were timed again, interleaved, at each size, in up to twice the sweep's rounds (fewer when the budget runs short). The verdict's ratio is the median over those rounds of the automatic choice's time divided by the fastest algorithm's in the same round.");
    validation_table(&o, r, cr);
  }
  fprintf(f, "<h2 id=\"model\">Fitted model</h2>\n");
  para(&o, "Each algorithm's cost() is linear in α, β (per link level) and γ (per dtype class); the fit uses every algorithm's medians at once. Parameters of levels this job did not cross are not written to the file.");
  fit_tables(&o, r);
  for (int k = 0; k < TCOLL_NUM_COLLS; k++)
    if (r->colls[k].nsizes && r->fit_ok) figure(f, plot(sc, r, &r->colls[k], PLOT_FIT), "fit");
  fprintf(f, "<h2 id=\"file\">tuning.json</h2>\n");
  pre(&o, r->tuning_text);
  fprintf(f, "<h2 id=\"commands\">Commands</h2>\n");
  commands(&o, r);
  fprintf(f, "</body></html>\n");
}

int tune_write_reports(const tune_run *r, const char *html, const char *md, char *err, size_t errlen) {
  scratch sc = {.n = 0};
  snprintf(sc.dir, sizeof sc.dir, "/tmp/tcoll-tune.XXXXXX");
  if (!mkdtemp(sc.dir)) return snprintf(err, errlen, "cannot create a scratch directory: %s", strerror(errno)), -1;
  FILE *f = fopen(html, "w");
  int rc = 0;
  if (!f) {
    snprintf(err, errlen, "cannot write %s: %s", html, strerror(errno));
    rc = -1;
  } else {
    write_html(f, r, &sc);
    if (fclose(f) != 0) snprintf(err, errlen, "cannot write %s: %s", html, strerror(errno)), rc = -1;
  }
  f = rc == 0 ? fopen(md, "w") : NULL;
  if (rc == 0 && !f) {
    snprintf(err, errlen, "cannot write %s: %s", md, strerror(errno));
    rc = -1;
  } else if (f) {
    write_md(f, r);
    if (fclose(f) != 0) snprintf(err, errlen, "cannot write %s: %s", md, strerror(errno)), rc = -1;
  }
  char p[128];
  snprintf(p, sizeof p, "%s/gnuplot.err", sc.dir);
  unlink(p);
  rmdir(sc.dir);
  return rc;
}
