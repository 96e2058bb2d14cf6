#!/usr/bin/env bash
# Runs an MPI program across an emulated cluster made for this test alone
# (scripts/cluster, unshaped links), then takes the cluster down whatever
# happened. Skips (77) only where namespaces cannot be made here.
#   run_on_cluster.sh SCRIPTS/cluster HOSTLIST PROGRAM [ARGS...]
#   e.g. run_on_cluster.sh scripts/cluster h1:3,h2:1 build/tests/test_mpi_collectives
set -uo pipefail
cluster=$1 hosts=$2
shift 2
export TCOLL_CLUSTER="m$(( $$ % 100000 ))"

"$cluster" check >/dev/null 2>&1
case $? in
  0) ;;
  3|4|5) echo "SKIP: emulated hosts cannot be made here: $("$cluster" check 2>&1)"; exit 77 ;;
  *) echo "FAIL: scripts/cluster check: $("$cluster" check 2>&1)"; exit 1 ;;
esac
n=$(tr ',' '\n' <<<"$hosts" | wc -l)
trap '"$cluster" down >/dev/null' EXIT
"$cluster" up "$n" || exit 1
"$cluster" run --host "$hosts" "$@"
