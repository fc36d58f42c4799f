#!/usr/bin/env bash
# The checking run on the GPU machine before a measured one (about 7 minutes): is the new code right, and what does
# it change? In order of what matters most, each step with a time limit:
#   1. the self-test (every kernel against the CPU reference, including every GEMM the tuner may pick, and the random
#      and reference models packed to their real tokens and padded; stop if it fails);
#   2. the attention workbench (every attention kernel against PyTorch float64, padded and packed; timings against
#      SDPA);
#   3. `octet bench --lengths uniform` (real lengths uniform in 1…seq): packed (the default) against padded
#      (OCTET_PACK=0), BERT-large INT8 and FP16 at batch 32 and 128;
#   4. INT8 with the attention kept in FP16 (`--float '*.attention.qk' --float '*.attention.pv'`: the one-pass FP16
#      kernel instead of the two-pass int8 one) against plain INT8, both models, batch 1 and 128, s128 and s384;
#   5. the full-dev SQuAD F1 on the GPU, both precisions, packed and padded (the packed run's answers may differ only
#      where padding positions ranked in the n-best).
# Everything it writes ends up in OUT_FOLDER/explore.tgz (the device tool brings back at most 8 files).
#   bash scripts/device_explore.sh OCTET_BINARY MODEL_FOLDER FEATURES DEV_JSON RECIPE OUT_FOLDER
set -uo pipefail
octet=$1 model=$2 features=$3 dev=$4 recipe=$5 destination=$6
out=$(mktemp -d)
trap 'tar czf "$destination/explore.tgz" -C "$out" .' EXIT
trap "exit 143" TERM
timeout 240 "$octet" selftest --device cuda --model "$model" --features "$features" --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
PYTHONUNBUFFERED=1 timeout 120 python3 scripts/gpu_kernel_bench.py --only-attention --json "$out/workbench-attention.json" \
  > "$out/workbench-attention.txt" 2>&1
grep -E "FAIL|checks passed|B1 |B128" "$out/workbench-attention.txt" | head -30
for p in int8 fp16; do
  for pack in 1 0; do
    OCTET_PACK=$pack timeout 60 "$octet" bench bert-large --device cuda --precision "$p" --batch 32,128 --seq 128,384 --lengths uniform \
      --warmup 5 --iterations 20 --min-seconds 0.2 --json "$out/bench-uniform-$p-pack$pack.json" > "$out/bench-uniform-$p-pack$pack.txt" 2>&1
    echo "== bert-large $p uniform lengths, OCTET_PACK=$pack"; grep -E "^\|  +(32|128) \|" "$out/bench-uniform-$p-pack$pack.txt" | cut -d'|' -f2,3,12,13
  done
done
for m in bert-base bert-large; do
  for variant in int8 attention-fp16; do
    F=(); [ $variant = attention-fp16 ] && F=(--float '*.attention.qk' --float '*.attention.pv')
    timeout 60 "$octet" bench "$m" --device cuda --precision int8 "${F[@]}" --batch 1,128 --seq 128,384 --warmup 5 --iterations 20 \
      --min-seconds 0.2 --json "$out/bench-$m-$variant.json" > "$out/bench-$m-$variant.txt" 2>&1
    echo "== $m $variant"; grep -E "^\|  +(1|128) \|" "$out/bench-$m-$variant.txt" | cut -d'|' -f2,3,13
  done
done
for p in int8 fp16; do
  for pack in 1 0; do
    S=""; [ $p = int8 ] && S="--scales $recipe"
    OCTET_PACK=$pack timeout 60 "$octet" eval squad --device cuda --precision $p $S --model "$model" --tokenizer "$model" --data "$dev" --batch 32 \
      --output "$out/eval-$p-pack$pack" > "$out/eval-$p-pack$pack.txt" 2>&1
    echo "eval $p OCTET_PACK=$pack exit $?"; tail -n 3 "$out/eval-$p-pack$pack.txt" | head -n 2 | tail -n 1
  done
done
echo done
