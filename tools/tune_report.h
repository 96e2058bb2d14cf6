/*
 * What one tcoll-tune run measured, fitted and decided (filled by
 * tcoll-tune.c), and the reports written from it (tune_report.c):
 * report.html, one self-contained page (inline SVG from lstopo and gnuplot,
 * no external files), and report.md with the same tables for terminals.
 */
#ifndef TCOLL_TUNE_REPORT_H
#define TCOLL_TUNE_REPORT_H

#include <stdbool.h>
#include <stdio.h>

#include "tune_model.h"

/* Variant slots of one size: the collective's algorithms 0..nalgs-1, then
 * MPI's own collective at index nalgs. */
#define TUNE_MAX_VARIANTS (TUNE_MAX_ALGS + 1)

typedef struct {
  double bytes;      /* row size, the whole vector (nccl-tests convention) */
  double call_bytes; /* the API's count x element size: what rules match on */
  bool refined;      /* added between two sizes around a crossover */
  bool ran[TUNE_MAX_VARIANTS];
  double med[TUNE_MAX_VARIANTS], q1[TUNE_MAX_VARIANTS], q3[TUNE_MAX_VARIANTS]; /* seconds */
  /* relative standard error of the median against the size's fastest,
   * from the per-round ratios (rounds are interleaved, so a slow phase of
   * the machine cancels out of the ratio) */
  double noise[TUNE_MAX_VARIANTS];
  double busbw[TUNE_MAX_VARIANTS];     /* GB/s */
  double pct_bound[TUNE_MAX_VARIANTS]; /* 100 x hardware bound / median */
  double copy_gbs;                     /* per-rank copy bandwidth the bound is from */
  double seconds;                      /* wall time this size took to measure */
} tune_size;

/* One validation size: the automatic choice with the new file against the
 * fastest forced algorithm, timed interleaved. */
#define TUNE_MAX_ROUNDS 1000 /* --rounds */

typedef struct {
  double bytes, call_bytes;
  bool done;
  char auto_alg[64];      /* the algorithm auto ran in the most rounds */
  int auto_held, auto_rounds; /* in how many of how many rounds */
  double auto_med;
  double auto_forced_med; /* the algorithm auto ran, forced (0: not measured) */
  int fastest; /* algorithm index */
  double fastest_med;
  double paired_ratio; /* median over rounds of auto / fastest in the same round */
} tune_check;

typedef struct {
  tcoll_coll coll;
  int nalgs;
  const char *names[TUNE_MAX_ALGS];
  int simplicity[TUNE_MAX_ALGS];
  char why_not[TUNE_MAX_ALGS][160]; /* why an algorithm never ran (empty if it did) */
  bool has_mpi;
  tune_size *sizes; /* sorted by size */
  size_t nsizes;
  bool truncated; /* the budget stopped the sweep before --max-bytes */
  tune_range ranges[TUNE_MAX_ALGS];
  size_t nranges;
  tune_decision *decisions; /* one per size */
  tune_check *checks;
  size_t nchecks;
} tune_coll_result;

typedef struct {
  /* the job */
  int ranks, nodes, ranks_per_node;
  char host[128], date[32], mpi_library[256], tcoll_version[32];
  char command[1024];   /* how this run was started */
  char dir[512];        /* --out */
  char levels[256];     /* the link levels present, e.g. "l3" */
  char machine[256];    /* hwloc summary */
  char bindings[4096];  /* a text table: rank, node, bound, package, numa, l3 */
  tcoll_dtype dtype;
  tcoll_op op;
  int rounds;
  double budget, elapsed_sweep, elapsed_total;
  /* the fit */
  tune_obs *obs;
  size_t nobs;
  tune_fit fit;
  bool fit_ok;
  double theta[TUNE_NUM_PARAMS]; /* the model written (fitted values, defaults elsewhere) */
  bool level_listed[TCOLL_NUM_LEVELS];
  /* per collective */
  tune_coll_result colls[TCOLL_NUM_COLLS];
  int ncolls;
  char tuning_text[65536]; /* the file as written */
  double validation_tolerance; /* 0.05: automatic within 5% of the fastest */
} tune_run;

/* A validation size passes when the automatic choice ran the algorithm
 * that was fastest forced (the same code: their ratio is noise), or was
 * within the tolerance of it. */
bool tune_check_ok(const tune_run *r, const tune_coll_result *cr, const tune_check *ck);

/* Writes report.html and report.md for run r into files named html and md
 * (rank 0 only; runs lstopo and gnuplot). 0 on success, -1 with a message
 * in err. */
int tune_write_reports(const tune_run *r, const char *html, const char *md, char *err, size_t errlen);

/* HTML-escaped s into f. */
void tune_html_escape(FILE *f, const char *s);

#endif
