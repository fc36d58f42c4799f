#!/usr/bin/env bash
# Session 35's last two calls, on the binary with the LayerNorm slots (ln-slots.diff) landed and 4 rows per codes
# LayerNorm block by default from 32 rows per multiprocessor, its NVRTC cache and the kernel folders .device/k-alu,
# k-pipe and k-pipeall (`OCTET=… bash scripts/kernel_ab_prepare.sh alu=…/next/gelu-alu-quantize.diff
# pipe=…/next/epilogue-pipe-gelu.diff pipeall=…/next/epilogue-pipe-all.diff`, the folder docs/results/h200-2026-12-02-s35):
# - gelu-alu-quantize.diff: the GELU-into-int8 epilogue (FFN in's) quantizes without the conversion unit (a clamp and
#   an add of 1.5·2²³, the code in the sum's low byte: the same bytes), so that unit (16 lanes per clock per
#   multiprocessor) carries 2 instead of 3 operations per output beside the GELU's reciprocal and exp2; ptxas: 64 F2I
#   fewer, 64 FADD and 128 FMNMX more in the ping-pong 128×128 kernel;
# - epilogue-pipe-gelu.diff (with alu's change): the unrolled GELU-into-int8 epilogue's chunks overlap: each chunk's
#   per-column values are read a chunk ahead and the staged units stored after the next chunk's conversions (session 35's
#   stall view of FFN in: half the epilogue's samples at the chunk boundary, waiting on those reads);
# - epilogue-pipe-all.diff: the same for every unrolled int8 and fp16 epilogue (ptxas: 23 spill instructions in the
#   cooperative 128×256 kernels, none in the ping-pong ones).
# Part `ab` (about 7 minutes): the full self-test without the model on k-pipeall (every GEMM check's GELU int8 output
# within 1 of float64, the rows default and forced, every whole-model check against the CPU), then HEAD, alu, pipe and
# pipeall at batch 128, alternated twice.
# Part `measured` (about 5 minutes): scripts/device_bench.sh without the self-test, Octet's INT8 on the fp16-stream
# recipe form and PyTorch FP16 side by side (OCTET_KERNEL_DIR passes through: set it to .device/k-alu to measure alu).
# Carry .device/octet.xz, .device/cache.tar.xz and the three kernel folders; results come back as one archive per part.
#   bash docs/results/h200-2026-12-02-s35/next/call.sh $OUT ab|measured
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 part=$2
trap 'tar czf "$dest/$part.tgz" -C "$out" .' EXIT
if [ "$part" = ab ]; then
  OCTET_KERNEL_DIR=$PWD/.device/k-pipeall timeout 300 /tmp/octet selftest --device cuda --model /nonexistent \
    --json "$out/selftest-pipeall.json" > "$out/selftest-pipeall.txt" 2>&1
  echo "selftest pipeall rc $?: $(grep -c "| pass" "$out/selftest-pipeall.txt") passed, $(grep "|" "$out/selftest-pipeall.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
  grep "|" "$out/selftest-pipeall.txt" | tail -n +3 | grep -v "| pass" | cut -c1-140 | head -8
  grep "rows per LayerNorm block\|gelu int8 out" "$out/selftest-pipeall.txt" | cut -c1-140 | head -12
  xz -T8 "$out/selftest-pipeall.json"
  # The A/B runs whatever the self-test says (a failing version is not adopted; each bench has a time limit).
  BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 "bert-large bert-base" 128 head alu pipe pipeall
  exit 0
fi
INT8_FLAGS=--half-precision-stream bash scripts/device_bench.sh /tmp/octet /nonexistent none "$out" no-selftest
