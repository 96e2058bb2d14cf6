/*
 * tcoll-bench: the mpirun benchmark sweep.
 *
 *   mpirun -n P tcoll-bench [-c allreduce|...|all] [-b 8] [-e 64M] [-f 2]
 *          [-a auto|all|name,name] [--mpi] [-d float32] [-o sum] [-r 0] ...
 *
 * Method. For each size every variant (the MPI library's own collective,
 * tcoll's automatic choice, each forced algorithm) is timed in interleaved
 * rounds, so a machine that drifts between fast and slow phases hits all
 * variants alike. Every round runs the variants in its own shuffled order:
 * what a variant leaves in the caches helps or hurts the next one (10-30%
 * at 256 KiB-2 MiB between the shm and hierarchical allreduce, which run the
 * same schedule on one node, when each always followed the same variant),
 * and shuffling spreads that over every variant.
 * In a round each variant gets a barrier and then `iters` back-to-back
 * calls; the round's time for it is the slowest rank's mean per
 * call. Median, min and p99 are taken over rounds. The loop, the layouts and
 * the check live in tools/bench_core.c, shared with tcoll-tune.
 *
 * Correctness. Before timing, every variant's result is checked element by
 * element against the independent reference of the test suite
 * (tests/mpi/reference.c); mismatches are counted in #wrong and make the exit
 * status non-zero.
 *
 * Bound. %bound is how close a time is to the hardware lower bound: inside a
 * node, the memory traffic every rank must do (read its input, write its
 * output) at the copy bandwidth measured at start with all ranks copying at
 * once; across nodes (--link-gbps G), busbw_factor(N) * size / link rate with
 * N the number of nodes (hosts: MPI_COMM_TYPE_SHARED, or TCOLL_RANKS_PER_NODE's
 * emulated ones), each with one link of that rate each way: the bytes that
 * must leave or enter one node whatever the algorithm (allreduce 2(N-1)/N of
 * the vector: nodes own 1/N of it after a reduce-scatter between nodes and
 * need the other N-1 parts back). Ranks of one node share its link. On a
 * single node there is no network link; the ranks are counted as N then
 * (one link per rank), and the header says so.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_core.h"
#include "reference.h"
#include "tcoll.h"

#define MAX_VARIANTS 16
#define MAX_ALGOS_LISTED 16

static int bound_links;     /* N of %bound across nodes: distinct nodes, or ranks on one node */
static int bound_per_rank;  /* 1: all ranks on one node, N counts ranks */

/* ---------------------------------------------------------------- options */

typedef struct {
  int colls[TCOLL_NUM_COLLS]; /* 1 = benchmark this collective */
  size_t min_bytes, max_bytes;
  double factor;
  char algo[512]; /* "auto", "all" or a comma list */
  tcoll_dtype dtype;
  tcoll_op op;
  int root;
  int iters, warmup, rounds; /* 0 = scaled by size */
  int inplace, check, mpi, sync;
  const char *csv, *json;
  double link_gbps;
} options;

static void usage(FILE *f) {
  fprintf(f,
          "usage: mpirun -n P tcoll-bench [options]\n"
          "  -c, --coll NAME       allreduce, reduce_scatter, allgather, bcast, reduce, or all\n"
          "                        (comma list allowed; default allreduce)\n"
          "  -b, --minbytes SIZE   smallest message (default 8; suffixes K, M, G)\n"
          "  -e, --maxbytes SIZE   largest message (default 64M)\n"
          "  -f, --stepfactor F    size multiplier between steps, >= 2 (default 2)\n"
          "  -a, --algo LIST       auto, all, or algorithm names separated by commas (default auto)\n"
          "  -d, --dtype TYPE      int8 uint8 int32 uint32 int64 uint64 float16 bfloat16 float32\n"
          "                        float64 (default float32)\n"
          "  -o, --op OP           sum prod min max avg (default sum)\n"
          "  -r, --root R          root of bcast and reduce (default 0)\n"
          "  -n, --iters N         calls per timed batch (default: scaled by size)\n"
          "  -w, --warmup N        untimed calls per variant before timing (default: scaled)\n"
          "  -R, --rounds N        interleaved rounds (default 15)\n"
          "      --inplace         in-place calls (NCCL convention)\n"
          "      --check / --no-check   verify every element (default on)\n"
          "      --mpi             also time the MPI library's own collective\n"
          "      --sync            barrier before every call inside the timed loop\n"
          "      --csv FILE        write the rows as CSV\n"
          "      --json FILE       write the rows and the environment as JSON\n"
          "      --link-gbps G     each node's link rate, for %%bound across nodes (Gbit/s)\n"
          "  -h, --help            this text\n"
          "Sizes are the full vector in bytes (nccl-tests convention): for reduce_scatter and\n"
          "allgather each rank contributes size/P.\n");
}

/* Byte count with K/M/G suffix (powers of 1024). */
static int parse_size(const char *s, size_t *out) {
  char *end;
  if (!s || !isdigit((unsigned char)*s)) return -1;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno) return -1;
  unsigned long long m = 1;
  switch (toupper((unsigned char)*end)) {
    case 'K': m = 1ULL << 10; end++; break;
    case 'M': m = 1ULL << 20; end++; break;
    case 'G': m = 1ULL << 30; end++; break;
    default: break;
  }
  if (*end == 'B' || *end == 'b') end++;
  if (*end || v > SIZE_MAX / m) return -1;
  *out = (size_t)(v * m);
  return 0;
}

static int parse_int(const char *s, int min, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < min || v > 1000000000) return -1;
  *out = (int)v;
  return 0;
}

static int lookup(const char *s, const char *const *names, int n) {
  for (int i = 0; i < n; i++)
    if (strcmp(s, names[i]) == 0) return i;
  return -1;
}

/* Parses argv into o; on error writes a message into err and returns -1.
 * Every rank parses the same arguments, so every rank reaches the same
 * verdict and can exit without a collective step. */
static int parse_options(int argc, char **argv, options *o, char *err, size_t errlen) {
  static const struct option longopts[] = {
      {"coll", required_argument, 0, 'c'},     {"minbytes", required_argument, 0, 'b'},
      {"maxbytes", required_argument, 0, 'e'}, {"stepfactor", required_argument, 0, 'f'},
      {"algo", required_argument, 0, 'a'},     {"dtype", required_argument, 0, 'd'},
      {"op", required_argument, 0, 'o'},       {"root", required_argument, 0, 'r'},
      {"iters", required_argument, 0, 'n'},    {"warmup", required_argument, 0, 'w'},
      {"rounds", required_argument, 0, 'R'},   {"inplace", no_argument, 0, 1},
      {"check", no_argument, 0, 2},            {"no-check", no_argument, 0, 3},
      {"mpi", no_argument, 0, 4},              {"csv", required_argument, 0, 5},
      {"json", required_argument, 0, 6},       {"link-gbps", required_argument, 0, 7},
      {"sync", no_argument, 0, 8},             {"help", no_argument, 0, 'h'},
      {0, 0, 0, 0}};
  static const char *const dtype_names[] = {"int8",    "uint8",    "int32",   "uint32",  "int64",
                                            "uint64",  "float16",  "bfloat16", "float32", "float64"};
  static const char *const op_names[] = {"sum", "prod", "min", "max", "avg"};
  memset(o, 0, sizeof *o);
  o->colls[TCOLL_ALLREDUCE] = 1;
  o->min_bytes = 8;
  o->max_bytes = (size_t)64 << 20;
  o->factor = 2;
  snprintf(o->algo, sizeof o->algo, "auto");
  o->dtype = TCOLL_FLOAT32;
  o->op = TCOLL_SUM;
  o->rounds = 15;
  o->check = 1;
  optind = 1;
  opterr = 0;
  int ch, idx;
  char *end;
  while ((ch = getopt_long(argc, argv, "c:b:e:f:a:d:o:r:n:w:R:h", longopts, &idx)) != -1) {
    switch (ch) {
      case 'c': {
        memset(o->colls, 0, sizeof o->colls);
        char buf[256];
        snprintf(buf, sizeof buf, "%s", optarg);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
          if (strcmp(t, "all") == 0) {
            for (int k = 0; k < TCOLL_NUM_COLLS; k++) o->colls[k] = 1;
            continue;
          }
          int k = lookup(t, bench_coll_names, TCOLL_NUM_COLLS);
          if (k < 0) return snprintf(err, errlen, "unknown collective \"%s\"", t), -1;
          o->colls[k] = 1;
        }
        break;
      }
      case 'b':
        if (parse_size(optarg, &o->min_bytes)) return snprintf(err, errlen, "bad -b size \"%s\"", optarg), -1;
        break;
      case 'e':
        if (parse_size(optarg, &o->max_bytes)) return snprintf(err, errlen, "bad -e size \"%s\"", optarg), -1;
        break;
      case 'f':
        errno = 0;
        o->factor = strtod(optarg, &end);
        if (errno || *end || !(o->factor >= 2))
          return snprintf(err, errlen, "step factor \"%s\" must be a number >= 2", optarg), -1;
        break;
      case 'a':
        if (strlen(optarg) >= sizeof o->algo) return snprintf(err, errlen, "-a list too long"), -1;
        snprintf(o->algo, sizeof o->algo, "%s", optarg);
        break;
      case 'd': {
        int k = lookup(optarg, dtype_names, TCOLL_NUM_DTYPES);
        if (k < 0) return snprintf(err, errlen, "unknown dtype \"%s\"", optarg), -1;
        o->dtype = (tcoll_dtype)k;
        break;
      }
      case 'o': {
        int k = lookup(optarg, op_names, TCOLL_NUM_OPS);
        if (k < 0) return snprintf(err, errlen, "unknown op \"%s\"", optarg), -1;
        o->op = (tcoll_op)k;
        break;
      }
      case 'r':
        if (parse_int(optarg, 0, &o->root) || o->root >= bench_nranks)
          return snprintf(err, errlen, "root \"%s\" is not a rank in [0, %d)", optarg, bench_nranks), -1;
        break;
      case 'n':
        if (parse_int(optarg, 1, &o->iters)) return snprintf(err, errlen, "bad -n \"%s\"", optarg), -1;
        break;
      case 'w':
        if (parse_int(optarg, 0, &o->warmup)) return snprintf(err, errlen, "bad -w \"%s\"", optarg), -1;
        o->warmup++; /* stored +1 so that 0 means "scaled" */
        break;
      case 'R':
        if (parse_int(optarg, 1, &o->rounds)) return snprintf(err, errlen, "bad -R \"%s\"", optarg), -1;
        break;
      case 1: o->inplace = 1; break;
      case 2: o->check = 1; break;
      case 3: o->check = 0; break;
      case 4: o->mpi = 1; break;
      case 5: o->csv = optarg; break;
      case 6: o->json = optarg; break;
      case 7:
        errno = 0;
        o->link_gbps = strtod(optarg, &end);
        if (errno || *end || !(o->link_gbps > 0))
          return snprintf(err, errlen, "link rate \"%s\" must be a positive number of Gbit/s", optarg), -1;
        break;
      case 8: o->sync = 1; break;
      case 'h': return snprintf(err, errlen, "help"), -1;
      default:
        return snprintf(err, errlen, "unknown or incomplete option \"%s\"", argv[optind - 1]), -1;
    }
  }
  if (optind < argc) return snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]), -1;
  if (o->min_bytes == 0) return snprintf(err, errlen, "-b must be at least 1 byte"), -1;
  if (o->min_bytes > o->max_bytes)
    return snprintf(err, errlen, "-b %zu is larger than -e %zu", o->min_bytes, o->max_bytes), -1;
  return 0;
}

/* ------------------------------------------------------- the collectives */

/* -------------------------------------------------------------- results */

typedef struct {
  tcoll_coll coll;
  size_t bytes, count;
  char algo[64]; /* what really ran, "mpi", or the forced name when n/a */
  int usable;
  char why[192];
  double med, min, p99; /* seconds */
  double algbw, busbw, pct_bound, vs_mpi;
  double copy_gbs; /* the copy bandwidth %bound was computed from */
  long wrong;
  /* the automatic choice against MPI round by round: quartiles over the
   * rounds of MPI's time / auto's in the same round (0: not measured) */
  double paired_q1, paired_med, paired_q3;
} row;

/* --------------------------------------------------------------- sweep */

typedef struct {
  row *rows;
  size_t n, cap;
} row_list;

static row *add_row(row_list *l) {
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 64;
    row *r = realloc(l->rows, cap * sizeof *r);
    if (!r) return NULL;
    l->rows = r;
    l->cap = cap;
  }
  memset(&l->rows[l->n], 0, sizeof(row));
  return &l->rows[l->n++];
}

/* The variants of one collective: MPI, automatic, and the forced ones. */
static int build_variants(const options *o, tcoll_coll coll, bench_variant *v, char *err, size_t errlen) {
  int n = 0;
  if (o->mpi) v[n++] = (bench_variant){coll, "mpi"};
  if (strcmp(o->algo, "auto") == 0) {
    v[n++] = (bench_variant){coll, NULL};
  } else if (strcmp(o->algo, "all") == 0) {
    v[n++] = (bench_variant){coll, NULL};
    for (size_t i = 0; i < tcoll_algorithm_count(coll) && n < MAX_VARIANTS; i++)
      v[n++] = (bench_variant){coll, tcoll_algorithm_name(coll, i)};
  } else {
    static char names[512];
    snprintf(names, sizeof names, "%s", o->algo);
    for (char *t = strtok(names, ","); t && n < MAX_VARIANTS; t = strtok(NULL, ",")) {
      if (strcmp(t, "auto") == 0) {
        v[n++] = (bench_variant){coll, NULL};
        continue;
      }
      size_t i;
      for (i = 0; i < tcoll_algorithm_count(coll); i++)
        if (strcmp(t, tcoll_algorithm_name(coll, i)) == 0) break;
      if (i == tcoll_algorithm_count(coll)) {
        size_t used = (size_t)snprintf(err, errlen, "unknown %s algorithm \"%s\" (known: auto",
                                       bench_coll_names[coll], t);
        for (i = 0; i < tcoll_algorithm_count(coll) && used < errlen; i++)
          used += (size_t)snprintf(err + used, errlen - used, ", %s", tcoll_algorithm_name(coll, i));
        if (used < errlen) snprintf(err + used, errlen - used, ")");
        return -1;
      }
      v[n++] = (bench_variant){coll, tcoll_algorithm_name(coll, i)};
    }
  }
  return n;
}

static int coll_supported(tcoll_coll coll) { return bench_facts[coll].busbw_factor != NULL; }

static bench_params params_of(const options *o) {
  return (bench_params){.dtype = o->dtype, .op = o->op, .root = o->root, .inplace = o->inplace,
                        .iters = o->iters, .warmup = o->warmup, .rounds = o->rounds, .sync = o->sync,
                        .shuffle = 1};
}

/* Times the usable rows' variants (bench_time) and fills median, min, p99.
 * The automatic choice may change while it runs (TCOLL_ADAPTIVE): its row
 * names the algorithm that ran the most rounds' batches (their last call),
 * with how many when that is not all of them. */
static int time_rows(tcoll_comm *c, const bench_params *p0, const bench_variant *v, int nv, row **rows,
                     size_t bytes, void *send, void *recv, const bench_layout *l) {
  int usable[MAX_VARIANTS];
  bench_params params = *p0;
  const bench_params *p = &params;
  double *t = malloc(sizeof(double) * (size_t)p->rounds * (size_t)nv);
  params.auto_ran = calloc((size_t)p->rounds, sizeof *params.auto_ran);
  int ok = t && params.auto_ran; /* every rank times, or none (no rank left alone in a round) */
  MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!ok) return free(t), free(params.auto_ran), -1;
  for (int k = 0; k < nv; k++) usable[k] = rows[k]->usable;
  bench_time(c, p, v, nv, usable, bytes, send, recv, l, t);
  int mpi = -1;
  for (int k = 0; k < nv; k++)
    if (usable[k] && bench_is_mpi(&v[k])) mpi = k;
  double *ratio = mpi >= 0 ? malloc(sizeof(double) * (size_t)p->rounds) : NULL;
  for (int k = 0; k < nv && ratio; k++) { /* before the sort below: rounds pair up */
    if (!usable[k] || !bench_is_auto(&v[k])) continue;
    const int n = p->rounds;
    for (int r = 0; r < n; r++) ratio[r] = t[mpi * p->rounds + r] / t[k * p->rounds + r];
    bench_sort(ratio, n);
    rows[k]->paired_q1 = bench_quantile(ratio, n, 0.25);
    rows[k]->paired_med = bench_quantile(ratio, n, 0.5);
    rows[k]->paired_q3 = bench_quantile(ratio, n, 0.75);
  }
  free(ratio);
  for (int k = 0; k < nv; k++) {
    if (!usable[k]) continue;
    bench_sort(t + k * p->rounds, p->rounds);
    bench_stats(t + k * p->rounds, p->rounds, &rows[k]->min, &rows[k]->med, &rows[k]->p99);
    int held = 0;
    const char *ran = bench_is_auto(&v[k]) ? bench_majority(params.auto_ran, p->rounds, &held) : NULL;
    if (ran && held == p->rounds) snprintf(rows[k]->algo, sizeof rows[k]->algo, "auto:%s", ran);
    else if (ran) snprintf(rows[k]->algo, sizeof rows[k]->algo, "auto:%s(%d/%d)", ran, held, p->rounds);
  }
  free(t);
  free(params.auto_ran);
  return 0;
}

/* Benchmarks one size of one collective: check, time, derive the columns. */
static int bench_size(tcoll_comm *c, const options *o, const bench_variant *v, int nv, size_t bytes,
                      void *send, void *recv, row_list *out, long *total_wrong) {
  const tcoll_coll coll = v[0].coll;
  const size_t es = ref_size(o->dtype);
  const bench_layout l = bench_layout_for(coll, bytes, es);
  const bench_params bp = params_of(o);
  row *rows[MAX_VARIANTS];
  /* all rows of this size first: add_row may move the array */
  const size_t first_row = out->n;
  for (int k = 0; k < nv; k++)
    if (!add_row(out)) return -1;
  for (int k = 0; k < nv; k++) {
    row *r = rows[k] = &out->rows[first_row + k];
    r->coll = coll;
    r->bytes = bench_layout_bytes(&l, es);
    r->count = l.count;
    r->usable = 1;
    if (bench_is_mpi(&v[k])) {
      snprintf(r->algo, sizeof r->algo, "mpi");
      const char *why = bench_mpi_unavailable(&bp, coll, l.count);
      if (why) r->usable = 0, snprintf(r->why, sizeof r->why, "%s", why);
    } else {
      tcoll_comm_set_algorithm(c, coll, v[k].algo);
      snprintf(r->algo, sizeof r->algo, "%s", v[k].algo ? v[k].algo : "auto");
    }
  }
  for (int k = 0; k < nv; k++) {
    if (!rows[k]->usable) continue;
    if (!bench_is_mpi(&v[k])) tcoll_comm_set_algorithm(c, coll, v[k].algo);
    long wrong = o->check ? bench_check_variant(c, &v[k], &bp, send, recv, &l, rows[k]->why, sizeof rows[k]->why)
                          : 0;
    if (wrong < 0) {
      rows[k]->usable = 0; /* declined or failed: n/a with the reason */
      continue;
    }
    rows[k]->wrong = wrong;
    *total_wrong += wrong;
    if (!bench_is_mpi(&v[k])) {
      const char *ran = tcoll_last_algorithm(c, coll);
      if (ran && o->check) snprintf(rows[k]->algo, sizeof rows[k]->algo, "%s", ran);
      if (!v[k].algo && ran) snprintf(rows[k]->algo, sizeof rows[k]->algo, "auto:%s", ran);
    }
  }
  if (time_rows(c, &bp, v, nv, rows, bench_layout_bytes(&l, es), send, recv, &l) != 0) return -1;
  const double copy_bw = o->link_gbps > 0 ? 0 : bench_copy_bandwidth(recv, send, rows[0]->bytes);
  double mpi_med = 0;
  for (int k = 0; k < nv; k++)
    if (bench_is_mpi(&v[k]) && rows[k]->usable) mpi_med = rows[k]->med;
  for (int k = 0; k < nv; k++) {
    row *r = rows[k];
    if (!r->usable || r->med <= 0) continue;
    r->algbw = (double)r->bytes / r->med / 1e9;
    r->busbw = r->algbw * bench_facts[coll].busbw_factor(bench_nranks);
    double bound = o->link_gbps > 0 ? bench_facts[coll].busbw_factor(bound_links) * (double)r->bytes / (o->link_gbps * 1e9 / 8)
                                    : (copy_bw > 0 ? bench_min_traffic(coll, r->bytes) / copy_bw : 0);
    r->pct_bound = 100.0 * bound / r->med;
    r->copy_gbs = copy_bw / 1e9;
    r->vs_mpi = mpi_med > 0 ? mpi_med / r->med : 0;
  }
  return 0;
}

/* -------------------------------------------------------------- output */

static const char *dtype_name(tcoll_dtype d) { return ref_dtype_name(d); }

static void print_header(const options *o) {
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  char *nl = strchr(lib, '\n');
  if (nl) *nl = '\0';
  printf("# tcoll-bench: tcoll %s, %d ranks, %s\n", tcoll_version(), bench_nranks, lib);
  if (o->link_gbps > 0)
    printf("# %%bound: busbw factor at N=%d %s x size / link rate %.3g Gbit/s (one link per %s)\n", bound_links,
           bound_per_rank ? "ranks" : "nodes", o->link_gbps,
           bound_per_rank ? "rank: all ranks on one node" : "node, shared by its ranks");
  else
    printf("# %%bound: memory traffic (input + output per rank) at the copy bandwidth measured at\n"
           "#         the same size with all ranks copying (column copyGB/s)\n");
  printf("# dtype %s, op %s, root %d, %s, check %s, rounds %d, iters %s\n", dtype_name(o->dtype),
         ref_op_name(o->op), o->root, o->inplace ? "in place" : "out of place", o->check ? "on" : "off",
         o->rounds, o->iters ? "fixed" : "scaled by size");
  printf("%-10s %12s %10s %8s %5s %4s  %-26s %10s %10s %10s %8s %8s %7s %7s %7s %9s\n", "coll", "size(B)",
         "count", "type", "op", "root", "algorithm", "med(us)", "min(us)", "p99(us)", "algbw", "busbw",
         "%bound", "#wrong", "vs_mpi", "copyGB/s");
}

static void print_row(const options *o, const row *r) {
  const char *op = bench_facts[r->coll].reduces ? ref_op_name(o->op) : "-";
  char root[8] = "-";
  if (bench_facts[r->coll].rooted) snprintf(root, sizeof root, "%d", o->root);
  printf("%-10s %12zu %10zu %8s %5s %4s  %-26s ", bench_coll_names[r->coll], r->bytes, r->count,
         dtype_name(o->dtype), op, root, r->algo);
  if (!r->usable) {
    printf("n/a: %s\n", r->why);
    return;
  }
  printf("%10.2f %10.2f %10.2f %8.3f %8.3f %7.1f %7ld ", r->med * 1e6, r->min * 1e6, r->p99 * 1e6,
         r->algbw, r->busbw, r->pct_bound, r->wrong);
  if (r->vs_mpi > 0) printf("%7.2f", r->vs_mpi);
  else printf("%7s", "-");
  if (r->copy_gbs > 0) printf(" %9.2f\n", r->copy_gbs);
  else printf(" %9s\n", "-");
}

static void print_footer(const row_list *l, long total_wrong) {
  double sum = 0;
  int n = 0;
  for (size_t i = 0; i < l->n; i++)
    if (l->rows[i].usable && strcmp(l->rows[i].algo, "mpi") != 0) sum += l->rows[i].busbw, n++;
  printf("# Out of bounds values : %ld %s\n", total_wrong, total_wrong ? "FAILED" : "OK");
  printf("# Avg bus bandwidth    : %.3f GB/s (tcoll rows)\n", n ? sum / n : 0.0);
  printf("# Fastest per size:\n");
  for (size_t i = 0; i < l->n;) {
    size_t j = i, best = (size_t)-1;
    for (; j < l->n && l->rows[j].coll == l->rows[i].coll && l->rows[j].bytes == l->rows[i].bytes; j++)
      if (l->rows[j].usable && (best == (size_t)-1 || l->rows[j].med < l->rows[best].med)) best = j;
    if (best != (size_t)-1)
      printf("#   %-14s %12zu B  %-26s %10.2f us\n", bench_coll_names[l->rows[i].coll], l->rows[i].bytes,
             l->rows[best].algo, l->rows[best].med * 1e6);
    i = j;
  }
  int paired = 0;
  for (size_t i = 0; i < l->n && !paired; i++) paired = l->rows[i].paired_med > 0;
  if (!paired) return;
  /* vs_mpi above is a ratio of two medians; this one pairs the rounds, so
   * a change of the machine's speed between rounds cancels out */
  printf("# auto against MPI round by round (MPI's time / auto's in the same round): median [25%%, 75%%]\n");
  for (size_t i = 0; i < l->n; i++)
    if (l->rows[i].paired_med > 0)
      printf("#   %-14s %12zu B  %.3f [%.3f, %.3f]\n", bench_coll_names[l->rows[i].coll], l->rows[i].bytes,
             l->rows[i].paired_med, l->rows[i].paired_q1, l->rows[i].paired_q3);
}

/* Nodes as tcoll sees them: TCOLL_RANKS_PER_NODE's emulated nodes, or the
 * hosts whose ranks share memory. */
static int count_nodes(void) {
  const char *rpn = getenv("TCOLL_RANKS_PER_NODE");
  char *end = NULL;
  long k = rpn && *rpn ? strtol(rpn, &end, 10) : 0;
  if (k > 0 && end && !*end) return (int)((bench_nranks + k - 1) / k);
  MPI_Comm node;
  int local_rank, leader, leaders = 0;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, bench_rank, MPI_INFO_NULL, &node);
  MPI_Comm_rank(node, &local_rank);
  leader = local_rank == 0;
  MPI_Allreduce(&leader, &leaders, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Comm_free(&node);
  return leaders;
}

/* The environment of the run, for CSV comments and the JSON object. */
typedef struct {
  int nodes, max_ranks_per_node;
  char mpi_library[256];
  char host[64];
} environment;

static void gather_environment(environment *e) {
  MPI_Comm node;
  int local = 0, is_leader, nodes = 0, max_local = 0;
  MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, bench_rank, MPI_INFO_NULL, &node);
  MPI_Comm_size(node, &local);
  int local_rank;
  MPI_Comm_rank(node, &local_rank);
  is_leader = local_rank == 0;
  MPI_Allreduce(&is_leader, &nodes, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Allreduce(&local, &max_local, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  MPI_Comm_free(&node);
  e->nodes = nodes;
  e->max_ranks_per_node = max_local;
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  char *nl = strchr(lib, '\n');
  if (nl) *nl = '\0';
  for (char *p = lib; *p; p++)
    if (*p == '"' || *p == ',') *p = ' ';
  snprintf(e->mpi_library, sizeof e->mpi_library, "%s", lib);
  if (gethostname(e->host, sizeof e->host) != 0) snprintf(e->host, sizeof e->host, "unknown");
  e->host[sizeof e->host - 1] = '\0';
}

#define CSV_FIELDS                                                                                   \
  "coll,size_bytes,count,dtype,op,root,inplace,algorithm,usable,reason,time_med_us,time_min_us,"    \
  "time_p99_us,algbw_gbs,busbw_gbs,pct_bound,copy_gbs,wrong,vs_mpi,ranks,nodes,ranks_per_node,tcoll_version," \
  "mpi_library,host"

static int write_csv(const char *path, const options *o, const row_list *l, const environment *e) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fprintf(f, "%s\n", CSV_FIELDS);
  for (size_t i = 0; i < l->n; i++) {
    const row *r = &l->rows[i];
    char reason[192];
    snprintf(reason, sizeof reason, "%s", r->why);
    for (char *p = reason; *p; p++)
      if (*p == ',' || *p == '"' || *p == '\n') *p = ' ';
    fprintf(f, "%s,%zu,%zu,%s,%s,%d,%d,%s,%d,%s,%.3f,%.3f,%.3f,%.4f,%.4f,%.2f,%.3f,%ld,%.3f,%d,%d,%d,%s,%s,%s\n",
            bench_coll_names[r->coll], r->bytes, r->count, dtype_name(o->dtype),
            bench_facts[r->coll].reduces ? ref_op_name(o->op) : "", bench_facts[r->coll].rooted ? o->root : -1,
            o->inplace, r->algo, r->usable, r->usable ? "" : reason, r->med * 1e6, r->min * 1e6,
            r->p99 * 1e6, r->algbw, r->busbw, r->pct_bound, r->copy_gbs, r->wrong, r->vs_mpi, bench_nranks, e->nodes,
            e->max_ranks_per_node, tcoll_version(), e->mpi_library, e->host);
  }
  return fclose(f) == 0 ? 0 : -1;
}

static void json_string(FILE *f, const char *s) {
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"' || *s == '\\') fprintf(f, "\\%c", *s);
    else if ((unsigned char)*s < 0x20) fprintf(f, "\\u%04x", *s);
    else fputc(*s, f);
  }
  fputc('"', f);
}

static int write_json(const char *path, const options *o, const row_list *l, const environment *e) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  time_t now = time(NULL);
  char when[32];
  strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
  fprintf(f, "{\n  \"format\": \"tcoll-bench\",\n  \"version\": 1,\n  \"environment\": {\"ranks\": %d, "
             "\"nodes\": %d, \"ranks_per_node\": %d, \"tcoll_version\": ",
          bench_nranks, e->nodes, e->max_ranks_per_node);
  json_string(f, tcoll_version());
  fprintf(f, ", \"mpi_library\": ");
  json_string(f, e->mpi_library);
  fprintf(f, ", \"host\": ");
  json_string(f, e->host);
  fprintf(f, ", \"date\": \"%s\", \"link_gbps\": %.3f},\n", when, o->link_gbps);
  fprintf(f, "  \"options\": {\"dtype\": \"%s\", \"op\": \"%s\", \"root\": %d, \"inplace\": %s, \"rounds\": %d},\n",
          dtype_name(o->dtype), ref_op_name(o->op), o->root, o->inplace ? "true" : "false", o->rounds);
  fprintf(f, "  \"rows\": [\n");
  for (size_t i = 0; i < l->n; i++) {
    const row *r = &l->rows[i];
    fprintf(f, "    {\"coll\": \"%s\", \"size_bytes\": %zu, \"count\": %zu, \"algorithm\": ", bench_coll_names[r->coll],
            r->bytes, r->count);
    json_string(f, r->algo);
    fprintf(f, ", \"usable\": %s, \"reason\": ", r->usable ? "true" : "false");
    json_string(f, r->usable ? "" : r->why);
    fprintf(f, ", \"time_med_us\": %.3f, \"time_min_us\": %.3f, \"time_p99_us\": %.3f, \"algbw_gbs\": %.4f, "
               "\"busbw_gbs\": %.4f, \"pct_bound\": %.2f, \"copy_gbs\": %.3f, \"wrong\": %ld, \"vs_mpi\": %.3f}%s\n",
            r->med * 1e6, r->min * 1e6, r->p99 * 1e6, r->algbw, r->busbw, r->pct_bound, r->copy_gbs, r->wrong, r->vs_mpi,
            i + 1 < l->n ? "," : "");
  }
  fprintf(f, "  ]\n}\n");
  return fclose(f) == 0 ? 0 : -1;
}

/* ---------------------------------------------------------------- main */

/* Exits every rank the same way: options are identical everywhere. */
static int finish(int code) {
  MPI_Finalize();
  return code;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  bench_init();
  bound_links = count_nodes();
  bound_per_rank = bound_links == 1;
  if (bound_per_rank) bound_links = bench_nranks;
  options o;
  char err[1024] = "";
  if (parse_options(argc, argv, &o, err, sizeof err) != 0) {
    int help = strcmp(err, "help") == 0;
    if (bench_rank == 0) {
      if (!help) fprintf(stderr, "tcoll-bench: %s\n", err);
      usage(help ? stdout : stderr);
    }
    return finish(help ? 0 : 2);
  }
  for (int k = 0; k < TCOLL_NUM_COLLS; k++)
    if (o.colls[k] && !coll_supported((tcoll_coll)k)) {
      if (bench_rank == 0) fprintf(stderr, "tcoll-bench: %s is not available in this tcoll\n", bench_coll_names[k]);
      return finish(2);
    }
  tcoll_comm *c = NULL;
  /* A forced algorithm that declines must not fall back silently: its row
   * would measure another algorithm under its name. With fallback=error the
   * call fails and the row says n/a with the algorithm's reason. */
  setenv("TCOLL_FALLBACK", "error", 1);
  if (tcoll_comm_create(MPI_COMM_WORLD, &c) != TCOLL_OK) {
    if (bench_rank == 0) fprintf(stderr, "tcoll-bench: %s\n", tcoll_last_error());
    return finish(2);
  }
  /* The library's own verdict on the dtype/op combination, before anything runs. */
  char text[4096];
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    if (!o.colls[k] || !bench_facts[k].reduces) continue;
    if (tcoll_explain(c, (tcoll_coll)k, 1, o.dtype, o.op, text, sizeof text) != TCOLL_OK) {
      if (bench_rank == 0) fprintf(stderr, "tcoll-bench: %s\n", tcoll_last_error()), usage(stderr);
      tcoll_comm_destroy(c);
      return finish(2);
    }
  }
  bench_variant v[TCOLL_NUM_COLLS][MAX_VARIANTS];
  int nv[TCOLL_NUM_COLLS] = {0};
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    if (!o.colls[k]) continue;
    nv[k] = build_variants(&o, (tcoll_coll)k, v[k], err, sizeof err);
    if (nv[k] < 0) {
      if (bench_rank == 0) fprintf(stderr, "tcoll-bench: %s\n", err), usage(stderr);
      tcoll_comm_destroy(c);
      return finish(2);
    }
  }
  const size_t es = ref_size(o.dtype);
  void *send = malloc(o.max_bytes + es), *recv = malloc(o.max_bytes + es);
  row_list rows = {0};
  int status = 0;
  if (!send || !recv) {
    if (bench_rank == 0) fprintf(stderr, "tcoll-bench: cannot allocate 2 x %zu bytes\n", o.max_bytes);
    status = 2;
    goto done;
  }
  if (bench_rank == 0) print_header(&o);
  long total_wrong = 0;
  const int progress = bench_rank == 0 && isatty(STDERR_FILENO);
  for (int k = 0; k < TCOLL_NUM_COLLS; k++) {
    if (!o.colls[k]) continue;
    for (double b = (double)o.min_bytes; b <= (double)o.max_bytes * (1 + 1e-9); b *= o.factor) {
      size_t bytes = (size_t)b;
      if (bench_layout_for((tcoll_coll)k, bytes, es).count == 0) continue;
      if (progress) fprintf(stderr, "\r%s %zu B ...   ", bench_coll_names[k], bytes);
      size_t first = rows.n;
      if (bench_size(c, &o, v[k], nv[k], bytes, send, recv, &rows, &total_wrong) != 0) {
        if (bench_rank == 0) fprintf(stderr, "tcoll-bench: out of memory\n");
        status = 2;
        goto done;
      }
      if (progress) fprintf(stderr, "\r%40s\r", "");
      if (bench_rank == 0)
        for (size_t i = first; i < rows.n; i++) print_row(&o, &rows.rows[i]);
      fflush(stdout);
    }
  }
  environment env;
  gather_environment(&env);
  if (bench_rank == 0) {
    print_footer(&rows, total_wrong);
    if (o.csv && write_csv(o.csv, &o, &rows, &env) != 0)
      fprintf(stderr, "tcoll-bench: cannot write %s: %s\n", o.csv, strerror(errno)), status = 2;
    if (o.json && write_json(o.json, &o, &rows, &env) != 0)
      fprintf(stderr, "tcoll-bench: cannot write %s: %s\n", o.json, strerror(errno)), status = 2;
  }
  MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (total_wrong) status = 1;
done:
  free(send);
  free(recv);
  free(rows.rows);
  tcoll_comm_destroy(c);
  return finish(status);
}
