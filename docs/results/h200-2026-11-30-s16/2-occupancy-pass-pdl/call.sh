# Session 16, call 4 (after call 3 unpacked the model to /tmp/m): the self-test of this binary with the reference model (TMA descriptor prefetch, occupancy-aware split-K candidates, in-pass
# tuning by default), then batch-1 benches: the default against OCTET_GEMM_TUNE=alone and against PDL forced on at s384.
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
O=$OUT; J=$(mktemp -d); F=(--float '*.attention.qk' --float '*.attention.pv')
trap 'tar czf $O/call.tgz -C $J .' EXIT
timeout 300 /tmp/octet selftest --device cuda --model /tmp/m --features .device/reference_s384.safetensors --json $J/selftest.json > $J/selftest.txt 2>&1
s=$?; grep -v " pass " $J/selftest.txt | head -20; echo "selftest: $(grep -c " pass " $J/selftest.txt) passed, exit $s"
[ $s -eq 0 ] || exit 1
for m in bert-base bert-large; do
  for v in default alone pdl; do
    E=(); [ $v = alone ] && E=(OCTET_GEMM_TUNE=alone); [ $v = pdl ] && E=(OCTET_PDL=1)
    env "${E[@]}" timeout 90 /tmp/octet bench $m --device cuda --precision int8 "${F[@]}" --batch 1 --seq 128,384 --warmup 20 \
      --iterations 200 --min-seconds 0.3 --json $J/bench-$m-$v.json > $J/bench-$m-$v.txt 2>&1
    echo "== $m $v"; grep -E "^\|  +1 \|" $J/bench-$m-$v.txt | cut -d'|' -f2,3,5,13
  done
done
python3 - $J/bench-bert-large-default.json <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for t in d.get("gemm_tuning", []):
    best = sorted(t["candidates_us"].items(), key=lambda x: x[1])[:4]
    print(t["shape"], "|", ", ".join(f"{k} {v:.2f}" for k, v in best))
for t in d.get("gemm_tuning_in_pass", []):
    print(t)
PY
