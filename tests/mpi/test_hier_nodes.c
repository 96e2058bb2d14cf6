/*
 * The node tables behind the hierarchical allreduce (tcoll_internal.h:
 * node_of_rank, local_rank, min/max_local_size, slice_group)
 * and the per-node shared segments, for every TCOLL_RANKS_PER_NODE from 1
 * to p + 1 at the run's size: even splits, uneven ones (3+2 at p = 5,
 * 3+3+2 at p = 8) and one node. The expectations come from k alone (nodes
 * of k consecutive ranks), not from the library's split. Each rank also
 * writes its rank into its slot of its node's segment and reads every
 * peer's, which proves that a segment joins exactly the ranks of its node,
 * in local-rank order.
 *
 * Links the static library: the tables are internal.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "check_mpi.h"
#include "shm.h"
#include "tcoll_internal.h"

static int P, R;

static tcoll_comm *create_with_rpn(int k) {
  char v[16];
  snprintf(v, sizeof v, "%d", k);
  setenv("TCOLL_RANKS_PER_NODE", v, 1);
  tcoll_comm *c = NULL;
  tcoll_status st = tcoll_comm_create(MPI_COMM_WORLD, &c);
  unsetenv("TCOLL_RANKS_PER_NODE");
  ck_assert_msg(st == TCOLL_OK, "create with %d ranks per node: %s", k, tcoll_last_error());
  return c;
}

/* Checks one communicator against nodes of k consecutive ranks; returns the
 * number of failed expectations on this rank. */
static int check_tables(const tcoll_comm *c, int k) {
  int bad = 0;
#define EXPECT(cond)                                                                        \
  do {                                                                                      \
    if (!(cond)) {                                                                          \
      bad++;                                                                                \
      fprintf(stderr, "rank %d/%d, %d per node: %s fails (line %d)\n", R, P, k, #cond, __LINE__); \
    }                                                                                       \
  } while (0)
  const int nodes = (P + k - 1) / k, last = P - (nodes - 1) * k;
  const int min = nodes == 1 ? P : (last < k ? last : k), max = nodes == 1 ? P : k;
  EXPECT(c->num_nodes == nodes);
  EXPECT(c->min_local_size == min);
  EXPECT(c->max_local_size == max);
  EXPECT(c->node == R / k);
  EXPECT(c->local_rank == R % k);
  for (int r = 0; r < P; r++) EXPECT(c->node_of_rank[r] == r / k);
  if (R % k < min) {
    EXPECT(c->slice_group != NULL);
    for (int i = 0; i < nodes && c->slice_group; i++) EXPECT(c->slice_group[i] == i * k + R % k);
  } else {
    EXPECT(c->slice_group == NULL); /* an extra rank of a larger node */
  }
  /* segments: node_shm on several nodes, shm on one (not both) */
  const tcoll_shm *s = nodes > 1 ? c->node_shm : c->shm;
  EXPECT(nodes > 1 ? c->shm == NULL : c->node_shm == NULL);
  if (P > 1 || nodes > 1) {
    EXPECT(s != NULL);
    if (s) {
      EXPECT(s->size == (R / k == nodes - 1 ? last : k) || nodes == 1);
      EXPECT(s->rank == (nodes == 1 ? R : R % k));
    }
  }
  return bad;
#undef EXPECT
}

/* Each rank's own rank in its slot; every peer's slot read back. */
static int check_segment(tcoll_comm *c, int k) {
  tcoll_shm *s = c->num_nodes > 1 ? c->node_shm : c->shm;
  if (!s) return 0;
  int bad = 0;
  *(volatile int *)tcoll__shm_slot(s, s->rank, 0) = R;
  MPI_Barrier(MPI_COMM_WORLD); /* also orders the stores before the loads */
  for (int q = 0; q < s->size; q++) {
    int got = *(volatile int *)tcoll__shm_slot(s, q, 0);
    int want = c->num_nodes > 1 ? (R / k) * k + q : q;
    if (got != want) {
      bad++;
      fprintf(stderr, "rank %d, %d per node: slot of segment rank %d holds %d, expected rank %d\n", R, k, q, got, want);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD); /* nobody rewrites a slot before all have read */
  return bad;
}

START_TEST(test_node_tables) {
  int failed = 0;
  for (int k = 1; k <= P + 1; k++) {
    tcoll_comm *c = create_with_rpn(k);
    failed += check_tables(c, k);
    failed += check_segment(c, k);
    /* the hierarchical allreduce accepts every one of these splits */
    tcoll_call call = {.coll = TCOLL_ALLREDUCE, .count = 1, .dtype = TCOLL_INT32, .op = TCOLL_SUM, .elem_size = 4, .bytes = 4};
    char why[256] = "";
    if (!tcoll__allreduce_hierarchical.check(c, &call, why, sizeof why)) {
      failed++;
      fprintf(stderr, "rank %d, %d per node: hierarchical declines: %s\n", R, k, why);
    }
    tcoll_comm_destroy(c);
  }
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  ck_assert_msg(any == 0, "node tables wrong on some rank (details on stderr)");
}
END_TEST

/* Without node segments the hierarchical allreduce declines, saying why. */
START_TEST(test_declines_without_segments) {
  tcoll_comm *c = create_with_rpn(1);
  tcoll_call call = {.coll = TCOLL_ALLREDUCE, .count = 1, .dtype = TCOLL_INT32, .op = TCOLL_SUM, .elem_size = 4, .bytes = 4};
  char why[256] = "";
  tcoll_shm *kept = c->node_shm;
  c->node_shm = NULL;
  snprintf(c->node_shm_unavailable, sizeof c->node_shm_unavailable, "test reason");
  const bool ok = tcoll__allreduce_hierarchical.check(c, &call, why, sizeof why);
  c->node_shm = kept;
  if (P > 1) {
    ck_assert(!ok);
    ck_assert_ptr_nonnull(strstr(why, "test reason"));
  }
  tcoll_comm_destroy(c);
}
END_TEST

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  MPI_Comm_rank(MPI_COMM_WORLD, &R);
  Suite *s = suite_create("hier_nodes");
  TCase *tc = tcase_create("tables");
  tcase_set_timeout(tc, 0);
  tcase_add_test(tc, test_node_tables);
  tcase_add_test(tc, test_declines_without_segments);
  suite_add_tcase(s, tc);
  int status = check_mpi_run(s);
  MPI_Finalize();
  return status;
}
