#!/usr/bin/env bash
# scripts/cluster itself: usage errors, not root, up / status / run / down,
# idempotence, a different cluster replacing the old one, names that exist
# already, a failed up cleaning up after itself, and down after a crashed
# job (processes left in the hosts). Skips (77) only where namespaces cannot
# be made here.
#   test_cluster.sh SCRIPTS/cluster TCOLL-INFO
set -uo pipefail
cluster=$1
info=$2
export TCOLL_CLUSTER="s$(( $$ % 100000 ))"
fail=0
ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fail=1; }

# expect STATUS DESCRIPTION COMMAND... : exit status and output (in $out)
expect() {
  local want=$1 what=$2; shift 2
  out=$("$@" 2>&1); local got=$?
  if [ "$got" -eq "$want" ]; then ok "$what (exit $got)"; else bad "$what: exit $got, expected $want; output: $out"; fi
}
contains() { if grep -q -- "$2" <<<"$out"; then ok "$1"; else bad "$1: no \"$2\" in: $out"; fi; }
gone() { # nothing of cluster $TCOLL_CLUSTER left
  local left=""
  ip netns list | awk '{print $1}' | grep -q "^tcoll-$TCOLL_CLUSTER-h" && left="$left namespaces"
  ip -o link show | grep -q "tc${TCOLL_CLUSTER}" && left="$left links"
  [ -e "/run/tcoll-cluster/$TCOLL_CLUSTER" ] && left="$left state"
  if [ -z "$left" ]; then ok "$1: nothing left"; else bad "$1: left behind:$left"; fi
}

"$cluster" check >/dev/null 2>&1
case $? in
  0) ;;
  3|4|5) echo "SKIP: $("$cluster" check 2>&1)"; exit 77 ;;
  *) echo "FAIL: scripts/cluster check: $("$cluster" check 2>&1)"; exit 1 ;;
esac
trap '"$cluster" down >/dev/null 2>&1' EXIT

# usage and environment errors, before anything is made
expect 2 "no command" "$cluster"
expect 2 "unknown command" "$cluster" frobnicate
expect 2 "up without N" "$cluster" up
expect 2 "up 0" "$cluster" up 0
expect 2 "bad rate" "$cluster" up 2 --rate fast
expect 2 "burst without rate" "$cluster" up 2 --burst 100000
expect 2 "bad subnet" "$cluster" up 2 --subnet 10.1.2
expect 2 "bad cluster name" env TCOLL_CLUSTER=Bad-Name "$cluster" status
expect 0 "help" "$cluster" --help
contains "help documents exit statuses" "3 not root"
if id nobody >/dev/null 2>&1; then
  expect 3 "not root" setpriv --reuid=nobody --regid=nogroup --clear-groups "$cluster" up 2
  contains "not-root message" "needs root"
fi
expect 6 "status when not up" "$cluster" status
expect 6 "run when not up" "$cluster" run -n 1 true
expect 0 "down when not up" "$cluster" down
gone "down when not up"
lo_subnet=$(ip -4 -o addr show dev lo | awk '{print $4}' | head -n 1)
expect 7 "subnet overlapping this machine's ($lo_subnet)" "$cluster" up 2 --subnet "$lo_subnet"
gone "refused subnet"

# up, idempotent up, status, run
expect 0 "up 2 shaped" "$cluster" up 2 --rate 1gbit
expect 0 "up 2 again" "$cluster" up 2 --rate 1gbit
contains "second up changes nothing" "already up"
expect 0 "status" "$cluster" status
contains "status lists h2" "h2 "
contains "status shows the rate" "rate 1gbit"
contains "status gives mpirun options" "plm_rsh_agent"
ns=$(ip netns list | awk '{print $1}' | grep -c "^tcoll-$TCOLL_CLUSTER-h")
[ "$ns" -eq 2 ] && ok "2 namespaces" || bad "$ns namespaces, expected 2"
out=$(ip netns exec "tcoll-$TCOLL_CLUSTER-h1" tc qdisc show dev eth0)
contains "h1's link shaped by tbf" "tbf"
expect 0 "run: hostnames" "$cluster" run --host h1:1,h2:2 hostname
[ "$(sort <<<"$out" | uniq -c | awk '{print $1 $2}' | tr '\n' ' ')" = "1$TCOLL_CLUSTER-h1 2$TCOLL_CLUSTER-h2 " ] &&
  ok "ranks on their hosts" || bad "hostnames: $out"
expect 0 "run: tcoll-info --topology at h1:3,h2:1" "$cluster" run --host h1:3,h2:1 "$info" --topology
contains "topology: 2 nodes" "4 ranks on 2 node(s), largest node 3 ranks"
contains "topology: rank 3 on h2" "^ *3 *1 $TCOLL_CLUSTER-h2"

# another cluster with the same name replaces this one
expect 0 "up 3 unshaped replaces it" "$cluster" up 3
contains "replacement said" "making it anew"
expect 0 "status after replacement" "$cluster" status
contains "h3 present" "h3 "
contains "not shaped" "not shaped"

# down after a crashed job: processes left in a host are stopped first
ip netns exec "tcoll-$TCOLL_CLUSTER-h2" sleep 300 &
sleeper=$!
sleep 0.3
expect 0 "down with a process left in h2" "$cluster" down
contains "down stops it" "stopping processes"
sleep 0.2
kill -0 "$sleeper" 2>/dev/null && { bad "sleep in h2 still runs"; kill "$sleeper"; } || ok "sleep in h2 stopped"
wait "$sleeper" 2>/dev/null
gone "down"
expect 0 "down again" "$cluster" down

# a failed up removes what it made
expect 1 "up failing after host 1" env TCOLL_CLUSTER_FAIL_AFTER_HOST=1 "$cluster" up 2
contains "failed up says it cleans up" "removing what it made"
gone "failed up"

# names that exist already are never taken over
ip link add "tc${TCOLL_CLUSTER}v2" type bridge
expect 1 "up with an interface of its name present" "$cluster" up 2
contains "says which" "tc${TCOLL_CLUSTER}v2 exists"
ip link show "tc${TCOLL_CLUSTER}v2" >/dev/null 2>&1 && ok "foreign interface untouched" || bad "foreign interface removed"
ip link del "tc${TCOLL_CLUSTER}v2"
gone "refused up"

exit $fail
