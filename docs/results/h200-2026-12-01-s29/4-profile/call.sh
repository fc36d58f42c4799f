#!/usr/bin/env bash
# Session 29, call 4: Nsight Compute's full set with source counters (samples per SASS instruction) on the binary of
# 43477c0, for the next session's choice of work:
# - batch 128, the open bar: BERT-large INT8 (attention FP16, fp16 stream) s128 b128, the FFN-in GEMM (GELU, int8 out;
#   a third of the pass's energy in session 26) and the QKV GEMM, each in the ping-pong tile the tuner picks for it
#   (pp_64x256, pp_128x128), forced with tuning off; layer 1's launch (per layer: QKV, attention output, FFN in, FFN out);
# - batch 1: the FFN-out GEMM at BERT-large s384 b1 (64×64, rolled epilogue since faa20be): what is left of its fixed
#   cost after session 28's profile.
# Carry .device/octet.xz and .device/cache.tar.xz. About 5 minutes.
#   bash docs/results/h200-2026-12-01-s29/4-profile/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/profile.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
NCU=/usr/local/cuda/bin/ncu
prof() {  # name, kernel regex, launches to skip, batch, seq, then env assignments
  local name=$1 regex=$2 skip=$3 batch=$4 seq=$5; shift 5
  env "$@" timeout 110 $NCU --set full --import-source no --clock-control none --cache-control none \
    --kernel-name regex:$regex --launch-skip $skip --launch-count 1 -o "$out/$name" /tmp/octet bench bert-large \
    --device cuda "${F[@]}" --batch $batch --seq $seq --warmup 0 --iterations 1 --min-seconds 0 > "$out/ncu-run-$name.txt" 2>&1
  echo "ncu $name exit $? (at ${SECONDS}s)"
  $NCU -i "$out/$name.ncu-rep" --page details > "$out/details-$name.txt" 2>&1
  $NCU -i "$out/$name.ncu-rep" --page source --csv --print-source sass > "$out/source-$name.csv" 2>&1
  rm -f "$out/$name.ncu-rep"; xz -T8 "$out/source-$name.csv"
  grep -E "^  [a-z_0-9]+ |Duration|SM Active Cycles|Warp Cycles Per Issued|Issued Ipc Active|Compute \(SM\) Throughput|Memory Throughput" "$out/details-$name.txt" | head -8
}
prof b128-ffn-in-pp64x256 gemm_wgmma_pp_i8_64x256 6 128 128 OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=pp_64x256
prof b128-qkv-pp128x128 gemm_wgmma_pp_i8_128x128 4 128 128 OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=pp_128x128
prof b1-ffn-out-64x64 gemm_wgmma_i8_64x64 7 1 384 OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=64x64
exit 0
