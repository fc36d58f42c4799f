#!/usr/bin/env bash
# Session 28, fourth call: the GEMM epilogue's chunk loop rolled for tiles of up to 128 columns (`rolled-epilogue.diff`,
# through `OCTET_KERNEL_DIR=.device/k-rolled`): call 3's stall samples put a third of the FFN-out 64×64 GEMM's warp
# time in its epilogue, most of it waiting for instructions (a cold instruction cache, 400 straight-line instructions);
# rolled, the 64×64 kernel has 3,048 SASS instructions where it had 5,280, the 128×96 one 3,000 where it had 7,968.
# 1. The full self-test with the rolled kernels (every GEMM variant against the CPU, then the random BERTs).
# 2. If it passes, an A/B with tuning off (the same plans both sides), alternated twice: BERT-large INT8 (attention
#    FP16, fp16 stream) s384 b1, s128 b1 and s384 b128, BERT-base INT8 s384 b1, BERT-large FP16 s384 b1.
# 3. BERT-large INT8 s384 b1 tuned, as the measured call runs it, for at least 2 s: HEAD's kernels once, the rolled
#    ones twice, each rolled run followed by PyTorch FP16's CUDA graph for 1,000 replays.
# Carry .device/octet.xz, .device/cache.tar.xz and .device/k-rolled. About 8 minutes.
#   bash docs/results/h200-2026-12-01-s28/call4.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/rolled.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
R=$PWD/.device/k-rolled
OCTET_KERNEL_DIR=$R timeout 240 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest-rolled.json" \
  > "$out/selftest-rolled.txt" 2>&1
status=$?
echo "selftest, k-rolled: exit $status, $(grep -c "| pass" "$out/selftest-rolled.txt") passed (at ${SECONDS}s)"
grep "|" "$out/selftest-rolled.txt" | grep -v "| pass" | tail -n +3 | head -8
[ $status -eq 0 ] || exit 0
for r in 1 2; do for run in bert-large:int8:1:384 bert-large:int8:1:128 bert-base:int8:1:384 bert-large:fp16:1:384 bert-large:int8:128:384; do
  for k in head rolled; do
    IFS=: read -r m p b s <<< "$run"
    G=(--precision $p); [ $p = int8 ] && G+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
    dir=""; [ $k = head ] || dir=$R
    n=200; [ $b = 128 ] && n=30
    f="$out/$m-$p-s$s-b$b-$k-r$r"
    OCTET_KERNEL_DIR=$dir OCTET_GEMM_TUNE=0 timeout 40 /tmp/octet bench $m --device cuda "${G[@]}" --batch $b --seq $s \
      --warmup 20 --iterations $n --min-seconds 1 --json "$f.json" > "$f.txt" 2>&1
    echo "$m $p s$s b$b $k r$r: $(grep -E "^\|  +$b \|" "$f.txt" | cut -d'|' -f13 | tr -s ' ')"
  done
done; done
echo "(at ${SECONDS}s)"
for run in head:1 rolled:1 rolled:2; do
  IFS=: read -r k r <<< "$run"
  dir=""; [ $k = head ] || dir=$R
  OCTET_KERNEL_DIR=$dir timeout 100 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 1 --seq 384 --warmup 20 \
    --iterations 200 --min-seconds 2 --json "$out/tuned-$k-r$r.json" > "$out/tuned-$k-r$r.txt" 2>&1
  echo "tuned $k r$r: $(grep -E "^\|  +1 \|" "$out/tuned-$k-r$r.txt" | cut -d'|' -f4,7,13 | tr -s ' ') (at ${SECONDS}s)"
  [ $k = rolled ] || continue
  PYTHONUNBUFFERED=1 timeout 90 python3 scripts/peer_torch_bench.py --models bert-large --batch 1 --seq 384 --precisions fp16 \
    --modes graph --iterations 1000 --json "$out/torch-r$r.json" > "$out/torch-r$r.txt" 2>&1
  echo "torch r$r: $(grep -iE "graph" "$out/torch-r$r.txt" | tail -1 | cut -c1-150)"
done
exit 0
