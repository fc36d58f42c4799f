#!/usr/bin/env bash
# Session 28, second call: the folded score scale again, now only for packed batches (`packed-only.diff` on top of
# `scale-in-exponent.diff`; the first call's version skipped the mask of a padded batch, whose mask may drop keys
# anywhere, and failed 3 fp16-padded checks), and the same plus no rescaling at a key group's first chunk
# (`first-chunk.diff`). Each one's whole-model checks (`--models-only`), then an A/B of the three kernels alternated
# twice with tuning off (`OCTET_GEMM_TUNE=0`): BERT-large and BERT-base INT8 (attention FP16, fp16 stream) and
# BERT-large FP16 at s384 b1, BERT-large INT8 at s384 b128. Last, BERT-large INT8 s384 b128 with tuning on, between
# two runs with it off (the first call's untuned 43.0 ms sat under every tuned figure of session 27).
# Carry .device/octet.xz, .device/cache.tar.xz, .device/k-fold and .device/k-first. About 6 minutes.
#   bash docs/results/h200-2026-12-01-s28/call2.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/fold-packed.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
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
  n=200; [ $b = 128 ] && n=30
  f="$out/$m-$p-b$b-$k-r$r"
  OCTET_KERNEL_DIR=$dir OCTET_GEMM_TUNE=0 timeout 40 /tmp/octet bench $m --device cuda "${G[@]}" --batch $b --seq 384 \
    --warmup 20 --iterations $n --min-seconds 1 --json "$f.json" > "$f.txt" 2>&1
  echo "$m $p b$b $k r$r: $(grep -E "^\|  +$b \|" "$f.txt" | cut -d'|' -f13 | tr -s ' ')"
done; done; done
for tune in 0 1 0; do
  f="$out/b128-tune$tune-$SECONDS"
  OCTET_GEMM_TUNE=$tune timeout 200 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 384 \
    --warmup 5 --iterations 60 --min-seconds 3 --json "$f.json" > "$f.txt" 2>&1
  echo "b128 s384 tune=$tune: $(grep -E "^\|  +128 \|" "$f.txt" | cut -d'|' -f13 | tr -s ' ') (at ${SECONDS}s)"
done
exit 0
