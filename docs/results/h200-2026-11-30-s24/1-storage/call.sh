#!/usr/bin/env bash
# Session 24, call 3: the fp16-stream recipe with its storage chosen per shape (measured in the pass up to 512 rows,
# fp16 above), against the same recipe stored as fp16 everywhere (OCTET_STREAM_STORAGE=f16, session 23's engine) and
# the float32-stream recipe, alternated, two rounds, BERT-large and BERT-base at batch 1 and 128 (s128 and s384). No
# model needed. Carry .device/octet.xz and .device/cache.tar.xz.
#   bash docs/results/h200-2026-11-30-s24/1-storage/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/storage.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
for r in 1 2; do for m in bert-large bert-base; do for v in chosen f16 float; do
  f="$out/$m-$v-r$r"
  case $v in
    chosen) flags=(--half-precision-stream); env=();;
    f16) flags=(--half-precision-stream); env=(OCTET_STREAM_STORAGE=f16);;
    float) flags=(); env=();;
  esac
  env "${env[@]}" timeout 90 /tmp/octet bench $m --device cuda "${F[@]}" "${flags[@]}" --batch 1,128 --seq 128,384 --warmup 10 \
    --iterations 50 --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
  echo "$m $v r$r: $(grep -E "^\|  +(1|128) \|" "$f.txt" | cut -d'|' -f2,3,13 | tr -s ' ' | tr '\n' ' ')"
  [ $r = 1 ] && [ $v = chosen ] && grep "variant of the pass" "$f.txt" | cut -c1-300
done; done; done
exit 0
