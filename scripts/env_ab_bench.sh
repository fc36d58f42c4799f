#!/usr/bin/env bash
# On the GPU machine: the INT8 pass (attention in FP16, fp16 stream) with an environment setting at each of its values,
# alternated, ROUNDS times, at sequence lengths 128 and 384, one line per run (median GPU ms, SM MHz and J per pass
# per length) and each run's table and JSON in OUT_FOLDER. Odd rounds take the values in the order given, even rounds
# in reverse (see kernel_ab_bench.sh, which does the same for kernel folders).
#   bash scripts/env_ab_bench.sh OUT_FOLDER ROUNDS "bert-large bert-base" BATCH VARIABLE "0 1"
set -uo pipefail
out=$1 rounds=$2 models=$3 batch=$4 variable=$5 values=$6
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for r in $(seq "$rounds"); do
  list=$values; (( r % 2 )) || list=$(echo $values | tr ' ' '\n' | tac | paste -sd' ')
  for m in $models; do for v in $list; do
    name="$m-$variable$v-r$r"
    env "$variable=$v" timeout 80 /tmp/octet bench "$m" --device cuda "${F[@]}" --batch "$batch" --seq 128,384 --warmup 10 \
      --iterations 100 --min-seconds 0.5 --json "$out/$name.json" > "$out/$name.txt" 2>&1
    echo "$m $variable=$v round $r: $(grep -E "^\|  +$batch \|" "$out/$name.txt" | cut -d'|' -f3,13,16,19 | tr -s ' ' | tr '\n' ' ') (at ${SECONDS}s)"
  done; done
done
