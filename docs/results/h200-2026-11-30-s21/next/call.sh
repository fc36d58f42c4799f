#!/usr/bin/env bash
# For session 22: int8 quantization on the FMA pipe instead of the conversion pipe, in every kernel
# (quantize-fma-pipe.diff: k-quant) or in the ping-pong GEMMs' epilogue only (quantize-fma-pipe-pingpong.diff:
# k-quantpp), measured through OCTET_KERNEL_DIR against the binary of HEAD. Prepare here (no GPU), with N this folder:
#   OCTET=/tmp/carry/octet bash scripts/kernel_ab_prepare.sh quant=$N/quantize-fma-pipe.diff quantpp=$N/quantize-fma-pipe-pingpong.diff
# then carry .device/octet.xz, .device/cache.tar.xz, .device/k-quant, .device/k-quantpp, .device/reference_s384.safetensors and
# .device/dev-v1.1.json.xz, after a call that carried the model to /tmp/m (bash scripts/device_unpack.sh). Two parts:
#   bash docs/results/h200-2026-11-30-s21/next/call.sh $OUT ab       the pass with HEAD's kernels, k-quant and k-quantpp
#   bash docs/results/h200-2026-11-30-s21/next/call.sh $OUT checks   full self-test of k-quant; full-dev INT8 predictions
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null  # the binary, the dev set and the NVRTC cache, where carried
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 part=${2:-ab}
trap 'tar czf "$dest/$part.tgz" -C "$out" .' EXIT
for v in quant quantpp; do  # a missing folder would silently run the binary's own kernels
  [ -d .device/k-$v ] || { echo "no .device/k-$v: carry it"; exit 1; }
done
if [ "$part" = checks ]; then  # the limits add up to 510 s, under the call's 600
  [ -f /tmp/m/model.safetensors ] || { echo "no model at /tmp/m: run the model's call first"; exit 1; }
  OCTET_KERNEL_DIR=$PWD/.device/k-quant timeout 270 /tmp/octet selftest --device cuda --model /tmp/m \
    --features .device/reference_s384.safetensors --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
  status=$?
  grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest (k-quant): $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
  # The random-token mode of the model checks (session 21 found it sensitive to GELU changes): HEAD's kernels gave 0.0318.
  OCTET_KERNEL_DIR=$PWD/.device/k-quant timeout 60 /tmp/octet selftest --device cuda --model /tmp/m --features /nonexistent \
    --models-only > "$out/selftest-random.txt" 2>&1
  echo "models-only, random tokens, exit $?: $(grep "| m recipe int8 packed " "$out/selftest-random.txt" | cut -d'|' -f4-6)"
  # Bit for bit HEAD's int8 outputs, so the predictions should be HEAD's exactly. GEMM tuning off: it picks plans by
  # timing, and a float GEMM's plan (its summation order) could then differ between two runs of the same kernels.
  for v in quant quantpp head; do
    dir=""; [ $v != head ] && dir=$PWD/.device/k-$v
    OCTET_GEMM_TUNE=0 OCTET_KERNEL_DIR=$dir timeout 60 /tmp/octet eval squad --device cuda --precision int8 --scales recipes/minilm-l6-squad.json \
      --model /tmp/m --tokenizer /tmp/m --data /tmp/dev.json --batch 32 --output "$out/eval-int8-$v" > "$out/eval-int8-$v.txt" 2>&1
    echo "eval int8 $v exit $?: $(grep "^| /tmp/m " "$out/eval-int8-$v.txt")"
  done
  for v in quant quantpp; do
    cmp -s "$out/eval-int8-$v/predictions.json" "$out/eval-int8-head/predictions.json" && echo "$v: predictions identical to head's"
  done
  exit 0
fi
bash scripts/kernel_ab_bench.sh "$out" 2 "bert-large bert-base" "1 128" head quant quantpp
