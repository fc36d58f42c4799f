#!/usr/bin/env bash
# Session 28, fifth call: the rolled epilogue kept for the cooperative schedule only (`rolled-cooperative.diff`,
# `.device/k-final`): call 4's fully rolled form was 1.3% slower at BERT-large INT8 s384 b128, whose rule takes the
# ping-pong 128×128 kernel. An A/B with tuning off at s384 b128, alternated twice (the batch-1 kernels are the ones
# call 4 measured, the same SASS); then the full self-test with these kernels, writing straight into the output folder
# (last, as the session's device time runs out). Carry .device/octet.xz, .device/cache.tar.xz and .device/k-final.
# About 4 minutes.
#   bash docs/results/h200-2026-12-01-s28/call5.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/final-ab.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
K=$PWD/.device/k-final
for r in 1 2; do for b in 128; do for k in head final; do
  dir=""; [ $k = head ] || dir=$K
  n=200; [ $b = 128 ] && n=30
  f="$out/bert-large-int8-s384-b$b-$k-r$r"
  OCTET_KERNEL_DIR=$dir OCTET_GEMM_TUNE=0 timeout 40 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch $b --seq 384 \
    --warmup 20 --iterations $n --min-seconds 1 --json "$f.json" > "$f.txt" 2>&1
  echo "bert-large int8 s384 b$b $k r$r: $(grep -E "^\|  +$b \|" "$f.txt" | cut -d'|' -f13 | tr -s ' ')"
done; done; done
echo "(at ${SECONDS}s)"
OCTET_KERNEL_DIR=$K timeout 230 /tmp/octet selftest --device cuda --model /nonexistent --json "$dest/selftest-final.json" \
  > "$dest/selftest-final.txt" 2>&1
echo "selftest, k-final: exit $?, $(grep -c "| pass" "$dest/selftest-final.txt") passed (at ${SECONDS}s)"
grep "|" "$dest/selftest-final.txt" | grep -v "| pass" | tail -n +3 | head -8
exit 0
