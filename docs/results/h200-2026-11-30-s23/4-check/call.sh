#!/usr/bin/env bash
# Session 23, call 7: where the fp16-stream recipe loses at batch 1 (BERT-large s384 b1, INT8 with the attention in
# FP16, each kind of kernel left out by OCTET_SKIP, float32 and fp16 stream alternated per kind, one round), then the
# reference model with the fp16-stream recipe on random tokens (models only; the SQuAD-feature mode passed in call 4).
# Carried: .device/octet.xz and .device/cache.tar.xz (call 4's binary and cache), after a call that put the model at
# /tmp/m. About 3 minutes.
#   bash docs/results/h200-2026-11-30-s23/4-check/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/check.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
for skip in none qkv attention output norm ffn-in ffn-out; do
  s=""; [ $skip != none ] && s=$skip
  for stream in f32 f16; do
    h=(); [ $stream = f16 ] && h=(--half-precision-stream)
    f="$out/bert-large-$stream-skip-$skip"
    OCTET_SKIP=$s timeout 40 /tmp/octet bench bert-large --device cuda "${F[@]}" "${h[@]}" --batch 1 --seq 384 --warmup 20 \
      --iterations 200 --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
    echo "$stream skip $skip: $(grep -E "^\|  +1 \|" "$f.txt" | cut -d'|' -f13 | tr -d ' ')"
  done
done
[ -f /tmp/m/model.safetensors ] || { echo "no model at /tmp/m"; exit 1; }
timeout 90 /tmp/octet selftest --device cuda --model /tmp/m --features /nonexistent --models-only \
  --scales recipes/minilm-l6-squad-fp16-stream.json > "$out/selftest-random-tokens-fp16-stream.txt" 2>&1
echo "models only, random tokens, fp16-stream recipe, exit $?"; grep "| m \|fail" "$out/selftest-random-tokens-fp16-stream.txt" | cut -c1-140
