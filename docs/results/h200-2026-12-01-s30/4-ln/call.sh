#!/usr/bin/env bash
# Session 30, call 4 (after call 3 carried .device/minilm): the residual LayerNorms' Q/DQ without a division per element
# (`next/ln-reciprocal.diff`, `.device/k-ln`: each step's reciprocal once per thread, then Markstein's correction, the
# exact quotient; call 2's Nsight Compute found the x8 kernel with the add's Q/DQ issue-bound, 45 µs at BERT-large s128
# b128, DRAM at 55%), on the binary of 53c36e4 (HEAD):
# 1. the full self-test with those kernels, without the model;
# 2. if it passes, `scripts/kernel_ab_bench.sh` with tuning off, two rounds (HEAD first in round 1, second in round 2):
#    BERT-large INT8 (attention FP16, fp16 stream) at s128 and s384, batch 128 then batch 1;
# 3. Nsight Compute on the new x8 LayerNorm at BERT-large s128 b128, as call 2 ran it on HEAD's.
# Carry .device/octet.xz, .device/cache.tar.xz and .device/k-ln. About 6 minutes.
#   bash docs/results/h200-2026-12-01-s30/4-ln/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/ln.tgz" -C "$out" .' EXIT
OCTET_KERNEL_DIR=$PWD/.device/k-ln timeout 240 /tmp/octet selftest --device cuda --model /nonexistent \
  --json "$out/selftest-ln.json" > "$out/selftest-ln.txt" 2>&1
status=$?
echo "selftest, k-ln: exit $status, $(grep -c "| pass" "$out/selftest-ln.txt") passed (at ${SECONDS}s)"
grep "|" "$out/selftest-ln.txt" | grep -v "| pass" | tail -n +3 | head -8
[ $status -eq 0 ] || exit 0
OCTET_GEMM_TUNE=0 BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 bert-large "128 1" head ln
echo "A/B done at ${SECONDS}s"
OCTET_KERNEL_DIR=$PWD/.device/k-ln OCTET_GEMM_TUNE=0 timeout 60 /usr/local/cuda/bin/ncu --section SpeedOfLight \
  --section MemoryWorkloadAnalysis --section Occupancy --section WarpStateStats --section LaunchStats --section SchedulerStats \
  --clock-control none --cache-control none --kernel-name regex:residual_layernorm_f16x8 --launch-skip 4 --launch-count 2 \
  /tmp/octet bench bert-large --device cuda --precision int8 --float '*.attention.qk' --float '*.attention.pv' \
  --half-precision-stream --batch 128 --seq 128 --warmup 0 --iterations 1 --min-seconds 0 > "$out/ncu-layernorm-ln.txt" 2>&1
echo "ncu exit $? (at ${SECONDS}s)"
grep -E "^  [a-z_0-9]+|Duration|DRAM Throughput|Warp Cycles Per Issued|Registers Per|Achieved Occupancy" "$out/ncu-layernorm-ln.txt" | head -14
exit 0
