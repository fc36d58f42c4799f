#!/usr/bin/env bash
# For session 28, after call.sh: where BERT-large INT8 s384 b1's kernels stall, instruction by instruction (Nsight
# Compute's full set with source counters, at the real clock, L2 left warm), to pick the next change for the last 1–2%
# of the 2× bar:
# - the FFN-out GEMM as the engine runs it (gemm_wgmma_i8_64x64, about 3,600 cycles per block that are not products,
#   session 27) and the QKV GEMM (128×96);
# - the attention (wgmma, three key groups: about 1,200 instructions per warp);
# - the residual LayerNorm.
# The GEMMs are forced to one tile (`OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=…`; per layer the launches go QKV, attention
# output, FFN in, FFN out, so launch 4·L + i is GEMM i of layer L). Each profile's details and its SASS with stall
# samples per instruction (csv, xz) come back. Carry .device/octet.xz and .device/cache.tar.xz. About 4 minutes.
#   bash docs/results/h200-2026-12-01-s27/next/profile.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/source.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
NCU=/usr/local/cuda/bin/ncu
prof() {  # name, kernel regex, launches to skip, then env assignments
  local name=$1 regex=$2 skip=$3; shift 3
  env "$@" timeout 120 $NCU --set full --import-source no --clock-control none --cache-control none \
    --kernel-name regex:$regex --launch-skip $skip --launch-count 1 -o "$out/$name" /tmp/octet bench bert-large \
    --device cuda "${F[@]}" --batch 1 --seq 384 --warmup 0 --iterations 1 --min-seconds 0 > "$out/ncu-run-$name.txt" 2>&1
  echo "ncu $name exit $?"
  $NCU -i "$out/$name.ncu-rep" --page details > "$out/details-$name.txt" 2>&1
  $NCU -i "$out/$name.ncu-rep" --page source --csv --print-source sass > "$out/source-$name.csv" 2>&1
  rm -f "$out/$name.ncu-rep"; xz -T8 "$out/source-$name.csv"
  grep -E "^  [a-z_0-9]+ |Duration|SM Active Cycles|Warp Cycles Per Issued|Issued Ipc Active" "$out/details-$name.txt" | head -6
}
prof ffn-out-64x64 gemm_wgmma_i8_64x64 7 OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=64x64
prof qkv-128x96 gemm_wgmma_i8_128x96 4 OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=128x96
prof attention attention_mma_d64_f16_f16_wgmma_groups3 1 OCTET_GEMM_TUNE=0
prof layernorm residual_layernorm 2 OCTET_GEMM_TUNE=0
exit 0
