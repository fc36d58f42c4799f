# Session 15, call 2: shared-memory carveout (max against the driver's choice) with the split-K wgmma GEMMs.
set -uo pipefail
xz -dc .device/octet.xz > /tmp/octet && chmod +x /tmp/octet
O=$OUT; F=(--float '*.attention.qk' --float '*.attention.pv')
timeout 200 /tmp/octet selftest --device cuda --model /nonexistent --models-only > $O/selftest-models.txt 2>&1
echo "selftest models exit $? passed $(grep -c ' pass ' $O/selftest-models.txt)"
for c in max driver; do
  for m in bert-large bert-base; do
    OCTET_SMEM_CARVEOUT=$c timeout 100 /tmp/octet bench $m --device cuda --precision int8 "${F[@]}" --batch 1 --seq 128,384 --warmup 20 --iterations 200 \
      --min-seconds 0.3 --profile --json $O/bench-$m-attnfp16-$c.json > $O/bench-$m-attnfp16-$c.txt 2>&1
    echo "== $m int8 attn fp16 carveout $c rc $?"; grep -E "^\|  +1 \||^\| (128|384)×|^\| gemm_wgmma_sk" $O/bench-$m-attnfp16-$c.txt | cut -c1-100
  done
done
for m in bert-large bert-base; do
  for p in int8 fp16; do
    timeout 60 /tmp/octet bench $m --device cuda --precision $p --batch 1 --seq 128,384 --warmup 20 --iterations 200 --min-seconds 0.3 \
      --json $O/bench-$m-$p.json > $O/bench-$m-$p.txt 2>&1
    echo "== $m $p"; grep -E "^\|  +1 \|" $O/bench-$m-$p.txt | cut -d'|' -f2,3,5,13
  done
done
cd $O && tar czf all.tgz *.txt *.json && rm -f *.txt *.json; ls
