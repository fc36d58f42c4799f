#!/usr/bin/env bash
# Session 34's first two calls, on HEAD's binary, its NVRTC cache and the kernel folder .device/k-turns
# (`OCTET=… bash scripts/kernel_ab_prepare.sh turns=docs/results/h200-2026-12-02-s33/next/attention-turns.diff`).
# Part `checks` (about 8 minutes):
# 1. the full self-test without the model: its `residual code out` checks now compare each int8 wgmma tile's codes
#    with the codes of its own fp16 output at tolerance 0 (session 33's review; never run on a GPU yet);
# 2. the whole-model checks with k-turns: the fused QKV attention's one-block form (2 and 3 row tiles, s384) with its
#    two consumer warpgroups taking turns at the tensor cores (FlashAttention-3's ping-pong: bursts [P·V of chunk
#    c − 1, S of chunk c] alternating between the warpgroups through named barriers 2 and 3, so one's softmax runs
#    under the other's products; same operations in the same order per warpgroup, so the same values: its forced
#    fused checks should read as HEAD's); built in session 33, ptxas 168 registers, no spills, no serialization remark;
# 3. if they pass, head against turns at batch 128 (BERT-large and BERT-base INT8, fp16 stream), alternated twice
#    (s128 runs the pair form, unchanged: a control);
# 4. OCTET_MERGED_CODES 0 against 1 at batch 128, alternated twice (built in session 33, never run: one array of codes
#    for a LayerNorm's output and the next GEMM's input where their steps agree, as the synthetic scales' do; the
#    self-test of step 1 forces it on random BERTs: `… residual codes merged` checks).
# Part `profile` (about 5 minutes): batch 128's time and energy kernel by kernel with the residual codes (OCTET_SKIP
# keeps them since session 33), BERT-large s128 and s384 b128, each kind of kernel alone in the pass, none, the whole
# pass; then Nsight Compute on a codes LayerNorm and the GEMMs around it at s128 b128.
# Carry .device/octet.xz, .device/cache.tar.xz and .device/k-turns.
#   bash docs/results/h200-2026-12-02-s33/next/call.sh $OUT checks|profile
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 part=$2
trap 'tar czf "$dest/$part.tgz" -C "$out" .' EXIT
summary() {  # file
  echo "$(basename "$1"): $(grep -c "| pass" "$1") passed, $(grep "|" "$1" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
  grep "|" "$1" | tail -n +3 | grep -v "| pass" | head -8
}
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
if [ "$part" = checks ]; then
  timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
  summary "$out/selftest.txt"; grep "residual code out" "$out/selftest.txt" | cut -c1-130 | head -4
  OCTET_KERNEL_DIR=$PWD/.device/k-turns timeout 200 /tmp/octet selftest --device cuda --model /nonexistent --models-only \
    --json "$out/selftest-turns.json" > "$out/selftest-turns.txt" 2>&1
  summary "$out/selftest-turns.txt"; grep "fused QKV" "$out/selftest-turns.txt" | cut -c1-130
  grep "|" "$out/selftest.txt" | grep "merged" | cut -c1-130
  if ! grep "|" "$out/selftest-turns.txt" | tail -n +3 | grep -vq "| pass"; then
    BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 "bert-large bert-base" 128 head turns
  fi
  grep "|" "$out/selftest.txt" | grep "merged" | grep -vq "| pass" && exit 0
  bash scripts/env_ab_bench.sh "$out" 2 "bert-large bert-base" 128 OCTET_MERGED_CODES "0 1"
  exit 0
fi
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
