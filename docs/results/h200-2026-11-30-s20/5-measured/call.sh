#!/usr/bin/env bash
# Session 20, call 5 (right after call 4, which carried the model to /tmp/m): the measured call with the binary of
# commit "wgmma descriptors …" (v4 + v1 of ../4-gemm-ab/), its NVRTC cache carried as .device/cache.tar.xz.
tar xJf .device/cache.tar.xz -C .device && bash scripts/device_unpack.sh >/dev/null && nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv > $OUT/gpu.txt 2>&1; timeout 545 bash scripts/device_bench.sh /tmp/octet /tmp/m .device/reference_s384.safetensors $OUT
