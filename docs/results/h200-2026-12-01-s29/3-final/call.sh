#!/usr/bin/env bash
# Session 29, the final checks on the binary that adopts `unrolled-as-before.diff` (after a call that carried
# .device/minilm and unpacked the model to /tmp/m):
# 1. the full self-test with the reference model on the fp16-stream recipe and its 16 real SQuAD features;
# 2. full-dev SQuAD v1.1 at 384/128 on the GPU: the INT8 recipe, the fp16-stream recipe and FP16 (issue 5's F1 bar
#    compares each with the CPU engine's figure for the same configuration).
# Carry .device/octet.xz, .device/cache.tar.xz, .device/reference_s384.safetensors and .device/dev-v1.1.json.xz.
# About 6 minutes.
#   bash docs/results/h200-2026-12-01-s29/3-final/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/final.tgz" -C "$out" .' EXIT
timeout 300 /tmp/octet selftest --device cuda --model /tmp/m --scales recipes/minilm-l6-squad-fp16-stream.json \
  --features .device/reference_s384.safetensors --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
status=$?
echo "selftest exit $status: $(grep -c "| pass" "$out/selftest.txt") passed, $(grep "|" "$out/selftest.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
grep "|" "$out/selftest.txt" | tail -n +3 | grep -v "| pass" | head -8
eval_run() {  # name, flags…
  local name=$1; shift
  timeout 90 /tmp/octet eval squad --device cuda --model /tmp/m --tokenizer /tmp/m --data /tmp/dev.json --batch 32 \
    --output "$out/eval-$name" "$@" > "$out/eval-$name.txt" 2>&1
  echo "eval $name exit $?: $(grep "^| /tmp/m " "$out/eval-$name.txt" | cut -d'|' -f3,8-10) (at ${SECONDS}s)"
  xz -T8 "$out/eval-$name"/*.json 2>/dev/null
}
eval_run int8-recipe --precision int8 --scales recipes/minilm-l6-squad.json
eval_run int8-fp16-stream --precision int8 --scales recipes/minilm-l6-squad-fp16-stream.json
eval_run fp16 --precision fp16
exit 0
