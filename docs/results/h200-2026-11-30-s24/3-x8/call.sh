#!/usr/bin/env bash
# Session 24, call 7: the fp16 stream's residual LayerNorms with two quads per thread (`residual_layernorm_f16x8_*`,
# the engine's rule above 512 rows) against one quad per thread (OCTET_LAYERNORM_X8=0), same binary. First the
# self-test without the model (its new "x8 LayerNorm" checks force the kernels on random BERTs), then batch 128 at s128
# and s384, alternated, two rounds: BERT-large INT8 with the attention in FP16 and the fp16-stream recipe, and FP16.
# Carry .device/octet.xz and .device/cache.tar.xz.
#   bash docs/results/h200-2026-11-30-s24/3-x8/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/x8.tgz" -C "$out" .' EXIT
timeout 200 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest exit $?: $(grep -c " pass " "$out/selftest.txt") passed"; grep -v " pass " "$out/selftest.txt" | head -8
grep "x8 LayerNorm" "$out/selftest.txt" | cut -c1-110
for r in 1 2; do for p in int8 fp16; do for x8 in 1 0; do
  F=(--precision $p); [ $p = int8 ] && F+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
  f="$out/$p-x8$x8-r$r"
  OCTET_LAYERNORM_X8=$x8 timeout 40 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 5 \
    --iterations 20 --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
  echo "$p x8=$x8 r$r: $(grep -E "^\|  +128 \|" "$f.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
done; done; done
exit 0
