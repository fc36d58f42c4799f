# Session 15, calls 8 and 9 (call 7 found that a warm machine does not keep a previous call's carried .device/minilm):
# call 8 carried only .device/minilm and unpacked it to /tmp/m, which a warm machine keeps; call 9, right after,
# carried .device/reference_s384.safetensors and ran the binary call 6 had left in /tmp/octet (commit 8466568's
# engine plus a shared-memory carveout request that measured no different; docs/PERFORMANCE.md, session 15):
timeout 250 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json $OUT/selftest.json > $OUT/selftest.txt 2>&1
