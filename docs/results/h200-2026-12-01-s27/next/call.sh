#!/usr/bin/env bash
# For session 28, first call: HEAD's binary checked and three changes measured, none of them run on a GPU yet.
# 1. The self-test without the model (HEAD: `octet bench` progress on standard error, the fixed GEMM rule at 384–512
#    rows taking 64×64 and 128×96).
# 2. The wgmma attention with the score scale folded into the exponent (`scale-in-exponent.diff`, through
#    `OCTET_KERNEL_DIR=.device/k-fold`): a 64-key chunk wholly inside its sequence keeps its raw scores, so the mask's
#    loads and one instruction per score go (SASS: 209 instructions from the QKᵀ wait to the P·V issue, 246 before;
#    108 registers, 118 before); and the same plus no rescaling at a key group's first chunk (`first-chunk.diff` on top,
#    `.device/k-first`: its sums start at zero, so the 32 multiplies of O and the correction's exponential go; bit for
#    bit the same outputs). Each one's whole-model checks (`--models-only`: random BERTs with sequences of 160, 100 and
#    37 tokens, whole and partial chunks, key groups and paired), then an A/B of the three kernels, alternated twice:
#    BERT-large and BERT-base INT8 (attention FP16, fp16 stream) and BERT-large FP16 at s384 b1, BERT-large INT8 at s384
#    b128. Tuning off (`OCTET_GEMM_TUNE=0`: a run starts in seconds, the same GEMM plans on both sides).
# 3. BERT-large INT8 s384 b1 with tuning off under the new GEMM rule and the old one (`OCTET_WGMMA_KERNEL=128x128`).
# Carry .device/octet.xz, .device/cache.tar.xz (HEAD's kernels, k-fold's and k-first's, from
# scripts/kernel_ab_prepare.sh), .device/k-fold and .device/k-first. About 8 minutes. Then `profile.sh` (Nsight Compute,
# about 4 minutes).
#   bash docs/results/h200-2026-12-01-s27/next/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/check-fold.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest exit $?: $(grep -c "| pass" "$out/selftest.txt") passed"; grep "|" "$out/selftest.txt" | grep -v "| pass" | tail -n +3 | head -8
kernels=(head)
for k in fold first; do
  OCTET_KERNEL_DIR=$PWD/.device/k-$k timeout 120 /tmp/octet selftest --device cuda --model /nonexistent --models-only \
    --json "$out/selftest-$k.json" > "$out/selftest-$k.txt" 2>&1
  status=$?
  echo "selftest, k-$k, models only: exit $status, $(grep -c "| pass" "$out/selftest-$k.txt") passed"
  grep "|" "$out/selftest-$k.txt" | grep -v "| pass" | tail -n +3 | head -6
  [ $status -eq 0 ] && kernels+=($k)
done
echo "kernels measured: ${kernels[*]}"
for r in 1 2; do for run in bert-large:int8:1 bert-base:int8:1 bert-large:fp16:1 bert-large:int8:128; do for k in "${kernels[@]}"; do
  IFS=: read -r m p b <<< "$run"
  G=(--precision $p); [ $p = int8 ] && G+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
  dir=""; [ $k = head ] || dir=$PWD/.device/k-$k
  n=100; [ $b = 128 ] && n=30
  f="$out/$m-$p-b$b-$k-r$r"
  OCTET_KERNEL_DIR=$dir OCTET_GEMM_TUNE=0 timeout 40 /tmp/octet bench $m --device cuda "${G[@]}" --batch $b --seq 384 \
    --warmup 10 --iterations $n --min-seconds 1 --json "$f.json" > "$f.txt" 2>&1
  echo "$m $p b$b $k r$r: $(grep -E "^\|  +$b \|" "$f.txt" | cut -d'|' -f13 | tr -s ' ')"
done; done; done
for r in 1 2; do for rule in new old; do
  k=""; [ $rule = old ] && k=128x128
  OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=$k timeout 30 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 1 --seq 384 \
    --warmup 20 --iterations 200 --min-seconds 1 > "$out/untuned-$rule-r$r.txt" 2>&1
  echo "untuned, $rule rule, r$r: $(grep -E "^\|  +1 \|" "$out/untuned-$rule-r$r.txt" | cut -d'|' -f13 | tr -s ' ')"
done; done
exit 0
