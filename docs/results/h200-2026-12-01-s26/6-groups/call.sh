#!/usr/bin/env bash
# Session 26, call 6 (the last 94 s of device time): the wgmma attention's key groups at BERT-large INT8 (attention
# FP16, fp16 stream) s384 b1, 3 (the engine's choice: 6 chunks of 64 keys, 2 per group) against 2
# (OCTET_ATTENTION_GROUPS=2), three rounds alternated, 200 iterations and at least 1 s each. Binary of 0dcf500 and its
# NVRTC cache (.device/octet.xz, .device/cache.tar.xz). Its output is output.txt beside this file.
bash scripts/device_unpack.sh >/dev/null; export OCTET_CACHE=$PWD/.device/cache
for r in 1 2 3; do for g in 3 2; do
  OCTET_ATTENTION_GROUPS=$g timeout 40 /tmp/octet bench bert-large --device cuda --precision int8 --float '*.attention.qk' \
    --float '*.attention.pv' --half-precision-stream --batch 1 --seq 384 --warmup 20 --iterations 200 --min-seconds 1 > /tmp/g$g.txt 2>&1
  echo "groups $g r$r: $(grep -E "^\|  +1 \|" /tmp/g$g.txt | cut -d'|' -f2,3,5,13 | tr -s ' ')"
done; done
