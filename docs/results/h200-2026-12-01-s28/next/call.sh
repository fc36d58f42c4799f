#!/usr/bin/env bash
# For session 29, after the measured call: `unrolled-as-before.diff` (`.device/k-asbefore`), the rolled epilogue written
# so that every kernel it does not roll (ping-pong, 128×256, split-K, fused LayerNorm) compiles to f0f1232's SASS
# exactly (hashes per function, NVRTC here), against HEAD (1231700, faa20be's SASS), whose ping-pong kernels differ
# from f0f1232's by 48–88 instructions, spill one register in the 128×128 ones, and measured 0.7–1.6% slower at
# BERT-large INT8 s384 b128 in session 28's call 5 (HEAD second in each pair there). Not run on a GPU yet.
# 1. The full self-test with its kernels (the cooperative rolled ones differ from HEAD's by 8–64 instructions).
# 2. If it passes, an A/B with tuning off, two rounds, HEAD first in round 1 and second in round 2: BERT-large INT8
#    (attention FP16, fp16 stream) s384 b128, s128 b128 and s384 b1.
# Carry .device/octet.xz (HEAD's binary), .device/cache.tar.xz (from `scripts/kernel_ab_prepare.sh asbefore=…`) and
# .device/k-asbefore. About 6 minutes.
#   bash docs/results/h200-2026-12-01-s28/next/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/asbefore.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
K=$PWD/.device/k-asbefore
OCTET_KERNEL_DIR=$K timeout 240 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest-asbefore.json" \
  > "$out/selftest-asbefore.txt" 2>&1
status=$?
echo "selftest, k-asbefore: exit $status, $(grep -c "| pass" "$out/selftest-asbefore.txt") passed (at ${SECONDS}s)"
grep "|" "$out/selftest-asbefore.txt" | grep -v "| pass" | tail -n +3 | head -8
[ $status -eq 0 ] || exit 0
for r in 1 2; do
  order=(head asbefore); [ $r = 2 ] && order=(asbefore head)
  for shape in 384:128 128:128 384:1; do for k in "${order[@]}"; do
    IFS=: read -r s b <<< "$shape"
    dir=""; [ $k = head ] || dir=$K
    n=200; [ $b = 128 ] && n=40
    f="$out/bert-large-int8-s$s-b$b-$k-r$r"
    OCTET_KERNEL_DIR=$dir OCTET_GEMM_TUNE=0 timeout 40 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch $b \
      --seq $s --warmup 20 --iterations $n --min-seconds 2 --json "$f.json" > "$f.txt" 2>&1
    echo "bert-large int8 s$s b$b $k r$r: $(grep -E "^\|  +$b \|" "$f.txt" | cut -d'|' -f13,18,19 | tr -s ' ')"
  done; done
done
exit 0
