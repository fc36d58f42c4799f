#!/usr/bin/env bash
# For session 27: the paired wgmma attention's first run (attention_mma_d64_f16_f16_wgmma_paired_f16in, built in session
# 26 without a GPU: two warpgroups of 64 queries per block sharing each K and V chunk, on the grids where the mma.sync
# kernel takes 128 queries; opt-in, OCTET_ATTENTION_WGMMA=paired), and the first self-test of the binary that makes the
# wgmma attention the default. Carry .device/octet.xz and .device/cache.tar.xz (HEAD's binary and its NVRTC cache). No
# model needed. About 9 minutes:
# 1. the kernel workbench's attention checks and timings (scripts/gpu_kernel_bench.py --only-attention: the paired
#    kernel against PyTorch in float64, padded and packed, and its time per layer beside the other kernels and SDPA);
# 2. the self-test without the model (every kernel, and the whole-model checks: the "wgmma attention, paired" ones
#    force it on 18 sequences of 1 to 256 tokens, packed and padded, FP16 and INT8 with the attention in float);
# 3. if the paired checks passed: batch 128, s128 and s384, OCTET_ATTENTION_WGMMA=1 (the default) against paired,
#    alternated, with the clock and J/run: BERT-large INT8 (attention FP16, fp16 stream) and FP16 two rounds each,
#    BERT-base INT8 one. Batch 1 does not take the paired kernel (its grids are small).
# 4. where BERT-large INT8 s384 b1 spends its time with the wgmma attention (the 2× bar is 1% away there): the pass, and
#    the pass with each kind of kernel left out (OCTET_SKIP), 200 iterations and at least 1 s each, two rounds.
# Adopt the paired kernel where it wins (make it the engine's choice on those grids), else remove it.
#   bash docs/results/h200-2026-12-01-s26/next/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/paired.tgz" -C "$out" .' EXIT
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/gpu_kernel_bench.py --only-attention --json "$out/workbench.json" > "$out/workbench.txt" 2>&1
echo "workbench exit $?: $(grep -E "checks passed" "$out/workbench.txt")"; grep -E "FAIL" "$out/workbench.txt" | cut -c1-140 | head -10
grep -E "^ +bert" "$out/workbench.txt" | cut -c1-200
timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest exit $?: $(grep -c " pass " "$out/selftest.txt") passed"; grep -v " pass " "$out/selftest.txt" | grep "|" | head -8
grep "paired" "$out/selftest.txt" | cut -c1-120
forms=(1)
grep "paired" "$out/selftest.txt" | grep -q FAIL || forms+=(paired)
echo "forms measured: ${forms[*]}"
for run in bert-large:int8:1 bert-large:fp16:1 bert-large:int8:2 bert-large:fp16:2 bert-base:int8:1; do
  IFS=: read -r m p r <<< "$run"
  for w in "${forms[@]}"; do
    F=(--precision $p); [ $p = int8 ] && F+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
    f="$out/$m-$p-wgmma$w-r$r"
    OCTET_ATTENTION_WGMMA=$w timeout 60 /tmp/octet bench $m --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 5 \
      --iterations 20 --min-seconds 1 --json "$f.json" > "$f.txt" 2>&1
    echo "$m $p wgmma=$w r$r: $(grep -E "^\|  +128 \|" "$f.txt" | cut -d'|' -f3,13,16,19 | tr -s ' ' | tr '\n' ' ')"
  done
done
echo "BERT-large INT8 s384 b1, median GPU ms with each kind of kernel left out:"
for r in 1 2; do for k in none qkv attention output norm ffn-in ffn-out; do
  skip=$k; [ $k = none ] && skip=""
  f="$out/b1-s384-skip-$k-r$r"
  OCTET_SKIP=$skip timeout 40 /tmp/octet bench bert-large --device cuda --precision int8 --float '*.attention.qk' \
    --float '*.attention.pv' --half-precision-stream --batch 1 --seq 384 --warmup 20 --iterations 200 --min-seconds 1 \
    --json "$f.json" > "$f.txt" 2>&1
  echo "without $k r$r: $(grep -E "^\|  +1 \|" "$f.txt" | cut -d'|' -f13 | tr -s ' ')"
done; done
exit 0
