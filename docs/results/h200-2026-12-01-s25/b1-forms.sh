#!/usr/bin/env bash
# Session 25, call 3: the residual LayerNorm forms at batch 1 (s128 and s384), where the engine's rule takes the quad
# form and the tuner chooses the fp16 stream's storage. BERT-large and BERT-base INT8 (attention FP16, fp16 stream):
# the default (storage chosen by the tuner, quad) against the fp16 storage forced with each form; BERT-large FP16 with
# each form. Two rounds, alternated. Then one per-kernel profile (events around every kernel in a graph) of BERT-large
# INT8 at s128 b128, for the GEMMs' times inside the pass against the tuner's times alone. Carry .device/octet.xz and
# .device/cache.tar.xz. About 5 minutes.
#   bash docs/results/h200-2026-12-01-s25/b1-forms.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/b1-forms.tgz" -C "$out" .' EXIT
I8=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
run() {  # name, env assignments..., then -- and bench arguments
  local f="$out/$1"; shift; local envs=(); while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" timeout 60 /tmp/octet bench "$@" --device cuda --batch 1 --seq 128,384 --warmup 20 --iterations 200 \
    --min-seconds 0.5 --json "$f.json" > "$f.txt" 2>&1
  echo "$(basename "$f"): $(grep -E "^\|  +1 \|" "$f.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
}
for r in 1 2; do
  for m in bert-large bert-base; do
    run $m-int8-default-r$r X=1 -- $m "${I8[@]}"
    for form in quad x8 warp; do run $m-int8-f16-$form-r$r OCTET_STREAM_STORAGE=f16 OCTET_LAYERNORM=$form -- $m "${I8[@]}"; done
  done
  for form in quad x8 warp; do run bert-large-fp16-$form-r$r OCTET_LAYERNORM=$form -- bert-large --precision fp16; done
done
timeout 90 /tmp/octet bench bert-large --device cuda "${I8[@]}" --batch 128 --seq 128 --warmup 5 --iterations 20 \
  --profile --json "$out/profile-b128.json" > "$out/profile-b128.txt" 2>&1
echo "profile exit $?"; grep -iE "gemm|layernorm|attention" "$out/profile-b128.txt" | head -30
exit 0
