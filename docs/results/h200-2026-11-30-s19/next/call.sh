#!/usr/bin/env bash
# For session 20, after `git apply` of both diffs here (attention-q128.diff, layernorm-e8.diff),
# `python3 scripts/embed_kernels.py`, a build and the NVRTC cache (docs/GPU.md, Next), and a call that carried the
# model: the 128-query FP16 attention for big grids and the two-quads-per-thread residual LayerNorm. In order, each
# with a time limit:
#   1. the workbench's checks and attention timings (every attention kernel against PyTorch float64, padded and
#      packed; the new attention must equal the 64-query one bit for bit; both LayerNorm forms; timings against SDPA);
#   2. the full self-test (its new check: a random BERT on 12 sequences, a grid that takes the new attention);
#   3. the pass with the new attention (default) and without (OCTET_ATTENTION_QUERIES=64), alternated, at batch 128,
#      both models;
#   4. the pass with the new LayerNorm (default) and without (OCTET_LAYERNORM_ELEMENTS=4), alternated, at batch 1.
# Two calls (each under the 10-minute limit): `checks` runs 1–2 (needs the model), `ab` runs 3–4.
#   bash docs/results/h200-2026-11-30-s19/next/call.sh $OUT checks|ab
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 part=${2:-checks}
trap 'tar czf "$dest/$part.tgz" -C "$out" .' EXIT
if [ "$part" = checks ]; then
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/gpu_kernel_bench.py --no-gemm-timing --json "$out/workbench.json" \
  > "$out/workbench.txt" 2>&1
echo "workbench exit $?"; grep -E "FAIL|checks passed|B128 |layernorm" "$out/workbench.txt" | head -24
timeout 300 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json "$out/selftest.json" \
  > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
exit $status
fi
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
for round in 1 2; do
  for m in bert-large bert-base; do
    for e in 8 4; do
      OCTET_LAYERNORM_ELEMENTS=$e timeout 60 /tmp/octet bench $m --device cuda "${F[@]}" --batch 1 --seq 128,384 --warmup 20 \
        --iterations 200 --min-seconds 0.3 --json "$out/$m-e$e-r$round.json" > "$out/$m-e$e-r$round.txt" 2>&1
      echo "$m layernorm elements $e round $round: $(grep -E '^\|  +1 \|' "$out/$m-e$e-r$round.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
    done
  done
done
