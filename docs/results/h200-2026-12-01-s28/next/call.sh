#!/usr/bin/env bash
# For session 29, after the measured call: `unrolled-as-before.diff` (`.device/k-asbefore`), the rolled epilogue written
# so that every kernel it does not roll (ping-pong, 128×256, split-K, fused LayerNorm) compiles to f0f1232's SASS
# exactly (hashes per function, NVRTC here), against HEAD (1231700, faa20be's SASS), whose ping-pong kernels differ
# from f0f1232's by 48–88 instructions, spill one register in the 128×128 ones, and measured 0.7–1.6% slower at
# BERT-large INT8 s384 b128 in session 28's call 5 (HEAD second in each pair there). Not run on a GPU yet.
# 1. The full self-test with its kernels (the cooperative rolled ones differ from HEAD's by 8–64 instructions).
# 2. If it passes, `scripts/kernel_ab_bench.sh` with tuning off, two rounds (HEAD first in round 1, second in round 2):
#    BERT-large INT8 (attention FP16, fp16 stream) at s128 and s384, batch 128 then batch 1.
# Carry .device/octet.xz (HEAD's binary), .device/cache.tar.xz (from `scripts/kernel_ab_prepare.sh asbefore=…`) and
# .device/k-asbefore. About 6 minutes.
#   bash docs/results/h200-2026-12-01-s28/next/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/asbefore.tgz" -C "$out" .' EXIT
K=$PWD/.device/k-asbefore
OCTET_KERNEL_DIR=$K timeout 240 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest-asbefore.json" \
  > "$out/selftest-asbefore.txt" 2>&1
status=$?
echo "selftest, k-asbefore: exit $status, $(grep -c "| pass" "$out/selftest-asbefore.txt") passed (at ${SECONDS}s)"
grep "|" "$out/selftest-asbefore.txt" | grep -v "| pass" | tail -n +3 | head -8
[ $status -eq 0 ] || exit 0
OCTET_GEMM_TUNE=0 BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 bert-large "128 1" head asbefore
exit 0
