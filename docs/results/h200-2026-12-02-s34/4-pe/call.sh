#!/usr/bin/env bash
# Session 34, call 4: the "pe" GEMM schedule's first run (gemm_wgmma_pe_*: two product warpgroups hand each 128×128
# tile's accumulators through shared memory to two epilogue warpgroups, built this session for FFN in's GELU epilogue).
# 1. the full self-test without the model: its forced `gemm_wgmma_pe_*` checks (1000×4608×1024: fp16, GELU int8, GELU
#    float32, float32 + residual, residual codes) among every other kernel's;
# 2. if they pass, OCTET_GEMM_PE 0 (not a tuning candidate) against 1 at batch 128 (BERT-large and BERT-base, s128 and
#    s384, alternated twice), and which plan the tuner kept for each GEMM with it.
# Carry .device/octet.xz and .device/cache.tar.xz.
#   bash docs/results/h200-2026-12-02-s34/4-pe/call.sh $OUT
set -uo pipefail
bash scripts/device_unpack.sh > /dev/null
export OCTET_CACHE=$PWD/.device/cache
out=$1
timeout 300 /tmp/octet selftest --device cuda --model /nonexistent --json "$out/selftest.json" > "$out/selftest.txt" 2>&1
echo "selftest rc $?: $(grep -c "| pass" "$out/selftest.txt") passed, $(grep "|" "$out/selftest.txt" | tail -n +3 | grep -vc "| pass") not (at ${SECONDS}s)"
grep "|" "$out/selftest.txt" | tail -n +3 | grep -v "| pass" | cut -c1-140 | head -8
grep "gemm_wgmma_pe_" "$out/selftest.txt" | cut -c1-140
grep "gemm_wgmma_pe_" "$out/selftest.txt" | grep -vq "| pass" && exit 0
grep -q "gemm_wgmma_pe_" "$out/selftest.txt" || exit 0
bash scripts/env_ab_bench.sh "$out" 2 "bert-large bert-base" 128 OCTET_GEMM_PE "0 1"
for f in "$out"/*PE1-r1.txt; do echo "$f"; grep -E "^\| (16384|49152)" "$f" | cut -d'|' -f2,3 | tr -s ' '; done
xz -T8 "$out/selftest.json"
exit 0
