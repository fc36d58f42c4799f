#!/usr/bin/env bash
# Session 33, call 3: the residual codes (OCTET_RESIDUAL_CODES) run for the first time. The full self-test without the
# model (the GEMMs' OUT_CODE epilogue on every int8 wgmma tile, the forced codes on random BERTs of hidden 256 and
# 1,024), then BERT-large and BERT-base INT8 (attention FP16, fp16 stream) at batch 128, codes off (0) against on (1),
# alternated twice. Carry .device/octet.xz and .device/cache.tar.xz (HEAD's binary and its NVRTC cache).
#   bash docs/results/h200-2026-12-02-s33/1-codes/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/codes.tgz" -C "$out" .' EXIT
summary() {  # file
  echo "$(basename "$1"): $(grep -c "| pass" "$1") passed, $(grep "|" "$1" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
  grep "|" "$1" | tail -n +3 | grep -v "| pass" | head -8
}
timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
summary "$out/selftest.txt"; grep -E "residual code" "$out/selftest.txt" | cut -c1-150 | head -40
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for r in 1 2; do
  list="0 1"; (( r % 2 )) || list="1 0"
  for m in bert-large bert-base; do for v in $list; do
    OCTET_RESIDUAL_CODES=$v timeout 100 /tmp/octet bench $m --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 10 \
      --iterations 100 --min-seconds 1 --json "$out/$m-codes$v-r$r.json" > "$out/$m-codes$v-r$r.txt" 2>&1
    echo "$m codes=$v round $r: $(grep -E "^\|  +128 \|" "$out/$m-codes$v-r$r.txt" | cut -d'|' -f3,13,16,18,19 | tr -s ' ' | tr '\n' ' ') (at ${SECONDS}s)"
  done; done
done
exit 0
