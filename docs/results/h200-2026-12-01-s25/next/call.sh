#!/usr/bin/env bash
# For session 26: where batch 128's energy goes, and what the tensor cores' precisions cost per operation at the cap.
# Carry .device/octet.xz and .device/cache.tar.xz (the binary of HEAD and its NVRTC cache). No model needed.
#   bash docs/results/h200-2026-12-01-s25/next/call.sh $OUT [energy|library|wgmma]
# energy (about 5 minutes): BERT-large INT8 (attention FP16, fp16 stream) and FP16 at s128 b128, 5 s per configuration
#   after tuning, `octet bench`'s J/run (NVML's energy counter) for the whole pass, for the pass with each kind of
#   kernel left out (OCTET_SKIP: energy by difference), and for the pass with everything but one kind left out (its
#   own energy and clock, alone in the pass); then PyTorch's FP16 graph at the same shape with its J/run. A skipped
#   kernel leaves its output buffer as the warm-up left it, so the kernels after it multiply stale values, possibly
#   zeros, which draw less power than real data: read the differences as approximate.
# library (about 2 minutes): scripts/gpu_energy_bench.py, cuBLAS(Lt)'s FP16, INT8 and FP8 GEMMs at BERT-large's
#   batch-128 shapes held at the cap: picojoules per operation, which bounds what INT8 can gain over FP16 there.
# wgmma (about 8–10 minutes): the first GPU run of the wgmma attention (attention_mma_d64_f16_f16_wgmma*, built in
#   session 25 without a GPU): the kernel workbench's attention checks and timings (scripts/gpu_kernel_bench.py
#   --only-attention: every wgmma form against PyTorch in float64), the self-test without the model, whose "wgmma attention" checks force both forms (V read
#   as stored; "(Vᵀ)": V transposed while staging) on random BERTs (3×256 on 36 blocks, with key groups; 1×512 with 18
#   sequences of 1 to 256 tokens; 1×1024; packed and padded, FP16 and INT8 with the attention in float), then each form
#   whose checks passed (OCTET_ATTENTION_WGMMA=1|vt) against the default, BERT-large (BERT-base's attention times are
#   in the workbench's table), INT8 (attention FP16, fp16 stream) and FP16, batch 1 and 128, s128 and s384, two rounds
#   alternated, with the clock and J/run.
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 kind=${2:-energy}
trap 'tar czf "$dest/$kind.tgz" -C "$out" .' EXIT
if [ "$kind" = wgmma ]; then
  # The workbench first: each wgmma kernel (both forms, 1–3 key groups, padded and packed) against PyTorch in float64,
  # then every attention kernel's time beside SDPA's (the error per kernel says where a failure is).
  PYTHONUNBUFFERED=1 timeout 200 python3 scripts/gpu_kernel_bench.py --only-attention --json "$out/workbench.json" > "$out/workbench.txt" 2>&1
  echo "workbench exit $?"; grep -E "wgmma|FAIL|checks passed" "$out/workbench.txt" | cut -c1-140 | head -30
  grep -E "^ +bert" "$out/workbench.txt" | cut -c1-220
  timeout 240 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
  echo "selftest exit $?: $(grep -c " pass " "$out/selftest.txt") passed"; grep -v " pass " "$out/selftest.txt" | head -8
  grep "wgmma attention" "$out/selftest.txt" | cut -c1-120
  # The A/B takes each form whose checks all passed: 1 (V read as stored, MN-major) and vt (V transposed while staging).
  forms=(0)
  grep "wgmma attention" "$out/selftest.txt" | grep -v "(Vᵀ)" | grep -q FAIL || forms+=(1)
  grep "wgmma attention (Vᵀ)" "$out/selftest.txt" | grep -q FAIL || forms+=(vt)
  echo "forms measured: ${forms[*]}"
  for r in 1 2; do for m in bert-large; do for p in int8 fp16; do for w in "${forms[@]}"; do
    F=(--precision $p); [ $p = int8 ] && F+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
    f="$out/$m-$p-wgmma$w-r$r"
    OCTET_ATTENTION_WGMMA=$w timeout 60 /tmp/octet bench $m --device cuda "${F[@]}" --batch 1,128 --seq 128,384 --warmup 5 \
      --iterations 20 --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
    echo "$m $p wgmma=$w r$r: $(grep -E "^\|  +(1|128) \|" "$f.txt" | cut -d'|' -f2,3,13,19 | tr -s ' ' | tr '\n' ' ')"
  done; done; done; done
  exit 0
fi
if [ "$kind" = library ]; then
  PYTHONUNBUFFERED=1 timeout 200 python3 scripts/gpu_energy_bench.py --seconds 3 --json "$out/library.json" 2>&1 | tee "$out/library.txt"
  exit 0
fi
kinds=(qkv attention output norm ffn-in ffn-out)
all=$(IFS=,; echo "${kinds[*]}")
bench() {  # file name, OCTET_SKIP value, precision flags
  local f="$out/$1" skip=$2; shift 2
  OCTET_SKIP=$skip timeout 60 /tmp/octet bench bert-large --device cuda "$@" --batch 128 --seq 128 --warmup 5 \
    --iterations 20 --min-seconds 5 --json "$f.json" > "$f.txt" 2>&1
  echo "$(basename "$f"): $(grep -E "^\|  +128 \|" "$f.txt" | cut -d'|' -f13,16,17,18,19 | tr -s ' ')"
}
I8=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
echo "columns: GPU compute ms | SM MHz | W | power-capped | J/run"
bench int8-whole "" "${I8[@]}"
for k in "${kinds[@]}"; do
  bench "int8-without-$k" "$k" "${I8[@]}"
  bench "int8-only-$k" "$(echo ",$all," | sed "s/,$k,/,/; s/^,//; s/,$//")" "${I8[@]}"
done
bench fp16-whole "" --precision fp16
PYTHONUNBUFFERED=1 timeout 120 python3 scripts/peer_torch_bench.py --models bert-large --batch 128 --seq 128 --precisions fp16 \
  --modes graph --iterations 400 --json "$out/torch.json" 2>&1 | tee "$out/torch.txt"
exit 0
