# Session 15, calls 8 and 9 (call 7 found that a warm machine does not keep a previous call's carried .device/minilm):
# call 8 carried only .device/minilm and unpacked it to /tmp/m, which a warm machine keeps; call 9, right after,
# carried .device/reference_s384.safetensors and ran the binary call 6 had left in /tmp/octet (the committed engine
# less the shared-memory carveout knob, see ../README.md):
timeout 250 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json $OUT/selftest.json > $OUT/selftest.txt 2>&1
