#!/usr/bin/env bash
# Session 33, call 5: the residual codes' LayerNorms with 16 elements per thread (`residual_layernorm_f16x16_codes_*`,
# hidden sizes that are multiples of 512) against 8 (OCTET_WIDE_CODE_NORMS=0). The self-test's whole-model checks
# (the forced codes at hidden 1,024 run the x16 kernels), then BERT-large INT8 (attention FP16, fp16 stream) at batch
# 128, alternated twice. Carry .device/octet.xz and .device/cache.tar.xz.
#   bash docs/results/h200-2026-12-02-s33/3-wide/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/wide.tgz" -C "$out" .' EXIT
timeout 120 /tmp/octet selftest --device cuda --model /nonexistent --models-only --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest: $(grep -c "| pass" "$out/selftest.txt") passed, $(grep "|" "$out/selftest.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
grep "|" "$out/selftest.txt" | tail -n +3 | grep -v "| pass" | head -5; grep "residual codes" "$out/selftest.txt" | cut -c1-130
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for r in 1 2; do
  list="0 1"; (( r % 2 )) || list="1 0"
  for v in $list; do
    OCTET_WIDE_CODE_NORMS=$v timeout 60 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 10 \
      --iterations 100 --min-seconds 1 --json "$out/wide$v-r$r.json" > "$out/wide$v-r$r.txt" 2>&1
    echo "wide=$v round $r: $(grep -E "^\|  +128 \|" "$out/wide$v-r$r.txt" | cut -d'|' -f3,13,16,18,19 | tr -s ' ' | tr '\n' ' ') (at ${SECONDS}s)"
  done
done
exit 0
