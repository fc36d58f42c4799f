#!/usr/bin/env bash
# Session 34, the measured call on the binary with the merged residual codes on by default (call 1 ran the full
# self-test, with the forced merged checks, on the same kernels and the merged codes' A/B): scripts/device_bench.sh
# without the self-test, Octet's INT8 on the fp16-stream recipe form and PyTorch FP16 side by side. Carry
# .device/octet.xz and .device/cache.tar.xz.
#   bash docs/results/h200-2026-12-02-s34/3-measured/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
INT8_FLAGS=--half-precision-stream bash scripts/device_bench.sh /tmp/octet /nonexistent none "$1" no-selftest
