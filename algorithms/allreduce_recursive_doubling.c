/*
 * allreduce recursive_doubling: log2(p) rounds in which partners at distance
 * 1, 2, 4, ... exchange their whole vectors and both reduce (Thakur,
 * Rabenseifner & Gropp, "Optimization of collective communication
 * operations in MPICH", IJHPCA 2005). Non-powers of two fold in first
 * (pattern_fold.c).
 *
 * Cost (p2 = largest power of two <= p):
 *   log2(p2) (α + n β + n γ)  + fold: 2 (α + n β) + n γ when p != p2
 * Fewest rounds of any algorithm, but every round moves the whole vector:
 * best for small messages.
 * Needs: nothing. Partners compute a+b and b+a, equal bits for the
 * commutative ops tcoll has, so every rank ends with the same bits.
 */
#include "patterns.h"

static double rd_cost(const tcoll_comm *c, const tcoll_call *call) {
  const double n = (double)call->bytes;
  const double rounds = tcoll__ceil_log2(tcoll__pow2_floor(c->size));
  return tcoll__cost_each_round(c, (int)rounds, 1, n) + rounds * tcoll__cost_reduce(c, call, n) +
         tcoll__cost_fold(c, call);
}

/* The exchange rounds of the power-of-two group. */
static tcoll_status rd_exchange(tcoll_comm *c, const tcoll_call *call, const tcoll_fold *f,
                                const void **src) {
  void *tmp = NULL;
  if (f->p2 > 1) {
    tcoll_status s = tcoll__scratch(c, call->bytes, &tmp);
    if (s != TCOLL_OK) return s;
  }
  for (int mask = 1; mask < f->p2; mask <<= 1) {
    int partner = tcoll__fold_real_rank(f, f->vrank ^ mask);
    tcoll_status s = tcoll__sendrecv(c, *src, call->bytes, partner, tmp, call->bytes, partner);
    if (s != TCOLL_OK) return s;
    tcoll__reduce(call->dtype, call->op, call->recvbuf, *src, tmp, call->count);
    *src = call->recvbuf;
  }
  return TCOLL_OK;
}

static tcoll_status rd_run(tcoll_comm *c, const tcoll_call *call) {
  const void *src = call->sendbuf;
  tcoll_fold f = tcoll__fold_plan(c->rank, c->size);
  tcoll_status s = tcoll__fold_in(c, call, &f, &src);
  if (s == TCOLL_OK && f.vrank >= 0) {
    s = rd_exchange(c, call, &f, &src);
    /* p == 1: nothing was reduced into recvbuf */
    if (s == TCOLL_OK && src == call->sendbuf) tcoll__copy_to_recv(call);
  }
  if (s == TCOLL_OK) s = tcoll__fold_out(c, &f, call->recvbuf, call->recvbuf, call->bytes);
  return s;
}

const tcoll_algorithm tcoll__allreduce_recursive_doubling = {
    .name = "recursive_doubling",
    .coll = TCOLL_ALLREDUCE,
    .summary = "log2(p) full-vector exchanges at distance 1, 2, 4, ...; fewest rounds",
    .check = tcoll__check_accepts_all,
    .cost = rd_cost,
    .run = rd_run,
};
