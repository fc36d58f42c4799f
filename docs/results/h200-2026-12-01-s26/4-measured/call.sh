#!/usr/bin/env bash
# Session 26, the measured call (call 4, after call 3 carried .device/minilm and unpacked the model to /tmp/m): session
# 25's measured call (self-test of the reference model with the fp16-stream recipe, device_bench.sh beside PyTorch, 8 s
# of BERT-large INT8 s384 b128, nvidia-smi all along) with the wgmma attention on. The binary (d3fc337) runs it only
# when asked; commit 0dcf500 (session 26) makes it the default on Hopper. What ran was a copy of that script with the export
# below added after its OCTET_CACHE line, which is the same. Carry .device/octet.xz, .device/cache.tar.xz and
# .device/reference_s384.safetensors.
#   bash docs/results/h200-2026-12-01-s26/4-measured/call.sh $OUT
export OCTET_ATTENTION_WGMMA=1
exec bash docs/results/h200-2026-12-01-s25/5-measured/call.sh "$@"
