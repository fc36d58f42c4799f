#!/usr/bin/env bash
# Session 29, call 5: the warpgroup index made warp-uniform (`uniform-warpgroup.diff`, `.device/k-uniform`), so the GEMM
# main loops build their wgmma descriptors on the uniform datapath (call 4's profile: about 10 vector instructions per
# wgmma there before; SASS here: pp_i8_128x128 8,576 → 7,888 instructions, i8_64x64 3,112 → 2,696, i8_128x256
# 20,056 → 16,296, no new spills). On the binary of 43477c0 (HEAD):
# 1. the full self-test with its kernels, without the model;
# 2. if it passes, `scripts/kernel_ab_bench.sh` with tuning off, two rounds (HEAD first in round 1, second in round 2):
#    BERT-large INT8 (attention FP16, fp16 stream) at s128 and s384, batch 128 then batch 1.
# Carry .device/octet.xz, .device/cache.tar.xz and .device/k-uniform. About 6 minutes.
#   bash docs/results/h200-2026-12-01-s29/5-uniform/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/uniform.tgz" -C "$out" .' EXIT
OCTET_KERNEL_DIR=$PWD/.device/k-uniform timeout 240 /tmp/octet selftest --device cuda --model /nonexistent \
  --json "$out/selftest-uniform.json" > "$out/selftest-uniform.txt" 2>&1
status=$?
echo "selftest, k-uniform: exit $status, $(grep -c "| pass" "$out/selftest-uniform.txt") passed (at ${SECONDS}s)"
grep "|" "$out/selftest-uniform.txt" | grep -v "| pass" | tail -n +3 | head -8
[ $status -eq 0 ] || exit 0
OCTET_GEMM_TUNE=0 BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 bert-large "128 1" head uniform
exit 0
