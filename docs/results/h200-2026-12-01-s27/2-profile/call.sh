#!/usr/bin/env bash
# Session 27, call 2: the binary that makes the paired wgmma attention the default past 128 keys on big grids, checked
# (the full self-test without the model: its 18-sequence checks now run paired by default, and the unpaired wgmma and
# mma.sync kernels forced), confirmed at BERT-large INT8 s384 b128 against `OCTET_ATTENTION_WGMMA=1`, then Nsight
# Compute at the real clock on BERT-large INT8 s384 b1's kernels (attention FP16, fp16 stream), to see what bounds each
# one where the 2× bar is 1% away: the GEMMs forced to one tile each (`OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=...`; per
# layer the launches go QKV, attention output, FFN in, FFN out, so launch 4·L + i is GEMM i of layer L), the attention
# and the residual LayerNorm. Carry .device/octet.xz and .device/cache.tar.xz. About 6 minutes.
#   bash docs/results/h200-2026-12-01-s27/2-profile/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/profile.tgz" -C "$out" .' EXIT
timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest exit $?: $(grep -c " pass " "$out/selftest.txt") passed"; grep -v " pass " "$out/selftest.txt" | grep "|" | head -8
grep "wgmma attention" "$out/selftest.txt" | cut -c1-120
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for w in "" 1; do
  f="$out/b128-wgmma${w:-default}"
  OCTET_ATTENTION_WGMMA=$w timeout 60 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 384 --warmup 5 \
    --iterations 20 --min-seconds 1 --json "$f.json" > "$f.txt" 2>&1
  echo "s384 b128 wgmma=${w:-default}: $(grep -E "^\|  +128 \|" "$f.txt" | cut -d'|' -f3,13,16,19 | tr -s ' ')"
done
NCU=/usr/local/cuda/bin/ncu
S=(--section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats --section SchedulerStats --section LaunchStats
   --section Occupancy --section ComputeWorkloadAnalysis)
prof() {  # name, kernel regex, launches to skip, then env assignments
  local name=$1 regex=$2 skip=$3; shift 3
  env "$@" timeout 90 $NCU "${S[@]}" --clock-control none --cache-control none --kernel-name regex:$regex --launch-skip $skip \
    --launch-count 1 -o "$out/$name" /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 1 --seq 384 --warmup 0 \
    --iterations 1 --min-seconds 0 > "$out/ncu-run-$name.txt" 2>&1
  echo "ncu $name exit $?"
  $NCU -i "$out/$name.ncu-rep" --page details > "$out/details-$name.txt" 2>&1
  rm -f "$out/$name.ncu-rep"
  grep -E "^  [a-z_0-9]+ |Duration|Memory Throughput|L2 Cache Throughput|DRAM Throughput|Compute \(SM\) Throughput|SM Active Cycles|Elapsed Cycles|Warp Cycles Per Issued|Issued Ipc|Grid Size" "$out/details-$name.txt" | head -14
}
prof ffn-out-64x64 gemm_wgmma_i8_64x64 7 OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=64x64
prof attn-out-64x64 gemm_wgmma_i8_64x64 5 OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=64x64
prof qkv-128x96 gemm_wgmma_i8_128x96 4 OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=128x96
prof ffn-in-128x96 gemm_wgmma_i8_128x96 6 OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=128x96
prof attention attention_mma_d64_f16_f16_wgmma_groups3 1 OCTET_GEMM_TUNE=0
prof layernorm residual_layernorm 2 OCTET_GEMM_TUNE=0
exit 0
