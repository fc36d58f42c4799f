#!/usr/bin/env bash
# Session 22, call 7: batch 128 with the erfc GELU on both engines (the binary of call 6; its kernels and CPU code are
# those of commit 594f3c1 but for a comment), Octet INT8 with the attention in FP16, and PyTorch FP16 CUDA graphs at
# the same shapes in the same call. Carried: .device/octet.xz and .device/cache.tar.xz. Limits add up to 250 s.
#   bash docs/results/h200-2026-11-30-s22/5-erfc-b128/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/erfc-b128.tgz" -C "$out" .' EXIT
for m in bert-large bert-base; do
  timeout 60 /tmp/octet bench $m --device cuda --batch 128 --seq 128,384 --warmup 20 --iterations 100 --min-seconds 0.5 \
    --precision int8 --float '*.attention.qk' --float '*.attention.pv' --json "$out/octet-$m.json" > "$out/octet-$m.txt" 2>&1
  echo "$m: $(grep -E "^\|  +128 \|" "$out/octet-$m.txt" | cut -d'|' -f3,13 | tr '\n' ' ')"
done
PYTHONUNBUFFERED=1 timeout 130 python3 scripts/peer_torch_bench.py --batch 128 --seq 128,384 --precisions fp16 --modes graph \
  --iterations 30 --json "$out/torch-graph.json" 2>&1 | tee "$out/torch.txt" | grep graph
