#!/usr/bin/env bash
# Session 31, call 4: energy per sequence against batch size (HEAD's binary, 43e7743). BERT-large INT8 (fp16 stream,
# attention in FP16) at batch 16, 32, 64 and 128, s128 and s384, twice in opposite orders: if a pass of 32 or 64
# sequences costs less than a quarter or half of 128's, the intermediates that fit in L2 (50 MB) at those sizes save
# their HBM round trips, and splitting a batch-128 pass into chunks would pay.
# Carry .device/octet.xz and .device/cache.tar.xz.
#   bash docs/results/h200-2026-12-02-s31/4-batch-sweep/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/results.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for r in 1 2; do
  list="16 32 64 128"; (( r % 2 )) || list="128 64 32 16"
  for b in $list; do
    timeout 100 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch $b --seq 128,384 --warmup 10 \
      --iterations 100 --min-seconds 1.5 --json "$out/b$b-r$r.json" > "$out/b$b-r$r.txt" 2>&1
    grep -E "^\|  +$b \|" "$out/b$b-r$r.txt" | cut -d'|' -f2,3,13,16,17,18,19 | tr -s ' ' | sed "s/^/round $r: /"
  done
done
