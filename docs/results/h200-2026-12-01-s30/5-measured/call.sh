#!/usr/bin/env bash
# Session 30, the measured call (after a call that carried .device/minilm and unpacked the model to /tmp/m) on the
# binary of 53c36e4 (HEAD, the uniform warpgroup index); with NAME, its kernels with the folder .device/k-NAME (the
# kernel files of the commit that adopts that diff): session 27's measured call (the reference model's self-test with
# the fp16-stream recipe, scripts/device_bench.sh with Octet and PyTorch FP16 side by side, 8 s of BERT-large INT8 s384
# b128, then BERT-large s384 b1 timed longer on both sides, alternated twice).
# Carry .device/octet.xz, .device/cache.tar.xz, .device/reference_s384.safetensors (and .device/k-NAME). About 8 minutes.
#   bash docs/results/h200-2026-12-01-s30/5-measured/call.sh $OUT [NAME]
set -uo pipefail
if [ -n "${2:-}" ]; then
  export OCTET_KERNEL_DIR=$PWD/.device/k-$2
  [ -d "$OCTET_KERNEL_DIR" ] || { echo "no kernel folder $OCTET_KERNEL_DIR: was it carried?"; exit 1; }
  echo "kernels: $OCTET_KERNEL_DIR ($(ls "$OCTET_KERNEL_DIR" | tr '\n' ' '))"
fi
bash docs/results/h200-2026-12-01-s27/3-measured/call.sh "$1"
