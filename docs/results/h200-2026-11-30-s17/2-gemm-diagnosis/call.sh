#!/usr/bin/env bash
# Session 17, call 2: where the batch-128 GEMMs lose (BERT-large s128 b128, INT8 with the attention in FP16).
#   1. the workbench's wgmma variants at the four batch-128 shapes, each with fp16, GELU + int8 and float32 output;
#   2. Nsight Compute (full set) on layer 0's four GEMMs (tuning off: the rule's ping-pong 128×128), details and the
#      SASS lines with the most warp stall samples.
# Run from the repository root after scripts/device_unpack.sh:  bash docs/results/.../call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/diag.tgz" -C "$out" .' EXIT
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/gpu_kernel_bench.py --no-checks --no-attention-timing --epilogues \
  --gemm-shapes "16384,3072,1024;16384,1024,1024;16384,4096,1024;16384,1024,4096" --json "$out/workbench.json" > "$out/workbench.txt" 2>&1
echo "workbench exit $?"; grep -A1 "^  16384" "$out/workbench.txt" | cut -c1-400
NCU=/usr/local/cuda/bin/ncu
F=(--float '*.attention.qk' --float '*.attention.pv')
OCTET_GEMM_TUNE=0 timeout 240 $NCU --set full --import-source no --kernel-name regex:gemm_wgmma_pp --launch-skip 0 --launch-count 4 \
  -o "$out/gemm" /tmp/octet bench bert-large --device cuda --precision int8 "${F[@]}" --batch 128 --seq 128 --warmup 0 --iterations 1 \
  --min-seconds 0 > "$out/ncu-run.txt" 2>&1
echo "ncu exit $?"; tail -3 "$out/ncu-run.txt"
$NCU -i "$out/gemm.ncu-rep" --page details > "$out/details.txt" 2>&1
$NCU -i "$out/gemm.ncu-rep" --page source --csv --print-source sass > "$out/source.csv" 2>&1
ls -la "$out"; rm -f "$out/gemm.ncu-rep"
grep -E "^  gemm|Duration|Throughput|Warp Cycles Per Issued|Issued Warp|Eligible|No Eligible|Active Warps" "$out/details.txt" | head -80
