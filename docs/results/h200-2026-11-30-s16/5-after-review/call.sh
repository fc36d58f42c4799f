# Session 16, calls 9 and 10 (the binary after the review: in-pass tuning choosing plans under each launch mode, the
# launch mode per shape, the FP16 split attention removed, the fused GEMM + LayerNorm rebuilt on 64×64 tiles).
# The NVRTC cache was compiled here, without a GPU, and carried:
#   OCTET_CACHE=$PWD/.device/cache octet selftest --compile-only sm_90a
# Call 9:
xz -dc .device/octet.xz > /tmp/octet && chmod +x /tmp/octet && S=$(date +%s); OCTET_CACHE=$PWD/.device/cache timeout 150 /tmp/octet selftest --device cuda --model /nonexistent --models-only --json $OUT/selftest.json > $OUT/selftest.txt 2>&1; s=$?; grep -E "fused|FAIL|error|random bert 1" $OUT/selftest.txt | cut -c1-150; echo "selftest models-only: $(grep -c " pass " $OUT/selftest.txt) passed, exit $s, $(( $(date +%s) - S )) s"; ls $PWD/.device/cache/nvrtc | wc -l
# Call 10:
xz -dc .device/octet.xz > /tmp/octet && chmod +x /tmp/octet; export OCTET_CACHE=$PWD/.device/cache; F=(--float '*.attention.qk' --float '*.attention.pv'); for v in default fused; do E=(); [ $v = fused ] && E=(OCTET_FUSED_LAYERNORM=1); S=$(date +%s); env "${E[@]}" timeout 60 /tmp/octet bench bert-large --device cuda --precision int8 "${F[@]}" --batch 1 --seq 128,384 --warmup 20 --iterations 200 --min-seconds 0.3 --profile --json $OUT/bench-large-$v.json > $OUT/bench-large-$v.txt 2>&1; echo "== $v rc $? $(( $(date +%s) - S )) s"; grep -E "^\|  +1 \|" $OUT/bench-large-$v.txt | cut -d'|' -f2,3,5,13; done
