/*
 * A communicator built by hand for unit tests that never start MPI: p ranks
 * on `nodes` nodes of consecutive ranks (the last one may be smaller), the
 * built-in cost model, the default segment, scratch and chunk sizes. Only
 * what selection, cost() and the tuning code read is set.
 */
#ifndef TCOLL_TEST_FAKE_COMM_H
#define TCOLL_TEST_FAKE_COMM_H

#include <string.h>

#include "tcoll_internal.h"

#define FAKE_COMM_MAX_RANKS 64

static inline tcoll_comm fake_comm(int p, int nodes) {
  static int node_of_rank[FAKE_COMM_MAX_RANKS];
  tcoll_comm c;
  memset(&c, 0, sizeof c);
  c.mpi = MPI_COMM_NULL;
  c.size = p;
  c.num_nodes = nodes;
  c.max_local_size = (p + nodes - 1) / nodes;
  for (int r = 0; r < p && r < FAKE_COMM_MAX_RANKS; r++) node_of_rank[r] = r / c.max_local_size;
  c.node_of_rank = node_of_rank;
  c.model = tcoll__default_cost_model;
  c.segment_bytes = 1 << 20;
  c.scratch_keep_bytes = 1 << 20;
  c.shm_chunk_bytes = 512 << 10;
  return c;
}

#endif
