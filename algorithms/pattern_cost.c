/* Cost helpers shared by every algorithm's cost(): the α-β-γ model. */
#include <stdarg.h>
#include <stdio.h>

#include "patterns.h"

const tcoll_link_model *tcoll__link(const tcoll_comm *c) {
  return &c->model.level[c->num_nodes > 1 ? TCOLL_LEVEL_NETWORK : TCOLL_LEVEL_NODE];
}

double tcoll__cost_messages(const tcoll_comm *c, double messages, double bytes) {
  const tcoll_link_model *l = tcoll__link(c);
  return messages * l->alpha + bytes * l->beta;
}

double tcoll__cost_reduce(const tcoll_comm *c, double bytes) { return bytes * tcoll__link(c)->gamma; }

double tcoll__cost_fold(const tcoll_comm *c, const tcoll_call *call) {
  if (tcoll__pow2_floor(c->size) == c->size) return 0.0;
  double n = (double)call->bytes;
  /* one vector in, reduced, and one vector back out */
  return 2 * tcoll__cost_messages(c, 1, n) + tcoll__cost_reduce(c, n);
}

bool tcoll__decline(char *why, size_t whylen, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(why, whylen, fmt, ap);
  va_end(ap);
  return false;
}

bool tcoll__check_accepts_all(const tcoll_comm *c, const tcoll_call *call, char *why, size_t whylen) {
  (void)c, (void)call, (void)why, (void)whylen;
  return true;
}
