#!/usr/bin/env bash
# Session 32, call 2: carried .device/minilm only and unpacked the reference model to /tmp/m for call 3.
bash scripts/device_unpack.sh
