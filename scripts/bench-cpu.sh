#!/usr/bin/env bash
# CPU benchmark, Octet and its peer in one run: for each shape, `octet bench` and then ONNX Runtime
# (scripts/peer_ort_cpu.py) on the same model, shape and thread count, back to back, so both see the same machine
# state (shared virtual machines drift by tens of percent over minutes). Then the two merged into one table.
#
#   bash scripts/bench-cpu.sh [THREADS] [BATCHES] [SEQS] [PRECISION]      # defaults: 2 1,8 128,384 fp32
#
# PRECISION int8: Octet runs the reference model's quantization recipe (`--precision int8`, recipes/minilm-l6-squad.json)
# and the peers are ONNX Runtime's dynamic INT8 (`--dynamic-int8`, issue 6's comparison) and ONNX Runtime running the
# same recipe as a static Q/DQ model (`octet quantize --scales recipes/minilm-l6-squad.json`, `--qdq-model`).
# Writes out/bench-cpu[-int8]/{octet,ort}-bB-sS.json and summary.md.
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-2}" batches="${2:-1,8}" seqs="${3:-128,384}" precision="${4:-fp32}"
out=out/bench-cpu
peer_flags=()
if [[ "$precision" == int8 ]]; then out=out/bench-cpu-int8; peer_flags=(--dynamic-int8 --qdq-model "$out/recipe-qdq.onnx"); fi
mkdir -p "$out"
swift build -c release --product octet >&2
if [[ "$precision" == int8 && ! -f "$out/recipe-qdq.onnx" ]]; then
  .build/release/octet quantize --scales recipes/minilm-l6-squad.json --output "$out/recipe-qdq.onnx" >&2
fi
py="$(bash scripts/python-env.sh | tail -n1)"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) · $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs) · $(nproc) cores · $threads threads"
for s in ${seqs//,/ }; do
  for b in ${batches//,/ }; do
    .build/release/octet bench --device cpu --precision "$precision" --threads "$threads" --batch "$b" --seq "$s" --json "$out/octet-b$b-s$s.json" >&2
    "$py" scripts/peer_ort_cpu.py --threads "$threads" --batch "$b" --seq "$s" "${peer_flags[@]}" --json "$out/ort-b$b-s$s.json" >&2
  done
done
"$py" - "$out" "$precision" <<'PY' | tee "$out/summary.md"
import glob, json, os, sys
out, precision = sys.argv[1], sys.argv[2]
peer_engine = "ort-dynamic-int8" if precision == "int8" else "ort-fp32"
rows = []
for path in sorted(glob.glob(os.path.join(out, "octet-b*-s*.json"))):
    o = json.load(open(path))
    r = o["results"][0]
    b, s = r["batch"], r["seq"]
    peer = json.load(open(os.path.join(out, f"ort-b{b}-s{s}.json")))
    p = next(x for x in peer["results"] if x["batch"] == b and x["seq"] == s and x.get("engine", peer_engine) == peer_engine)
    q = next((x for x in peer["results"] if x["batch"] == b and x["seq"] == s and x.get("engine") == "ort-static-qdq-int8"), None)
    rows.append((s, b, r["median_ms"], r["p90_ms"], r["throughput_seq_per_s"], p["median_ms"], p["p90_ms"], p["throughput_seq_per_s"],
                 q["median_ms"] if q else None))
print(f"engine: {o['engine']} · peer: onnxruntime {peer.get('onnxruntime_version', '?')} {peer_engine}, same threads\n")
static = any(r[8] is not None for r in rows)
print("| seq | batch | Octet median ms | Octet p90 ms | Octet seq/s | ORT median ms | ORT p90 ms | ORT seq/s | ORT / Octet |"
      + (" ORT static Q/DQ median ms |" if static else ""))
print("|---|---|---|---|---|---|---|---|---|" + ("---|" if static else ""))
for s, b, om, o90, ot, pm, p90, pt, qm in sorted(rows):
    print(f"| {s} | {b} | {om:.2f} | {o90:.2f} | {ot:.1f} | {pm:.2f} | {p90:.2f} | {pt:.1f} | {pm / om:.2f}× |"
          + (f" {qm:.2f} |" if static else ""))
PY
