#!/usr/bin/env bash
# Session 17, call 3 (after a call that unpacked the model to /tmp/m): the epilogue with staged per-column values and
# quad-transposed stores. scripts/device_bench.sh with its self-test (the measured run with PyTorch in the same call;
# it benches only if the self-test passes), then the full-dev F1 on this binary, then the workbench's batch-128 GEMM
# timings with each epilogue.
#   bash docs/results/h200-2026-11-30-s17/3-measured/call.sh $OUT
set -uo pipefail
dest=$1
timeout 420 bash scripts/device_bench.sh /tmp/octet /tmp/m .device/reference_s384.safetensors "$dest" || exit 1
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d)
trap 'tar czf "$dest/extra.tgz" -C "$out" .' EXIT
for p in int8 fp16; do
  S=""; [ $p = int8 ] && S="--scales recipes/minilm-l6-squad.json"
  timeout 60 /tmp/octet eval squad --device cuda --precision $p $S --model /tmp/m --tokenizer /tmp/m --data /tmp/dev.json --batch 32 \
    --output "$out/eval-$p" > "$out/eval-$p.txt" 2>&1
  echo "eval $p exit $?"; tail -n 3 "$out/eval-$p.txt" | head -n 2 | tail -n 1
done
PYTHONUNBUFFERED=1 timeout 90 python3 scripts/gpu_kernel_bench.py --no-checks --no-attention-timing --epilogues \
  --gemm-shapes "16384,3072,1024;16384,1024,1024;16384,4096,1024;16384,1024,4096" --json "$out/workbench.json" > "$out/workbench.txt" 2>&1
echo "workbench exit $?"; grep -A1 "^  16384" "$out/workbench.txt" | cut -c1-300
