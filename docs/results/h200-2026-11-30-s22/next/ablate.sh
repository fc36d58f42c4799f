#!/usr/bin/env bash
# For session 23: where a batch-1 s384 pass spends its time now (session 19's in-pass costs predate sessions 20–22's
# changes), by leaving one kind of kernel out of every layer (OCTET_SKIP; the pass then computes garbage, only its
# time counts), two rounds alternated, BERT-large and BERT-base, INT8 with the attention in FP16. Needs no model:
# carry .device/octet.xz and a cache compiled here for it (OCTET_CACHE=$PWD/.device/cache octet selftest
# --compile-only sm_90a, NVRTC from .venv, packed as .device/cache.tar.xz). About 3 minutes.
#   bash docs/results/h200-2026-11-30-s22/next/ablate.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/ablate.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
for round in 1 2; do
  for m in bert-large bert-base; do
    for skip in none qkv attention output norm ffn-in ffn-out; do
      s=""; [ $skip != none ] && s=$skip
      OCTET_SKIP=$s timeout 40 /tmp/octet bench $m --device cuda "${F[@]}" --batch 1 --seq 384 --warmup 20 --iterations 200 \
        --min-seconds 0.3 --json "$out/$m-skip-$skip-r$round.json" > "$out/$m-skip-$skip-r$round.txt" 2>&1
      echo "$m r$round skip $skip: $(grep -E "^\|  +1 \|" "$out/$m-skip-$skip-r$round.txt" | cut -d'|' -f13 | tr -d ' ')"
    done
  done
done
