#!/usr/bin/env bash
# For session 25: the fp16 stream's residual LayerNorm forms at batch 128, same binary (HEAD), alternated, two rounds:
# `x8` (two quads per thread, the engine's rule above 512 rows since session 24), `warp` (a warp per row, four rows per
# block, every chunk's loads up front: residual_layernorm_f16w<C>_*, built in session 24, not yet run on a GPU) and
# `quad` (one quad per thread, the batch-1 form). First the self-test without the model, whose "warp LayerNorm" checks
# force the warp form on random BERTs of hidden 256, 512 and 1,024 (one, two and four chunks per lane). BERT-large and
# BERT-base, INT8 with the attention in FP16 and the fp16 stream, and FP16; s128 and s384. No model needed. Carry
# .device/octet.xz and .device/cache.tar.xz (the binary of HEAD and its NVRTC cache). About 7 minutes.
# With `tune` instead: in-pass tuning at batch 128 (`OCTET_GEMM_TUNE=pass`, built in session 24, off by default)
# against the default (plans timed alone there), BERT-large INT8 (attention FP16, fp16 stream) and FP16, s128 and s384,
# two rounds, the tuner's in-pass report in the .txt files; no self-test. About 6 minutes (each pass-tuned first run
# times a few hundred passes).
#   bash docs/results/h200-2026-11-30-s24/next/call.sh $OUT [forms|tune]
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 kind=${2:-forms}
trap 'tar czf "$dest/$kind.tgz" -C "$out" .' EXIT
if [ "$kind" = tune ]; then
  for r in 1 2; do for p in int8 fp16; do for tune in default pass; do
    F=(--precision $p); [ $p = int8 ] && F+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
    f="$out/bert-large-$p-$tune-r$r"; t=; [ $tune = pass ] && t=pass
    OCTET_GEMM_TUNE=$t timeout 120 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 5 \
      --iterations 20 --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
    echo "bert-large $p $tune r$r: $(grep -E "^\|  +128 \|" "$f.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
  done; done; done
  exit 0
fi
timeout 240 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest exit $?: $(grep -c " pass " "$out/selftest.txt") passed"; grep -v " pass " "$out/selftest.txt" | head -8
grep -E "(x8|warp) LayerNorm" "$out/selftest.txt" | cut -c1-110
for r in 1 2; do for m in bert-large bert-base; do for p in int8 fp16; do for form in x8 warp quad; do
  F=(--precision $p); [ $p = int8 ] && F+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
  f="$out/$m-$p-$form-r$r"
  OCTET_LAYERNORM=$form timeout 40 /tmp/octet bench $m --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 5 \
    --iterations 20 --min-seconds 0.3 --json "$f.json" > "$f.txt" 2>&1
  echo "$m $p $form r$r: $(grep -E "^\|  +128 \|" "$f.txt" | cut -d'|' -f3,13 | tr -s ' ' | tr '\n' ' ')"
done; done; done; done
exit 0
