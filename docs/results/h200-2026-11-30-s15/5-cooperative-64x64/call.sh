# Session 15, call 5: four-stage split-K with 16-byte reductions, cooperative 64x64, weights before the wait.
set -uo pipefail
xz -dc .device/octet.xz > /tmp/octet && chmod +x /tmp/octet
O=$OUT; F=(--float '*.attention.qk' --float '*.attention.pv'); NCU=/usr/local/cuda/bin/ncu
timeout 330 /tmp/octet selftest --device cuda --model /nonexistent --json $O/selftest.json > $O/selftest.txt 2>&1
echo "selftest exit $? passed $(grep -c ' pass ' $O/selftest.txt)"; grep -v " pass " $O/selftest.txt | head -20
for m in bert-large bert-base; do
  timeout 100 /tmp/octet bench $m --device cuda --precision int8 "${F[@]}" --batch 1 --seq 128,384 --warmup 20 --iterations 200 \
    --min-seconds 0.3 --profile --json $O/bench-$m-attnfp16.json > $O/bench-$m-attnfp16.txt 2>&1
  echo "== $m int8 attn fp16 rc $?"; grep -E "^\|  +1 \||^\| (128|384)×" $O/bench-$m-attnfp16.txt | cut -c1-100
  OCTET_GEMM_TUNE=0 timeout 100 /tmp/octet bench $m --device cuda --precision int8 "${F[@]}" --batch 1 --seq 128,384 --warmup 20 --iterations 200 \
    --min-seconds 0.3 > $O/bench-$m-attnfp16-rule.txt 2>&1
  echo "== $m rule"; grep -E "^\|  +1 \|" $O/bench-$m-attnfp16-rule.txt | cut -d'|' -f2,3,5,13
done
cd $O && tar czf all.tgz *.txt *.csv *.json && rm -f *.txt *.csv *.json; ls -la
