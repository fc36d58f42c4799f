#!/usr/bin/env bash
# Session 19, call 6 (the session's last 255 s of device time): the fourth fused GEMM + residual LayerNorm (the band's
# blocks meet through a counter in global memory, no cluster; opt-in OCTET_FUSED_LAYERNORM=1). The whole-model
# self-test on random BERTs (its three fused checks among them; no reference model in this call), then the pass with
# and without it at batch 1, both models.   bash docs/results/h200-2026-11-30-s19/6-fused-layernorm/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/fused.tgz" -C "$out" .' EXIT
timeout 90 /tmp/octet selftest --device cuda --models-only --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -12; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
for m in bert-large bert-base; do
  for fused in 0 1; do
    OCTET_FUSED_LAYERNORM=$fused timeout 40 /tmp/octet bench $m --device cuda "${F[@]}" --batch 1 --seq 128,384 --warmup 20 --iterations 200 \
      --min-seconds 0.2 --json "$out/$m-fused$fused.json" > "$out/$m-fused$fused.txt" 2>&1
    echo "$m fused $fused: $(grep -E '^\|  +1 \|' "$out/$m-fused$fused.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
  done
done
