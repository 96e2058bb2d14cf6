/*
 * Multi-query associative recall (MQAR), small: `pairs` distinct keys from
 * tokens 0..31, each with a value from 32..63 (values may repeat), presented
 * as k1 v1 k2 v2 ..., then the same keys again in a random order as queries.
 * At each query position the model must output that key's value; nothing
 * else is scored. Chance is 1/64, or 1/pairs by guessing a value seen.
 *
 * Every sequence is a pure function of (seed, stream, index), so rank r can
 * generate exactly its slice of a global batch without talking to anyone,
 * and a resumed run sees the same data as an uninterrupted one.
 */
#include <math.h>
#include <string.h>

#include "train.h"

uint64_t train_mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

uint64_t hash_bytes(const void *p, size_t n, uint64_t h) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= 0x100000001b3ull;
  }
  return h;
}

/* splitmix64 stream; next() never repeats within 2^64 draws */
typedef struct {
  uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
  r->s += 0x9e3779b97f4a7c15ull;
  return train_mix64(r->s);
}

/* uniform in [0, n) (multiply-shift; the bias, < n / 2^32, is irrelevant here) */
static int rng_below(rng *r, int n) { return (int)(((rng_next(r) >> 32) * (uint64_t)n) >> 32); }

void task_sequence(int pairs, uint64_t seed, uint64_t stream, uint64_t index, int *tokens,
                   int *targets) {
  rng r = {train_mix64(seed) ^ train_mix64(stream * 0x1000193ull) ^ train_mix64(~index)};
  int keys[TASK_KEYS], order[TASK_KEYS], value[TASK_KEYS];
  for (int i = 0; i < TASK_KEYS; i++) keys[i] = i;
  /* partial Fisher-Yates: the first `pairs` entries are distinct random keys */
  for (int i = 0; i < pairs; i++) {
    int j = i + rng_below(&r, TASK_KEYS - i), t = keys[i];
    keys[i] = keys[j];
    keys[j] = t;
    value[i] = TASK_KEYS + rng_below(&r, TASK_VOCAB - TASK_KEYS);
  }
  for (int i = 0; i < pairs; i++) order[i] = i;
  for (int i = pairs - 1; i > 0; i--) {
    int j = rng_below(&r, i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  for (int i = 0; i < pairs; i++) {
    tokens[2 * i] = keys[i];
    tokens[2 * i + 1] = value[i];
    targets[2 * i] = targets[2 * i + 1] = -1;
    tokens[2 * pairs + i] = keys[order[i]];
    targets[2 * pairs + i] = value[order[i]];
  }
}

double train_gauss(uint64_t *state) {
  rng r = {*state};
  double u1 = ((double)(rng_next(&r) >> 11) + 0.5) * 0x1p-53;
  double u2 = (double)(rng_next(&r) >> 11) * 0x1p-53;
  *state = r.s;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
