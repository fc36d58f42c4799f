# Session 16, calls 5–7: call 5 carried the reference model and unpacked it to /tmp/m (bash scripts/device_unpack.sh);
# call 6 ran this with a 200 s limit on a fresh machine and ran out of time compiling the kernels with NVRTC; call 7
# (this one, warm machine) passed.
bash scripts/device_unpack.sh > /dev/null; ls /root/.cache/octet/nvrtc | wc -l; timeout 280 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json $OUT/selftest.json > $OUT/selftest.txt 2>&1; s=$?; grep -v " pass " $OUT/selftest.txt | head -20; echo "selftest: $(grep -c " pass " $OUT/selftest.txt) passed, exit $s"
