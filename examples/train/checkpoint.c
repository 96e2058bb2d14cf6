/*
 * Checkpoint files: everything a resumed run needs to continue bit-identical
 * to an uninterrupted one (parameters, both Adam moments, the step), plus
 * the settings that determine the trajectory, so that a resume with other
 * settings is refused instead of silently diverging.
 *
 * Layout (host byte order, i.e. little-endian on every machine we run on;
 * a big-endian reader fails the magic/dims checks rather than misreading):
 *   0   char[8]  magic "TCOLLTRN"
 *   8   u32      format version (CKPT_VERSION)
 *   12  u32      bytes per real (4: float32 build, 8: float64 build)
 *   16  i32 x 8  width, layers, pairs, attn, shift, batch, steps, warmup
 *   48  f64      lr
 *   56  u64      seed
 *   64  u64      nparams
 *   72  u64      step (number of completed steps)
 *   80  real[nparams] x 3   parameters, Adam m, Adam v
 *   end u64      FNV-1a 64 of every byte before it
 *
 * Atomicity: the file is written to PATH.tmp, fsync'ed, renamed over PATH
 * and the directory fsync'ed, so a crash at any moment leaves either the old
 * complete checkpoint or the new one, never a torn file.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train.h"

#define CKPT_MAGIC "TCOLLTRN"
#define CKPT_VERSION 1u
#define CKPT_HEADER 80

static void put(unsigned char *buf, size_t *off, const void *v, size_t n) {
  memcpy(buf + *off, v, n);
  *off += n;
}

static void header_encode(unsigned char *h, const ckpt_meta *meta, long step) {
  size_t off = 0;
  uint32_t version = CKPT_VERSION, rb = (uint32_t)sizeof(real);
  int32_t ints[8] = {meta->dims.width, meta->dims.layers, meta->dims.pairs,
                     (int32_t)meta->dims.attn, meta->dims.shift, meta->batch,
                     meta->steps, meta->warmup};
  uint64_t st = (uint64_t)step;
  put(h, &off, CKPT_MAGIC, 8);
  put(h, &off, &version, 4);
  put(h, &off, &rb, 4);
  put(h, &off, ints, sizeof ints);
  put(h, &off, &meta->lr, 8);
  put(h, &off, &meta->seed, 8);
  put(h, &off, &meta->nparams, 8);
  put(h, &off, &st, 8);
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

int ckpt_save(const char *path, const ckpt_meta *meta, long step, const real *params,
              const real *m, const real *v, char *err, size_t errlen) {
  int rc = TRAIN_EIO, fd = -1;
  size_t plen = strlen(path);
  char *tmp = malloc(plen + 5), *dircopy = strdup(path);
  unsigned char h[CKPT_HEADER];
  if (!tmp || !dircopy) {
    snprintf(err, errlen, "out of memory");
    rc = TRAIN_ENOMEM;
    goto done;
  }
  memcpy(tmp, path, plen);
  memcpy(tmp + plen, ".tmp", 5);
  header_encode(h, meta, step);
  size_t bytes = (size_t)meta->nparams * sizeof(real);
  uint64_t sum = hash_bytes(h, sizeof h, HASH_INIT);
  sum = hash_bytes(params, bytes, sum);
  sum = hash_bytes(m, bytes, sum);
  sum = hash_bytes(v, bytes, sum);
  fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0 || write_all(fd, h, sizeof h) || write_all(fd, params, bytes) ||
      write_all(fd, m, bytes) || write_all(fd, v, bytes) || write_all(fd, &sum, 8) ||
      fsync(fd)) {
    snprintf(err, errlen, "checkpoint %s: writing %s failed: %s", path, tmp, strerror(errno));
    goto done;
  }
  if (close(fd)) {
    fd = -1;
    snprintf(err, errlen, "checkpoint %s: closing %s failed: %s", path, tmp, strerror(errno));
    goto done;
  }
  fd = -1;
  if (rename(tmp, path)) {
    snprintf(err, errlen, "checkpoint %s: rename from %s failed: %s", path, tmp,
             strerror(errno));
    goto done;
  }
  /* make the rename itself durable */
  int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  rc = TRAIN_OK;
done:
  if (fd >= 0) close(fd);
  if (rc != TRAIN_OK && tmp) unlink(tmp);
  free(tmp);
  free(dircopy);
  return rc;
}

int ckpt_load(const char *path, const ckpt_meta *expect, long *step, real *params, real *m,
              real *v, char *err, size_t errlen) {
  int rc = TRAIN_ECKPT;
  unsigned char *buf = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "checkpoint %s: cannot open: %s", path, strerror(errno));
    return TRAIN_EIO;
  }
  struct stat sb;
  if (fstat(fileno(f), &sb) || sb.st_size < 0) {
    snprintf(err, errlen, "checkpoint %s: cannot stat: %s", path, strerror(errno));
    fclose(f);
    return TRAIN_EIO;
  }
  size_t size = (size_t)sb.st_size;
  if (size < CKPT_HEADER + 8) {
    snprintf(err, errlen, "checkpoint %s: truncated or not a checkpoint (%zu bytes)", path,
             size);
    goto done;
  }
  buf = malloc(size);
  if (!buf) {
    snprintf(err, errlen, "checkpoint %s: out of memory (%zu bytes)", path, size);
    rc = TRAIN_ENOMEM;
    goto done;
  }
  if (fread(buf, 1, size, f) != size) {
    snprintf(err, errlen, "checkpoint %s: read failed", path);
    rc = TRAIN_EIO;
    goto done;
  }
  if (memcmp(buf, CKPT_MAGIC, 8) != 0) {
    snprintf(err, errlen, "checkpoint %s: not a tcoll-train checkpoint (bad magic)", path);
    goto done;
  }
  uint32_t version, rb;
  memcpy(&version, buf + 8, 4);
  memcpy(&rb, buf + 12, 4);
  if (version != CKPT_VERSION) {
    snprintf(err, errlen, "checkpoint %s: format version %u, this program reads %u", path,
             version, CKPT_VERSION);
    goto done;
  }
  if (rb != sizeof(real)) {
    snprintf(err, errlen, "checkpoint %s: written by a %u-byte-real build, this is %s", path,
             rb, TRAIN_PRECISION);
    goto done;
  }
  /* the file's checksum is verified before its fields are believed, so that
   * a flipped bit in the header reads as corruption, not as a mismatch */
  size_t expect_size = CKPT_HEADER + 3 * (size_t)expect->nparams * sizeof(real) + 8;
  uint64_t stored;
  memcpy(&stored, buf + size - 8, 8);
  if (hash_bytes(buf, size - 8, HASH_INIT) != stored) {
    snprintf(err, errlen,
             "checkpoint %s: checksum mismatch: the file is corrupt or truncated (%zu bytes)",
             path, size);
    goto done;
  }
  unsigned char want[CKPT_HEADER];
  header_encode(want, expect, 0);
  static const char *const field[] = {"width", "layers", "pairs", "attn", "shift",
                                      "batch", "steps",  "warmup"};
  for (int i = 0; i < 8; i++) {
    int32_t got, exp;
    memcpy(&got, buf + 16 + 4 * i, 4);
    memcpy(&exp, want + 16 + 4 * i, 4);
    if (got != exp) {
      snprintf(err, errlen, "checkpoint %s: mismatch: %s is %d in the checkpoint, %d requested",
               path, field[i], (int)got, (int)exp);
      goto done;
    }
  }
  double lr;
  uint64_t seed, np, st;
  memcpy(&lr, buf + 48, 8);
  memcpy(&seed, buf + 56, 8);
  memcpy(&np, buf + 64, 8);
  memcpy(&st, buf + 72, 8);
  if (memcmp(&lr, &expect->lr, 8) != 0) {
    snprintf(err, errlen, "checkpoint %s: mismatch: lr is %g in the checkpoint, %g requested",
             path, lr, expect->lr);
    goto done;
  }
  if (seed != expect->seed) {
    snprintf(err, errlen,
             "checkpoint %s: mismatch: seed is %llu in the checkpoint, %llu requested", path,
             (unsigned long long)seed, (unsigned long long)expect->seed);
    goto done;
  }
  if (np != expect->nparams || size != expect_size) {
    snprintf(err, errlen, "checkpoint %s: mismatch: %llu parameters (%zu bytes), expected %llu",
             path, (unsigned long long)np, size, (unsigned long long)expect->nparams);
    goto done;
  }
  if (st > (uint64_t)expect->steps) {
    snprintf(err, errlen, "checkpoint %s: step %llu is beyond --steps %d", path,
             (unsigned long long)st, (int)expect->steps);
    goto done;
  }
  size_t bytes = (size_t)np * sizeof(real);
  memcpy(params, buf + CKPT_HEADER, bytes);
  memcpy(m, buf + CKPT_HEADER + bytes, bytes);
  memcpy(v, buf + CKPT_HEADER + 2 * bytes, bytes);
  *step = (long)st;
  rc = TRAIN_OK;
done:
  free(buf);
  fclose(f);
  return rc;
}
