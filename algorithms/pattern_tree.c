/*
 * Binomial trees over virtual ranks v = (rank - root) mod p, so any root
 * works. p = 6, root 0:
 *
 *   reduce (leaves first):  mask 1: 1->0  3->2  5->4
 *                           mask 2: 2->0  (6 absent)
 *                           mask 4: 4->0
 *   broadcast: the same edges in reverse order (4<-0, 2<-0, 1<-0, 3<-2, 5<-4).
 *
 * ceil(log2 p) rounds, each moving the whole vector.
 */
#include "patterns.h"

tcoll_status tcoll__binomial_reduce(tcoll_comm *c, const tcoll_call *call, int root,
                                    const void **src, void *acc) {
  const int p = c->size, v = (c->rank - root + p) % p;
  void *tmp = NULL;
  for (int mask = 1; mask < p; mask <<= 1) {
    if (v & mask) /* our subtree is complete: hand it to the parent */
      return tcoll__send(c, *src, call->bytes, (v - mask + root) % p);
    if (v + mask >= p) continue;
    if (!tmp) {
      tcoll_status s = tcoll__scratch(c, call->bytes, &tmp);
      if (s != TCOLL_OK) return s;
    }
    tcoll_status s = tcoll__recv(c, tmp, call->bytes, (v + mask + root) % p);
    if (s != TCOLL_OK) return s;
    tcoll__reduce(call->dtype, call->op, acc, *src, tmp, call->count);
    *src = acc;
  }
  return TCOLL_OK;
}

tcoll_status tcoll__binomial_bcast(tcoll_comm *c, void *buf, size_t bytes, int root) {
  const int p = c->size, v = (c->rank - root + p) % p;
  int mask = 1;
  while (mask < p) {
    if (v & mask) {
      tcoll_status s = tcoll__recv(c, buf, bytes, (v - mask + root) % p);
      if (s != TCOLL_OK) return s;
      break;
    }
    mask <<= 1;
  }
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (v + mask >= p) continue;
    tcoll_status s = tcoll__send(c, buf, bytes, (v + mask + root) % p);
    if (s != TCOLL_OK) return s;
  }
  return TCOLL_OK;
}
