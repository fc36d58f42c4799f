#!/usr/bin/env bash
# Session 22, call 5: GELU in the erfc form on both engines (the CUDA kernels: ../../h200-2026-11-30-s20/next/gelu-erfc.diff;
# the CPU reference: ../../h200-2026-11-30-s21/rejected/gelu-erfc-cpu.diff), built into one binary, so the self-test
# compares the GPU's erfc GELU with the CPU's. Carried: .device/octet.xz (that binary), .device/cache.tar.xz (its NVRTC
# cache, compiled here), .device/reference_s384.safetensors, .device/dev-v1.1.json.xz, after a call that carried the
# model to /tmp/m (bash scripts/device_unpack.sh). Limits add up to 540 s.
#   bash docs/results/h200-2026-11-30-s22/4-erfc/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/erfc.tgz" -C "$out" .' EXIT
[ -f /tmp/m/model.safetensors ] && [ -s /tmp/dev.json ] || { echo "no model at /tmp/m or no dev set"; exit 1; }
timeout 250 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors \
  --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
# The random-token mode, which failed with the erfc GELU on the GPU alone (0.0526 of 0.05; HEAD 0.0318).
timeout 60 /tmp/octet selftest --device cuda --model /tmp/m --features /nonexistent --models-only > "$out/selftest-random.txt" 2>&1
echo "models-only, random tokens, exit $?"; grep "| m " "$out/selftest-random.txt" | cut -d'|' -f2-6
for p in int8 fp16; do
  s=""; [ $p = int8 ] && s="--scales recipes/minilm-l6-squad.json"
  timeout 50 /tmp/octet eval squad --device cuda --precision $p $s --model /tmp/m --tokenizer /tmp/m --data /tmp/dev.json \
    --batch 32 --output "$out/eval-$p" > "$out/eval-$p.txt" 2>&1
  echo "eval $p exit $?: $(grep "^| /tmp/m " "$out/eval-$p.txt")"
done
for m in bert-large bert-base; do
  timeout 50 /tmp/octet bench $m --device cuda --batch 1 --seq 128,384 --warmup 20 --iterations 100 --min-seconds 0.5 \
    --precision int8 --float '*.attention.qk' --float '*.attention.pv' --json "$out/octet-$m.json" > "$out/octet-$m.txt" 2>&1
  echo "$m: $(grep -E "^\|  +1 \|" "$out/octet-$m.txt" | cut -d'|' -f3,13 | tr '\n' ' ')"
done
PYTHONUNBUFFERED=1 timeout 80 python3 scripts/peer_torch_bench.py --batch 1 --seq 128,384 --precisions fp16 --modes graph \
  --iterations 100 --json "$out/torch-graph.json" 2>&1 | tee "$out/torch.txt" | grep graph
