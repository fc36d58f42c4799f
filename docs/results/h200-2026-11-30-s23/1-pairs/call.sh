#!/usr/bin/env bash
# Session 23, call 2: the fp16 attention's key groups on two chunks each at once (`attention_flash_pairs`) against the
# ring (OCTET_ATTENTION_PAIRS=0), same binary. First the self-test without the reference model (every kernel, the
# random BERTs, among them the new 384-token small grids that take the pairs kernel), then batch-1 s384 alternated,
# three rounds: BERT-large and BERT-base, INT8 with the attention in FP16 (the recipe's form) and FP16.
# Carry .device/octet.xz and .device/cache.tar.xz (compiled here for this binary).
#   bash docs/results/h200-2026-11-30-s23/1-pairs/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/pairs.tgz" -C "$out" .' EXIT
timeout 280 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest exit $?: $(grep -c " pass " "$out/selftest.txt") passed"; grep -v " pass " "$out/selftest.txt" | head -12
grep "384 tokens" "$out/selftest.txt"
for round in 1 2 3; do
  for m in bert-large bert-base; do
    for p in int8 fp16; do
      F=(--precision $p); [ $p = int8 ] && F+=(--float '*.attention.qk' --float '*.attention.pv')
      for pairs in 0 1; do
        f="$out/$m-$p-pairs$pairs-r$round"
        OCTET_ATTENTION_PAIRS=$pairs timeout 40 /tmp/octet bench $m --device cuda "${F[@]}" --batch 1 --seq 384 --warmup 20 --iterations 300 \
          --min-seconds 0.4 --json "$f.json" > "$f.txt" 2>&1
        echo "$m $p r$round pairs=$pairs: $(grep -E "^\|  +1 \|" "$f.txt" | cut -d'|' -f13 | tr -d ' ')"
      done
    done
  done
done
