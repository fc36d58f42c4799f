#!/usr/bin/env bash
# Session 19, call 1 (after a call that only carried the model): session 18's closing-review kernel change
# (next/change.diff: GELU into int8 in one folded form in every kernel) and the new 128×96 tiles (cooperative and
# split-K, tuner candidates). The full self-test (300 s; stop if it fails), then Octet's INT8 (attention FP16) benches
# at batch 1 and 128 and FP16 at batch 1. Not a measured call: no PyTorch here.
#   bash docs/results/h200-2026-11-30-s19/1-check/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/check.tgz" -C "$out" .' EXIT
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > "$out/gpu.txt" 2>&1
timeout 300 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json "$out/selftest.json" \
  > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
bench() {  # model, label, batches, precision and flags
  local m=$1 label=$2 batches=$3; shift 3
  echo "### $m $label" >> "$out/octet.txt"
  timeout 80 /tmp/octet bench "$m" --device cuda --batch $batches --seq 128,384 --warmup 20 --iterations 100 --min-seconds 0.5 \
    --json "$out/octet-$m-$label.json" "$@" 2>&1 | grep -v "^|--" | tee -a "$out/octet.txt" | grep -E "^\|  +(1|128) \|" | cut -d'|' -f2,3,5,13
}
for m in bert-large bert-base; do
  bench "$m" int8-attention-fp16 1,128 --precision int8 --float '*.attention.qk' --float '*.attention.pv'
  bench "$m" fp16 1 --precision fp16
done
