#!/usr/bin/env bash
# Session 25, the measured call (after a call that carried .device/minilm and unpacked the model to /tmp/m): the
# reference model's whole-model self-test with the fp16-stream recipe (the form measured below; its SQuAD features run
# over 512 rows, so through the x8 LayerNorms), then scripts/device_bench.sh with INT8_FLAGS=--half-precision-stream
# (Octet and PyTorch FP16 side by side), then 8 s of BERT-large INT8 s384 b128 alone, with nvidia-smi sampling the SM
# clock and power all along (smi.csv; marks.txt holds when each phase began), to see whether batch 128 runs at a lower
# clock than the tuner's short timings. Carry .device/octet.xz, .device/cache.tar.xz, .device/reference_s384.safetensors.
#   bash docs/results/h200-2026-12-01-s25/5-measured/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
mark() { echo "$(date +%H:%M:%S.%N | cut -c1-12) $*" >> "$1/marks.txt"; }
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu --format=csv -lms 200 > "$1/smi.csv" &
smi=$!
nvidia-smi --query-gpu=timestamp,clocks_event_reasons.active --format=csv -lms 500 > "$1/smi-reasons.csv" 2>&1 &
smi2=$!
mark "$1" selftest
timeout 200 /tmp/octet selftest --device cuda --model /tmp/m --scales recipes/minilm-l6-squad-fp16-stream.json \
  --features .device/reference_s384.safetensors --models-only --json "$1/selftest-fp16-stream.json" > "$1/selftest-fp16-stream.txt" 2>&1
echo "selftest (fp16-stream recipe, models only) exit $?: $(grep -c " pass " "$1/selftest-fp16-stream.txt") passed"
grep -v " pass " "$1/selftest-fp16-stream.txt" | head -6; grep -i "minilm\|squad" "$1/selftest-fp16-stream.txt" | cut -c1-150 | head -8
mark "$1" device_bench
INT8_FLAGS=--half-precision-stream bash scripts/device_bench.sh /tmp/octet /tmp/m .device/reference_s384.safetensors "$1" no-selftest
mark "$1" sustained-bert-large-int8-s384-b128
timeout 60 /tmp/octet bench bert-large --device cuda --precision int8 --float '*.attention.qk' --float '*.attention.pv' \
  --half-precision-stream --batch 128 --seq 384 --warmup 5 --iterations 100 --min-seconds 8 > "$1/sustained.txt" 2>&1
mark "$1" end
kill $smi $smi2
grep -E "^\|  +128 \|" "$1/sustained.txt" | cut -d'|' -f3,5,13
exit 0
