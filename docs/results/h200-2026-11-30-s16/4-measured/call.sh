timeout 420 bash scripts/device_bench.sh /tmp/octet /tmp/m .device/reference_s384.safetensors $OUT no-selftest  # session 16, call 8 (the binary of call 7)
