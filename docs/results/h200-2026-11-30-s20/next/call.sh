#!/usr/bin/env bash
# For session 21: three kernel edits written after session 20's device time ran out, measured through OCTET_KERNEL_DIR
# against the binary of HEAD (no new binary needed). Prepare here with prepare.sh (it makes .device/k-gelu,
# .device/k-ln, .device/k-merge and .device/k-all from HEAD's kernels and this folder's diffs, and compiles the NVRTC
# cache for all of them), then carry .device/octet.xz, .device/cache, the four folders,
# .device/reference_s384.safetensors and .device/dev-v1.1.json.xz, after a call that carried the model (README.md).
# Two parts, each under the 10-minute limit, after a call that carried the model to /tmp/m:
#   bash docs/results/h200-2026-11-30-s20/next/call.sh $OUT checks   the full self-test and full-dev F1 with k-all
#   bash docs/results/h200-2026-11-30-s20/next/call.sh $OUT ab       the pass with each version, alternated
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 part=${2:-checks}
trap 'tar czf "$dest/$part.tgz" -C "$out" .' EXIT
if [ "$part" = checks ]; then
  export OCTET_KERNEL_DIR=$PWD/.device/k-all
  timeout 300 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors \
    --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
  status=$?
  grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
  [ $status -eq 0 ] || exit 1
  for p in int8 fp16; do  # the GELU changed: the F1 bar (within 0.1 of the CPU: 81.0870 INT8 recipe, 81.6761 float32)
    S=""; [ $p = int8 ] && S="--scales recipes/minilm-l6-squad.json"
    timeout 90 /tmp/octet eval squad --device cuda --precision $p $S --model /tmp/m --tokenizer /tmp/m --data /tmp/dev.json \
      --batch 32 --output "$out/eval-$p" > "$out/eval-$p.txt" 2>&1
    echo "eval $p exit $?"; tail -n 3 "$out/eval-$p.txt" | head -n 2 | tail -n 1
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
for v in head gelu all; do run $v bert-large 128 1; done
