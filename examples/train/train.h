/*
 * tcoll-train: data-parallel SGD of a small linear-attention model, the
 * demonstration of tcoll inside a real training loop. See docs/train.md for
 * the model, the task, the backward-pass equations and measured results.
 *
 * Module map (one concern per file):
 *   attention.c  causal attention cores (linear recurrence, TransNormer-style
 *                norm, softmax) forward and backward
 *   model.c      parameter layout, initialisation, full forward/backward
 *   task.c       multi-query associative recall generator (step-seeded)
 *   optim.c      Adam and the warmup + cosine schedule
 *   checkpoint.c atomic checkpoint files with a checksummed header
 *   run.c        the distributed training loop (train_run)
 *   main.c       command line
 *
 * Precision: `real` is float unless TRAIN_FLOAT64 is defined (the gradient
 * check build). Nothing here exits or aborts: functions return 0 or a
 * negative TRAIN_E* code and write a message into the caller's buffer.
 */
#ifndef TRAIN_H
#define TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "tcoll.h"

#ifdef TRAIN_FLOAT64
typedef double real;
#define TRAIN_DTYPE TCOLL_FLOAT64
#define TRAIN_PRECISION "float64"
#else
typedef float real;
#define TRAIN_DTYPE TCOLL_FLOAT32
#define TRAIN_PRECISION "float32"
#endif

enum { TRAIN_OK = 0, TRAIN_EINVAL = -1, TRAIN_ENOMEM = -2, TRAIN_EIO = -3, TRAIN_ECKPT = -4,
       TRAIN_ECOMM = -5 };

/* ---- attention cores ---- */

typedef enum { ATTN_LINEAR, ATTN_NORM, ATTN_SOFTMAX } attn_kind;
const char *attn_name(attn_kind k);
int attn_parse(const char *s, attn_kind *out); /* 0 or TRAIN_EINVAL */

/* Denominator guard of the linear variant and the RMSNorm epsilon of the
 * norm variant: small against the values they protect (the denominator is a
 * sum of positive terms of order 1 per token). */
#define ATTN_EPS 1e-6

/* What the backward pass needs from the forward pass, per sequence: T x d
 * (or T x T) arrays owned by the caller (attn_cache_alloc). */
typedef struct {
  real *fq, *fk; /* phi(q), phi(k) (linear, norm) */
  real *o;       /* output o_t */
  real *scale;   /* T: denominator (linear) or RMS (norm) */
  real *num;     /* T x d: unnormalised output (norm) */
  real *p;       /* T x T: attention probabilities (softmax) */
} attn_cache;

int attn_cache_alloc(attn_cache *c, int T, int d);
void attn_cache_free(attn_cache *c);

/* q, k, v, out: T x d row-major. out may not alias the inputs. */
void attn_forward(attn_kind kind, int T, int d, const real *q, const real *k, const real *v,
                  attn_cache *c, real *out);
/* Gradients w.r.t. q, k, v (overwritten) from dout, using the cache of the
 * matching attn_forward call. Linear/norm: O(T d^2) time, O(d^2) extra
 * memory (the running sums S_t are recomputed, never stored per step). */
void attn_backward(attn_kind kind, int T, int d, const real *q, const real *k, const real *v,
                   const attn_cache *c, const real *dout, real *dq, real *dk, real *dv);

/* ---- model ---- */

#define TASK_KEYS 32   /* tokens 0..31 are keys */
#define TASK_VOCAB 64  /* tokens 32..63 are values */
#define MODEL_MAX_TENSORS (3 + 4 * 64)

typedef struct {
  int width, layers, pairs; /* d, L, key/value pairs per sequence */
  attn_kind attn;
  int shift; /* token shift: projections see [x_t ; x_(t-1)] */
} model_dims;

/* One named tensor of the flat parameter vector. */
typedef struct {
  char name[24];
  size_t offset, rows, cols; /* row-major rows x cols at params + offset */
} model_tensor;

typedef struct {
  model_dims dims;
  int T, din; /* sequence length 3 * pairs; projection input width */
  size_t nparams;
  int ntensors;
  model_tensor tensors[MODEL_MAX_TENSORS];
  /* offsets of each kind of tensor */
  size_t off_embed, off_readout, off_bias;
  size_t off_wq[64], off_wk[64], off_wv[64], off_wo[64];
} model_layout;

int model_layout_init(model_layout *m, const model_dims *dims, char *err, size_t errlen);

/* Per-sequence activations and scratch, reused across sequences. */
typedef struct model_work model_work;
model_work *model_work_new(const model_layout *m);
void model_work_free(model_work *w);

/* Deterministic initialisation from `seed` (run on rank 0 only, then
 * broadcast): N(0,1) embeddings, N(0, 1/fan_in) weights, zero bias. */
void model_init(const model_layout *m, uint64_t seed, real *params);

/* Forward (and backward if grad != NULL) of one sequence. The loss is
 * sum over target positions of cross-entropy times `loss_scale`; grad
 * accumulates d(loss)/d(params). Returns the unscaled cross-entropy sum;
 * *correct counts argmax hits at the target positions. */
double model_sequence(const model_layout *m, model_work *w, const real *params,
                      const int *tokens, const int *targets, double loss_scale, real *grad,
                      int *correct);

/* ---- task ---- */

/* A sequence of 3 * pairs tokens: key/value pairs, then the same keys in a
 * random order as queries. targets[t] is the value to predict at position
 * t, or -1 where there is no target. Identical on every rank for the same
 * (seed, stream, index). */
#define TASK_STREAM_TRAIN 0x7472ull
#define TASK_STREAM_HELDOUT 0x686full
void task_sequence(int pairs, uint64_t seed, uint64_t stream, uint64_t index, int *tokens,
                   int *targets);

uint64_t train_mix64(uint64_t x); /* splitmix64 finaliser */
double train_gauss(uint64_t *state); /* N(0,1) draw; advances *state */
uint64_t hash_bytes(const void *p, size_t n, uint64_t h);  /* FNV-1a 64 */
#define HASH_INIT 0xcbf29ce484222325ull

/* ---- optimiser ---- */

typedef struct {
  double lr, final_frac; /* peak rate; cosine ends at final_frac * lr */
  int warmup, steps;
  double beta1, beta2, eps;
} adam_config;

double lr_at(const adam_config *a, long step); /* step counts from 0 */
/* One Adam step (step counts from 0; bias correction uses step + 1). */
void adam_update(const adam_config *a, long step, size_t n, real *params, const real *grad,
                 real *m, real *v);

/* ---- checkpoints ---- */

/* What must match for a resume to continue the same trajectory. */
typedef struct {
  model_dims dims;
  uint64_t seed;
  int32_t batch, steps, warmup;
  double lr;
  uint64_t nparams;
} ckpt_meta;

/* Atomic: writes path.tmp, fsyncs it, renames over path, fsyncs the
 * directory. params, m, v: nparams each. */
int ckpt_save(const char *path, const ckpt_meta *meta, long step, const real *params,
              const real *m, const real *v, char *err, size_t errlen);
/* Reads and validates (magic, version, precision, every meta field, size,
 * checksum) before touching the outputs' contents. */
int ckpt_load(const char *path, const ckpt_meta *expect, long *step, real *params, real *m,
              real *v, char *err, size_t errlen);

/* ---- training loop ---- */

typedef struct {
  model_dims dims;
  int steps, batch, warmup, eval_every, eval_size;
  double lr;
  uint64_t seed;
  size_t bucket_bytes; /* 0: one allreduce of the whole gradient */
  const char *dump_params, *csv, *checkpoint, *resume;
  int checkpoint_every;
  int crash_at_step;  /* test hook: SIGKILL rank 0 inside this step (-1: never) */
  int check_replicas; /* compare parameter hashes across ranks after every step */
  int stop_at_step;   /* stop (as if killed) before this step, without a final save (-1: never) */
  int verbose;        /* print header / progress / summary on rank 0 */
} train_config;

void train_config_default(train_config *c);

typedef struct {
  double heldout_loss, heldout_acc, train_loss, train_acc;
  int replicas_identical;  /* final hashes equal on every rank */
  int replica_bad_steps;   /* with check_replicas: steps whose hashes differed */
  long steps_done;
  real *params; /* final parameters (caller frees), if requested */
  size_t nparams;
  double seconds;
} train_result;

/* Collective over comm: every rank must pass the same config. Returns 0 or a
 * TRAIN_E* code that is the same on every rank (errors found on one rank,
 * such as an unreadable checkpoint, are broadcast), with a message in err on
 * rank 0 at least. If keep_params, result->params receives a copy. */
int train_run(const train_config *cfg, MPI_Comm comm, int keep_params, train_result *result,
              char *err, size_t errlen);

#endif /* TRAIN_H */
