/*
 * Topology: where each rank sits (package, NUMA node, L3) from its CPU
 * binding, gathered so that every rank holds the same table, and the link
 * level between two ranks that the cost model charges.
 *
 * hwloc honours HWLOC_XMLFILE and HWLOC_SYNTHETIC, so tests can describe any
 * machine. A rank whose binding does not fit inside one object of a level
 * gets -1 there: it is reported, never guessed, and charged at the node
 * level, which is what two ranks free to run anywhere on the node pay.
 */
#include <stdlib.h>

#include "topology.h"

const char *tcoll__level_name(tcoll_level level) {
  static const char *const names[TCOLL_NUM_LEVELS] = {
      [TCOLL_LEVEL_L3] = "l3",     [TCOLL_LEVEL_NUMA] = "numa",       [TCOLL_LEVEL_PACKAGE] = "package",
      [TCOLL_LEVEL_NODE] = "node", [TCOLL_LEVEL_NETWORK] = "network",
  };
  return (unsigned)level < TCOLL_NUM_LEVELS ? names[level] : "?";
}

/* Logical index of the object of `type` containing all of set, -1 if none. */
static int containing(hwloc_topology_t topo, hwloc_obj_type_t type, hwloc_const_cpuset_t set) {
  int n = hwloc_get_nbobjs_by_type(topo, type);
  for (int i = 0; i < n; i++) {
    hwloc_obj_t o = hwloc_get_obj_by_type(topo, type, (unsigned)i);
    if (o && o->cpuset && hwloc_bitmap_isincluded(set, o->cpuset)) return (int)o->logical_index;
  }
  return -1;
}

bool tcoll__place_of_cpuset(hwloc_topology_t topo, hwloc_const_cpuset_t set, tcoll_place *out) {
  out->package = out->numa = out->l3 = -1;
  hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(topo);
  if (hwloc_bitmap_iszero(set)) return false;
  /* An unbound process still has a known place where the machine has only
   * one object of a level (one L3 contains every PU): that is not a guess. */
  out->package = containing(topo, HWLOC_OBJ_PACKAGE, set);
  out->numa = containing(topo, HWLOC_OBJ_NUMANODE, set);
  out->l3 = containing(topo, HWLOC_OBJ_L3CACHE, set);
  return !(hwloc_bitmap_isincluded(all, set) && hwloc_bitmap_weight(all) > 1);
}

/* This process's place; false when unbound or hwloc cannot tell (all -1
 * then, except the levels a whole-machine binding still determines). */
static bool my_place(tcoll_place *out) {
  out->package = out->numa = out->l3 = -1;
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) return false;
  bool ok = false;
  hwloc_bitmap_t set = hwloc_bitmap_alloc();
  /* A topology loaded from XML describes another machine: the binding of
   * this process says nothing about it, so get_cpubind fails there. */
  if (set && hwloc_topology_load(topo) == 0 && hwloc_get_cpubind(topo, set, HWLOC_CPUBIND_PROCESS) == 0)
    ok = tcoll__place_of_cpuset(topo, set, out);
  hwloc_bitmap_free(set);
  hwloc_topology_destroy(topo);
  return ok;
}

tcoll_status tcoll__topology_detect(tcoll_comm *c) {
  int mine[4];
  tcoll_place p;
  mine[3] = my_place(&p) ? 1 : 0;
  mine[0] = p.package, mine[1] = p.numa, mine[2] = p.l3;
  int *all = malloc(sizeof(int) * 4 * (size_t)c->size);
  c->place = malloc(sizeof(tcoll_place) * (size_t)c->size);
  /* a rank without memory must not leave the others in the Allgather */
  tcoll_status status = tcoll__agree(c, all && c->place, TCOLL_ERR_NO_MEMORY, "topology table");
  if (status != TCOLL_OK) {
    free(all);
    return status;
  }
  int err = MPI_Allgather(mine, 4, MPI_INT, all, 4, MPI_INT, c->mpi);
  if (err != MPI_SUCCESS) {
    free(all);
    return tcoll__mpi_error(err, "MPI_Allgather(topology)");
  }
  c->unbound_ranks = 0;
  for (int r = 0; r < c->size; r++) {
    c->place[r] = (tcoll_place){
        .package = all[4 * r], .numa = all[4 * r + 1], .l3 = all[4 * r + 2], .bound = all[4 * r + 3]};
    if (!all[4 * r + 3]) c->unbound_ranks++;
  }
  free(all);
  if (c->unbound_ranks > 0)
    TCOLL_INFO("%d of %d ranks are not bound to a subset of their node: only the levels their node has "
               "one of are known, the rest is modelled at the node level (bind ranks, e.g. mpirun "
               "--bind-to core, for a finer model)",
               c->unbound_ranks, c->size);
  return TCOLL_OK;
}

tcoll_level tcoll__level_between(const tcoll_comm *c, int a, int b) {
  if (!c->node_of_rank) return c->num_nodes > 1 ? TCOLL_LEVEL_NETWORK : TCOLL_LEVEL_NODE;
  if (c->node_of_rank[a] != c->node_of_rank[b]) return TCOLL_LEVEL_NETWORK;
  if (!c->place) return TCOLL_LEVEL_NODE;
  const tcoll_place *pa = &c->place[a], *pb = &c->place[b];
  if (pa->l3 >= 0 && pa->l3 == pb->l3) return TCOLL_LEVEL_L3;
  if (pa->numa >= 0 && pa->numa == pb->numa) return TCOLL_LEVEL_NUMA;
  if (pa->package >= 0 && pa->package == pb->package) return TCOLL_LEVEL_PACKAGE;
  return TCOLL_LEVEL_NODE;
}

tcoll_level tcoll__level_at_distance(const tcoll_comm *c, int distance) {
  tcoll_level worst = TCOLL_LEVEL_L3;
  if (c->size <= 1) return worst;
  distance %= c->size;
  for (int r = 0; r < c->size && worst < TCOLL_LEVEL_NETWORK; r++) {
    tcoll_level l = tcoll__level_between(c, r, (r + distance) % c->size);
    if (l > worst) worst = l;
  }
  return worst;
}

tcoll_level tcoll__level_at_xor(const tcoll_comm *c, int distance) {
  tcoll_level worst = TCOLL_LEVEL_L3;
  for (int r = 0; r < c->size && worst < TCOLL_LEVEL_NETWORK; r++) {
    if ((r & distance) || r + distance >= c->size) continue; /* each pair once */
    tcoll_level l = tcoll__level_between(c, r, r + distance);
    if (l > worst) worst = l;
  }
  return worst;
}

tcoll_level tcoll__span_level(const tcoll_comm *c) {
  /* The levels nest (same L3 implies same NUMA node ...), so the farthest
   * pair is as far as the farthest rank from rank 0. */
  tcoll_level worst = TCOLL_LEVEL_L3;
  for (int r = 1; r < c->size; r++) {
    tcoll_level l = tcoll__level_between(c, 0, r);
    if (l > worst) worst = l;
  }
  return worst;
}

/* Whether rank r's message in the step crosses to another node. */
static int crosses(const tcoll_comm *c, int r, int distance, bool xor_pairs) {
  const int q = xor_pairs ? (r ^ distance) : (r + distance) % c->size;
  return q < c->size && c->node_of_rank[q] != c->node_of_rank[r];
}

int tcoll__network_sharers(const tcoll_comm *c, int distance, bool xor_pairs) {
  if (!c->node_of_rank || c->num_nodes <= 1 || c->size <= 1) return 1;
  distance = xor_pairs ? distance : distance % c->size;
  int worst = 1;
  for (int i = 0; i < c->num_nodes; i++) {
    int n = 0;
    for (int r = 0; r < c->size; r++) n += c->node_of_rank[r] == i && crosses(c, r, distance, xor_pairs);
    if (n > worst) worst = n;
  }
  return worst;
}
