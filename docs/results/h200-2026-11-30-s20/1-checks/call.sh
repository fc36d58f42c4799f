#!/usr/bin/env bash
# For session 20, after `git apply` of both diffs here (attention-q128.diff, layernorm-e8.diff),
# `python3 scripts/embed_kernels.py`, a build and the NVRTC cache (docs/GPU.md, Next), and a call that carried the
# model: the 128-query FP16 attention for big grids and the two-quads-per-thread residual LayerNorm. In order, each
# with a time limit:
#   1. the workbench's checks and attention timings (every attention kernel against PyTorch float64, padded and
#      packed; the new attention must equal the 64-query one bit for bit; both LayerNorm forms; timings against SDPA);
#   2. the full self-test (its new check: a random BERT on 18 sequences, a grid that takes the new attention);
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
ab() {  # VARIABLE, batch, the value with the change, the value without: two rounds, both models, alternated
  local var=$1 b=$2 on=$3 off=$4
  for round in 1 2; do
    for m in bert-large bert-base; do
      for v in $on $off; do
        env $var=$v timeout 80 /tmp/octet bench $m --device cuda "${F[@]}" --batch $b --seq 128,384 --warmup 10 --iterations 100 \
          --min-seconds 0.3 --json "$out/$m-b$b-$var-$v-r$round.json" > "$out/$m-b$b-$var-$v-r$round.txt" 2>&1
        echo "$m b$b $var=$v round $round: $(grep -E "^\|  +$b \|" "$out/$m-b$b-$var-$v-r$round.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
      done
    done
  done
}
ab OCTET_ATTENTION_QUERIES 128 128 64
ab OCTET_LAYERNORM_ELEMENTS 1 8 4
