/* The block partition every schedule agrees on. */
#include <string.h>

#include "patterns.h"

size_t tcoll__block_count(size_t count, int parts, int i) {
  size_t base = count / (size_t)parts, rem = count % (size_t)parts;
  return base + ((size_t)i < rem ? 1 : 0);
}

size_t tcoll__block_offset(size_t count, int parts, int i) {
  size_t base = count / (size_t)parts, rem = count % (size_t)parts;
  size_t ui = (size_t)i;
  return ui * base + (ui < rem ? ui : rem);
}

void tcoll__copy_to_recv(const tcoll_call *call) {
  if (call->sendbuf != call->recvbuf) memcpy(call->recvbuf, call->sendbuf, call->bytes);
}

tcoll_call tcoll__vector_view(const tcoll_call *call, int blocks, void *vector) {
  tcoll_call v = *call;
  v.count = call->count * (size_t)blocks;
  v.bytes = v.count * call->elem_size;
  v.recvbuf = vector;
  return v;
}

void tcoll__copy_own_block(const tcoll_call *call, int rank) {
  void *mine = tcoll__at(call->recvbuf, (size_t)rank * call->count, call->elem_size);
  if (call->sendbuf != mine) memcpy(mine, call->sendbuf, call->bytes);
}

tcoll_status tcoll__accumulator_view(tcoll_comm *c, const tcoll_call *call, tcoll_call *vec) {
  void *acc = NULL;
  tcoll_status s = tcoll__scratch_acc(c, (size_t)c->size * call->bytes, &acc);
  if (s == TCOLL_OK) *vec = tcoll__vector_view(call, c->size, acc);
  return s;
}

void tcoll__deliver_block(const tcoll_call *call, const tcoll_call *vec, int rank) {
  /* the accumulator is scratch, so this copy is safe in place too */
  memcpy(call->recvbuf, tcoll__cat(vec->recvbuf, (size_t)rank * call->count, call->elem_size), call->bytes);
}
