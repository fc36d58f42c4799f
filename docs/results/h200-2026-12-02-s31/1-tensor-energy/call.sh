#!/usr/bin/env bash
# Session 31, call 1: carries the reference model (.device/minilm, unpacked to /tmp/m for the next call) and measures
# the tensor cores' energy per operation by operand type and values (scripts/tensor_energy_bench.cu; GPU.md's
# twenty-third session says why). Carry .device/minilm and .device/tensor_energy.xz (built here with PyPI's nvcc;
# rebuilt there with the toolkit's nvcc if it did not come).
#   bash docs/results/h200-2026-12-02-s31/1-tensor-energy/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
dest=$1
nvidia-smi --query-gpu=name,power.limit,clocks.max.sm,temperature.gpu --format=csv | tee "$dest/gpu.txt"
if [ -f .device/tensor_energy.xz ]; then xz -dc .device/tensor_energy.xz > /tmp/tensor_energy && chmod +x /tmp/tensor_energy
else /usr/local/cuda/bin/nvcc -O3 -gencode arch=compute_90a,code=sm_90a -o /tmp/tensor_energy scripts/tensor_energy_bench.cu -ldl; fi
timeout 200 /tmp/tensor_energy 5 | tee "$dest/tensor-energy.txt"
