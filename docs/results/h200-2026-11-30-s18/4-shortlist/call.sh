#!/usr/bin/env bash
# Session 18, call 4 (after a call that only carried the model): the in-pass tuning shortlist gains the fastest split-K
# wgmma plan when none is among the three fastest (kernels unchanged since call 2's full self-test, the NVRTC cache the
# same). The self-test's whole-model checks (--models-only: the engines tune inside the pass there), then Octet's batch-1
# benches (INT8 with the attention in FP16, and FP16), then PyTorch FP16 at batch 1 (CUDA graph; compile at s128) in the
# same call.   bash docs/results/h200-2026-11-30-s18/4-shortlist/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/shortlist.tgz" -C "$out" .' EXIT
timeout 120 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --models-only \
  --json "$out/selftest-models.json" > "$out/selftest-models.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest-models.txt" | head -20; echo "selftest --models-only: $(grep -c " pass " "$out/selftest-models.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
bench() {  # model, label, precision and flags (as scripts/device_bench.sh, batch 1 only)
  local m=$1 label=$2; shift 2
  echo "### $m $label" >> "$out/octet.txt"
  timeout 80 /tmp/octet bench "$m" --device cuda --batch 1 --seq 128,384 --warmup 20 --iterations 100 --min-seconds 0.5 \
    --json "$out/octet-$m-$label.json" "$@" 2>&1 | grep -v "^|--" | tee -a "$out/octet.txt" | grep -E "^\|  +(1|128) \|" | cut -d'|' -f2,3,5,13
}
for m in bert-base bert-large; do
  echo "== $m int8 attention fp16"; bench "$m" int8-attention-fp16 --precision int8 --float '*.attention.qk' --float '*.attention.pv'
  echo "== $m fp16"; bench "$m" fp16 --precision fp16
done
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/peer_torch_bench.py --batch 1 --seq 128,384 --precisions fp16 --modes graph \
  --iterations 100 --json "$out/torch-graph.json" 2>&1 | tee "$out/torch.txt"
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/peer_torch_bench.py --batch 1 --seq 128 --precisions fp16 --modes compile \
  --iterations 100 --json "$out/torch-compile.json" 2>&1 | tee -a "$out/torch.txt"
