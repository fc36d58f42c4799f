#!/usr/bin/env bash
# Session 30, call 2 (after call 1 carried .device/minilm): GELU's output scale folded into its per-column constants
# (`next/gelu-fold.diff`, `.device/k-fold`: the FFN-in GEMM's GELU + int8 epilogue computes z·qScale with the dequant
# FFMA and drops the multiply by qScale per output; SASS of gemm_wgmma_pp_i8_64x256: 122 FMUL fewer, the 128 of its
# GELU + int8 epilogue less 6 in the staging), on the binary of 53c36e4 (HEAD, the uniform warpgroup index):
# 1. the full self-test with the folded kernels, without the model;
# 2. if it passes, `scripts/kernel_ab_bench.sh` with tuning off, two rounds (HEAD first in round 1, second in round 2):
#    BERT-large INT8 (attention FP16, fp16 stream) at s128 and s384, batch 128 then batch 1;
# 3. Nsight Compute on HEAD's x8 LayerNorm at BERT-large s128 b128 (the two LayerNorms are 16% of the pass's energy
#    and move their bytes at about 2.6 TB/s where copies reach 4.3): throughput, memory and stall sections.
# Carry .device/octet.xz, .device/cache.tar.xz and .device/k-fold. About 7 minutes.
#   bash docs/results/h200-2026-12-01-s30/2-fold/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/fold.tgz" -C "$out" .' EXIT
OCTET_KERNEL_DIR=$PWD/.device/k-fold timeout 240 /tmp/octet selftest --device cuda --model /nonexistent \
  --json "$out/selftest-fold.json" > "$out/selftest-fold.txt" 2>&1
status=$?
echo "selftest, k-fold: exit $status, $(grep -c "| pass" "$out/selftest-fold.txt") passed (at ${SECONDS}s)"
grep "|" "$out/selftest-fold.txt" | grep -v "| pass" | tail -n +3 | head -8
if [ $status -eq 0 ]; then
  OCTET_GEMM_TUNE=0 BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 bert-large "128 1" head fold
fi
echo "A/B done at ${SECONDS}s"
NCU=/usr/local/cuda/bin/ncu
OCTET_GEMM_TUNE=0 timeout 100 $NCU --section SpeedOfLight --section MemoryWorkloadAnalysis --section Occupancy \
  --section WarpStateStats --section LaunchStats --section SchedulerStats --clock-control none --cache-control none \
  --kernel-name regex:residual_layernorm_f16x8 --launch-skip 4 --launch-count 2 /tmp/octet bench bert-large --device cuda \
  --precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream --batch 128 --seq 128 \
  --warmup 0 --iterations 1 --min-seconds 0 > "$out/ncu-layernorm.txt" 2>&1
echo "ncu exit $? (at ${SECONDS}s)"
grep -E "^  [a-z_0-9]+|Duration|DRAM Throughput|Memory Throughput|L2 Hit|Achieved Occupancy|Theoretical Occupancy|Registers Per|Warp Cycles Per Issued|Block Limit" "$out/ncu-layernorm.txt" | head -30
exit 0
