#!/usr/bin/env bash
# Unpacks what a call carried on the GPU machine, each part only when it came: the binary to /tmp/octet, the reference
# model folder to /tmp/m, the dev set to /tmp/dev.json. A warm machine keeps /tmp between calls but not the carried
# .device/ paths, so the model (41 MB) can come in one call and the binary (16 MB) in the next, within 30 s.
set -e
if [ -f .device/octet.xz ]; then xz -dc .device/octet.xz > /tmp/octet && chmod +x /tmp/octet; fi
if [ -d .device/minilm ]; then
  mkdir -p /tmp/m
  cp .device/minilm/config.json .device/minilm/vocab.txt .device/minilm/tokenizer_config.json .device/minilm/special_tokens_map.json /tmp/m/
  xz -T4 -dc .device/minilm/model.safetensors.xz > /tmp/m/model.safetensors
fi
if [ -f .device/dev-v1.1.json.xz ]; then xz -dc .device/dev-v1.1.json.xz > /tmp/dev.json; fi
# A packed NVRTC cache (scripts/kernel_ab_prepare.sh): point OCTET_CACHE at .device/cache to use it.
if [ -f .device/cache.tar.xz ]; then mkdir -p .device/cache && tar xJf .device/cache.tar.xz -C .device/cache; fi
ls -la /tmp/octet /tmp/m /tmp/dev.json 2>/dev/null | head -12
