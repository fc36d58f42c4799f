#!/usr/bin/env bash
# Session 35's first two calls, on HEAD's binary (with the ping-pong "pe" GEMM, a tuning candidate only with
# OCTET_GEMM_PE=1), its NVRTC cache and the kernel folders .device/k-chunk8, .device/k-slots and .device/k-both
# (`OCTET=… bash scripts/kernel_ab_prepare.sh chunk8=docs/results/h200-2026-12-02-s34/next/gelu-chunk8.diff
# slots=docs/results/h200-2026-12-02-s34/next/ln-slots.diff
# both=docs/results/h200-2026-12-02-s34/next/gelu-chunk8.diff+docs/results/h200-2026-12-02-s34/next/ln-slots.diff`):
# - gelu-chunk8.diff: the unrolled GEMM epilogues of GELU into int8 (FFN in's) convert 8 n8 blocks per chunk instead of
#   4 (32 independent chains per lane) and stage 64-byte rows; ptxas: no spills, the same register counts;
# - ln-slots.diff: every LayerNorm's block sums add all eight warp slots unconditionally, the slots past the block's
#   warps zeroed first: the same sums in the same order plus zeros, so the same values; cuobjdump: the codes
#   LayerNorm that runs 46 of BERT-large's 48 at batch 128 from 376 to 304 instructions per thread on its main path
#   (47 to 38 per element; the LayerNorms are issue-bound, about 1.8 TB/s at s384 b128);
# - gemm_wgmma_pe_* (in the binary): the ping-pong products of gemm_pingpong handing each tile's accumulators through
#   64 KB of shared memory to two epilogue warpgroups (setmaxnreg 24 / 160 / 64 of the block's 5 · 96; ptxas: no spills in GELU into int8), so FFN in's GELU
#   epilogue no longer holds the tensor cores.
# Part `checks` (about 8 minutes): the full self-test without the model on k-both (its forced pe checks, every GEMM
# check's GELU int8 output within 1 of float64, every LayerNorm and whole-model check against the CPU); if it passes,
# HEAD, chunk8, slots and both at batch 128 (BERT-large and BERT-base INT8, fp16 stream), alternated twice.
# Part `rows` (about 5 minutes): OCTET_LN_ROWS 1, 2, 4 and 8 at batch 128 on HEAD's kernels, alternated twice (the
# codes LayerNorms' `_rows` kernels: the weights' loads, reciprocals and addressing paid once per block, a row about
# 300 instructions per thread instead of 376), then 1 against 4 on k-slots (both savings together).
# Part `pe` (about 4 minutes): OCTET_GEMM_PE 0 against 1 at batch 128, alternated twice, with the tuner's times for
# pe and the ping-pong tiles per shape; then Nsight Compute's per-instruction view of HEAD's FFN-in GEMM at BERT-large
# s128 b128 (tuning off: the ping-pong 128×128 kernel; layer 0's second launch of it is FFN in), to see which
# instructions its warps stall on (source.csv.xz, one row per SASS instruction with its stall samples).
# Carry .device/octet.xz, .device/cache.tar.xz, .device/k-chunk8, .device/k-slots and .device/k-both; results come back
# as one archive.
#   bash docs/results/h200-2026-12-02-s34/next/call.sh $OUT checks|rows|pe
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 part=$2
trap 'tar czf "$dest/$part.tgz" -C "$out" .' EXIT
if [ "$part" = checks ]; then
  OCTET_KERNEL_DIR=$PWD/.device/k-both timeout 300 /tmp/octet selftest --device cuda --model /nonexistent \
    --json "$out/selftest-both.json" > "$out/selftest-both.txt" 2>&1
  echo "selftest both rc $?: $(grep -c "| pass" "$out/selftest-both.txt") passed, $(grep "|" "$out/selftest-both.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
  grep "|" "$out/selftest-both.txt" | tail -n +3 | grep -v "| pass" | cut -c1-140 | head -8
  grep "gemm_wgmma_pe_" "$out/selftest-both.txt" | cut -c1-140
  xz -T8 "$out/selftest-both.json"
  if grep -q "| pass" "$out/selftest-both.txt" && ! grep "|" "$out/selftest-both.txt" | tail -n +3 | grep -vq "| pass"; then
    BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 "bert-large bert-base" 128 head chunk8 slots both
  fi
  exit 0
fi
if [ "$part" = rows ]; then
  bash scripts/env_ab_bench.sh "$out" 2 "bert-large bert-base" 128 OCTET_LN_ROWS "1 2 4 8"
  mkdir -p "$out/slots"
  OCTET_KERNEL_DIR=$PWD/.device/k-slots bash scripts/env_ab_bench.sh "$out/slots" 2 "bert-large bert-base" 128 OCTET_LN_ROWS "1 4"
  exit 0
fi
bash scripts/env_ab_bench.sh "$out" 2 "bert-large bert-base" 128 OCTET_GEMM_PE "0 1"
for f in "$out"/*PE1-r1.txt; do
  echo "$(basename "$f"): kept, then pe and the ping-pong tiles alone (mean µs)"
  grep -E "^\| (16384|49152)" "$f" | python3 -c '
import re, sys
for l in sys.stdin:
    f = [x.strip() for x in l.split("|")]
    t = dict(re.findall(r"(gemm_wgmma_(?:pp|p3|pe)_\w+?) ([\d.]+)", f[3]))
    print(" ", f[1], "|", f[2], "|", " ".join(k.replace("gemm_wgmma_", "") + " " + v for k, v in t.items()))'
done
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
OCTET_GEMM_TUNE=0 timeout 100 /usr/local/cuda/bin/ncu -k regex:"gemm_wgmma_pp_i8_128x128" --launch-skip 1 --launch-count 1 \
  --section SourceCounters --section WarpStateStats --import-source no -o "$out/ffn-in" \
  /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 1 --iterations 2 > "$out/ncu.txt" 2>&1
echo "ncu rc $? at ${SECONDS}s"
/usr/local/cuda/bin/ncu -i "$out/ffn-in.ncu-rep" --page source --csv --print-source sass > "$out/source.csv" 2> "$out/source.err"
echo "source rc $?: $(wc -l < "$out/source.csv") lines at ${SECONDS}s"
xz -T8 "$out/source.csv"; rm -f "$out/ffn-in.ncu-rep"
exit 0
