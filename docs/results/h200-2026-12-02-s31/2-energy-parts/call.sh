#!/usr/bin/env bash
# Session 31, call 2: the energy of a kernel's parts, each alone on every multiprocessor under the power cap
# (scripts/tensor_energy_bench.cu: idle, FFMA, L2 → shared memory by TMA, HBM → shared memory, and the tensor cores by
# operand type), then BERT-large INT8 s128 b128 (fp16 stream, attention in FP16) with every GEMM forced to one wgmma
# schedule (OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=…), and with the tuner's plans, alternated twice: which schedule costs
# the least energy per pass at the cap, whatever its time alone at full clock.
# Carry .device/octet.xz, .device/cache.tar.xz and .device/tensor_energy.xz.
#   bash docs/results/h200-2026-12-02-s31/2-energy-parts/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
dest=$1
xz -dc .device/tensor_energy.xz > /tmp/tensor_energy && chmod +x /tmp/tensor_energy
timeout 120 /tmp/tensor_energy 5 parts | tee "$dest/parts.txt"
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
for r in 1 2; do
  list="tuned pp_128x128 pp_64x256 128x256 p3_64x128 128x128"
  (( r % 2 )) || list="128x128 p3_64x128 128x256 pp_64x256 pp_128x128 tuned"
  for v in $list; do
    if [ $v = tuned ]; then env=(); else env=(OCTET_GEMM_TUNE=0 OCTET_WGMMA_KERNEL=$v); fi
    env "${env[@]}" timeout 80 /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 10 \
      --iterations 150 --min-seconds 2 --json "$dest/$v-r$r.json" > "$dest/$v-r$r.txt" 2>&1
    echo "$v round $r: $(grep -E "^\|  +128 \|" "$dest/$v-r$r.txt" | cut -d'|' -f5,13,15,16,18 | tr -s ' ')"
  done
done
