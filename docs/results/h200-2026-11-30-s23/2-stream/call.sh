#!/usr/bin/env bash
# Session 23, call 4: the residual stream in fp16 as a recipe setting (`half_precision_stream`; the GPU's INT8 engine
# then stores the stream in fp16 and its GEMMs before the LayerNorms write fp16, the CPU reference and the Q/DQ export
# round where it stores). First speed, float32 stream against fp16 stream in one process each, alternated, with
# PyTorch FP16 CUDA graphs at batch 128 in the same call; then the full-dev F1 of the fp16-stream recipe on the GPU; the
# self-test (every kernel, the random BERTs with fp16-stream recipes, the reference model with the default recipe on
# SQuAD features) and the reference model with the fp16-stream recipe (models only). Carried: .device/octet.xz,
# .device/cache.tar.xz, .device/reference_s384.safetensors, .device/dev-v1.1.json.xz, after a call that put the model
# at /tmp/m. Limits add up to 580 s.
#   bash docs/results/h200-2026-11-30-s23/2-stream/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/stream.tgz" -C "$out" .' EXIT
[ -f /tmp/m/model.safetensors ] && [ -s /tmp/dev.json ] || { echo "no model at /tmp/m or no dev set"; exit 1; }
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
for round in 1 2; do
  for m in bert-large bert-base; do
    for stream in f32 f16; do
      s=(); [ $stream = f16 ] && s=(--half-precision-stream)
      f="$out/octet-$m-$stream-r$round"
      timeout 45 /tmp/octet bench $m --device cuda "${F[@]}" "${s[@]}" --batch 1,128 --seq 128,384 --warmup 10 --iterations 50 \
        --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
      echo "$m $stream r$round: $(grep -E "^\|  +(1|128) \|" "$f.txt" | cut -d'|' -f2,3,13 | tr -s ' ' | tr '\n' ' ')"
    done
  done
done
PYTHONUNBUFFERED=1 timeout 100 python3 scripts/peer_torch_bench.py --batch 128 --seq 128,384 --precisions fp16 --modes graph \
  --iterations 30 --json "$out/torch-graph.json" > "$out/torch.txt" 2>&1; grep -i "graph" "$out/torch.txt" | tail -4
timeout 50 /tmp/octet eval squad --device cuda --precision int8 --scales recipes/minilm-l6-squad-fp16-stream.json --model /tmp/m \
  --tokenizer /tmp/m --data /tmp/dev.json --batch 32 --output "$out/eval-int8-fp16-stream" > "$out/eval-int8-fp16-stream.txt" 2>&1
echo "eval exit $?: $(grep "^| /tmp/m " "$out/eval-int8-fp16-stream.txt")"
timeout 200 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors \
  --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -12; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
grep "stream" "$out/selftest.txt" | cut -c1-150
timeout 40 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --models-only \
  --scales recipes/minilm-l6-squad-fp16-stream.json > "$out/selftest-fp16-stream-recipe.txt" 2>&1
echo "models-only with the fp16-stream recipe, exit $?"; grep "| m \|recipe" "$out/selftest-fp16-stream-recipe.txt" | cut -c1-150
