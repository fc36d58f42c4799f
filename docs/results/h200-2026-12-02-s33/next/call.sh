#!/usr/bin/env bash
# For session 34's first call, on HEAD's binary and its NVRTC cache (about 8 minutes):
# 1. the full self-test without the model: its `residual code out` checks now compare each int8 wgmma tile's codes with
#    the codes of its own fp16 output at tolerance 0 (session 33's review; never run on a GPU yet);
# 2. batch 128's time kernel by kernel with the residual codes (OCTET_SKIP now keeps them; before session 33's last
#    commit it turned them off): BERT-large INT8 (fp16 stream, attention FP16) at s128 and s384 b128, each kind of kernel
#    alone in the pass (OCTET_SKIP = the other five), none of them, and the whole pass; J per pass from NVML;
# 3. Nsight Compute on one codes LayerNorm and layer 0's FFN in at BERT-large s128 b128: how far the LayerNorm (67 MB
#    a call) is from the copy bandwidth, and whether it is issue-bound.
# Carry .device/octet.xz and .device/cache.tar.xz.
#   bash docs/results/h200-2026-12-02-s33/next/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/results.tgz" -C "$out" .' EXIT
timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest: $(grep -c "| pass" "$out/selftest.txt") passed, $(grep "|" "$out/selftest.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
grep "|" "$out/selftest.txt" | tail -n +3 | grep -v "| pass" | head -8
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
kinds="qkv attention output norm ffn-in ffn-out"
for s in 128 384; do
  for only in whole none $kinds; do
    case $only in whole) skip="";; none) skip=$(echo $kinds | tr ' ' ',');; *) skip=$(echo $kinds | tr ' ' '\n' | grep -vx "$only" | paste -sd,);; esac
    OCTET_SKIP=$skip timeout 60 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq $s --warmup 10 \
      --iterations 50 --min-seconds 3 --json "$out/s$s-$only.json" > "$out/s$s-$only.txt" 2>&1
    echo "s$s $only: $(grep -E "^\|  +128 \|" "$out/s$s-$only.txt" | cut -d'|' -f13,16,17,18,19 | tr -s ' ') (at ${SECONDS}s)"
  done
done
# Tuning off: the rule's ping-pong 128×128 tile for every GEMM; layer 0 launches the attention-output GEMM (codes out),
# its LayerNorm (f16_c8: not matched), FFN in, FFN out (codes out), then the first c8_c8 LayerNorm: four matches.
OCTET_GEMM_TUNE=0 timeout 120 /usr/local/cuda/bin/ncu -k regex:"residual_layernorm_f16x8_codes_c8_c8|gemm_wgmma_pp_i8_128x128" -c 4 --set full \
  -o "$out/codes" /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 1 --iterations 2 > "$out/ncu.txt" 2>&1
/usr/local/cuda/bin/ncu -i "$out/codes.ncu-rep" --page details > "$out/details.txt" 2>&1
/usr/local/cuda/bin/ncu -i "$out/codes.ncu-rep" --page raw --csv > "$out/raw.csv" 2>&1 && xz -T8 "$out/raw.csv" && rm -f "$out/codes.ncu-rep"
grep -E "^  [a-z]|Duration|DRAM Throughput|Issued Ipc Active|highest-utilized|Achieved Occupancy" "$out/details.txt" | cut -c1-150
exit 0
