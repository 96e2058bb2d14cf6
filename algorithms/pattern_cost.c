/* Cost helpers shared by every algorithm's cost(): the α-β-γ model, each
 * step charged at the farthest link level its messages cross (a step ends
 * when its slowest message arrives). A step that crosses the network is
 * charged for the link its node's ranks share: β times the number of them
 * sending off-node at once (tcoll__network_sharers). A ring has one such
 * rank per node; recursive doubling at distances >= the node size has all. */
#include <stdarg.h>
#include <stdio.h>

#include "patterns.h"

const tcoll_link_model *tcoll__link(const tcoll_comm *c) { return &c->model.level[tcoll__span_level(c)]; }

double tcoll__crowd_seconds(const tcoll_comm *c) {
  return c->ranks_per_cpu > 1 ? (c->ranks_per_cpu - 1) * TCOLL_CROWD_SECONDS : 0;
}

/* α of a message at `level`: across the network plus the crowding term. */
static double alpha_at(const tcoll_comm *c, tcoll_level level) {
  return c->model.level[level].alpha + (level == TCOLL_LEVEL_NETWORK ? tcoll__crowd_seconds(c) : 0);
}

double tcoll__cost_messages(const tcoll_comm *c, double messages, double bytes) {
  const tcoll_level level = tcoll__span_level(c);
  return messages * alpha_at(c, level) + bytes * c->model.level[level].beta;
}

/* A step at `level`: the network's β is shared by the node's senders. */
static double step_cost(const tcoll_comm *c, tcoll_level level, int distance, bool xor_pairs, double messages,
                        double bytes) {
  const tcoll_link_model *l = &c->model.level[level];
  const double sharers = level == TCOLL_LEVEL_NETWORK ? tcoll__network_sharers(c, distance, xor_pairs) : 1;
  return messages * alpha_at(c, level) + bytes * sharers * l->beta;
}

double tcoll__cost_at(const tcoll_comm *c, int distance, double messages, double bytes) {
  return step_cost(c, tcoll__level_at_distance(c, distance), distance, false, messages, bytes);
}

static double cost_xor(const tcoll_comm *c, int distance, double messages, double bytes) {
  return step_cost(c, tcoll__level_at_xor(c, distance), distance, true, messages, bytes);
}

double tcoll__cost_each_round(const tcoll_comm *c, int rounds, double messages, double bytes) {
  double t = 0;
  for (int k = 0; k < rounds; k++) t += cost_xor(c, 1 << k, messages, bytes);
  return t;
}

double tcoll__cost_doubling(const tcoll_comm *c, int rounds, double messages, double total_bytes) {
  double t = 0, share = 1.0 / (double)((1 << rounds) - 1);
  for (int k = 0; k < rounds; k++) t += cost_xor(c, 1 << k, messages, total_bytes * (1 << k) * share);
  return t;
}

/* The reduction runs inside one rank: its γ depends on the dtype's class,
 * not on where the operand came from. */
double tcoll__cost_reduce(const tcoll_comm *c, const tcoll_call *call, double bytes) {
  return bytes * c->model.gamma[tcoll__gamma_class(call->dtype)];
}

double tcoll__cost_fold(const tcoll_comm *c, const tcoll_call *call) {
  if (tcoll__pow2_floor(c->size) == c->size) return 0.0;
  double n = (double)call->bytes;
  /* one vector in, reduced, and one vector back out */
  return 2 * tcoll__cost_at(c, 1, 1, n) + tcoll__cost_reduce(c, call, n);
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
