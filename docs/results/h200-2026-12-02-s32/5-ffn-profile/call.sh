#!/usr/bin/env bash
# Session 32, call 5: Nsight Compute on layer 0's three GEMMs at BERT-large INT8 (attention FP16, fp16 stream) s128
# b128 with tuning off (the rule's plans): the attention output, FFN in (GELU into int8) and FFN out. Why: the tuner
# times FFN in at 146 µs and FFN out at 87 for the same products (session 31's call 1), and which pipe (tensor, FMA,
# XU: the MUFU and conversions) or stall limits FFN in's epilogue decides its next form. Carry .device/octet.xz and
# .device/cache.tar.xz.
#   bash docs/results/h200-2026-12-02-s32/5-ffn-profile/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache OCTET_GEMM_TUNE=0
out=$1
timeout 120 /usr/local/cuda/bin/ncu -k regex:gemm_wgmma -c 3 --set full -o "$out/gemms" /tmp/octet bench bert-large --device cuda \
  --precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream --batch 128 --seq 128 \
  --warmup 1 --iterations 2 > "$out/ncu.txt" 2>&1
echo "ncu exit $?"
/usr/local/cuda/bin/ncu -i "$out/gemms.ncu-rep" --page details > "$out/details.txt" 2>&1
/usr/local/cuda/bin/ncu -i "$out/gemms.ncu-rep" --page raw --csv > "$out/raw.csv" 2>&1
xz -T8 "$out/raw.csv"
grep -E "^  [a-z]|Duration|Issued Ipc Active|highest-utilized|No Eligible" "$out/details.txt" | cut -c1-160
exit 0
