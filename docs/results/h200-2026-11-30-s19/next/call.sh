#!/usr/bin/env bash
# For session 20, after `git apply docs/results/h200-2026-11-30-s19/next/attention-q128.diff`,
# `python3 scripts/embed_kernels.py`, a build and the NVRTC cache (docs/GPU.md, Next), and a call that carried the
# model: the 128-query FP16 attention for big grids. In order, each with a time limit:
#   1. the attention workbench (every attention kernel against PyTorch float64, padded and packed; the new kernel must
#      equal the 64-query one bit for bit; timings against SDPA);
#   2. the full self-test (its new check: a random BERT on 12 sequences, a grid that takes the new kernel);
#   3. the pass with it (default) and without (OCTET_ATTENTION_QUERIES=64), alternated, at batch 128, both models.
#   bash docs/results/h200-2026-11-30-s19/next/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/q128.tgz" -C "$out" .' EXIT
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/gpu_kernel_bench.py --only-attention --json "$out/workbench-attention.json" \
  > "$out/workbench-attention.txt" 2>&1
echo "workbench exit $?"; grep -E "FAIL|checks passed|B128 " "$out/workbench-attention.txt" | head -20
timeout 300 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json "$out/selftest.json" \
  > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
for round in 1 2; do
  for m in bert-large bert-base; do
    for q in 128 64; do
      OCTET_ATTENTION_QUERIES=$q timeout 80 /tmp/octet bench $m --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 10 \
        --iterations 50 --min-seconds 0.3 --json "$out/$m-q$q-r$round.json" > "$out/$m-q$q-r$round.txt" 2>&1
      echo "$m queries $q round $round: $(grep -E '^\|  +128 \|' "$out/$m-q$q-r$round.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
    done
  done
done
