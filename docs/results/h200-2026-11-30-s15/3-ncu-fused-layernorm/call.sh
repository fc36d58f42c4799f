# Session 15, call 3: Nsight Compute source-level view of the fused GEMM + LayerNorm kernel (why 35 µs?).
set -uo pipefail
xz -dc .device/octet.xz > /tmp/octet && chmod +x /tmp/octet
O=$OUT; NCU=/usr/local/cuda/bin/ncu
/tmp/octet selftest --device cuda --model /nonexistent --models-only > /dev/null 2>&1  # compiles the kernels (cache)
OCTET_GEMM_TUNE=0 OCTET_FUSED_LAYERNORM=1 timeout 240 $NCU -o /tmp/r --set full --kernel-name regex:'gemm_wgmma_i8_64x128_ln|residual_layernorm' \
  --launch-skip 4 --launch-count 3 /tmp/octet bench bert-large --device cuda --precision int8 --batch 1 --seq 128 --warmup 0 --iterations 1 --min-seconds 0 > $O/ncu-run.txt 2>&1
echo "ncu rc $?"; tail -3 $O/ncu-run.txt
$NCU -i /tmp/r.ncu-rep --page details > $O/details.txt 2>&1
$NCU -i /tmp/r.ncu-rep --page source --csv --print-source sass > $O/source.csv 2>&1
$NCU -i /tmp/r.ncu-rep --page raw --csv > $O/raw.csv 2>&1
ls -la $O; grep -E "^  [a-z_]+.*\(|Duration|Warp Cycles Per Issued" $O/details.txt | head -20
cd $O && tar czf all.tgz *.txt *.csv && rm -f *.txt *.csv; ls -la
