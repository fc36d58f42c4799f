#!/usr/bin/env bash
# For session 32's first call: the fused QKV projection and attention (qkv_attention.cu, opt-in OCTET_FUSED_ATTENTION),
# built in session 31 and never run on a GPU. 1. The self-test without the model: its nine forced checks ("fused QKV
# attention" in their names: 1, 2 and 3 row tiles, packed and padded, float32 and fp16 streams, 18 sequences of 1–256
# tokens) against the CPU's Q/DQ export, beside every other check. 2. If they pass: BERT-large and BERT-base INT8
# (attention FP16, fp16 stream) at batch 128, s128 and s384, OCTET_FUSED_ATTENTION=1 against the two kernels, tuning on,
# alternated twice. 3. The wgmma attention's chunk step as flash.cuh's shared function (HEAD) against it inline as
# measured until session 31 (`inline-attention-chunk.diff`: the same instructions in another register order; the inline
# form's SASS is 43e7743's), BERT-large b1 and b128, tuning off, alternated twice. 4. Nsight Compute on one fused
# launch at BERT-large s128 b128.
# Carry .device/octet.xz (HEAD's binary), .device/k-inline and .device/cache.tar.xz (`OCTET=… bash
# scripts/kernel_ab_prepare.sh inline=docs/results/h200-2026-12-02-s31/next/inline-attention-chunk.diff`). About 10
# minutes.
#   bash docs/results/h200-2026-12-02-s31/next/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/results.tgz" -C "$out" .' EXIT
timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest exit $?: $(grep -c "| pass" "$out/selftest.txt") passed, $(grep "|" "$out/selftest.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
grep "fused QKV" "$out/selftest.txt" | cut -c1-200
grep "|" "$out/selftest.txt" | tail -n +3 | grep -v "| pass" | head -8
OCTET_GEMM_TUNE=0 BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 bert-large "1 128" head inline
grep "fused QKV" "$out/selftest.txt" | grep -vq "| pass" && exit 0
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for r in 1 2; do
  list="0 1"; (( r % 2 )) || list="1 0"
  for m in bert-large bert-base; do for v in $list; do
    OCTET_FUSED_ATTENTION=$v timeout 100 /tmp/octet bench $m --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 10 \
      --iterations 100 --min-seconds 1.5 --json "$out/$m-fused$v-r$r.json" > "$out/$m-fused$v-r$r.txt" 2>&1
    echo "$m fused=$v round $r: $(grep -E "^\|  +128 \|" "$out/$m-fused$v-r$r.txt" | cut -d'|' -f3,13,16,18,19 | tr -s ' ' | tr '\n' ' ') (at ${SECONDS}s)"
  done; done
done
OCTET_FUSED_ATTENTION=1 timeout 150 /usr/local/cuda/bin/ncu -k regex:qkv_attention -c 1 --set full -o "$out/fused" \
  /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 1 --iterations 2 > "$out/ncu.txt" 2>&1
/usr/local/cuda/bin/ncu -i "$out/fused.ncu-rep" --page details > "$out/ncu-details.txt" 2>&1
grep -E "Duration|Registers|Throughput|Occupancy|Issued Ipc" "$out/ncu-details.txt" | head -20
exit 0
