#!/usr/bin/env bash
# Session 18, call 3 (after a call that unpacked the model to /tmp/m): the measured run of the binary whose full
# self-test passed in call 2 (714/714, same .device/octet.xz): scripts/device_bench.sh without its self-test (Octet and
# PyTorch in the same call), then the full-dev F1 of the INT8 recipe and FP16 on the GPU.
#   bash docs/results/h200-2026-11-30-s18/3-measured/call.sh $OUT
set -uo pipefail
dest=$1
timeout 470 bash scripts/device_bench.sh /tmp/octet /tmp/m .device/reference_s384.safetensors "$dest" no-selftest || exit 1
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d)
trap 'tar czf "$dest/extra.tgz" -C "$out" .' EXIT
for p in int8 fp16; do
  S=""; [ $p = int8 ] && S="--scales recipes/minilm-l6-squad.json"
  timeout 60 /tmp/octet eval squad --device cuda --precision $p $S --model /tmp/m --tokenizer /tmp/m --data /tmp/dev.json --batch 32 \
    --output "$out/eval-$p" > "$out/eval-$p.txt" 2>&1
  echo "eval $p exit $?"; tail -n 3 "$out/eval-$p.txt" | head -n 2 | tail -n 1
done
