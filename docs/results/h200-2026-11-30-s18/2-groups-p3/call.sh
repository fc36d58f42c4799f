#!/usr/bin/env bash
# Session 18, call 2 (after a call that only carried the model): call 1's epilogue plus (a) the fp16 one-pass attention
# with 2–3 key groups on grids with fewer blocks than multiprocessors (batch 1) and (b) a ping-pong GEMM with three
# consumer warpgroups (gemm_wgmma_p3_*_64x128) among the tuner's candidates. The full self-test (300 s; stop if it
# fails), Octet's INT8 (attention FP16) and FP16 benches at batch 1 and 128, and the INT8 batch-1 benches again with
# the key groups off (OCTET_ATTENTION_GROUPS=1). Not a measured call: no PyTorch here.
#   bash docs/results/h200-2026-11-30-s18/2-groups-p3/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/groups.tgz" -C "$out" .' EXIT
timeout 300 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json "$out/selftest.json" \
  > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
bench() {  # model, label, batches, precision and flags (as scripts/device_bench.sh)
  local m=$1 label=$2 batches=$3; shift 3
  echo "### $m $label" >> "$out/octet.txt"
  timeout 80 /tmp/octet bench "$m" --device cuda --batch "$batches" --seq 128,384 --warmup 20 --iterations 100 --min-seconds 0.5 \
    --json "$out/octet-$m-$label.json" "$@" 2>&1 | grep -v "^|--" | tee -a "$out/octet.txt" | grep -E "^\|  +(1|128) \|" | cut -d'|' -f2,3,5,13
}
A=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
for m in bert-large bert-base; do
  echo "== $m int8 attention fp16"; bench "$m" int8-attention-fp16 1,128 "${A[@]}"
  echo "== $m same, key groups off"; OCTET_ATTENTION_GROUPS=1 bench "$m" int8-attention-fp16-groups-off 1 "${A[@]}"
  echo "== $m fp16"; bench "$m" fp16 1,128 --precision fp16
done
