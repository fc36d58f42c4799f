# Session 15, call 6 (measured): Octet INT8 (attention FP16 and all-INT8) and FP16 beside PyTorch FP16 in one call.
set -uo pipefail
xz -dc .device/octet.xz > /tmp/octet && chmod +x /tmp/octet
O=$OUT; J=$(mktemp -d); F=(--float '*.attention.qk' --float '*.attention.pv')
trap 'tar czf $O/json.tgz -C $J .' EXIT
run() {  # name, model, extra args
  local name=$1 m=$2; shift 2
  timeout 120 /tmp/octet bench $m --device cuda --batch 1,128 --seq 128,384 --warmup 20 --iterations 100 --min-seconds 0.3 \
    --json $J/octet-$m-$name.json "$@" 2>&1 | grep -v "^|--" >> $O/octet.txt
  echo "== $m $name"; grep -A5 "^| batch" $O/octet.txt | tail -4 | cut -d'|' -f2,3,5,13
}
for m in bert-base bert-large; do
  echo "### $m int8 attention-fp16" >> $O/octet.txt; run int8-attention-fp16 $m --precision int8 "${F[@]}"
  echo "### $m fp16" >> $O/octet.txt; run fp16 $m --precision fp16
done
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/peer_torch_bench.py --batch 1,128 --seq 128,384 --precisions fp16 --modes graph \
  --iterations 100 --json $J/torch-graph.json > $O/torch.txt 2>&1; echo "torch graph rc $?"; grep -E "graph" $O/torch.txt | tail -8
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/peer_torch_bench.py --batch 1 --seq 128 --precisions fp16 --modes compile \
  --iterations 100 --json $J/torch-compile.json >> $O/torch.txt 2>&1; echo "torch compile rc $?"; grep -E "compile" $O/torch.txt | tail -2
for m in bert-base bert-large; do
  echo "### $m int8" >> $O/octet.txt; run int8 $m --precision int8
done
