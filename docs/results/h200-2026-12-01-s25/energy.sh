#!/usr/bin/env bash
# Session 25, call 6: where batch 128's energy goes. Call 5 found every batch-128 run at the H200's 700 W cap
# (clocks_event_reasons SwPowerCap; SM clock 1.46–1.75 GHz instead of 1.98), so a pass's speed there is its energy.
# BERT-large INT8 (attention FP16, fp16 stream), each configuration run for 6 s after tuning, with nvidia-smi sampling
# power and SM clock every 100 ms: the whole pass, then with each kernel left out (OCTET_SKIP) at s128 b128; the whole
# pass and three skips at s384 b128. marks.txt holds when each process began and ended; the analysis takes the samples
# of each run's last 5 s. Carry .device/octet.xz and .device/cache.tar.xz. About 3.5 minutes.
#   bash docs/results/h200-2026-12-01-s25/energy.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
dest=$1; out=$(mktemp -d)
trap 'tar czf "$dest/energy.tgz" -C "$out" .' EXIT
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,power.draw.instant,temperature.gpu,clocks_event_reasons.active \
  --format=csv,noheader -lms 100 > "$out/smi.csv" 2>&1 &
smi=$!
mark() { echo "$(date +%H:%M:%S.%N | cut -c1-12) $*" >> "$out/marks.txt"; }
I8=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for s in 128 384; do
  skips=(none qkv attention output norm ffn-in ffn-out); [ $s = 384 ] && skips=(none attention ffn-in norm)
  for skip in "${skips[@]}"; do
    e=(); [ $skip != none ] && e=(OCTET_SKIP=$skip)
    mark "start s$s $skip"
    env "${e[@]}" X=1 timeout 60 /tmp/octet bench bert-large --device cuda "${I8[@]}" --batch 128 --seq $s --warmup 5 \
      --iterations 20 --min-seconds 6 --json "$out/s$s-$skip.json" > "$out/s$s-$skip.txt" 2>&1
    mark "end s$s $skip"
    echo "s$s skip $skip: $(grep -E "^\|  +128 \|" "$out/s$s-$skip.txt" | cut -d'|' -f5,13 | tr -s ' ')"
  done
done
kill $smi
head -2 "$out/smi.csv"
exit 0
