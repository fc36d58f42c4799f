#!/usr/bin/env bash
# Session 31, call 3: the tuner's check at the steady clock (checkAtSteadyClock: the pass with the plans tuned alone
# against the rule's, each replayed 300 ms and timed over 200 ms) against HEAD's tuner (.device/octet-old.xz, 43e7743)
# and against tuning off; BERT-large and BERT-base INT8 (fp16 stream, attention in FP16) at batch 128, s128 and s384,
# alternated. Then the L2 copies alone, plain against multicast (scripts/tensor_energy_bench.cu copies).
# Carry .device/octet.xz, .device/octet-old.xz, .device/cache.tar.xz and .device/tensor_energy.xz.
#   bash docs/results/h200-2026-12-02-s31/3-steady-check/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
xz -dc .device/octet-old.xz > /tmp/octet-old && chmod +x /tmp/octet-old
xz -dc .device/tensor_energy.xz > /tmp/tensor_energy && chmod +x /tmp/tensor_energy
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/results.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
run() {  # model version round
  local m=$1 v=$2 r=$3 bin=/tmp/octet env=()
  [ $v = old ] && bin=/tmp/octet-old
  [ $v = off ] && env=(OCTET_GEMM_TUNE=0)
  env "${env[@]}" timeout 100 $bin bench $m --device cuda "${F[@]}" --batch 128 --seq 128,384 --warmup 10 \
    --iterations 100 --min-seconds 1.5 --json "$out/$m-$v-r$r.json" > "$out/$m-$v-r$r.txt" 2>&1
  echo "$m $v round $r: $(grep -E "^\|  +128 \|" "$out/$m-$v-r$r.txt" | cut -d'|' -f3,13,16,18,19 | tr -s ' ' | tr '\n' ' ') (at ${SECONDS}s)"
  grep "steady clock" "$out/$m-$v-r$r.txt" | cut -c1-250
}
run bert-large new 1; run bert-large old 1; run bert-large off 1
run bert-large old 2; run bert-large new 2
run bert-base new 1; run bert-base old 1
timeout 60 /tmp/tensor_energy 5 copies | tee "$out/copies.txt"
