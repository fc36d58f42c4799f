#!/usr/bin/env bash
# The exploration run on the GPU machine: what the next defaults should be, measured in one call. The self-test first
# (every kernel against the CPU reference; stop if it fails), the kernel workbench's GEMM timings with their epilogues
# at batch-128 shapes, then `octet bench` under each engine configuration the code offers beside its default (which
# tunes GEMM tactics per shape; session 13 ran this script with the earlier defaults, where these were the options):
#   OCTET_WGMMA_INT8=0   INT8 GEMMs kept off the wgmma kernel (fixed rule)
#   OCTET_WGMMA_ROWS=1024 the wgmma kernels from 1,024 rows only (fixed rule)
#   OCTET_CUBLASLT=0     the FP16 engine's GEMMs without cuBLASLt
#   OCTET_GEMM_TUNE=0    the fixed rule (`GemmChoice`) instead of per-shape tuning
#   OCTET_ATTENTION_STAGED=1 the attention kernels that stage all of K and Vᵀ
#   OCTET_ATTENTION_RESIDENT=1 the int8 ring's resident form up to 128 keys (then the attention workbench: every
#                        attention kernel against PyTorch, the int8 forms against each other, timings against SDPA)
# a per-kernel profile of the default, and the full-dev SQuAD F1 on the GPU in both precisions. Every step has a time limit.
# Everything it writes ends up in OUT_FOLDER/explore.tgz (the device tool brings back at most 8 files).
#   bash scripts/device_explore.sh OCTET_BINARY MODEL_FOLDER FEATURES DEV_JSON RECIPE OUT_FOLDER
set -uo pipefail
octet=$1 model=$2 features=$3 dev=$4 recipe=$5 destination=$6
out=$(mktemp -d)
trap 'tar czf "$destination/explore.tgz" -C "$out" .' EXIT
trap "exit 143" TERM
timeout 300 "$octet" selftest --device cuda --model "$model" --features "$features" --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
timeout 200 python3 scripts/gpu_kernel_bench.py --no-checks --no-attention-timing --epilogues --json "$out/workbench.json" \
  --gemm-shapes "16384,4096,1024;16384,1024,4096;16384,3072,1024;16384,1024,1024;384,3072,1024;384,1024,4096;128,3072,1024" \
  > "$out/workbench.txt" 2>&1
sed -n '/GEMM timings/,/attention timings/p' "$out/workbench.txt" | grep -v "^        " | head -12
bench() {  # NAME ENV... : both models, both precisions, batch 1 and 128, s128 and s384
  local name=$1; shift
  for m in bert-base bert-large; do for p in int8 fp16; do
    env "$@" timeout 120 "$octet" bench "$m" --device cuda --precision "$p" --batch 1,128 --seq 128,384 --warmup 5 --iterations 20 \
      --min-seconds 0.1 --json "$out/bench-$name-$m-$p.json" > "$out/bench-$name-$m-$p.txt" 2>&1
    echo "== $name $m $p"; grep -E "^\|  +(1|128) \|" "$out/bench-$name-$m-$p.txt" | cut -d'|' -f2,3,13
  done; done
}
bench default
for m in bert-base bert-large; do for p in int8 fp16; do  # where the time goes, kernel by kernel, under the default
  timeout 120 "$octet" bench "$m" --device cuda --precision "$p" --batch 1,128 --seq 128,384 --warmup 3 --iterations 5 --profile \
    > "$out/profile-$m-$p.txt" 2>&1
done; done
bench rule OCTET_GEMM_TUNE=0
bench rule-no-wgmma-int8 OCTET_GEMM_TUNE=0 OCTET_WGMMA_INT8=0
bench rule-wgmma-1024 OCTET_GEMM_TUNE=0 OCTET_WGMMA_ROWS=1024
bench no-cublaslt OCTET_CUBLASLT=0
bench staged-attention OCTET_ATTENTION_STAGED=1
bench resident-attention OCTET_ATTENTION_RESIDENT=1
OCTET_ATTENTION_RESIDENT=1 timeout 150 "$octet" selftest --device cuda --model "$model" --features "$features" \
  --json "$out/selftest-resident.json" > "$out/selftest-resident.txt" 2>&1  # its 2 × 128 random BERTs run the resident form
echo "selftest with OCTET_ATTENTION_RESIDENT=1: exit $?"
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/gpu_kernel_bench.py --only-attention --json "$out/workbench-attention.json" \
  > "$out/workbench-attention.txt" 2>&1
grep -E "FAIL|checks passed|B1 |B128|B32" "$out/workbench-attention.txt" | head -30
grep -h -A40 "GEMM plans measured" "$out"/bench-default-*.txt | head -80 > "$out/tuning.txt"
for p in int8 fp16; do
  S=""; [ $p = int8 ] && S="--scales $recipe"
  timeout 240 "$octet" eval squad --device cuda --precision $p $S --model "$model" --tokenizer "$model" --data "$dev" --batch 32 \
    --output "$out/eval-$p" > "$out/eval-$p.txt" 2>&1
  echo "eval $p exit $?"; tail -n 3 "$out/eval-$p.txt"
done
