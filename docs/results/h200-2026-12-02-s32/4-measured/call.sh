#!/usr/bin/env bash
# Session 32, the measured call on the binary that makes the fused QKV attention the default on big grids (its pair
# form at up to 128 tokens): scripts/device_bench.sh without the self-test (call 3 ran it with the model on the same
# kernels, OCTET_FUSED_ATTENTION=1), Octet's INT8 on the fp16-stream recipe form and PyTorch FP16 side by side; then the
# fused path against the two kernels at batches 16 and 32, where the default's rule (heads × batch ≥ multiprocessors)
# first takes it, BERT-large INT8 s128 and s384, alternated twice.
# Carry .device/octet.xz and .device/cache.tar.xz. About 6 minutes.
#   bash docs/results/h200-2026-12-02-s32/4-measured/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
INT8_FLAGS=--half-precision-stream bash scripts/device_bench.sh /tmp/octet /nonexistent none "$1" no-selftest
out=$(mktemp -d)
trap 'tar czf "$1/mid-batch.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for r in 1 2; do
  list="0 1"; (( r % 2 )) || list="1 0"
  for v in $list; do
    OCTET_FUSED_ATTENTION=$v timeout 60 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 16,32 --seq 128,384 --warmup 10 \
      --iterations 100 --min-seconds 0.5 --json "$out/fused$v-r$r.json" > "$out/fused$v-r$r.txt" 2>&1
    echo "fused=$v round $r: $(grep -E "^\|  +(16|32) \|" "$out/fused$v-r$r.txt" | cut -d'|' -f2,3,13 | tr -s ' ' | tr '\n' ' ') (at ${SECONDS}s)"
  done
done
exit 0
