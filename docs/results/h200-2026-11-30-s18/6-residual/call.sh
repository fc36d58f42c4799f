#!/usr/bin/env bash
# Session 18, call 6 (after a call that only carried the model): the residual add in the wgmma epilogue (float32
# output, float adds; the LayerNorm then reads the sum alone). The full self-test (300 s; stop if it fails), then
# Octet's INT8 benches (attention FP16) with the fusion on (default) and off (OCTET_FUSED_RESIDUAL=0), BERT-large at
# batch 128 and BERT-base at batch 1 and 128, alternating. Not a measured call: no PyTorch here.
#   bash docs/results/h200-2026-11-30-s18/6-residual/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/residual.tgz" -C "$out" .' EXIT
timeout 280 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json "$out/selftest.json" \
  > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
A=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --seq 128,384 --warmup 20 --iterations 100 --min-seconds 0.5)
for fused in 1 0; do
  echo "== bert-large b128, fused residual $fused"
  OCTET_FUSED_RESIDUAL=$fused timeout 60 /tmp/octet bench bert-large --device cuda --batch 128 "${A[@]}" \
    --json "$out/octet-bert-large-fused$fused.json" 2>&1 | grep -E "^\|  +(1|128) \|" | cut -d'|' -f2,3,5,13
  echo "== bert-base b1,128, fused residual $fused"
  OCTET_FUSED_RESIDUAL=$fused timeout 60 /tmp/octet bench bert-base --device cuda --batch 1,128 "${A[@]}" \
    --json "$out/octet-bert-base-fused$fused.json" 2>&1 | grep -E "^\|  +(1|128) \|" | cut -d'|' -f2,3,5,13
done
