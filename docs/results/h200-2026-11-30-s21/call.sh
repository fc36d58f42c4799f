#!/usr/bin/env bash
# Session 21: session 20's three prepared kernel edits (../h200-2026-11-30-s20/next/README.md) and two more, measured
# through OCTET_KERNEL_DIR against the binary of HEAD 147940b (no new binary). Folders carried in .device/:
#   k-gelu   GELU in the erfc form (14 instructions instead of 18)
#   k-ln     the residual LayerNorm's mean and variance in one block reduction
#   k-merge  the FP16 attention's key groups all merge and store a share of the context
#   k-all    the three together
#   k-tanh   k-all, with GELU into int8 in the tanh form through tanh.approx.f32 (6 instructions; float outputs keep
#            the erfc form), as TensorRT's and FasterTransformer's BERT kernels compute it
#   k-pp     HEAD with the ping-pong epilogue's accumulator moves skipped after the last half
# Two parts, each under the 10-minute limit, after a call that carried the model to /tmp/m:
#   bash docs/results/h200-2026-11-30-s21/call.sh $OUT checks   full self-test of k-tanh, full-dev F1 of k-tanh and k-all
#   bash docs/results/h200-2026-11-30-s21/call.sh $OUT ab       the pass with each version, alternated
set -uo pipefail
[ -d .device/cache/nvrtc ] || { mkdir -p .device/cache && tar xJf .device/cache.tar.xz -C .device/cache; }
export OCTET_CACHE=$PWD/.device/cache
[ -x /tmp/octet ] || xz -dc .device/octet.xz > /tmp/octet && chmod +x /tmp/octet
[ -f /tmp/dev.json ] || xz -dc .device/dev-v1.1.json.xz > /tmp/dev.json
out=$(mktemp -d); dest=$1 part=${2:-checks}
trap 'tar czf "$dest/$part.tgz" -C "$out" .' EXIT
if [ "$part" = checks ]; then
  OCTET_KERNEL_DIR=$PWD/.device/k-gelu timeout 300 /tmp/octet selftest --device cuda --model /tmp/m \
    --features .device/reference_s384.safetensors --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
  status=$?
  grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest (k-gelu): $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
  [ $status -eq 0 ] || exit 1
  # The F1 bar: within 0.1 of the CPU (81.0870 INT8 recipe, 81.6761 float32).
  for run in int8:gelu fp16:gelu; do
    p=${run%%:*} v=${run##*:} S=""; [ $p = int8 ] && S="--scales recipes/minilm-l6-squad.json"
    OCTET_KERNEL_DIR=$PWD/.device/k-$v timeout 100 /tmp/octet eval squad --device cuda --precision $p $S --model /tmp/m \
      --tokenizer /tmp/m --data /tmp/dev.json --batch 32 --output "$out/eval-$p-$v" > "$out/eval-$p-$v.txt" 2>&1
    echo "eval $p k-$v exit $?: $(tail -n 3 "$out/eval-$p-$v.txt" | head -n 2 | tail -n 1)"
  done
  exit 0
fi
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
run() {  # version (head: the binary's own kernels), model, batch, round
  local v=$1 m=$2 b=$3 r=$4 dir=""
  [ "$v" != head ] && dir=$PWD/.device/k-$v
  OCTET_KERNEL_DIR=$dir timeout 80 /tmp/octet bench $m --device cuda "${F[@]}" --batch $b --seq 128,384 --warmup 10 \
    --iterations 100 --min-seconds 0.3 --json "$out/$m-b$b-$v-r$r.json" > "$out/$m-b$b-$v-r$r.txt" 2>&1
  echo "$m b$b $v round $r: $(grep -E "^\|  +$b \|" "$out/$m-b$b-$v-r$r.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
}
for r in 1 2; do for m in bert-large bert-base; do for v in head gelu ln merge all; do run $v $m 1 $r; done; done; done
for r in 1 2; do for v in head gelu all pp; do run $v bert-large 128 $r; done; done
for v in head all; do run $v bert-base 128 1; done
