/*
 * The data-parallel training loop.
 *
 * Per step, on every rank: generate this rank's slice [r B / P, (r+1) B / P)
 * of the global batch (a pure function of seed and step), forward and
 * backward with the loss divided by the global number of targets, so the
 * SUM allreduce of the gradients is exactly the gradient of the global mean
 * loss; then a diagnostic barrier (to separate load imbalance from
 * communication time), the gradient allreduce (one flat buffer or buckets),
 * a small allreduce of the loss/accuracy counters, and the same Adam update
 * everywhere. tcoll's allreduce gives every rank a bitwise identical result,
 * so the replicas stay bitwise identical; --check-replicas verifies it
 * after every step with MPI_Allreduce (independent of tcoll).
 *
 * Errors that only one rank can see (files are touched by rank 0 only) are
 * agreed on with a MIN allreduce of the status, so that every rank returns
 * the same error and none waits forever in a collective.
 */
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "train.h"

void train_config_default(train_config *c) {
  memset(c, 0, sizeof *c);
  c->dims.width = 32;
  c->dims.layers = 2;
  c->dims.pairs = 8;
  c->dims.attn = ATTN_LINEAR;
  c->dims.shift = 1;
  c->steps = 1000;
  c->batch = 64;
  c->warmup = 100;
  c->eval_every = 100;
  c->eval_size = 1000;
  c->lr = 3e-3;
  c->seed = 1;
  c->crash_at_step = -1;
  c->stop_at_step = -1;
  c->verbose = 1;
}

typedef struct {
  const train_config *cfg;
  tcoll_comm *tc;
  int rank, size;
  model_layout m;
  model_work *w;
  real *params, *grad, *am, *av;
  int *tokens, *targets;
  FILE *csv;
  const char *grad_algo; /* what tcoll chose for the (last bucket of the) gradient */
  char *err;
  size_t errlen;
} run_state;

static void fail(run_state *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(s->err, s->errlen, fmt, ap);
  va_end(ap);
}

/* Every rank passes its local status; all get the worst (most negative).
 * Ranks that were fine learn that some other rank failed. */
static int agree(run_state *s, int rc) {
  int32_t in = rc, out = 0;
  if (tcoll_allreduce(s->tc, &in, &out, 1, TCOLL_INT32, TCOLL_MIN) != TCOLL_OK) {
    fail(s, "tcoll_allreduce: %s", tcoll_last_error());
    return TRAIN_ECOMM;
  }
  if (out != TRAIN_OK && rc == TRAIN_OK) fail(s, "failed on another rank (see rank 0)");
  return out;
}

static int comm_check(run_state *s, tcoll_status st, const char *what) {
  if (st == TCOLL_OK) return TRAIN_OK;
  fail(s, "%s: %s", what, tcoll_last_error());
  return TRAIN_ECOMM;
}

static uint64_t params_hash(const run_state *s) {
  return hash_bytes(s->params, s->m.nparams * sizeof(real), HASH_INIT);
}

/* 1 if every rank holds the same parameter hash (checked with plain MPI, so
 * that a tcoll bug cannot hide itself). */
static int replicas_agree(const run_state *s, MPI_Comm comm) {
  uint64_t h = params_hash(s), mn = 0, mx = 0;
  MPI_Allreduce(&h, &mn, 1, MPI_UINT64_T, MPI_MIN, comm);
  MPI_Allreduce(&h, &mx, 1, MPI_UINT64_T, MPI_MAX, comm);
  return mn == mx;
}

static void slice(int n, int rank, int size, int *lo, int *hi) {
  *lo = (int)((long)n * rank / size);
  *hi = (int)((long)n * (rank + 1) / size);
}

/* Held-out loss and accuracy, each rank evaluating its slice. */
static int evaluate(run_state *s, double *loss, double *acc) {
  const train_config *c = s->cfg;
  int lo, hi, pairs = c->dims.pairs;
  double cnt[2] = {0, 0}, tot[2];
  slice(c->eval_size, s->rank, s->size, &lo, &hi);
  for (int i = lo; i < hi; i++) {
    int hits;
    task_sequence(pairs, c->seed, TASK_STREAM_HELDOUT, (uint64_t)i, s->tokens, s->targets);
    cnt[0] += model_sequence(&s->m, s->w, s->params, s->tokens, s->targets, 1, NULL, &hits);
    cnt[1] += hits;
  }
  int rc = comm_check(s, tcoll_allreduce(s->tc, cnt, tot, 2, TCOLL_FLOAT64, TCOLL_SUM),
                      "evaluation counters");
  double n = (double)c->eval_size * pairs;
  *loss = n > 0 ? tot[0] / n : NAN;
  *acc = n > 0 ? tot[1] / n : NAN;
  return rc;
}

static int allreduce_grad(run_state *s) {
  size_t n = s->m.nparams, per = s->cfg->bucket_bytes / sizeof(real);
  if (per == 0 || per > n) per = n;
  for (size_t off = 0; off < n; off += per) {
    size_t cnt = n - off < per ? n - off : per;
    tcoll_status st = tcoll_allreduce(s->tc, s->grad + off, s->grad + off, cnt, TRAIN_DTYPE,
                                      TCOLL_SUM);
    if (st != TCOLL_OK) return comm_check(s, st, "gradient allreduce");
  }
  s->grad_algo = tcoll_last_algorithm(s->tc, TCOLL_ALLREDUCE);
  return TRAIN_OK;
}

static int validate(const train_config *c, int size, char *err, size_t errlen) {
  if (c->steps < 1) return snprintf(err, errlen, "--steps must be >= 1"), TRAIN_EINVAL;
  if (c->batch < size)
    return snprintf(err, errlen, "--batch %d is smaller than the %d ranks", c->batch, size),
           TRAIN_EINVAL;
  if (c->warmup < 0) return snprintf(err, errlen, "--warmup must be >= 0"), TRAIN_EINVAL;
  if (!(c->lr > 0) || !isfinite(c->lr))
    return snprintf(err, errlen, "--lr must be a positive number"), TRAIN_EINVAL;
  if (c->eval_size < 0 || c->eval_every < 1)
    return snprintf(err, errlen, "--eval-size must be >= 0, --eval-every >= 1"), TRAIN_EINVAL;
  if (c->checkpoint_every < 0 || (c->checkpoint_every > 0 && !c->checkpoint))
    return snprintf(err, errlen, "--checkpoint-every needs --checkpoint FILE (and N >= 0)"),
           TRAIN_EINVAL;
  return TRAIN_OK;
}

static void print_header(const run_state *s) {
  const train_config *c = s->cfg;
  int lo0, hi0, lo1, hi1;
  slice(c->batch, 0, s->size, &lo0, &hi0);
  slice(c->batch, s->size - 1, s->size, &lo1, &hi1);
  printf("tcoll-train: %d rank%s, global batch %d, local batch %d", s->size,
         s->size == 1 ? "" : "s", c->batch, hi0 - lo0);
  if (hi1 - lo1 != hi0 - lo0) printf("..%d", hi1 - lo1);
  printf("\n");
  printf("  model: width %d, layers %d, attention %s, token shift %s; task: %d pairs, length "
         "%d, vocabulary %d\n",
         c->dims.width, c->dims.layers, attn_name(c->dims.attn), c->dims.shift ? "on" : "off",
         c->dims.pairs, s->m.T, TASK_VOCAB);
  printf("  parameters %zu, gradient %zu bytes per step", s->m.nparams,
         s->m.nparams * sizeof(real));
  if (c->bucket_bytes >= sizeof(real) && c->bucket_bytes < s->m.nparams * sizeof(real))
    printf(" (allreduce in buckets of %zu bytes)", c->bucket_bytes / sizeof(real) * sizeof(real));
  else
    printf(" (one allreduce)");
  printf(", precision %s\n", TRAIN_PRECISION);
  printf("  steps %d, Adam lr %g, warmup %d then cosine to 0.1x, seed %llu, held-out %d "
         "sequences\n",
         c->steps, c->lr, c->warmup, (unsigned long long)c->seed, c->eval_size);
  fflush(stdout);
}

static int open_csv(run_state *s, int resumed) {
  int rc = TRAIN_OK;
  if (s->rank == 0 && s->cfg->csv) {
    s->csv = fopen(s->cfg->csv, resumed ? "a" : "w");
    if (!s->csv) {
      fail(s, "--csv %s: cannot open for writing", s->cfg->csv);
      rc = TRAIN_EIO;
    } else if (!resumed) {
      fprintf(s->csv, "step,lr,train_loss,train_acc,heldout_loss,heldout_acc,elapsed_s\n");
    }
  }
  return agree(s, rc);
}

static int load_or_init(run_state *s, long *start) {
  const train_config *c = s->cfg;
  size_t n = s->m.nparams;
  int64_t st = 0;
  int rc = TRAIN_OK;
  memset(s->am, 0, n * sizeof(real));
  memset(s->av, 0, n * sizeof(real));
  if (c->resume) {
    if (s->rank == 0) {
      ckpt_meta meta = {c->dims, c->seed, c->batch, c->steps, c->warmup, c->lr, n};
      long step = 0;
      rc = ckpt_load(c->resume, &meta, &step, s->params, s->am, s->av, s->err, s->errlen);
      st = step;
    }
    if ((rc = agree(s, rc)) != TRAIN_OK) return rc;
    if ((rc = comm_check(s, tcoll_bcast(s->tc, s->am, n, TRAIN_DTYPE, 0), "tcoll_bcast")) ||
        (rc = comm_check(s, tcoll_bcast(s->tc, s->av, n, TRAIN_DTYPE, 0), "tcoll_bcast")) ||
        (rc = comm_check(s, tcoll_bcast(s->tc, &st, 1, TCOLL_INT64, 0), "tcoll_bcast")))
      return rc;
  } else if (s->rank == 0) {
    model_init(&s->m, c->seed, s->params);
  }
  *start = (long)st;
  return comm_check(s, tcoll_bcast(s->tc, s->params, n, TRAIN_DTYPE, 0), "tcoll_bcast");
}

static int save_checkpoint(run_state *s, long step_done) {
  const train_config *c = s->cfg;
  int rc = TRAIN_OK;
  if (s->rank == 0) {
    ckpt_meta meta = {c->dims, c->seed, c->batch, c->steps, c->warmup, c->lr, s->m.nparams};
    rc = ckpt_save(c->checkpoint, &meta, step_done, s->params, s->am, s->av, s->err,
                   s->errlen);
  }
  return agree(s, rc);
}

static int dump_params(run_state *s) {
  int rc = TRAIN_OK;
  if (s->rank == 0) {
    FILE *f = fopen(s->cfg->dump_params, "wb");
    if (!f || fwrite(s->params, sizeof(real), s->m.nparams, f) != s->m.nparams) {
      fail(s, "--dump-params %s: write failed", s->cfg->dump_params);
      rc = TRAIN_EIO;
    }
    if (f && fclose(f) && rc == TRAIN_OK) {
      fail(s, "--dump-params %s: close failed", s->cfg->dump_params);
      rc = TRAIN_EIO;
    }
  }
  return agree(s, rc);
}

/* Per-rank time split, reported as max and mean over ranks. */
typedef struct {
  double compute, wait, comm; /* wall seconds summed over steps */
  double cpu;                 /* CPU seconds of the compute phases */
} split;

/* CPU time of this process: next to the wall-clock split it shows how much
 * of "compute" was work and how much was waiting for a core, which matters
 * on a machine shared with other jobs. */
static double cpu_seconds(void) {
  struct timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int report_split(run_state *s, const split *t, long nsteps) {
  double mine[4] = {t->compute, t->wait, t->comm, t->cpu}, mx[4], sum[4];
  int rc;
  if ((rc = comm_check(s, tcoll_allreduce(s->tc, mine, mx, 4, TCOLL_FLOAT64, TCOLL_MAX),
                       "time split")) ||
      (rc = comm_check(s, tcoll_allreduce(s->tc, mine, sum, 4, TCOLL_FLOAT64, TCOLL_SUM),
                       "time split")))
    return rc;
  if (s->rank == 0 && s->cfg->verbose && nsteps > 0) {
    static const char *const what[4] = {"compute (fwd+bwd+update)", "wait at barrier",
                                        "allreduce (grad+counters)", "compute, CPU time only"};
    double us = 1e6 / (double)nsteps, mb = (double)(s->m.nparams * sizeof(real)) / 1e6;
    printf("time per step over %ld steps (max / mean over ranks):\n", nsteps);
    for (int i = 0; i < 4; i++)
      printf("  %-26s %9.1f / %9.1f us\n", what[i], mx[i] * us, sum[i] / s->size * us);
    if (s->size > 1)
      printf("  gradient allreduce rate   %9.1f MB/s (%zu bytes over the mean allreduce time; "
             "tcoll chose %s)\n",
             mb * (double)nsteps / (sum[2] / s->size), s->m.nparams * sizeof(real),
             s->grad_algo ? s->grad_algo : "?");
  }
  return TRAIN_OK;
}

static int train_loop(run_state *s, MPI_Comm comm, long start, train_result *res) {
  const train_config *c = s->cfg;
  const int pairs = c->dims.pairs;
  const double scale = 1.0 / ((double)c->batch * pairs);
  adam_config ac = {c->lr, 0.1, c->warmup, c->steps, 0.9, 0.999, 1e-8};
  split t = {0, 0, 0, 0};
  double since[3] = {0, 0, 0}, t_begin = MPI_Wtime();
  long step, done = 0;
  int lo, hi, rc;
  slice(c->batch, s->rank, s->size, &lo, &hi);
  for (step = start; step < c->steps; step++) {
    if (step == c->stop_at_step) break;
    double t0 = MPI_Wtime(), c0 = cpu_seconds();
    double cnt[2] = {0, 0}, tot[2];
    memset(s->grad, 0, s->m.nparams * sizeof(real));
    for (int i = lo; i < hi; i++) {
      int hits;
      uint64_t index = (uint64_t)step * (uint64_t)c->batch + (uint64_t)i;
      task_sequence(pairs, c->seed, TASK_STREAM_TRAIN, index, s->tokens, s->targets);
      cnt[0] += model_sequence(&s->m, s->w, s->params, s->tokens, s->targets, scale, s->grad,
                               &hits);
      cnt[1] += hits;
    }
    double t1 = MPI_Wtime(), c1 = cpu_seconds();
    MPI_Barrier(comm);
    double t2 = MPI_Wtime();
    if ((rc = allreduce_grad(s)) ||
        (rc = comm_check(s, tcoll_allreduce(s->tc, cnt, tot, 2, TCOLL_FLOAT64, TCOLL_SUM),
                         "counter allreduce")))
      return rc;
    double t3 = MPI_Wtime(), c3 = cpu_seconds();
    if (step == c->crash_at_step && s->rank == 0) {
      fprintf(stderr, "tcoll-train: --crash-at-step %ld: killing rank 0\n", step);
      fflush(NULL);
      raise(SIGKILL);
    }
    adam_update(&ac, step, s->m.nparams, s->params, s->grad, s->am, s->av);
    double t4 = MPI_Wtime();
    t.cpu += (c1 - c0) + (cpu_seconds() - c3);
    t.compute += (t1 - t0) + (t4 - t3);
    t.wait += t2 - t1;
    t.comm += t3 - t2;
    done++;
    if (c->check_replicas && !replicas_agree(s, comm)) res->replica_bad_steps++;
    since[0] += tot[0] * scale;
    since[1] += tot[1] / ((double)c->batch * pairs);
    since[2] += 1;
    res->train_loss = tot[0] * scale;
    res->train_acc = tot[1] / ((double)c->batch * pairs);

    int eval_now = (step + 1) % c->eval_every == 0 || step + 1 == c->steps;
    double hl = NAN, ha = NAN;
    if (eval_now) {
      if ((rc = evaluate(s, &hl, &ha))) return rc;
      res->heldout_loss = hl;
      res->heldout_acc = ha;
      if (s->rank == 0 && c->verbose) {
        printf("step %5ld  lr %.2e  train loss %.4f acc %.4f  held-out loss %.4f acc %.4f  "
               "%.1f s\n",
               step + 1, lr_at(&ac, step), since[0] / since[2], since[1] / since[2], hl, ha,
               MPI_Wtime() - t_begin);
        fflush(stdout);
      }
      since[0] = since[1] = since[2] = 0;
    }
    if (s->csv) {
      fprintf(s->csv, "%ld,%.6e,%.6f,%.6f,", step + 1, lr_at(&ac, step), res->train_loss,
              res->train_acc);
      if (eval_now) fprintf(s->csv, "%.6f,%.6f,%.3f\n", hl, ha, MPI_Wtime() - t_begin);
      else fprintf(s->csv, ",,%.3f\n", MPI_Wtime() - t_begin);
    }
    if (c->checkpoint && c->checkpoint_every > 0 && (step + 1) % c->checkpoint_every == 0 &&
        (rc = save_checkpoint(s, step + 1)))
      return rc;
  }
  res->steps_done = step;
  res->seconds = MPI_Wtime() - t_begin;
  if (step < c->steps) return TRAIN_OK; /* stopped as if killed: no summary, no save */
  if ((rc = report_split(s, &t, done))) return rc;
  return TRAIN_OK;
}

int train_run(const train_config *cfg, MPI_Comm comm, int keep_params, train_result *res,
              char *err, size_t errlen) {
  run_state s;
  int rc;
  long start = 0;
  memset(&s, 0, sizeof s);
  memset(res, 0, sizeof *res);
  s.cfg = cfg;
  s.err = err;
  s.errlen = errlen;
  err[0] = '\0';
  MPI_Comm_rank(comm, &s.rank);
  MPI_Comm_size(comm, &s.size);
  /* argument errors are identical on every rank (same config), so every
   * rank returns before any communication */
  if ((rc = validate(cfg, s.size, err, errlen)) ||
      (rc = model_layout_init(&s.m, &cfg->dims, err, errlen)))
    return rc;
  /* A resumed run ends bit-identical to an uninterrupted one only if every
   * step sums the gradient with the same algorithm; tcoll's measured choice
   * (TCOLL_ADAPTIVE) may change it between steps. Off unless the user set
   * it (every rank sees the same environment). */
  setenv("TCOLL_ADAPTIVE", "0", 0);
  if (tcoll_comm_create(comm, &s.tc) != TCOLL_OK) {
    fail(&s, "tcoll_comm_create: %s", tcoll_last_error());
    return TRAIN_ECOMM;
  }
  size_t n = s.m.nparams;
  s.params = malloc(4 * n * sizeof(real));
  s.w = model_work_new(&s.m);
  s.tokens = malloc(2 * (size_t)s.m.T * sizeof(int));
  rc = (s.params && s.w && s.tokens) ? TRAIN_OK : TRAIN_ENOMEM;
  if (rc) fail(&s, "out of memory (%zu parameters)", n);
  if ((rc = agree(&s, rc))) goto done;
  s.grad = s.params + n;
  s.am = s.grad + n;
  s.av = s.am + n;
  s.targets = s.tokens + s.m.T;

  if ((rc = load_or_init(&s, &start))) goto done;
  if ((rc = open_csv(&s, cfg->resume != NULL))) goto done;
  if (s.rank == 0 && cfg->verbose) {
    print_header(&s);
    if (cfg->resume) printf("  resumed from %s at step %ld\n", cfg->resume, start);
  }
  if ((rc = train_loop(&s, comm, start, res))) goto done;

  res->replicas_identical = replicas_agree(&s, comm);
  if (res->steps_done == cfg->steps && s.rank == 0 && cfg->verbose) {
    printf("final held-out accuracy %.4f (loss %.4f) after %ld steps, %.1f s\n",
           res->heldout_acc, res->heldout_loss, res->steps_done, res->seconds);
    printf("replicas: parameter hash %016llx on rank 0, %s on all %d ranks\n",
           (unsigned long long)params_hash(&s),
           res->replicas_identical ? "identical" : "DIFFERENT", s.size);
    fflush(stdout);
  }
  if (cfg->dump_params && res->steps_done == cfg->steps && (rc = dump_params(&s))) goto done;
  if (keep_params) {
    res->params = malloc(n * sizeof(real));
    if (!res->params) {
      fail(&s, "out of memory");
      rc = TRAIN_ENOMEM;
      goto done;
    }
    memcpy(res->params, s.params, n * sizeof(real));
    res->nparams = n;
  }
done:
  if (s.csv) fclose(s.csv);
  model_work_free(s.w);
  free(s.params);
  free(s.tokens);
  tcoll_comm_destroy(s.tc);
  return rc;
}
