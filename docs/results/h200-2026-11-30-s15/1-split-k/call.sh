# Session 15, call 1: split-K wgmma GEMMs. Self-test (random models), then batch-1 benches with tuning reports.
set -uo pipefail
xz -dc .device/octet.xz > /tmp/octet && chmod +x /tmp/octet
O=$OUT; F=(--float '*.attention.qk' --float '*.attention.pv')
timeout 330 /tmp/octet selftest --device cuda --model /nonexistent --json $O/selftest.json > $O/selftest.txt 2>&1
echo "selftest exit $? passed $(grep -c ' pass ' $O/selftest.txt)"; grep -v " pass " $O/selftest.txt | head -30
grep "_sk_" $O/selftest.txt | head -12
for m in bert-large bert-base; do
  timeout 100 /tmp/octet bench $m --device cuda --precision int8 "${F[@]}" --batch 1 --seq 128,384 --warmup 20 --iterations 200 --min-seconds 0.3 \
    --profile --json $O/bench-$m-attnfp16.json > $O/bench-$m-attnfp16.txt 2>&1
  echo "== $m int8 attn fp16 rc $?"; grep -E "^\|  +1 \||^\| (128|384)×|^\| gemm|^\| resid|^\| atten" $O/bench-$m-attnfp16.txt | cut -c1-250
  timeout 60 /tmp/octet bench $m --device cuda --precision int8 --batch 1 --seq 128,384 --warmup 20 --iterations 200 --min-seconds 0.3 \
    --json $O/bench-$m-int8.json > $O/bench-$m-int8.txt 2>&1
  echo "== $m int8"; grep -E "^\|  +1 \|" $O/bench-$m-int8.txt | cut -d'|' -f2,3,5,13
  timeout 60 /tmp/octet bench $m --device cuda --precision fp16 --batch 1 --seq 128,384 --warmup 20 --iterations 200 --min-seconds 0.3 \
    --json $O/bench-$m-fp16.json > $O/bench-$m-fp16.txt 2>&1
  echo "== $m fp16"; grep -E "^\|  +1 \||^\| (128|384)×" $O/bench-$m-fp16.txt | cut -c1-200
done
OCTET_PDL=0 timeout 60 /tmp/octet bench bert-large --device cuda --precision int8 "${F[@]}" --batch 1 --seq 128,384 --warmup 20 --iterations 200 \
  --min-seconds 0.3 > $O/bench-large-nopdl.txt 2>&1
echo "== large attn fp16 PDL off"; grep -E "^\|  +1 \|" $O/bench-large-nopdl.txt | cut -d'|' -f2,3,5,13
NCU=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1); echo "ncu: $NCU"
[ -n "$NCU" ] && OCTET_GEMM_TUNE=0 OCTET_FUSED_LAYERNORM=1 timeout 150 $NCU --kernel-name regex:'gemm_wgmma_i8_64x128' --launch-skip 2 --launch-count 4 \
  --section SpeedOfLight --section LaunchStats --section Occupancy --section WarpStateStats \
  /tmp/octet bench bert-large --device cuda --precision int8 --batch 1 --seq 128 --warmup 0 --iterations 1 --min-seconds 0 > $O/ncu.txt 2>&1
echo "ncu rc $?"; grep -E "gemm_wgmma|Duration|Cluster|Achieved Occupancy|Waves|Block Limit|Warp Cycles Per Issued|Stall" $O/ncu.txt | head -60
cd $O && tar czf all.tgz *.txt *.json && rm -f *.txt *.json; ls
