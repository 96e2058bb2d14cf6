/*
 * tcoll-train command line.
 *
 *   mpirun -n P tcoll-train [options]        (--help lists them)
 *
 * Every option is one row of the table below (name, kind, field, help), so
 * the parser and --help cannot drift apart. All ranks parse the same argv
 * and reach the same verdict; on a bad option every rank exits with status 2
 * (only rank 0 prints), so mpirun never waits on a half-started job.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "train.h"

typedef enum {
  OPT_INT,
  OPT_U64,
  OPT_SIZE,
  OPT_DOUBLE,
  OPT_STR,
  OPT_ATTN,
  OPT_FLAG_OFF, /* sets the int field to 0 */
  OPT_FLAG_ON   /* sets the int field to 1 */
} opt_kind;

typedef struct {
  const char *name;
  opt_kind kind;
  size_t offset; /* into train_config */
  const char *help;
} option;

#define F(field) offsetof(train_config, field)
static const option options[] = {
    {"--steps", OPT_INT, F(steps), "training steps (default 1000)"},
    {"--batch", OPT_INT, F(batch), "global batch in sequences, split over ranks (default 64)"},
    {"--lr", OPT_DOUBLE, F(lr), "peak Adam learning rate (default 3e-3)"},
    {"--warmup", OPT_INT, F(warmup), "linear warmup steps before the cosine (default 100)"},
    {"--seed", OPT_U64, F(seed), "seed of initialisation, data and held-out set (default 1)"},
    {"--width", OPT_INT, F(dims.width), "model width d (default 32)"},
    {"--layers", OPT_INT, F(dims.layers), "attention layers (default 2)"},
    {"--pairs", OPT_INT, F(dims.pairs), "key/value pairs per sequence, 1..32 (default 8)"},
    {"--attn", OPT_ATTN, F(dims.attn), "linear | norm | softmax (default linear)"},
    {"--no-shift", OPT_FLAG_OFF, F(dims.shift), "no token shift"},
    {"--bucket-bytes", OPT_SIZE, F(bucket_bytes),
     "allreduce the gradient in buckets of this size (default 0: one buffer)"},
    {"--eval-every", OPT_INT, F(eval_every), "steps between held-out evaluations (default 100)"},
    {"--eval-size", OPT_INT, F(eval_size), "held-out sequences (default 1000)"},
    {"--csv", OPT_STR, F(csv), "write the loss curve (one row per step) to FILE"},
    {"--dump-params", OPT_STR, F(dump_params),
     "write the final parameters (raw, see docs/train.md) to FILE"},
    {"--checkpoint", OPT_STR, F(checkpoint), "checkpoint FILE (written atomically)"},
    {"--checkpoint-every", OPT_INT, F(checkpoint_every), "save a checkpoint every N steps"},
    {"--resume", OPT_STR, F(resume), "continue from checkpoint FILE"},
    {"--check-replicas", OPT_FLAG_ON, F(check_replicas),
     "compare parameter hashes across ranks after every step"},
    {"--crash-at-step", OPT_INT, F(crash_at_step),
     "test hook: SIGKILL rank 0 during step N (0-based)"},
};
#undef F
#define NOPTIONS (sizeof options / sizeof options[0])

static void usage(FILE *f) {
  fprintf(f, "usage: mpirun -n P tcoll-train [options]\n");
  for (size_t i = 0; i < NOPTIONS; i++) {
    int flag = options[i].kind == OPT_FLAG_OFF || options[i].kind == OPT_FLAG_ON;
    fprintf(f, "  %-18s %-6s %s\n", options[i].name, flag ? "" : "VALUE", options[i].help);
  }
  fprintf(f, "  %-18s %-6s %s\n", "--quiet", "", "print only errors");
  fprintf(f, "  %-18s %-6s %s\n", "--help", "", "this list");
}

/* Strict number parsing: the whole string, in range, no silent wrap. */
static int parse_value(const option *o, const char *s, train_config *c, char *err, size_t n) {
  char *end;
  void *dst = (char *)c + o->offset;
  errno = 0;
  switch (o->kind) {
    case OPT_INT: {
      long v = strtol(s, &end, 10);
      if (errno || end == s || *end || v < INT_MIN || v > INT_MAX) break;
      *(int *)dst = (int)v;
      return 0;
    }
    case OPT_U64:
    case OPT_SIZE: {
      if (*s == '-') break;
      unsigned long long v = strtoull(s, &end, 10);
      if (errno || end == s || *end) break;
      if (o->kind == OPT_U64) *(uint64_t *)dst = v;
      else *(size_t *)dst = (size_t)v;
      return 0;
    }
    case OPT_DOUBLE: {
      double v = strtod(s, &end);
      if (errno || end == s || *end) break;
      *(double *)dst = v;
      return 0;
    }
    case OPT_STR:
      *(const char **)dst = s;
      return 0;
    case OPT_ATTN:
      if (attn_parse(s, (attn_kind *)dst) == TRAIN_OK) return 0;
      snprintf(err, n, "%s: '%s' is not one of linear, norm, softmax", o->name, s);
      return -1;
    case OPT_FLAG_OFF:
    case OPT_FLAG_ON:
      break;
  }
  snprintf(err, n, "%s: '%s' is not a valid %s", o->name, s,
           o->kind == OPT_DOUBLE ? "number" : "non-negative integer in range");
  return -1;
}

/* 0: run; 1: --help printed; -1: error in err */
static int parse_args(int argc, char **argv, train_config *c, char *err, size_t n) {
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--help") == 0 || strcmp(argv[a], "-h") == 0) return 1;
    if (strcmp(argv[a], "--quiet") == 0) {
      c->verbose = 0;
      continue;
    }
    const option *o = NULL;
    for (size_t i = 0; i < NOPTIONS; i++)
      if (strcmp(argv[a], options[i].name) == 0) o = &options[i];
    if (!o) {
      snprintf(err, n, "unknown option '%s' (see --help)", argv[a]);
      return -1;
    }
    if (o->kind == OPT_FLAG_OFF || o->kind == OPT_FLAG_ON) {
      *(int *)((char *)c + o->offset) = o->kind == OPT_FLAG_ON;
      continue;
    }
    if (a + 1 >= argc) {
      snprintf(err, n, "%s needs a value", o->name);
      return -1;
    }
    if (parse_value(o, argv[++a], c, err, n)) return -1;
  }
  return 0;
}

int main(int argc, char **argv) {
  int rank, rc;
  char err[512] = "";
  train_config cfg;
  train_result res;
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  train_config_default(&cfg);
  int parsed = parse_args(argc, argv, &cfg, err, sizeof err);
  if (parsed != 0) {
    if (rank == 0) {
      if (parsed > 0) usage(stdout);
      else fprintf(stderr, "tcoll-train: %s\n", err);
    }
    MPI_Finalize();
    return parsed > 0 ? 0 : 2;
  }
  rc = train_run(&cfg, MPI_COMM_WORLD, 0, &res, err, sizeof err);
  if (rc != TRAIN_OK) {
    if (rank == 0) fprintf(stderr, "tcoll-train: %s\n", err);
    MPI_Finalize();
    return 1;
  }
  MPI_Finalize();
  return res.replicas_identical ? 0 : 3;
}
