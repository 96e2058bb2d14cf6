#!/bin/sh
# tcoll-info: every mode runs and says what it should. $1 = tcoll-info,
# $2 = the topology directory (the offline explanation is skipped, saying
# so, when it is absent).
set -u
info=$1
topo=$2
fail=0
check() { # check NAME NEEDLE OUTPUT
  case "$3" in
    *"$2"*) ;;
    *) echo "FAIL $1: output lacks \"$2\":"; echo "$3"; fail=1 ;;
  esac
}
out=$("$info" --algorithms) || fail=1
check algorithms "rabenseifner" "$out"
check algorithms "scatter_allgather" "$out"
out=$("$info" --env) || fail=1
check env "TCOLL_TUNING_FILE" "$out"
check env "TCOLL_CHECK_ARGS" "$out"
out=$(mpirun -n 2 --oversubscribe --bind-to none "$info" --topology) || fail=1
check topology "2 ranks on 1 node(s)" "$out"
out=$(TCOLL_RANKS_PER_NODE=1 mpirun -n 2 --oversubscribe --bind-to none "$info" --topology) || fail=1
check topology-emulated "2 ranks on 2 node(s)" "$out"
if "$info" --explain --coll allreduce --bytes 1M --nodes 0 --ranks-per-node 8 2>/dev/null; then
  echo "FAIL: --nodes 0 accepted"; fail=1
fi
if [ -f "$topo/epyc-corona.xml" ]; then
  for n in 1 8 64; do
    out=$("$info" --explain --coll allreduce --bytes 1M --nodes $n --ranks-per-node 8 \
          --topology-xml "$topo/epyc-corona.xml") || fail=1
    check "explain-$n" "2 packages, 8 NUMA nodes, 16 L3, 48 cores" "$out"
    check "explain-$n" "$((n * 8)) ranks on $n node(s)" "$out"
    check "explain-$n" "choice: " "$out"
  done
  out=$("$info" --explain --coll allreduce --bytes 8 --nodes 64 --ranks-per-node 8 \
        --topology-xml "$topo/epyc-corona.xml") || fail=1
  # many nodes: the hierarchical allreduce crosses the network log2(64)
  # times from all of a node's ranks at once, with no MPI inside the nodes
  check explain-8B "choice: hierarchical" "$out"
else
  echo "SKIP offline explanation: $topo/epyc-corona.xml not found (../shared/topologies)"
fi
# one node: the shm algorithm is a candidate offline and wins small messages
# (the job's ranks would share memory); across nodes it declines, saying why
out=$("$info" --explain --coll allreduce --bytes 8 --nodes 1 --ranks-per-node 2) || fail=1
check explain-shm "choice: shm (cost model" "$out"
out=$("$info" --explain --coll allreduce --bytes 8 --nodes 4 --ranks-per-node 2) || fail=1
check explain-shm-nodes "shm                    not usable: ranks span 4 nodes" "$out"
# bcast and reduce shm: candidates on one node, declining across nodes
out=$("$info" --explain --coll bcast --bytes 1M --nodes 1 --ranks-per-node 2) || fail=1
check explain-bcast-shm "choice: shm (cost model" "$out"
out=$("$info" --explain --coll reduce --bytes 8 --nodes 4 --ranks-per-node 2) || fail=1
check explain-reduce-shm-nodes "not usable: ranks span 4 nodes" "$out"
out=$("$info" --explain --coll reduce --bytes 1M --nodes 1 --ranks-per-node 2) || fail=1
check explain-reduce-shm "choice: shm (cost model" "$out"
# the shipped tuning file for the test VM stays valid and its rules apply
vm=$(dirname "$0")/../../docs/tuning/vm-2core-epyc.json
out=$("$info" --explain --coll allreduce --bytes 4K --nodes 1 --ranks-per-node 2 --tuning "$vm") || fail=1
check tuning-file "choice: shm (rule 0 of $vm)" "$out"
exit $fail
