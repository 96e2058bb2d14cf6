/* hwloc-facing part of the topology detection, separate from
 * tcoll_internal.h so that only the files that need hwloc include it. */
#ifndef TCOLL_TOPOLOGY_H
#define TCOLL_TOPOLOGY_H

#include <hwloc.h>

#include "tcoll_internal.h"

/* The place of a CPU set in a loaded topology: for each of package, NUMA
 * node and L3, the logical index of the one object that contains the whole
 * set, or -1 when none does (the set spans several) or the level is absent.
 * Returns false (unbound) for an empty set or one covering every PU of a
 * machine with more than one PU; the indices are still filled where the
 * machine has a single object of that level. */
bool tcoll__place_of_cpuset(hwloc_topology_t topo, hwloc_const_cpuset_t set, tcoll_place *out);

#endif
