#!/usr/bin/env bash
# Session 19, call 4 (after a call that unpacked the model to /tmp/m): the FP16 one-pass attention with its scores in
# log₂ units (one ex2.approx.ftz per exponential) and its mask read before the dependency wait (none at all for
# packed batches), from call 3's Nsight Compute profile. The full self-test, the full-dev F1 on the GPU (INT8 recipe
# and FP16), then the pass against the previous attention (OCTET_KERNEL_DIR=.device/oldattn: HEAD's attention_mma.cu,
# its NVRTC cache compiled here), alternated: batch 1 at s128 and s384 (both models, two rounds), BERT-large batch 128.
#   bash docs/results/h200-2026-11-30-s19/4-attention/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/attention.tgz" -C "$out" .' EXIT
timeout 300 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json "$out/selftest.json" \
  > "$out/selftest.txt" 2>&1
status=$?
grep -v " pass " "$out/selftest.txt" | head -20; echo "selftest: $(grep -c " pass " "$out/selftest.txt") passed, exit $status"
[ $status -eq 0 ] || exit 1
for p in int8 fp16; do
  S=""; [ $p = int8 ] && S="--scales recipes/minilm-l6-squad.json"
  timeout 60 /tmp/octet eval squad --device cuda --precision $p $S --model /tmp/m --tokenizer /tmp/m --data /tmp/dev.json --batch 32 \
    --output "$out/eval-$p" > "$out/eval-$p.txt" 2>&1
  echo "eval $p exit $?"; tail -n 3 "$out/eval-$p.txt" | head -n 2 | tail -n 1
done
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
run() {  # label, model, batch, env...
  local label=$1 m=$2 b=$3; shift 3
  env "$@" timeout 60 /tmp/octet bench "$m" --device cuda "${F[@]}" --batch $b --seq 128,384 --warmup 20 --iterations 200 \
    --min-seconds 0.3 --json "$out/$m-b$b-$label.json" > "$out/$m-b$b-$label.txt" 2>&1
  echo "$m b$b $label: $(grep -E "^\|  +$b \|" "$out/$m-b$b-$label.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
}
for round in 1 2; do
  for m in bert-large bert-base; do
    run "new-r$round" $m 1 OCTET_SKIP=
    run "old-r$round" $m 1 OCTET_KERNEL_DIR=$PWD/.device/oldattn
  done
done
run new bert-large 128 OCTET_SKIP=
run old bert-large 128 OCTET_KERNEL_DIR=$PWD/.device/oldattn
