#!/usr/bin/env bash
# Session 26, call 5: the wgmma attention pipelined within its warpgroup (S_{i+1} = Q·K_{i+1}ᵀ and P_i·V_i issued
# together, the softmax of S_{i+1} running while P_i·V_i does), first run on a GPU, against the unpipelined kernel
# that commit 0dcf500 embeds. The binary is 0dcf500's; the pipelined kernels come from OCTET_KERNEL_DIR under the same
# names: .device/k-pipe (142 registers, 3 blocks of 128 threads per multiprocessor) and .device/k-pipe4 (the same with
# __launch_bounds__(128, 4): 128 registers, 44 bytes spilled, 4 blocks). Their NVRTC cache is in .device/cache.tar.xz.
# First each form's whole-model self-test without the model (--models-only: its wgmma checks are the random BERTs
# with heads of 64, packed and padded, key groups on small grids), then an A/B of every form whose self-test passed:
# BERT-large INT8 (attention FP16, fp16 stream) at batch 1 and 128, s128 and s384, two rounds alternated, and FP16 once.
# Carry .device/octet.xz, .device/cache.tar.xz, .device/k-pipe, .device/k-pipe4.
#   bash docs/results/h200-2026-12-01-s26/5-pipe/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/pipe.tgz" -C "$out" .' EXIT
forms=(embedded)
for k in k-pipe k-pipe4; do
  OCTET_KERNEL_DIR=$PWD/.device/$k timeout 150 /tmp/octet selftest --device cuda --model /nonexistent --models-only \
    --json "$out/selftest-$k.json" > "$out/selftest-$k.txt" 2>&1
  status=$?
  echo "selftest $k exit $status: $(grep -c " pass " "$out/selftest-$k.txt") passed"; grep -v " pass " "$out/selftest-$k.txt" | grep "|" | head -6
  [ $status = 0 ] && forms+=($k)
done
echo "forms measured: ${forms[*]}"
bench() {  # form, precision, round
  local k=$1 p=$2 r=$3 dir=""
  [ "$k" = embedded ] || dir=$PWD/.device/$k
  F=(--precision $p); [ $p = int8 ] && F+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
  local f="$out/bert-large-$p-$k-r$r"
  OCTET_KERNEL_DIR=$dir timeout 60 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 1,128 --seq 128,384 --warmup 5 \
    --iterations 20 --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
  echo "bert-large $p $k r$r: $(grep -E "^\|  +(1|128) \|" "$f.txt" | cut -d'|' -f2,3,13,19 | tr -s ' ' | tr '\n' ' ')"
}
for r in 1 2; do for k in "${forms[@]}"; do bench $k int8 $r; done; done
for k in "${forms[@]}"; do bench $k fp16 1; done
exit 0
