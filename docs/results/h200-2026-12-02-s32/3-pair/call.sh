#!/usr/bin/env bash
# Session 32, call 3 (after call 2 carried .device/minilm and unpacked the model to /tmp/m): the fused QKV attention's
# two-blocks-per-multiprocessor form for sequences of up to 128 tokens (`qkv_attention_i8_d64_r1_pair`), and the
# fused path as it would run by default (OCTET_FUSED_ATTENTION=1: every grid of at least a block per multiprocessor).
# 1. The full self-test with the reference model on the fp16-stream recipe and its 16 real SQuAD features, with
#    OCTET_FUSED_ATTENTION=1 (the forced checks run the pair form at one row tile).
# 2. Full-dev SQuAD v1.1 at 384/128, batch 32 (12 heads × 32 blocks: fused), the INT8 recipe and the fp16-stream
#    recipe, OCTET_FUSED_ATTENTION=1 (session 31 on the two kernels: 81.0684 and 81.0840).
# 3. BERT-large and BERT-base INT8 (attention FP16, fp16 stream) s128 b128: unfused, fused one block per
#    multiprocessor (OCTET_FUSED_ATTENTION_PAIR=0), fused pair; alternated twice; then Nsight Compute on one pair launch.
# Carry .device/octet.xz, .device/cache.tar.xz, .device/reference_s384.safetensors, .device/dev-v1.1.json.xz.
#   bash docs/results/h200-2026-12-02-s32/3-pair/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$(mktemp -d); dest=$1
trap 'tar czf "$dest/results.tgz" -C "$out" .' EXIT
F=(--precision int8 --float '*.attention.qk' --float '*.attention.pv' --half-precision-stream)
bench() {  # name, env…
  local name=$1; shift
  env "$@" timeout 60 /tmp/octet bench $model --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 10 \
    --iterations 100 --min-seconds 1.5 --json "$out/$model-$name-r$r.json" > "$out/$model-$name-r$r.txt" 2>&1
  echo "$model $name round $r: $(grep -E "^\|  +128 \|" "$out/$model-$name-r$r.txt" | cut -d'|' -f3,13,16,18,19 | tr -s ' ' | tr '\n' ' ') (at ${SECONDS}s)"
}
for r in 1 2; do
  for model in bert-large bert-base; do
    if (( r == 1 )); then bench unfused OCTET_FUSED_ATTENTION=0; bench single OCTET_FUSED_ATTENTION=1 OCTET_FUSED_ATTENTION_PAIR=0; bench pair OCTET_FUSED_ATTENTION=1
    else bench pair OCTET_FUSED_ATTENTION=1; bench single OCTET_FUSED_ATTENTION=1 OCTET_FUSED_ATTENTION_PAIR=0; bench unfused OCTET_FUSED_ATTENTION=0; fi
  done
done
export OCTET_FUSED_ATTENTION=1
timeout 300 /tmp/octet selftest --device cuda --model /tmp/m --scales recipes/minilm-l6-squad-fp16-stream.json \
  --features .device/reference_s384.safetensors --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest exit $?: $(grep -c "| pass" "$out/selftest.txt") passed, $(grep "|" "$out/selftest.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
grep "|" "$out/selftest.txt" | tail -n +3 | grep -v "| pass" | head -8
grep "fused QKV" "$out/selftest.txt" | cut -c1-130 | head -12
eval_run() {  # name, flags…
  local name=$1; shift
  timeout 90 /tmp/octet eval squad --device cuda --model /tmp/m --tokenizer /tmp/m --data /tmp/dev.json --batch 32 \
    --output "$out/eval-$name" "$@" > "$out/eval-$name.txt" 2>&1
  echo "eval $name exit $?: $(grep "^| /tmp/m " "$out/eval-$name.txt" | cut -d'|' -f3,8-10) (at ${SECONDS}s)"
  xz -T8 "$out/eval-$name"/*.json 2>/dev/null
}
eval_run int8-recipe --precision int8 --scales recipes/minilm-l6-squad.json
eval_run int8-fp16-stream --precision int8 --scales recipes/minilm-l6-squad-fp16-stream.json
timeout 100 /usr/local/cuda/bin/ncu -k regex:qkv_attention -c 1 --set full -o "$out/pair" \
  /tmp/octet bench bert-large --device cuda "${F[@]}" --batch 128 --seq 128 --warmup 1 --iterations 2 > "$out/ncu.txt" 2>&1
/usr/local/cuda/bin/ncu -i "$out/pair.ncu-rep" --page details > "$out/ncu-details.txt" 2>&1
grep -E "Duration|Registers Per|Compute \(SM\) Throughput|Achieved Occupancy|Issued Ipc Active|Block Limit" "$out/ncu-details.txt" | head -12
exit 0
