#!/usr/bin/env bash
# For session 33's first two calls, on HEAD's binary (7a6269c or later) with its NVRTC cache and the kernel folder
# .device/k-three (`OCTET=… bash scripts/kernel_ab_prepare.sh three=docs/results/h200-2026-12-02-s32/next/three-attend.diff`).
# Two things built in session 32 and never run on a GPU:
# - x2: the two-blocks-per-multiprocessor GEMM (`gemm_wgmma_x2_*`, gemm_wgmma.cu's `gemm_pair`); the self-test forces
#   it, the tuner times it only with OCTET_GEMM_X2=1. Aimed at FFN in's GELU epilogue (tensor pipe 46% busy in the
#   ping-pong kernel, FFN out's 86%: session 32's call 5).
# - three: the fused QKV attention's one-block form (2 and 3 row tiles: s384) with its producer warpgroup attending
#   too, so the query tiles split three ways (`three-attend.diff`; same launch, kernel file only).
# Part `checks` (about 5 minutes): the full self-test without the model on HEAD's kernels (the x2 checks: 300×200×208
# with edges and 1000×4608×1024, int8 and fp16, against float64 sums), then the whole-model checks with k-three (its
# forced fused checks at 2 and 3 row tiles).
# Part `ab` (about 5 minutes), if they passed: BERT-large and BERT-base INT8 (attention FP16, fp16 stream) at batch 128,
# OCTET_GEMM_X2=0 against 1 (tuning on; the tuner's table says which plan each shape kept), then head against three,
# alternated twice each; then Nsight Compute on layer 0's GEMMs forced to x2 (OCTET_WGMMA_KERNEL=x2_128x128, tuning off).
# Two blocks per multiprocessor need the driver to pick the 228 KB shared-memory carveout (223.4 KB for two blocks;
# the host leaves the carveout to the driver): Nsight Compute's "Block Limit Shared Mem" should read 2.
# Carry .device/octet.xz, .device/cache.tar.xz and .device/k-three.
#   bash docs/results/h200-2026-12-02-s32/next/call.sh $OUT checks|ab
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1 part=$2
trap 'tar czf "$dest/$part.tgz" -C "$out" .' EXIT
summary() {  # file
  echo "$(basename "$1"): $(grep -c "| pass" "$1") passed, $(grep "|" "$1" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
  grep "|" "$1" | tail -n +3 | grep -v "| pass" | head -8
}
if [ "$part" = checks ]; then
  timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
  summary "$out/selftest.txt"; grep "_x2_" "$out/selftest.txt" | cut -c1-150
  OCTET_KERNEL_DIR=$PWD/.device/k-three timeout 200 /tmp/octet selftest --device cuda --model /nonexistent --models-only \
    --json "$out/selftest-three.json" > "$out/selftest-three.txt" 2>&1
  summary "$out/selftest-three.txt"; grep "fused QKV" "$out/selftest-three.txt" | cut -c1-130
  exit 0
fi
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for r in 1 2; do
  list="0 1"; (( r % 2 )) || list="1 0"
  for m in bert-large bert-base; do for v in $list; do
    OCTET_GEMM_X2=$v timeout 100 /tmp/octet bench $m --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 10 \
      --iterations 100 --min-seconds 1 --json "$out/$m-x2$v-r$r.json" > "$out/$m-x2$v-r$r.txt" 2>&1
    echo "$m x2=$v round $r: $(grep -E "^\|  +128 \|" "$out/$m-x2$v-r$r.txt" | cut -d'|' -f3,13,16,18,19 | tr -s ' ' | tr '\n' ' ') (at ${SECONDS}s)"
    grep -E "^\| (16384|49152)×" "$out/$m-x2$v-r$r.txt" | cut -d'|' -f2,3 | tr -s ' '
  done; done
done
BENCH_FLAGS=--half-precision-stream bash scripts/kernel_ab_bench.sh "$out" 2 "bert-large bert-base" 128 head three
OCTET_WGMMA_KERNEL=x2_128x128 OCTET_GEMM_TUNE=0 timeout 100 /usr/local/cuda/bin/ncu -k regex:gemm_wgmma -c 3 --set full \
  -o "$out/x2" /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 1 --iterations 2 > "$out/ncu.txt" 2>&1
/usr/local/cuda/bin/ncu -i "$out/x2.ncu-rep" --page details > "$out/details.txt" 2>&1
/usr/local/cuda/bin/ncu -i "$out/x2.ncu-rep" --page raw --csv > "$out/raw.csv" 2>&1 && xz -T8 "$out/raw.csv" && rm -f "$out/x2.ncu-rep"
grep -E "^  [a-z]|Duration|Issued Ipc Active|highest-utilized|Achieved Occupancy|Block Limit (Registers|Shared)" "$out/details.txt" | cut -c1-150
exit 0
