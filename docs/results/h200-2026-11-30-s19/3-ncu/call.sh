#!/usr/bin/env bash
# Session 19, call 3: Nsight Compute (full set, per-instruction samples) on the kernels that call 2 found costly inside
# the pass at BERT-large s384 b1 (INT8, attention FP16): the FP16 attention with key groups (8.2 µs per layer in the
# pass), the residual LayerNorm (about 3 µs each) and the FFN-in GEMM. Layer 2's launches, tuning off (the rule's plans),
# plain launches (Nsight Compute serializes kernels anyway). Then the pass at groups 1, 2 and 3 again.
#   bash docs/results/h200-2026-11-30-s19/3-ncu/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/ncu.tgz" -C "$out" .' EXIT
NCU=/usr/local/cuda/bin/ncu
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
for k in attention_mma residual_layernorm gemm_wgmma_i8_128x128; do
  OCTET_GEMM_TUNE=0 OCTET_PDL=0 timeout 120 $NCU --set full --import-source no --kernel-name regex:$k --launch-skip 4 --launch-count 1 \
    -o "$out/$k" /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 1 --seq 384 --warmup 0 --iterations 1 \
    --min-seconds 0 > "$out/ncu-run-$k.txt" 2>&1
  echo "ncu $k exit $?"
  $NCU -i "$out/$k.ncu-rep" --page details > "$out/details-$k.txt" 2>&1
  $NCU -i "$out/$k.ncu-rep" --page source --csv --print-source sass > "$out/source-$k.csv" 2>&1
  rm -f "$out/$k.ncu-rep"; xz -T8 "$out/source-$k.csv"
  grep -E "^  [a-z_0-9]+ |Duration|Warp Cycles Per Issued|Registers Per|Achieved Occupancy|Theoretical Occupancy|Block Limit" "$out/details-$k.txt" | head -14
done
for g in 1 2 3; do
  OCTET_ATTENTION_GROUPS=$g timeout 60 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 1 --seq 384 --warmup 20 --iterations 200 \
    --min-seconds 0.3 --json "$out/groups$g.json" > "$out/groups$g.txt" 2>&1
  echo "groups $g: $(grep -E '^\|  +1 \|' "$out/groups$g.txt" | cut -d'|' -f13)"
done
