#!/usr/bin/env bash
# Session 21, the measured call (right after a call that carried the model to /tmp/m): the binary with the erfc GELU
# adopted (k-gelu of ../call.sh), its NVRTC cache carried as .device/cache.tar.xz; full self-test, then Octet and PyTorch.
mkdir -p .device/cache && tar xJf .device/cache.tar.xz -C .device/cache && bash scripts/device_unpack.sh >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > $OUT/gpu.txt 2>&1; timeout 545 bash scripts/device_bench.sh /tmp/octet /tmp/m .device/reference_s384.safetensors $OUT
