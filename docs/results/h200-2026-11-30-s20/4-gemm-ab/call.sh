#!/usr/bin/env bash
# Session 20, call 3: the batch-128 GEMM main loop and epilogue, A/B through OCTET_KERNEL_DIR (no new binary per
# variant). The binary embeds v4 (wgmma descriptors built once per stage, one add per k step); the folders carried in
# .device/ hold other gemm_wgmma.cu versions:
#   k-base  HEAD e660e6e's (descriptors rebuilt from the address every k step)
#   k-v1    v4 + the ping-pong epilogue's halves in a loop (one copy of its code; the second half moves into the first's
#           registers)
#   k-v3    v1 + the epilogue's chunk loop not unrolled (the fragment rotates down one chunk per iteration): a quarter
#           of the code again
# Then the self-test of k-v3's kernels (no model: random BERTs and every kernel against the CPU).
#   bash docs/results/h200-2026-11-30-s20/4-gemm-ab/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/gemm-ab.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
run() {  # variant, model, batch, round
  local v=$1 m=$2 b=$3 r=$4 dir=""
  [ "$v" != v4 ] && dir=$PWD/.device/k-$v
  OCTET_KERNEL_DIR=$dir timeout 80 /tmp/octet bench $m --device cuda "${F[@]}" --batch $b --seq 128,384 --warmup 10 \
    --iterations 100 --min-seconds 0.3 --json "$out/$m-b$b-$v-r$r.json" > "$out/$m-b$b-$v-r$r.txt" 2>&1
  echo "$m b$b $v round $r: $(grep -E "^\|  +$b \|" "$out/$m-b$b-$v-r$r.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
}
for r in 1 2; do for m in bert-large bert-base; do for v in v4 base v1 v3; do run $v $m 128 $r; done; done; done
for r in 1 2; do for m in bert-large bert-base; do for v in v4 base; do run $v $m 1 $r; done; done; done
OCTET_KERNEL_DIR=$PWD/.device/k-v3 timeout 240 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest-v3.json" \
  > "$out/selftest-v3.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest-v3.txt" | head -20; echo "selftest (k-v3): $(grep -c " pass " "$out/selftest-v3.txt") passed, exit $status"
