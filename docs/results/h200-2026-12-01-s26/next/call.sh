#!/usr/bin/env bash
# For session 27: the paired wgmma attention's first run (attention_mma_d64_f16_f16_wgmma_paired_f16in, built in session
# 26 without a GPU: two warpgroups of 64 queries per block sharing each K and V chunk, on the grids where the mma.sync
# kernel takes 128 queries; opt-in, OCTET_ATTENTION_WGMMA=paired), and the first self-test of the binary that makes the
# wgmma attention the default. Carry .device/octet.xz and .device/cache.tar.xz (HEAD's binary and its NVRTC cache). No
# model needed. About 8 minutes:
# 1. the kernel workbench's attention checks and timings (scripts/gpu_kernel_bench.py --only-attention: the paired
#    kernel against PyTorch in float64, padded and packed, and its time per layer beside the other kernels and SDPA);
# 2. the self-test without the model (every kernel, and the whole-model checks: the "wgmma attention, paired" ones
#    force it on 18 sequences of 1 to 256 tokens, packed and padded, FP16 and INT8 with the attention in float);
# 3. if the paired checks passed: BERT-large and BERT-base at batch 128, s128 and s384, INT8 (attention FP16, fp16
#    stream) and FP16, OCTET_ATTENTION_WGMMA=1 (the default) against paired, two rounds alternated, with the clock and
#    J/run. Batch 1 does not take the paired kernel (its grids are small).
# Adopt it where it wins (make it the engine's choice on those grids), else remove it.
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
for r in 1 2; do for m in bert-large bert-base; do for p in int8 fp16; do for w in "${forms[@]}"; do
  F=(--precision $p); [ $p = int8 ] && F+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
  f="$out/$m-$p-wgmma$w-r$r"
  OCTET_ATTENTION_WGMMA=$w timeout 60 /tmp/octet bench $m --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 5 \
    --iterations 20 --min-seconds 1 --json "$f.json" > "$f.txt" 2>&1
  echo "$m $p wgmma=$w r$r: $(grep -E "^\|  +128 \|" "$f.txt" | cut -d'|' -f3,13,16,19 | tr -s ' ' | tr '\n' ' ')"
done; done; done; done
exit 0
