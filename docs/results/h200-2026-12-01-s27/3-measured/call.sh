#!/usr/bin/env bash
# Session 27, the measured call (after a call that carried .device/minilm and unpacked the model to /tmp/m), on the
# binary whose FP16 attention pairs its warpgroups past 128 keys on big grids: session 25's measured call (the
# reference model's self-test with the fp16-stream recipe, scripts/device_bench.sh with Octet and PyTorch FP16 side by
# side, 8 s of BERT-large INT8 s384 b128), then BERT-large s384 b1 timed longer on both sides, alternated twice:
# Octet INT8 (attention FP16, fp16 stream) for at least 2 s, and PyTorch FP16's CUDA graph for 1,000 replays. That shape
# is 1% from the 2× bar, where the peer's run-to-run spread decides it. Carry .device/octet.xz, .device/cache.tar.xz and
# .device/reference_s384.safetensors. About 6 minutes.
#   bash docs/results/h200-2026-12-01-s27/3-measured/call.sh $OUT
set -uo pipefail
bash docs/results/h200-2026-12-01-s25/5-measured/call.sh "$1"
out=$(mktemp -d)
trap 'tar czf "$1/long-b1.tgz" -C "$out" .' EXIT
for r in 1 2; do
  # 90 s (60 until session 31): round 1 tunes the shape first, and sessions 29 and 30 saw it killed at 60.
  timeout 90 /tmp/octet bench bert-large --device cuda --precision int8 --float '*.attention.qk' --float '*.attention.pv' \
    --half-precision-stream --batch 1 --seq 384 --warmup 20 --iterations 200 --min-seconds 2 --json "$out/octet-r$r.json" \
    > "$out/octet-r$r.txt" 2>&1
  echo "octet r$r: $(grep -E "^\|  +1 \|" "$out/octet-r$r.txt" | cut -d'|' -f4,7,13 | tr -s ' ')"
  PYTHONUNBUFFERED=1 timeout 90 python3 scripts/peer_torch_bench.py --models bert-large --batch 1 --seq 384 --precisions fp16 \
    --modes graph --iterations 1000 --json "$out/torch-r$r.json" > "$out/torch-r$r.txt" 2>&1
  echo "torch r$r: $(grep -iE "graph" "$out/torch-r$r.txt" | tail -1 | cut -c1-150)"
done
exit 0
