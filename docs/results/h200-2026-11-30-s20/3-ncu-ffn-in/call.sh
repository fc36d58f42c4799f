#!/usr/bin/env bash
# For session 20 (no model needed, about 2 minutes): Nsight Compute (full set, per-instruction samples) on the FFN-in
# GEMM of BERT-large s128 b128 (GELU + int8 output, the ping-pong 128×128 kernel the tuner keeps there), after session
# 18's epilogue rewrite: 202 µs per layer inside the pass (session 19) against FFN out's ~94 for the same products.
# What the epilogue waits on now, and whether one warpgroup's epilogue still outlasts the other's main loop (compare
# the samples in the epilogue's code region with the main loop's, as session 17's `4-ncu-gelu/stalls.md` did).
# Layer 2's launch, tuning off (the rule's plan: ping-pong 128×128 from 1,024 rows).
#   bash docs/results/h200-2026-11-30-s19/next/ncu-ffn-in.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/ncu-ffn-in.tgz" -C "$out" .' EXIT
NCU=/usr/local/cuda/bin/ncu
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
# The pass's GEMMs in order are QKV, attention output, FFN in, FFN out: with tuning off the ping-pong kernel runs all
# four, so launch 10 (0-based) is layer 2's FFN in.
OCTET_GEMM_TUNE=0 timeout 150 $NCU --set full --import-source no --kernel-name regex:gemm_wgmma_pp --launch-skip 10 --launch-count 1 \
  -o "$out/ffn-in" /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 0 --iterations 1 \
  --min-seconds 0 > "$out/ncu-run.txt" 2>&1
echo "ncu exit $?"
$NCU -i "$out/ffn-in.ncu-rep" --page details > "$out/details.txt" 2>&1
$NCU -i "$out/ffn-in.ncu-rep" --page source --csv --print-source sass > "$out/source.csv" 2>&1
rm -f "$out/ffn-in.ncu-rep"; xz -T8 "$out/source.csv"
grep -E "^  gemm|Duration|Warp Cycles Per Issued|Registers Per|Issue Slots Busy|No Eligible|Grid Size" "$out/details.txt" | head -12
