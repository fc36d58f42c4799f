#!/usr/bin/env bash
# For session 33's first call: the two-blocks-per-multiprocessor GEMM (`gemm_wgmma_x2_i8_128x128`, gemm_wgmma.cu's
# `gemm_pair`, built in session 32 and never run on a GPU; the tuner times it only with OCTET_GEMM_X2=1).
# 1. The self-test without the model: its forced x2 checks (300×200×208 with edges, 1000×4608×1024, int8 and fp16)
#    against float64 sums, beside every other check.
# 2. If they pass: BERT-large and BERT-base INT8 (attention FP16, fp16 stream) at batch 128, s128 and s384, tuning on,
#    OCTET_GEMM_X2=0 against 1, alternated twice; the tuner's table says which plan each GEMM shape kept.
# 3. Nsight Compute on layer 0's three GEMMs with every one forced to x2 (OCTET_WGMMA_KERNEL=x2_128x128, tuning off), as
#    session 32's call 5 profiled the ping-pong kernel: FFN in's tensor pipe was 46% busy there, FFN out's 86%.
# Two blocks per multiprocessor need the driver to pick the 228 KB shared-memory carveout (223.4 KB for two blocks;
# the host leaves the carveout to the driver): Nsight Compute's "Block Limit Shared Mem" should read 2.
# Carry .device/octet.xz (HEAD's binary) and .device/cache.tar.xz. About 8 minutes.
#   bash docs/results/h200-2026-12-02-s32/next/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/results.tgz" -C "$out" .' EXIT
timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest exit $?: $(grep -c "| pass" "$out/selftest.txt") passed, $(grep "|" "$out/selftest.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
grep "|" "$out/selftest.txt" | tail -n +3 | grep -v "| pass" | head -8
grep "_x2_" "$out/selftest.txt" | cut -c1-150
grep "_x2_" "$out/selftest.txt" | grep -vq "| pass" && exit 0
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for r in 1 2; do
  list="0 1"; (( r % 2 )) || list="1 0"
  for m in bert-large bert-base; do for v in $list; do
    OCTET_GEMM_X2=$v timeout 120 /tmp/octet bench $m --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 10 \
      --iterations 100 --min-seconds 1.5 --json "$out/$m-x2$v-r$r.json" > "$out/$m-x2$v-r$r.txt" 2>&1
    echo "$m x2=$v round $r: $(grep -E "^\|  +128 \|" "$out/$m-x2$v-r$r.txt" | cut -d'|' -f3,13,16,18,19 | tr -s ' ' | tr '\n' ' ') (at ${SECONDS}s)"
    grep -E "^\| [0-9]+×[0-9]+×[0-9]+ " "$out/$m-x2$v-r$r.txt" | grep -E "^\| (16384|49152)×" | cut -d'|' -f2,3 | tr -s ' ' | head -8
  done; done
done
OCTET_WGMMA_KERNEL=x2_128x128 OCTET_GEMM_TUNE=0 timeout 120 /usr/local/cuda/bin/ncu -k regex:gemm_wgmma -c 3 --set full \
  -o "$out/x2" /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 1 --iterations 2 > "$out/ncu.txt" 2>&1
/usr/local/cuda/bin/ncu -i "$out/x2.ncu-rep" --page details > "$out/details.txt" 2>&1
/usr/local/cuda/bin/ncu -i "$out/x2.ncu-rep" --page raw --csv > "$out/raw.csv" 2>&1 && xz -T8 "$out/raw.csv" && rm -f "$out/x2.ncu-rep"
grep -E "^  [a-z]|Duration|Issued Ipc Active|highest-utilized|Achieved Occupancy|Block Limit (Registers|Shared)" "$out/details.txt" | cut -c1-150
exit 0
