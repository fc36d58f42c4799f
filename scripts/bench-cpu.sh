#!/usr/bin/env bash
# CPU benchmark, Octet and its peer in one run: `octet bench` then ONNX Runtime (scripts/peer_ort_cpu.py) on the
# same model, shapes and thread count, one after the other on an otherwise idle machine.
#
#   bash scripts/bench-cpu.sh [THREADS] [BATCHES] [SEQS]      # defaults: 2 1,8 128,384
#
# Writes out/bench-cpu/{octet,ort}.json and prints both tables.
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}" batches="${2:-1,8}" seqs="${3:-128,384}"
mkdir -p out/bench-cpu
swift build -c release --product octet >&2
py="$(bash scripts/python-env.sh | tail -n1)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) · $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) · $(nproc) cores · threads $threads"
echo "## Octet"
.build/release/octet bench --device cpu --threads "$threads" --batch "$batches" --seq "$seqs" --json out/bench-cpu/octet.json
echo "## ONNX Runtime"
"$py" scripts/peer_ort_cpu.py --threads "$threads" --batch "$batches" --seq "$seqs" --json out/bench-cpu/ort.json
