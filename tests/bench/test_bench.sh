#!/usr/bin/env bash
# tcoll-bench's own tests: option errors (clear message, non-zero exit on
# every rank, no hang), CSV/JSON structure, n/a rows, and a deliberately
# wrong algorithm (test build only) that must make #wrong and the exit
# status non-zero.
#   test_bench.sh TCOLL_BENCH TCOLL_BENCH_TESTING
set -u
bench=$1
bench_testing=$2
mpirun_=(mpirun --oversubscribe --bind-to none)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok: $*"; }
bad() { failed=$((failed + 1)); echo "FAILED: $*"; }

# run NP ARGS...: output in $tmp/out, status in $rc; 60 s cap proves no hang
run() {
  local np=$1; shift
  timeout 60 "${mpirun_[@]}" -n "$np" "$@" >"$tmp/out" 2>&1
  rc=$?
}

# expect_error NP "message" ARGS...: non-zero exit, message and usage printed
expect_error() {
  local np=$1 msg=$2; shift 2
  run "$np" "$bench" "$@"
  if [ $rc -ne 0 ] && [ $rc -ne 124 ] && grep -qF -- "$msg" "$tmp/out" && grep -q "usage" "$tmp/out"; then
    ok "rejects $* ($msg)"
  else
    bad "tcoll-bench $* (np $np): rc=$rc, expected non-zero with \"$msg\" and usage"; sed 's/^/    /' "$tmp/out" | head -5
  fi
}

run 1 "$bench" -h
if [ $rc -eq 0 ] && grep -q "usage: mpirun" "$tmp/out" && grep -q -- "--link-gbps" "$tmp/out"; then ok "-h"; else bad "-h: rc=$rc"; fi

expect_error 2 "step factor" -f 1
expect_error 2 "step factor" -f abc
expect_error 2 "larger than -e" -b 1M -e 1K
expect_error 2 "bad -b size" -b 12Q
expect_error 2 "unknown allreduce algorithm \"nosuch\"" -a nosuch
# the test-only algorithm does not exist in the real build
expect_error 2 "unknown allreduce algorithm \"wrong_for_tests\"" -a wrong_for_tests
expect_error 2 "unknown dtype" -d float99
expect_error 2 "unknown op" -o mean
expect_error 2 "avg needs a floating dtype" -d int32 -o avg
expect_error 2 "unknown collective" -c alltoall
expect_error 2 "root" -c allreduce -r 2
expect_error 2 "link rate" --link-gbps -1
expect_error 2 "unknown or incomplete option" --bogus
expect_error 2 "unexpected argument" extra

# A valid short run with CSV and JSON.
run 2 "$bench" -a all --mpi -b 8 -e 4K -f 8 -R 3 --csv "$tmp/r.csv" --json "$tmp/r.json"
if [ $rc -eq 0 ] && grep -q "Out of bounds values : 0 OK" "$tmp/out"; then ok "valid run"; else bad "valid run rc=$rc"; sed 's/^/    /' "$tmp/out" | tail -5; fi
header="coll,size_bytes,count,dtype,op,root,inplace,algorithm,usable,reason,time_med_us,time_min_us,time_p99_us,algbw_gbs,busbw_gbs,pct_bound,copy_gbs,wrong,vs_mpi,ranks,nodes,ranks_per_node,tcoll_version,mpi_library,host"
if [ "$(head -1 "$tmp/r.csv" 2>/dev/null)" = "$header" ]; then ok "CSV header"; else bad "CSV header: $(head -1 "$tmp/r.csv" 2>/dev/null)"; fi

nfields=$(echo "$header" | awk -F, '{print NF}')
# 4 sizes (8, 64, 512, 4096) x (mpi + auto + every allreduce algorithm)
nalgs=$(awk '/^allreduce +8 /' "$tmp/out" | grep -cvE ' (mpi|auto:[a-z_]+) ')
rows=$(($(wc -l <"$tmp/r.csv") - 1))
if awk -F, -v n="$nfields" 'NF != n {exit 1}' "$tmp/r.csv" && [ "$nalgs" -ge 4 ] && [ "$rows" -eq $((4 * (2 + nalgs))) ]; then
  ok "CSV: $rows rows of $nfields fields"
else
  bad "CSV rows/fields (rows=$rows, expected 4 x (2 + $nalgs) of $nfields fields)"
fi

# %bound across nodes counts the nodes' links: 4 ranks on 2 (emulated) nodes
# at 1 Gbit/s, allreduce of 64 KiB: bound = 2(2-1)/2 x 65536 B / 125 MB/s.
# On one node the ranks are counted instead, and the header says which.
bound_ok() { # CSV FACTOR: every usable row's pct_bound = FACTOR x size / 1.25e8 / time
  awk -F, -v f="$2" 'NR > 1 && $9 == 1 { want = 100 * f * $2 / 1.25e8 / ($11 / 1e6);
       if ($16 < want * 0.98 - 0.01 || $16 > want * 1.02 + 0.01) bad++ ; n++ }
       END { exit !(n > 0 && bad == 0) }' "$1"
}
TCOLL_RANKS_PER_NODE=2 run 4 "$bench" -a ring -b 64K -e 64K -R 2 --link-gbps 1 --csv "$tmp/l.csv"
if [ $rc -eq 0 ] && grep -q "N=2 nodes" "$tmp/out" && bound_ok "$tmp/l.csv" 1; then ok "%bound at 2 nodes x 2 ranks: 2(N-1)/N with N nodes"
else bad "%bound across nodes: rc=$rc"; sed 's/^/    /' "$tmp/out" | head -4; fi
run 2 "$bench" -a ring -b 64K -e 64K -R 2 --link-gbps 1 --csv "$tmp/l1.csv"
if [ $rc -eq 0 ] && grep -q "N=2 ranks" "$tmp/out" && bound_ok "$tmp/l1.csv" 1; then ok "%bound on one node: N counts ranks, said so"
else bad "%bound on one node: rc=$rc"; sed 's/^/    /' "$tmp/out" | head -4; fi
if python3 - "$tmp/r.json" "$rows" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["format"] == "tcoll-bench" and d["version"] == 1
env = d["environment"]
for k in ("ranks", "nodes", "ranks_per_node", "tcoll_version", "mpi_library", "host", "date"):
    assert k in env, k
assert env["ranks"] == 2
assert len(d["rows"]) == int(sys.argv[2])
for r in d["rows"]:
    assert r["wrong"] == 0 and r["usable"], r
    assert r["time_med_us"] > 0 and r["time_min_us"] <= r["time_med_us"] <= r["time_p99_us"], r
PY
then ok "JSON structure"; else bad "JSON structure"; fi

# Every collective and algorithm at a non-power-of-two size, in place: all
# checked, and the algorithm that declines shows n/a with its reason rather
# than a silent fallback measured under its name.
run 3 "$bench" -c all -a all -b 64 -e 1K -f 4 -R 1 -r 2 --inplace
if [ $rc -eq 0 ] && grep -q "Out of bounds values : 0 OK" "$tmp/out" &&
   grep -E "^allgather .* recursive_doubling +n/a: .*power-of-two" "$tmp/out" >/dev/null &&
   [ "$(grep -cE '^(allreduce|reduce_scatter|allgather|bcast|reduce) ' "$tmp/out")" -gt 40 ]; then
  ok "all collectives at 3 ranks in place, n/a reported"
else
  bad "all collectives at 3 ranks: rc=$rc"; sed 's/^/    /' "$tmp/out" | grep -E "n/a|Out of|FAIL|error" | head -5
fi

# The deliberately wrong algorithm: counted, reported, non-zero exit.
run 2 "$bench_testing" -a wrong_for_tests,ring -b 64 -e 64 -R 2
if [ $rc -eq 1 ] && grep -q "Out of bounds values : [1-9][0-9]* FAILED" "$tmp/out" &&
   grep -E "wrong_for_tests" "$tmp/out" | grep -vq " 0 "; then
  ok "wrong algorithm detected (exit 1)"
else
  bad "wrong algorithm not detected: rc=$rc"; sed 's/^/    /' "$tmp/out" | tail -6
fi
# ...and exactly one element is wrong per call (rank 0 corrupts element 0)
if grep -E "^allreduce +64 .*wrong_for_tests" "$tmp/out" | awk '{print $(NF-2)}' | grep -qx 1; then
  ok "#wrong counts elements"
else
  bad "#wrong column: $(grep wrong_for_tests "$tmp/out" | head -1)"
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
