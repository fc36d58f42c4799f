#!/usr/bin/env bash
# Session 17, call 4: Nsight Compute (full set) on the FFN-in GEMM (GELU + int8 output, ping-pong 128×128) of
# BERT-large s128 b128 with call 3's binary (staged column values, quad-transposed stores): what its epilogue waits on
# now. Layer 0's third GEMM, tuning off.   bash docs/results/h200-2026-11-30-s17/4-ncu-gelu/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/ncu.tgz" -C "$out" .' EXIT
NCU=/usr/local/cuda/bin/ncu
F=(--float '*.attention.qk' --float '*.attention.pv')
OCTET_GEMM_TUNE=0 timeout 150 $NCU --set full --import-source no --kernel-name regex:gemm_wgmma_pp --launch-skip 2 --launch-count 2 \
  -o "$out/gemm" /tmp/octet bench bert-large --device cuda --precision int8 "${F[@]}" --batch 128 --seq 128 --warmup 0 --iterations 1 \
  --min-seconds 0 > "$out/ncu-run.txt" 2>&1
echo "ncu exit $?"
$NCU -i "$out/gemm.ncu-rep" --page details > "$out/details.txt" 2>&1
$NCU -i "$out/gemm.ncu-rep" --page source --csv --print-source sass > "$out/source.csv" 2>&1
rm -f "$out/gemm.ncu-rep"; xz -T8 "$out/source.csv"; ls -la "$out"
grep -E "^  gemm|Duration|Warp Cycles Per Issued|Issued Warp|Registers Per|bytes transmitted per sector" "$out/details.txt" | head -30
