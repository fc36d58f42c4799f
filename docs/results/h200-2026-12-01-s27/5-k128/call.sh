#!/usr/bin/env bash
# Session 27, call 5 (the session's last 4 device minutes): the wgmma attention's key groups over 128-key chunks
# (`attention_mma_d64_f16_f16_wgmma_k128_groups<G>_f16in`, opt-in `OCTET_ATTENTION_WGMMA=k128`), first run. The
# whole-model self-test without the model (`--models-only`: its "128-key chunks" checks force the kernel on the 3×256
# random BERT's 36-block grid, two groups, packed and padded, and on one 400-token sequence, four chunks over three
# groups), then, if they pass, BERT-large and BERT-base INT8 (attention FP16, fp16 stream) and BERT-large FP16 at s384
# b1, the default against k128, alternated twice. The GEMMs keep the fixed rule's plans (`OCTET_GEMM_TUNE=0`: a run
# tunes for about a minute otherwise), the same on both sides, so the difference is the attention's.
# Carry .device/octet.xz and .device/cache.tar.xz. About 2 minutes.
#   bash docs/results/h200-2026-12-01-s27/5-k128/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/k128.tgz" -C "$out" .' EXIT
timeout 90 /tmp/octet selftest --device cuda --model /nonexistent --models-only --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
status=$?
echo "selftest exit $status: $(grep -c "| pass" "$out/selftest.txt") passed"; grep "|" "$out/selftest.txt" | grep -v "| pass" | tail -n +3 | head -6
grep -E "128-key|400 tokens" "$out/selftest.txt" | cut -c1-110
[ $status -eq 0 ] || exit 0
for r in 1 2; do for run in bert-large:int8 bert-base:int8 bert-large:fp16; do for w in auto k128; do
  IFS=: read -r m p <<< "$run"
  F=(--precision $p); [ $p = int8 ] && F+=(--float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
  f="$out/$m-$p-$w-r$r"
  OCTET_GEMM_TUNE=0 OCTET_ATTENTION_WGMMA=$w timeout 20 /tmp/octet bench $m --device cuda "${F[@]}" --batch 1 --seq 384 \
    --warmup 20 --iterations 200 --min-seconds 1 --json "$f.json" > "$f.txt" 2>&1
  echo "$m $p $w r$r: $(grep -E "^\|  +1 \|" "$f.txt" | cut -d'|' -f13 | tr -s ' ')"
done; done; done
exit 0
