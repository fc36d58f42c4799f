#!/usr/bin/env bash
# Session 35's first call (about 9 minutes), on HEAD's binary, its NVRTC cache and the kernel folders .device/k-both,
# .device/k-slots and .device/k-both (`OCTET=… bash scripts/kernel_ab_prepare.sh
# chunk8=docs/results/h200-2026-12-02-s34/next/gelu-chunk8.diff slots=docs/results/h200-2026-12-02-s34/next/ln-slots.diff
# both=docs/results/h200-2026-12-02-s34/next/gelu-chunk8.diff+docs/results/h200-2026-12-02-s34/next/ln-slots.diff`):
# - gelu-chunk8.diff: the unrolled GEMM epilogues of GELU into int8 (FFN in's) convert 8 n8 blocks per chunk instead of
#   4 (32 independent chains per lane) and stage 64-byte rows; ptxas: no spills, the same register counts;
# - ln-slots.diff: every LayerNorm's block sums add all eight warp slots unconditionally, the slots past the block's
#   warps zeroed first: the same sums in the same order plus zeros, so the same values; cuobjdump: the codes
#   LayerNorm that runs 46 of BERT-large's 48 at batch 128 from 376 to 304 instructions per thread on its main path
#   (47 to 38 per element; the LayerNorms are issue-bound, about 1.8 TB/s at s384 b128).
# 1. the full self-test without the model on k-both (every GEMM check's GELU int8 output within 1 of float64, every
#    LayerNorm and whole-model check against the CPU);
# 2. if it passes, HEAD, chunk8, slots and both at batch 128 (BERT-large and BERT-base INT8, fp16 stream), alternated
#    twice;
# 3. Nsight Compute's per-instruction view of HEAD's FFN-in GEMM at BERT-large s128 b128 (tuning off: the ping-pong
#    128×128 kernel; layer 0's second launch of it is FFN in, GELU into int8), to see which instructions its warps stall
#    on (session 34: tensor pipe 47% busy, "wait" the largest stall over all warps; source.csv.xz, one row per SASS
#    instruction with its stall samples).
# Carry .device/octet.xz, .device/cache.tar.xz, .device/k-both, .device/k-slots and .device/k-both; results come back
# as one archive.
#   bash docs/results/h200-2026-12-02-s34/next/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/results.tgz" -C "$out" .' EXIT
OCTET_KERNEL_DIR=$PWD/.device/k-both timeout 300 /tmp/octet selftest --device cuda --model /nonexistent \
  --json "$out/selftest-both.json" > "$out/selftest-both.txt" 2>&1
echo "selftest both rc $?: $(grep -c "| pass" "$out/selftest-both.txt") passed, $(grep "|" "$out/selftest-both.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
grep "|" "$out/selftest-both.txt" | tail -n +3 | grep -v "| pass" | cut -c1-140 | head -8
xz -T8 "$out/selftest-both.json"
if grep -q "| pass" "$out/selftest-both.txt" && ! grep "|" "$out/selftest-both.txt" | tail -n +3 | grep -vq "| pass"; then
  BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 "bert-large bert-base" 128 head chunk8 slots both
fi
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
OCTET_GEMM_TUNE=0 timeout 100 /usr/local/cuda/bin/ncu -k regex:"gemm_wgmma_pp_i8_128x128" --launch-skip 1 --launch-count 1 \
  --section SourceCounters --section WarpStateStats --import-source no -o "$out/ffn-in" \
  /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 1 --iterations 2 > "$out/ncu.txt" 2>&1
echo "ncu rc $? at ${SECONDS}s"
/usr/local/cuda/bin/ncu -i "$out/ffn-in.ncu-rep" --page source --csv --print-source sass > "$out/source.csv" 2> "$out/source.err"
echo "source rc $?: $(wc -l < "$out/source.csv") lines at ${SECONDS}s"
xz -T8 "$out/source.csv"; rm -f "$out/ffn-in.ncu-rep"
exit 0
