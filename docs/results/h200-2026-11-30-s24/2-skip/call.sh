#!/usr/bin/env bash
# Session 24, call 4: where BERT-large's batch-128 pass spends its time with the fp16-stream recipe (stored as fp16 at
# these shapes), by leaving one kind of kernel out of every layer (OCTET_SKIP: timing only), s128 and s384, INT8 with
# the attention in FP16; and the float32 stream whole and without its LayerNorms, for comparison. Two rounds.
# No model needed. Carry .device/octet.xz and .device/cache.tar.xz.
#   bash docs/results/h200-2026-11-30-s24/2-skip/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/skip.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
for r in 1 2; do
  for v in stream:none stream:qkv stream:attention stream:output stream:norm stream:ffn-in stream:ffn-out float:none float:norm; do
    kind=${v%%:*} skip=${v#*:}; f="$out/$kind-$skip-r$r"
    flags=(); [ $kind = stream ] && flags=(--half-precision-stream)
    s=$skip; [ $s = none ] && s=
    OCTET_SKIP=$s timeout 60 /tmp/octet bench bert-large --device cuda "${F[@]}" "${flags[@]}" --batch 128 --seq 128,384 --warmup 5 \
      --iterations 20 --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
    echo "$kind without $skip r$r: $(grep -E "^\|  +128 \|" "$f.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
  done
done
exit 0
