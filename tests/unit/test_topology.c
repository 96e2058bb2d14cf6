/*
 * Topology and the per-level cost model without MPI: the real machines'
 * hwloc XML files (../shared/topologies, counts asserted because hwloc falls
 * back to the host silently on a bad path), synthetic topologies, the place
 * of a CPU set, the level between ranks and each algorithm's cost charged at
 * the levels its steps cross.
 */
#include <check.h>

#include "check_run.h"
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patterns.h"
#include "topology.h"

/* A communicator of nodes x rpn ranks (consecutive ranks per node) whose
 * places are given (NULL: unknown), with one α per level and β = γ = 0. */
typedef struct {
  tcoll_comm c;
  int node_of_rank[64];
  tcoll_place place[64];
} fake;

static void fake_init(fake *f, int nodes, int rpn, const tcoll_place *places) {
  memset(f, 0, sizeof *f);
  f->c.mpi = MPI_COMM_NULL;
  f->c.size = nodes * rpn;
  f->c.num_nodes = nodes;
  f->c.local_size = rpn;
  for (int r = 0; r < f->c.size; r++) {
    f->node_of_rank[r] = r / rpn;
    if (places) f->place[r] = places[r % rpn];
  }
  f->c.node_of_rank = f->node_of_rank;
  f->c.place = places ? f->place : NULL;
  f->c.segment_bytes = 1 << 20;
  f->c.scratch_keep_bytes = 1 << 20;
  /* α of level l = 10^l: a cost's digits count the messages per level */
  for (int l = 0; l < TCOLL_NUM_LEVELS; l++) f->c.model.level[l] = (tcoll_link_model){pow(10, l), 0};
}

static const char *topology_dir(void) {
  const char *d = getenv("TCOLL_TOPOLOGY_DIR");
  return d && *d ? d : "../shared/topologies";
}

/* Loads dir/name; false (test skipped by the caller) if the file is absent. */
static bool load_xml(const char *name, hwloc_topology_t *topo) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", topology_dir(), name);
  FILE *f = fopen(path, "r");
  if (!f) {
    fprintf(stderr, "SKIP %s: not found (the topology files are in ../shared/topologies)\n", path);
    return false;
  }
  fclose(f);
  ck_assert_int_eq(hwloc_topology_init(topo), 0);
  ck_assert_int_eq(hwloc_topology_set_xml(*topo, path), 0);
  ck_assert_int_eq(hwloc_topology_load(*topo), 0);
  ck_assert_int_eq(hwloc_topology_is_thissystem(*topo), 0); /* not the host */
  return true;
}

static int count(hwloc_topology_t t, hwloc_obj_type_t type) { return hwloc_get_nbobjs_by_type(t, type); }

/* Every real machine file loads with the counts documented in its README. */
START_TEST(test_xml_counts) {
  static const struct {
    const char *file;
    int packages, numa, l3, cores, pus;
  } rows[] = {
      {"32em64t-2n8c2t-pci-normalio.xml", 2, 2, 2, 16, 32},
      {"192em64t-24n8c2t.xml", 24, 24, 24, 192, 384},
      {"nvidiaDGX2.xml", 2, 2, 2, 4, 4},
      {"20em64t-hybrid-1p6c2t+2ca4co1t.xml", 1, 1, 1, 14, 20},
      {"eas-tioga.xml", 1, 4, 8, 64, 128},
      {"epyc-corona.xml", 2, 8, 16, 48, 96},
      {"g4dnmetal.xml", 2, 2, 2, 48, 96},
      {"coral-lassen.xml", 2, 2, 20, 40, 160},
      {"arm64-ulna-hwloc1.xml", 2, 2, 2, 64, 256},
      {"knl-snc4-flat-hwloc1.xml", 1, 8, 0, 68, 272},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    hwloc_topology_t t;
    if (!load_xml(rows[i].file, &t)) return;
    ck_assert_msg(count(t, HWLOC_OBJ_PACKAGE) == rows[i].packages && count(t, HWLOC_OBJ_NUMANODE) == rows[i].numa &&
                      count(t, HWLOC_OBJ_L3CACHE) == rows[i].l3 && count(t, HWLOC_OBJ_CORE) == rows[i].cores &&
                      count(t, HWLOC_OBJ_PU) == rows[i].pus,
                  "%s loaded %d/%d/%d/%d/%d", rows[i].file, count(t, HWLOC_OBJ_PACKAGE),
                  count(t, HWLOC_OBJ_NUMANODE), count(t, HWLOC_OBJ_L3CACHE), count(t, HWLOC_OBJ_CORE),
                  count(t, HWLOC_OBJ_PU));
    /* a rank bound to one core has a package everywhere, and an L3 where
     * the machine has them; bound to everything, it is unbound and placed
     * only where the machine has a single package */
    tcoll_place p;
    hwloc_obj_t core = hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, 0);
    ck_assert(tcoll__place_of_cpuset(t, core->cpuset, &p));
    ck_assert_int_eq(p.package, 0);
    ck_assert_int_eq(p.numa >= 0, 1);
    ck_assert_int_eq(p.l3 >= 0, rows[i].l3 > 0);
    ck_assert(!tcoll__place_of_cpuset(t, hwloc_topology_get_topology_cpuset(t), &p));
    ck_assert_int_eq(p.package, rows[i].packages == 1 ? 0 : -1); /* known only if there is one */
    hwloc_topology_destroy(t);
  }
}
END_TEST

/* The place of core i of a topology. */
static tcoll_place core_place(hwloc_topology_t t, int i) {
  tcoll_place p;
  ck_assert(tcoll__place_of_cpuset(t, hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, (unsigned)i)->cpuset, &p));
  return p;
}

/* epyc-corona: 2 packages x 4 NUMA x 2 L3 x 3 cores. Ranks on cores 0, 1
 * (same L3), 3 (same NUMA), 6 (same package), 24 (other package). */
START_TEST(test_levels_epyc) {
  hwloc_topology_t t;
  if (!load_xml("epyc-corona.xml", &t)) return;
  const int cores[] = {0, 1, 3, 6, 24};
  tcoll_place places[5];
  for (int i = 0; i < 5; i++) places[i] = core_place(t, cores[i]);
  hwloc_topology_destroy(t);
  fake f;
  fake_init(&f, 2, 5, places);
  const tcoll_level expect[] = {TCOLL_LEVEL_L3, TCOLL_LEVEL_L3, TCOLL_LEVEL_NUMA, TCOLL_LEVEL_PACKAGE,
                                TCOLL_LEVEL_NODE};
  for (int r = 0; r < 5; r++) {
    ck_assert_msg(tcoll__level_between(&f.c, 0, r) == expect[r], "rank %d: %s", r,
                  tcoll__level_name(tcoll__level_between(&f.c, 0, r)));
    ck_assert_int_eq(tcoll__level_between(&f.c, 0, r + 5), TCOLL_LEVEL_NETWORK); /* other node */
  }
  ck_assert_int_eq(tcoll__level_between(&f.c, 5, 7), TCOLL_LEVEL_NUMA); /* node 1 alike */
  ck_assert_int_eq(tcoll__span_level(&f.c), TCOLL_LEVEL_NETWORK);
  /* unknown places are charged at the node level, not guessed */
  fake g;
  fake_init(&g, 1, 4, NULL);
  ck_assert_int_eq(tcoll__level_between(&g.c, 0, 1), TCOLL_LEVEL_NODE);
}
END_TEST

/* Synthetic: HWLOC_SYNTHETIC-style descriptions give the levels asked for. */
START_TEST(test_synthetic) {
  hwloc_topology_t t;
  ck_assert_int_eq(hwloc_topology_init(&t), 0);
  ck_assert_int_eq(hwloc_topology_set_synthetic(t, "pack:2 [numa] l3:4 core:4 pu:1"), 0);
  ck_assert_int_eq(hwloc_topology_load(t), 0);
  ck_assert_int_eq(count(t, HWLOC_OBJ_PACKAGE), 2);
  ck_assert_int_eq(count(t, HWLOC_OBJ_NUMANODE), 2);
  ck_assert_int_eq(count(t, HWLOC_OBJ_L3CACHE), 8);
  tcoll_place a = core_place(t, 0), b = core_place(t, 4), d = core_place(t, 16);
  ck_assert_int_eq(a.l3, 0);
  ck_assert_int_eq(b.l3, 1);
  ck_assert_int_eq(b.numa, 0);
  ck_assert_int_eq(d.package, 1);
  /* a binding over two cores of different L3s of one package: package and
   * NUMA known, L3 not */
  hwloc_bitmap_t two = hwloc_bitmap_dup(hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, 0)->cpuset);
  hwloc_bitmap_or(two, two, hwloc_get_obj_by_type(t, HWLOC_OBJ_CORE, 4)->cpuset);
  tcoll_place p;
  ck_assert(tcoll__place_of_cpuset(t, two, &p));
  ck_assert_int_eq(p.package, 0);
  ck_assert_int_eq(p.l3, -1);
  hwloc_bitmap_free(two);
  hwloc_topology_destroy(t);
}
END_TEST

static double cost(const fake *f, tcoll_coll coll, const char *name, size_t bytes) {
  tcoll_call call = {.coll = coll, .count = bytes / 4, .dtype = TCOLL_FLOAT32, .op = TCOLL_SUM,
                     .elem_size = 4, .bytes = bytes};
  const tcoll_algorithm *a = tcoll__algorithm_find(coll, name);
  ck_assert_ptr_nonnull(a);
  return a->cost(&f->c, &call);
}

/* Each step charged at the level it crosses. α_level = 10^level, so the
 * decimal digits of a cost count messages per level (l3 = units,
 * node = thousands, network = ten-thousands). 2 nodes x 4 ranks, each node's
 * ranks in one L3. */
START_TEST(test_costs_per_level) {
  const tcoll_place same_l3 = {0, 0, 0, 1};
  tcoll_place places[4] = {same_l3, same_l3, same_l3, same_l3};
  fake f;
  fake_init(&f, 2, 4, places);
  /* ring: 2 of its 8 hops leave the node, so every step waits for the
   * network: 2(p-1) = 14 messages, all at the network level */
  ck_assert_double_eq_tol(cost(&f, TCOLL_ALLREDUCE, "ring", 1024), 14 * 1e4, 1e-6);
  /* recursive doubling: distances 1 and 2 stay in the L3, 4 leaves the node */
  ck_assert_double_eq_tol(cost(&f, TCOLL_ALLREDUCE, "recursive_doubling", 1024), 2 + 1e4, 1e-6);
  /* binomial tree: up and down, the same three distances */
  ck_assert_double_eq_tol(cost(&f, TCOLL_ALLREDUCE, "binomial_tree", 1024), 2 * (2 + 1e4), 1e-6);
  /* rabenseifner: halving and doubling, 3 rounds each */
  ck_assert_double_eq_tol(cost(&f, TCOLL_ALLREDUCE, "rabenseifner", 1024), 2 * (2 + 1e4), 1e-6);
  /* bcast tree: the same 3 rounds once; reduce_scatter pairwise: step k
   * sends to rank + k, and every k in 1..7 pairs some rank across nodes */
  ck_assert_double_eq_tol(cost(&f, TCOLL_BCAST, "binomial_tree", 1024), 2 + 1e4, 1e-6);
  ck_assert_double_eq_tol(cost(&f, TCOLL_REDUCE_SCATTER, "pairwise", 1024), 7 * 1e4, 1e-6);
  /* one node of 4 ranks in two L3s of one NUMA node: {0,1} {2,3} */
  tcoll_place two[4] = {{0, 0, 0, 1}, {0, 0, 0, 1}, {0, 0, 1, 1}, {0, 0, 1, 1}};
  fake g;
  fake_init(&g, 1, 4, two);
  ck_assert_double_eq_tol(cost(&g, TCOLL_ALLREDUCE, "recursive_doubling", 1024), 1 + 10, 1e-9);
  ck_assert_double_eq_tol(cost(&g, TCOLL_ALLREDUCE, "ring", 1024), 6 * 10, 1e-9);
  /* bytes: β = 1 at the network only: the doubling allgather's last round
   * (distance 4) carries 4 of its 7 blocks across the network, from all 4
   * ranks of a node at once through its one link (4 sharers); the ring has
   * one rank per node crossing at every step */
  for (int l = 0; l < TCOLL_NUM_LEVELS; l++) f.c.model.level[l] = (tcoll_link_model){0, 0};
  f.c.model.level[TCOLL_LEVEL_NETWORK].beta = 1;
  ck_assert_int_eq(tcoll__network_sharers(&f.c, 4, true), 4);
  ck_assert_int_eq(tcoll__network_sharers(&f.c, 1, false), 1);
  ck_assert_int_eq(tcoll__network_sharers(&f.c, 2, false), 2);
  ck_assert_int_eq(tcoll__network_sharers(&f.c, 1, true), 1); /* nothing crosses */
  ck_assert_double_eq_tol(cost(&f, TCOLL_ALLGATHER, "recursive_doubling", 1024), 4 * 4 * 1024, 1e-6);
  ck_assert_double_eq_tol(cost(&f, TCOLL_ALLGATHER, "ring", 1024), 7 * 1024, 1e-6);
}
END_TEST

int main(void) {
  Suite *s = suite_create("topology");
  TCase *tc = tcase_create("topology");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_xml_counts);
  tcase_add_test(tc, test_levels_epyc);
  tcase_add_test(tc, test_synthetic);
  tcase_add_test(tc, test_costs_per_level);
  suite_add_tcase(s, tc);
  return check_run(s);
}
