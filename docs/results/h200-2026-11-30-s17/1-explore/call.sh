#!/usr/bin/env bash
# Session 17, call 1 — this is scripts/device_explore.sh as it ran then, with the binary of ce9a90f plus an L2 weight
# prefetch (l2_prefetch.cu and the engine's launch of it, both recorded in l2-prefetch.md beside this file; removed
# after this call measured it slower). Commands: (A) carry .device/minilm, `bash scripts/device_unpack.sh`; (B) carry
# .device/octet.xz, .device/cache, .device/dev-v1.1.json.xz, .device/reference_s384.safetensors,
# `bash scripts/device_unpack.sh && bash scripts/device_explore.sh /tmp/octet /tmp/m .device/reference_s384.safetensors
# /tmp/dev.json recipes/minilm-l6-squad.json $OUT`.
# The checking run on the GPU machine before a measured one (about 7 minutes; the first call on a fresh machine also
# compiles every kernel with NVRTC, 1–2 minutes): is the new code right, and what does
# it change? In order of what matters most, each step with a time limit:
#   1. the self-test (every kernel against the CPU reference, including every GEMM the tuner may pick, and the random
#      and reference models packed to their real tokens and padded; stop if it fails);
#   2. the attention workbench (every attention kernel against PyTorch float64, padded and packed; timings against
#      SDPA);
#   3. `octet bench` at batch 1 (s128, s384), INT8 with the attention in FP16 and FP16: the default (GEMMs and launch
#      mode tuned inside the whole pass, weights prefetched into L2) against OCTET_L2_PREFETCH=0, OCTET_FUSED_LAYERNORM=1 (both residual
#      LayerNorms fused into their GEMMs) and OCTET_FUSED_LAYERNORM=attention (the attention output's only), with the
#      per-kernel profile;
#   4. the full-dev SQuAD F1 on the GPU, INT8 recipe and FP16 (to confirm the defaults' accuracy on this binary).
# Everything it writes ends up in OUT_FOLDER/explore.tgz (the device tool brings back at most 8 files).
#   bash scripts/device_explore.sh OCTET_BINARY MODEL_FOLDER FEATURES DEV_JSON RECIPE OUT_FOLDER
set -uo pipefail
# A carried NVRTC cache (compiled here without a GPU: OCTET_CACHE=$PWD/.device/cache octet selftest --compile-only
# sm_90a) spares a fresh machine a minute or two of compiling; kernels it lacks compile as usual.
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
octet=$1 model=$2 features=$3 dev=$4 recipe=$5 destination=$6
out=$(mktemp -d)
trap 'tar czf "$destination/explore.tgz" -C "$out" .' EXIT
trap "exit 143" TERM
timeout 300 "$octet" selftest --device cuda --model "$model" --features "$features" --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/gpu_kernel_bench.py --only-attention --json "$out/workbench-attention.json" \
  > "$out/workbench-attention.txt" 2>&1
grep -E "FAIL|checks passed|B1 " "$out/workbench-attention.txt" | head -30
F=(--float '*.attention.qk' --float '*.attention.pv')
for m in bert-base bert-large; do
  for variant in default no-prefetch fused-layernorm fused-attention-output; do
    E=(); [ $variant = no-prefetch ] && E=(OCTET_L2_PREFETCH=0); [ $variant = fused-layernorm ] && E=(OCTET_FUSED_LAYERNORM=1)
    [ $variant = fused-attention-output ] && E=(OCTET_FUSED_LAYERNORM=attention)
    for p in int8-attention-fp16 fp16; do
      # the variants are measured on the main configuration only (FP16 also without the prefetch)
      [ $p = fp16 ] && [ $variant != default ] && [ $variant != no-prefetch ] && continue
      P=(--precision fp16); [ $p = int8-attention-fp16 ] && P=(--precision int8 "${F[@]}")
      env "${E[@]}" timeout 60 "$octet" bench "$m" --device cuda "${P[@]}" --batch 1 --seq 128,384 --warmup 20 --iterations 200 \
        --min-seconds 0.3 --profile --json "$out/bench-$m-$p-$variant.json" > "$out/bench-$m-$p-$variant.txt" 2>&1
      echo "== $m $p $variant"; grep -E "^\|  +1 \|" "$out/bench-$m-$p-$variant.txt" | cut -d'|' -f2,3,5,13
    done
  done
done
for p in int8 fp16; do
  S=""; [ $p = int8 ] && S="--scales $recipe"
  timeout 90 "$octet" eval squad --device cuda --precision $p $S --model "$model" --tokenizer "$model" --data "$dev" --batch 32 \
    --output "$out/eval-$p" > "$out/eval-$p.txt" 2>&1
  echo "eval $p exit $?"; tail -n 3 "$out/eval-$p.txt" | head -n 2 | tail -n 1
done
# What the tuner chose at batch 1 (BERT-large, INT8 with the attention in FP16), with the three fastest candidates.
python3 - "$out/bench-bert-large-int8-attention-fp16-default.json" <<'PY'
import json, sys
for t in json.load(open(sys.argv[1])).get("gemm_tuning", []):
    best = sorted(t["candidates_us"].items(), key=lambda x: x[1])[:3]
    print(t["shape"], "|", ", ".join(f"{k} {v:.2f}" for k, v in best))
PY
echo done
