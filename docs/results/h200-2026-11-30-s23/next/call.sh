#!/usr/bin/env bash
# For session 24, two remedies for the fp16-stream recipe's batch-1 loss (session 23: 1.3–1.9% at s384 b1, placed in
# the attention-output GEMM's fp16 output). No model needed.
# - `stream` / `float`: the fp16 GEMM output stored as pairs straight from registers instead of through the
#   shared-memory staging (`f16-direct.diff`), against HEAD's kernels, alternated, two rounds, BERT-large and BERT-base
#   at batch 1 and 128 (s128 and s384), with the fp16-stream recipe (`stream`) or the float32 stream (`float`: only the
#   QKV GEMM writes fp16). Prepare here: OCTET=/tmp/carry/octet bash scripts/kernel_ab_prepare.sh
#   f16direct=docs/results/h200-2026-11-30-s23/next/f16-direct.diff; carry .device/octet.xz, .device/cache.tar.xz and
#   .device/k-f16direct. About 4 minutes each.
# - `storage`: the fp16-stream recipe stored as fp16 (the default) against float32 holding fp16 values
#   (`OCTET_STREAM_STORAGE=f32`: the float32 stream's GEMM outputs and the `f32h` LayerNorms, which round; the same
#   values), same binary and kernels, alternated, two rounds, same shapes; first the self-test without the model, whose
#   random BERTs check the `f32h` path against the CPU. Carry .device/octet.xz and .device/cache.tar.xz. About 6 minutes.
#   bash docs/results/h200-2026-11-30-s23/next/call.sh $OUT stream|float|storage
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 kind=${2:-stream}
trap 'tar czf "$dest/next-$kind.tgz" -C "$out" .' EXIT
if [ "$kind" = storage ]; then
  timeout 260 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
  echo "selftest exit $?: $(grep -c " pass " "$out/selftest.txt") passed"; grep -v " pass " "$out/selftest.txt" | head -8
  grep "in float32" "$out/selftest.txt" | cut -c1-120
  F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
  for r in 1 2; do for m in bert-large bert-base; do for storage in f16 f32; do
    f="$out/$m-$storage-r$r"
    OCTET_STREAM_STORAGE=$storage timeout 60 /tmp/octet bench $m --device cuda "${F[@]}" --batch 1,128 --seq 128,384 --warmup 10 \
      --iterations 50 --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
    echo "$m $storage r$r: $(grep -E "^\|  +(1|128) \|" "$f.txt" | cut -d'|' -f2,3,13 | tr -s ' ' | tr '\n' ' ')"
  done; done; done
  exit 0
fi
[ "$kind" = stream ] && export BENCH_FLAGS=--half-precision-stream
bash scripts/kernel_ab_bench.sh "$out" 2 "bert-large bert-base" "1 128" head f16direct
