#!/usr/bin/env bash
# Session 18, call 5 (after a call that only carried the model; call 4's binary): how many key groups the fp16
# attention should take at batch 1. Octet's INT8 benches (attention FP16) at batch 1 with OCTET_ATTENTION_GROUPS=1, 2
# and 3 (the default: one group per 64-key chunk, at most 3), alternating, twice each; then PyTorch FP16 graphs at
# batch 1 in the same call.   bash docs/results/h200-2026-11-30-s18/5-groups/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/groups.tgz" -C "$out" .' EXIT
for round in 1 2; do
  for m in bert-base bert-large; do
    for g in 1 2 3; do
      echo "== round $round $m groups $g"
      OCTET_ATTENTION_GROUPS=$g timeout 60 /tmp/octet bench "$m" --device cuda --batch 1 --seq 128,384 --warmup 20 --iterations 100 \
        --min-seconds 0.5 --json "$out/octet-$m-groups$g-round$round.json" --precision int8 --float '*.attention.qk' \
        --float '*.attention.pv' 2>&1 | grep -E "^\|  +1 \|" | cut -d'|' -f2,3,5,13
    done
  done
done
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/peer_torch_bench.py --batch 1 --seq 128,384 --precisions fp16 --modes graph \
  --iterations 100 --json "$out/torch-graph.json" 2>&1 | tee "$out/torch.txt"
