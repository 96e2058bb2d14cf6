/*
 * Checkpoint files: a round trip is bit-exact, and every kind of damage or
 * mismatch is refused with a message naming it (never a crash, never a
 * silent load): flipped bits in the payload and in the header, truncation,
 * an empty file, a foreign file, a newer format version, other dims or
 * settings, a missing file. Plain C, no MPI.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "train.h"

static int passed, failed;
static char path[256];

static void verdict(int ok, const char *what, const char *detail) {
  ok ? passed++ : failed++;
  printf("%s %s%s%s\n", ok ? "ok  " : "FAIL", what, detail ? ": " : "", detail ? detail : "");
}

static long file_size(void) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

static void patch(long off, unsigned char x) {
  FILE *f = fopen(path, "r+b");
  unsigned char b;
  fseek(f, off, SEEK_SET);
  if (fread(&b, 1, 1, f) != 1) b = 0;
  b ^= x;
  fseek(f, off, SEEK_SET);
  fwrite(&b, 1, 1, f);
  fclose(f);
}

/* expect a load failure whose message contains `needle` */
static void expect_reject(const char *what, const ckpt_meta *meta, const char *needle, real *buf) {
  char err[400] = "";
  long step = -1;
  int rc = ckpt_load(path, meta, &step, buf, buf + meta->nparams, buf + 2 * meta->nparams, err,
                     sizeof err);
  verdict(rc != TRAIN_OK && strstr(err, needle) != NULL && step == -1, what, err);
}

int main(void) {
  model_dims dims = {8, 2, 4, ATTN_LINEAR, 1};
  model_layout m;
  char err[400];
  snprintf(path, sizeof path, "/tmp/tcoll_train_ckpt_test_%d.bin", (int)getpid());
  if (model_layout_init(&m, &dims, err, sizeof err) != TRAIN_OK) return 1;
  size_t n = m.nparams;
  ckpt_meta meta = {dims, 42, 16, 100, 10, 3e-3, n};
  real *a = malloc(3 * n * sizeof *a), *b = malloc(3 * n * sizeof *b);
  uint64_t st = 5;
  for (size_t i = 0; i < 3 * n; i++) a[i] = (real)train_gauss(&st);

  int rc = ckpt_save(path, &meta, 37, a, a + n, a + 2 * n, err, sizeof err);
  verdict(rc == TRAIN_OK, "save", rc ? err : NULL);
  char tmp[300];
  snprintf(tmp, sizeof tmp, "%s.tmp", path);
  verdict(access(tmp, F_OK) != 0, "no temporary file left behind", NULL);
  long step = 0;
  memset(b, 0, 3 * n * sizeof *b);
  rc = ckpt_load(path, &meta, &step, b, b + n, b + 2 * n, err, sizeof err);
  verdict(rc == TRAIN_OK && step == 37 && memcmp(a, b, 3 * n * sizeof *a) == 0,
          "round trip is bit-exact", rc ? err : NULL);

  long size = file_size();
  /* damage, then restore by saving again */
  static const struct {
    const char *what;
    long off; /* negative: from the end */
  } flips[] = {{"flipped bit in the parameters", 80 + 3},
               {"flipped bit in Adam v", -8 - 5},
               {"flipped bit in the header dims", 16},
               {"flipped bit in the stored checksum", -1}};
  for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
    ckpt_save(path, &meta, 37, a, a + n, a + 2 * n, err, sizeof err);
    patch(flips[i].off >= 0 ? flips[i].off : size + flips[i].off, 0x10);
    expect_reject(flips[i].what, &meta, "checksum mismatch", b);
  }
  ckpt_save(path, &meta, 37, a, a + n, a + 2 * n, err, sizeof err);
  if (truncate(path, size - 100) == 0) expect_reject("truncated file", &meta, "checksum", b);
  if (truncate(path, 0) == 0) expect_reject("empty file", &meta, "truncated", b);
  FILE *f = fopen(path, "wb");
  for (int i = 0; i < 4000; i++) fputc("not a checkpoint\n"[i % 17], f);
  fclose(f);
  expect_reject("foreign file", &meta, "bad magic", b);
  ckpt_save(path, &meta, 37, a, a + n, a + 2 * n, err, sizeof err);
  patch(8, 0x02); /* version 1 -> 3 */
  expect_reject("newer format version", &meta, "format version", b);

  /* valid file, other settings */
  ckpt_save(path, &meta, 37, a, a + n, a + 2 * n, err, sizeof err);
  ckpt_meta other = meta;
  other.dims.width = 16;
  expect_reject("other width", &other, "width is 8 in the checkpoint, 16 requested", b);
  other = meta;
  other.dims.attn = ATTN_SOFTMAX;
  expect_reject("other attention", &other, "mismatch: attn", b);
  other = meta;
  other.seed = 43;
  expect_reject("other seed", &other, "mismatch: seed", b);
  other = meta;
  other.lr = 1e-3;
  expect_reject("other lr", &other, "mismatch: lr", b);
  other = meta;
  other.steps = 30;
  expect_reject("checkpoint beyond --steps", &other, "mismatch: steps", b);
  unlink(path);
  expect_reject("missing file", &meta, "cannot open", b);
  free(a);
  free(b);
  printf("%d passed, %d failed\n", passed, failed);
  return failed != 0;
}
