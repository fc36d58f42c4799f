#!/usr/bin/env bash
# Session 17, call 5 (after a call that only carried the model): the quantization as one conversion
# (cvt.rni.sat.s8.f32), GELU into int8 with qScale / 2 folded in (`gelu_scaled`), the split-K reduction's four
# columns as one store. The self-test (stop if it fails), then Octet's INT8 benches (attention FP16 and all-INT8) at
# batch 1 and 128, then the INT8 recipe's full-dev F1. No PyTorch in this call (device time): it compares with
# call 3's Octet figures, the same script's runs.   bash docs/results/h200-2026-11-30-s17/5-gelu-epilogue/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/gelu.tgz" -C "$out" .' EXIT
timeout 150 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json "$out/selftest.json" \
  > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
bench() {  # model, label, precision and flags (as scripts/device_bench.sh)
  local m=$1 label=$2; shift 2
  echo "### $m $label" >> "$out/octet.txt"
  timeout 60 /tmp/octet bench "$m" --device cuda --batch 1,128 --seq 128,384 --warmup 20 --iterations 100 --min-seconds 0.5 \
    --json "$out/octet-$m-$label.json" "$@" 2>&1 | grep -v "^|--" | tee -a "$out/octet.txt" | grep -E "^\|  +(1|128) \|" | cut -d'|' -f2,3,5,13
}
for m in bert-base bert-large; do
  bench "$m" int8-attention-fp16 --precision int8 --float '*.attention.qk' --float '*.attention.pv'
  bench "$m" int8 --precision int8
done
timeout 60 /tmp/octet eval squad --device cuda --precision int8 --scales recipes/minilm-l6-squad.json --model /tmp/m --tokenizer /tmp/m \
  --data /tmp/dev.json --batch 32 --output "$out/eval-int8" > "$out/eval-int8.txt" 2>&1
echo "eval int8 exit $?"; tail -n 3 "$out/eval-int8.txt" | head -n 2 | tail -n 1
