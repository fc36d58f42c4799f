#!/usr/bin/env bash
# Session 25, call 7 (the last device minutes): the first GPU run of `octet bench`'s NVML columns (SM MHz, W,
# power-capped, J/run) and of the peer script's, BERT-base FP16 at batch 1 and 128, s128, short runs. Carry
# .device/octet.xz and .device/cache.tar.xz (the binary of the commit after fb5ba8c and its NVRTC cache).
#   bash docs/results/h200-2026-12-01-s25/7-power-check/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
timeout 60 /tmp/octet bench bert-base --device cuda --precision fp16 --batch 1,128 --seq 128 --warmup 5 --iterations 20 \
  --min-seconds 1.5 --json "$1/octet.json" > "$1/octet.txt" 2>&1
echo "octet exit $?"; grep -v "^|--" "$1/octet.txt" | head -6
PYTHONUNBUFFERED=1 timeout 90 python3 scripts/peer_torch_bench.py --models bert-base --batch 1,128 --seq 128 --precisions fp16 \
  --modes graph --iterations 100 --json "$1/torch.json" 2>&1 | tee "$1/torch.txt"
