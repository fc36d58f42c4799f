#!/usr/bin/env bash
# Session 31, call 6: batch 128's energy kernel by kernel on 43e7743's kernels (the binary of call 5, which adds only
# self-test checks), as session 26 measured it: BERT-large INT8 (fp16 stream, attention in FP16) at s128 and s384
# b128, each kind of kernel alone in the pass (OCTET_SKIP = the other five), none of them (embedding, QA head, gaps),
# and the whole pass; J per pass from NVML's energy counter over at least 3 s. Carry .device/octet.xz and
# .device/cache.tar.xz.
#   bash docs/results/h200-2026-12-02-s31/6-energy-by-kernel/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/results.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
kinds="qkv attention output norm ffn-in ffn-out"
for s in 128 384; do
  for only in whole none $kinds; do
    case $only in whole) skip="";; none) skip=$(echo $kinds | tr ' ' ',');; *) skip=$(echo $kinds | tr ' ' '\n' | grep -vx "$only" | paste -sd,);; esac
    OCTET_SKIP=$skip timeout 60 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq $s --warmup 10 \
      --iterations 50 --min-seconds 3 --json "$out/s$s-$only.json" > "$out/s$s-$only.txt" 2>&1
    echo "s$s $only: $(grep -E "^\|  +128 \|" "$out/s$s-$only.txt" | cut -d'|' -f13,16,17,18,19 | tr -s ' ') (at ${SECONDS}s)"
  done
done
