#!/usr/bin/env bash
# On the GPU machine: the INT8 pass (attention in FP16) with each kernel version, alternated, ROUNDS times, at sequence
# lengths 128 and 384, one line per run (median GPU ms per length) and each run's table and JSON in OUT_FOLDER.
# A version is `head` (the binary's own kernels) or NAME for the folder .device/k-NAME (scripts/kernel_ab_prepare.sh).
# Odd rounds run the versions in the order given, even rounds in reverse, so no version always runs right after
# another (session 28: at batch 128, at the power cap, the second run of a pair looked up to 1% slower). BENCH_FLAGS
# adds flags to every bench (e.g. --half-precision-stream); the environment passes through (e.g. OCTET_GEMM_TUNE=0).
#   bash scripts/kernel_ab_bench.sh OUT_FOLDER ROUNDS "bert-large bert-base" "1 128" head quant …
set -uo pipefail
out=$1 rounds=$2 models=$3 batches=$4; shift 4
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' ${BENCH_FLAGS:-})
for b in $batches; do for r in $(seq "$rounds"); do
  order=("$@"); (( r % 2 )) || { order=(); for ((i = $#; i > 0; i--)); do order+=("${!i}"); done; }
  for m in $models; do for v in "${order[@]}"; do
    dir=""; [ "$v" != head ] && dir=$PWD/.device/k-$v
    # A missing folder would silently run the binary's own kernels (the loader falls back file by file).
    [ -z "$dir" ] || [ -d "$dir" ] || { echo "no kernel folder $dir: was it carried?"; exit 1; }
    name="$m-b$b-$v-r$r"
    OCTET_KERNEL_DIR=$dir timeout 80 /tmp/octet bench "$m" --device cuda "${F[@]}" --batch "$b" --seq 128,384 --warmup 10 \
      --iterations 100 --min-seconds 0.3 --json "$out/$name.json" > "$out/$name.txt" 2>&1
    echo "$m b$b $v round $r: $(grep -E "^\|  +$b \|" "$out/$name.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
done; done; done; done
