#!/usr/bin/env bash
# The exploration run on the GPU machine: what the next defaults should be, measured in one call (about 9 minutes).
# In order of what matters most, each step with a time limit:
#   1. the self-test (every kernel against the CPU reference, including every GEMM the tuner may pick; stop if it
#      fails), then again with each opt-in attention kernel, whose 2 × 128 random BERTs run them against the CPU:
#        OCTET_ATTENTION_RESIDENT=1  the int8 ring's resident form up to 128 keys
#        OCTET_ATTENTION_SPLIT=1     int8 attention at batch 1 with the keys split over a cluster (heads of 64)
#   2. the attention workbench (every attention kernel against PyTorch float64, the int8 forms against each other,
#      timings against SDPA);
#   3. `octet bench` with the defaults (GEMM tactics tuned per shape; the report lists every candidate), and INT8 with
#      each opt-in attention kernel;
#   4. the full-dev SQuAD F1 on the GPU in both precisions;
#   5. a per-kernel profile of BERT-large under the defaults.
# Other knobs for comparisons: OCTET_GEMM_TUNE=0 (the fixed rule), OCTET_WGMMA_INT8=0, OCTET_WGMMA_ROWS=N,
# OCTET_CUBLASLT=0, OCTET_ATTENTION_STAGED=1.
# Everything it writes ends up in OUT_FOLDER/explore.tgz (the device tool brings back at most 8 files).
#   bash scripts/device_explore.sh OCTET_BINARY MODEL_FOLDER FEATURES DEV_JSON RECIPE OUT_FOLDER
set -uo pipefail
octet=$1 model=$2 features=$3 dev=$4 recipe=$5 destination=$6
out=$(mktemp -d)
trap 'tar czf "$destination/explore.tgz" -C "$out" .' EXIT
trap "exit 143" TERM
selftest() {  # NAME ENV...
  local name=$1; shift
  env "$@" timeout 240 "$octet" selftest --device cuda --model "$model" --features "$features" --json "$out/$name.json" > "$out/$name.txt" 2>&1
  local status=$?
  grep -v " pass " "$out/$name.txt" | head -20; echo "$name: $(grep -c " pass " "$out/$name.txt") passed, exit $status"
  return $status
}
selftest selftest || exit 1
selftest selftest-resident OCTET_ATTENTION_RESIDENT=1
selftest selftest-split OCTET_ATTENTION_SPLIT=1
PYTHONUNBUFFERED=1 timeout 120 python3 scripts/gpu_kernel_bench.py --only-attention --json "$out/workbench-attention.json" \
  > "$out/workbench-attention.txt" 2>&1
grep -E "FAIL|checks passed|B1 |B128|B32" "$out/workbench-attention.txt" | head -30
bench() {  # NAME PRECISIONS ENV... : both models, batch 1 and 128, s128 and s384
  local name=$1 precisions=$2; shift 2
  for m in bert-base bert-large; do for p in $precisions; do
    env "$@" timeout 90 "$octet" bench "$m" --device cuda --precision "$p" --batch 1,128 --seq 128,384 --warmup 5 --iterations 20 \
      --min-seconds 0.1 --json "$out/bench-$name-$m-$p.json" > "$out/bench-$name-$m-$p.txt" 2>&1
    echo "== $name $m $p"; grep -E "^\|  +(1|128) \|" "$out/bench-$name-$m-$p.txt" | cut -d'|' -f2,3,13
  done; done
}
bench default "int8 fp16"
grep -h -A60 "GEMM plans measured" "$out"/bench-default-*.txt > "$out/tuning.txt"
bench resident-attention int8 OCTET_ATTENTION_RESIDENT=1
bench split-attention int8 OCTET_ATTENTION_SPLIT=1
for p in int8 fp16; do
  S=""; [ $p = int8 ] && S="--scales $recipe"
  timeout 60 "$octet" eval squad --device cuda --precision $p $S --model "$model" --tokenizer "$model" --data "$dev" --batch 32 \
    --output "$out/eval-$p" > "$out/eval-$p.txt" 2>&1
  echo "eval $p exit $?"; tail -n 3 "$out/eval-$p.txt" | head -n 2
done
for p in int8 fp16; do  # where the time goes, kernel by kernel, under the default
  timeout 60 "$octet" bench bert-large --device cuda --precision "$p" --batch 1,128 --seq 128,384 --warmup 3 --iterations 5 --profile \
    > "$out/profile-bert-large-$p.txt" 2>&1
done
echo done
