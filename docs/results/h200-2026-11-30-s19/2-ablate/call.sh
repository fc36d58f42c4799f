#!/usr/bin/env bash
# Session 19, call 2: where the time of a pass goes, measured inside the pass. OCTET_SKIP leaves one kind of kernel out
# of every layer (the pass then computes garbage; only its time counts), so the difference from the whole pass is
# what that kernel costs with its overlap (programmatic dependent launch), which per-kernel events cannot show.
# INT8 with the attention in FP16, batch 1 at s384 and s128, both models; then batch 128 s128 for BERT-large. Last,
# session 18's gelu-clamp.diff (OCTET_KERNEL_DIR=.device/clampk: the kernel sources with the clamp, compiled into
# the carried cache here) against the default at BERT-large s128 b128, alternated twice.
#   bash docs/results/h200-2026-11-30-s19/2-ablate/call.sh $OUT
set -uo pipefail
[ -d .device/cache/nvrtc ] && export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/ablate.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv')
run() {  # label, model, batch, seq, env...
  local label=$1 m=$2 b=$3 s=$4; shift 4
  env "$@" timeout 60 /tmp/octet bench "$m" --device cuda "${F[@]}" --batch $b --seq $s --warmup 20 --iterations 200 \
    --min-seconds 0.3 --json "$out/$m-b$b-s$s-$label.json" > "$out/$m-b$b-s$s-$label.txt" 2>&1
  echo "$m b$b s$s $label: $(grep -E "^\|  +$b \|" "$out/$m-b$b-s$s-$label.txt" | cut -d'|' -f13 | tr -d ' ')"
}
for m in bert-large bert-base; do
  for s in 384 128; do
    for skip in none qkv attention output norm ffn-in ffn-out; do
      E=(OCTET_SKIP=); [ $skip != none ] && E=(OCTET_SKIP=$skip)
      run "skip-$skip" $m 1 $s "${E[@]}"
    done
  done
done
for skip in none norm attention ffn-in; do
  E=(OCTET_SKIP=); [ $skip != none ] && E=(OCTET_SKIP=$skip)
  run "skip-$skip" bert-large 128 128 "${E[@]}"
done
for round in 1 2; do
  run "clamp0-r$round" bert-large 128 128 OCTET_SKIP=
  run "clamp1-r$round" bert-large 128 128 OCTET_KERNEL_DIR=$PWD/.device/clampk
done
