#!/usr/bin/env bash
# Kill-and-resume through the real command line, under mpirun:
#  - a 2-rank run with a checkpoint every 10 steps is SIGKILLed during step
#    25 (--crash-at-step, rank 0; mpirun then tears the job down);
#  - resuming from the step-20 checkpoint to step 40 must dump parameters
#    byte-identical to an uninterrupted 40-step run (cmp);
#  - a corrupted, a truncated and a mismatched checkpoint must each end the
#    job with a non-zero status on every rank and a message naming the
#    problem, within the test's timeout (no hang, no crash).
# usage: train_resume.sh MPIRUN TCOLL_TRAIN
set -u
mpirun=$1 train=$2
dir=$(mktemp -d /tmp/tcoll_train_resume.XXXXXX)
trap 'rm -rf "$dir"' EXIT
passed=0 failed=0
check() { # check WHAT CONDITION-STATUS
  if [ "$2" -eq 0 ]; then passed=$((passed + 1)); echo "ok   $1"
  else failed=$((failed + 1)); echo "FAIL $1"; fi
}
run() { "$mpirun" -n 2 --oversubscribe --bind-to none "$train" --width 16 --steps 40 --warmup 5 \
          --batch 16 --eval-every 20 --eval-size 50 --quiet "$@"; }

run --dump-params "$dir/straight.bin"
check "uninterrupted 40-step run" $?

run --checkpoint "$dir/ck" --checkpoint-every 10 --crash-at-step 25 >"$dir/crash.log" 2>&1
st=$?
[ $st -ne 0 ] && [ -f "$dir/ck" ] && [ ! -f "$dir/ck.tmp" ]
check "run killed during step 25 (status $st) left a complete checkpoint" $?

run --resume "$dir/ck" --dump-params "$dir/resumed.bin" --csv "$dir/curve.csv"
check "resume from the step-20 checkpoint" $?
cmp -s "$dir/straight.bin" "$dir/resumed.bin"
check "resumed parameters byte-identical to the uninterrupted run" $?
[ "$(head -1 "$dir/curve.csv" | cut -d, -f1)" = 21 ] 2>/dev/null
check "the resumed loss curve continues at step 21" $?

expect_error() { # expect_error WHAT NEEDLE ARGS...
  local what=$1 needle=$2; shift 2
  run "$@" >"$dir/out.log" 2>&1
  local st=$?
  [ $st -ne 0 ] && grep -q "$needle" "$dir/out.log"
  check "$what (status $st)" $?
}
cp "$dir/ck" "$dir/bad"
printf '\x55' | dd of="$dir/bad" bs=1 seek=200 conv=notrunc status=none
expect_error "corrupt checkpoint rejected" "checksum mismatch" --resume "$dir/bad"
head -c 1000 "$dir/ck" >"$dir/short"
expect_error "truncated checkpoint rejected" "corrupt or truncated" --resume "$dir/short"
expect_error "checkpoint of another width rejected" "mismatch: width" --resume "$dir/ck" --width 8
expect_error "missing checkpoint rejected" "cannot open" --resume "$dir/none"
expect_error "bad option value rejected" "not a valid" --steps 12x

echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
