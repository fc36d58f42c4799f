#!/usr/bin/env bash
# For session 24: the fp16 GEMM output stored as pairs straight from registers instead of through the shared-memory
# staging (`f16-direct.diff`), against HEAD's kernels, alternated, two rounds, BERT-large and BERT-base at batch 1 and
# 128 (s128 and s384), with the fp16-stream recipe (`stream`: the attention-output and FFN-out GEMMs write fp16, where
# session 23 placed the batch-1 loss) or the float32 stream (`float`: only the QKV GEMM writes fp16). No model needed.
# Prepare here: OCTET=/tmp/carry/octet bash scripts/kernel_ab_prepare.sh
# f16direct=docs/results/h200-2026-11-30-s23/next/f16-direct.diff, then carry .device/octet.xz, .device/cache.tar.xz and
# .device/k-f16direct. About 4 minutes per stream kind.
#   bash docs/results/h200-2026-11-30-s23/next/call.sh $OUT stream|float
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 kind=${2:-stream}
trap 'tar czf "$dest/f16direct-$kind.tgz" -C "$out" .' EXIT
[ "$kind" = stream ] && export BENCH_FLAGS=--half-precision-stream
bash scripts/kernel_ab_bench.sh "$out" 2 "bert-large bert-base" "1 128" head f16direct
