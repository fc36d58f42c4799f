#!/usr/bin/env python3
"""CPU peer benchmark: ONNX Runtime on the reference MiniLM-L6 SQuAD model.

Times `InferenceSession.run` of ../shared/onnx/minilm-l6-squad.onnx (float32,
inputs input_ids / attention_mask / token_type_ids int64 [batch, sequence],
outputs start_logits / end_logits) for every (batch, sequence length) pair, on
the CPU execution provider only. With --dynamic-int8 it also quantizes the model
with onnxruntime.quantization.quantize_dynamic (per-channel, QInt8 weights) into
a temporary directory and times that too. With --qdq-model PATH it also times a
static Q/DQ INT8 model (QuantizeLinear/DequantizeLinear pairs, as `octet
quantize` exports the quantization recipe), which ONNX Runtime fuses into
integer kernels where its graph optimizer can.

Rows are labelled "ort-fp32", "ort-dynamic-int8" and "ort-static-qdq-int8". Latencies are wall-clock
per run() call in milliseconds (min/mean/median/p90/p95/p99/max, percentiles by
linear interpolation); throughput is batch * 1000 / mean_ms sequences per second.

Run (from the repo root):
    PY="$(bash scripts/python-env.sh | tail -n1)"
    "$PY" scripts/peer_ort_cpu.py                       # fp32, b1/b8 x s128/s384
    "$PY" scripts/peer_ort_cpu.py --dynamic-int8 --json peer-ort-cpu.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL = "../shared/onnx/minilm-l6-squad.onnx"


def int_list(s: str) -> list[int]:
    vals = [int(x) for x in s.split(",") if x.strip()]
    if not vals or any(v <= 0 for v in vals):
        raise argparse.ArgumentTypeError(f"expected a comma-separated list of positive ints, got {s!r}")
    return vals


def cpu_info() -> dict:
    info = {"model": platform.processor() or platform.machine(), "logical_cpus": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            text = f.read()
    except OSError:
        return info
    flags: set[str] = set()
    model_seen = False
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and not model_seen:
            info["model"] = value.strip()
            model_seen = True
        elif key == "flags" and not flags:
            flags = set(value.split())
    interesting = ["avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_int8", "amx_bf16"]
    info["isa_flags"] = [f for f in interesting if f in flags]
    return info


def make_session(model_path: str, threads: int) -> ort.InferenceSession:
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(model_path, sess_options=so, providers=["CPUExecutionProvider"])


def make_feeds(batch: int, seq: int, seed: int) -> dict[str, np.ndarray]:
    # Features are always padded to the full max length (as the QA pipeline does)
    # and attention is dense over the padded length, so token content does not
    # change the amount of work: random ids with a full attention mask suffice.
    rng = np.random.default_rng(seed)
    input_ids = rng.integers(1000, 30000, size=(batch, seq), dtype=np.int64)
    attention_mask = np.ones((batch, seq), dtype=np.int64)
    token_type_ids = np.zeros((batch, seq), dtype=np.int64)
    token_type_ids[:, seq // 4:] = 1  # question segment then context segment
    return {"input_ids": input_ids, "attention_mask": attention_mask, "token_type_ids": token_type_ids}


def bench_one(sess, label: str, batch: int, seq: int, args) -> dict:
    feeds = make_feeds(batch, seq, seed=batch * 100003 + seq)
    out_names = [o.name for o in sess.get_outputs()]
    outs = sess.run(out_names, feeds)
    for name, o in zip(out_names, outs):
        if o.shape != (batch, seq) or not np.isfinite(o).all():
            raise RuntimeError(f"{label} b{batch} s{seq}: bad output {name} shape {o.shape}")
    for _ in range(args.warmup):
        sess.run(out_names, feeds)

    times_ns: list[int] = []
    min_ns = int(args.min_seconds * 1e9)
    start = time.perf_counter_ns()
    while len(times_ns) < args.iterations or time.perf_counter_ns() - start < min_ns:
        t0 = time.perf_counter_ns()
        sess.run(out_names, feeds)
        times_ns.append(time.perf_counter_ns() - t0)
        if args.max_iterations and len(times_ns) >= args.max_iterations:
            break

    ms = np.asarray(times_ns, dtype=np.float64) / 1e6
    mean = float(ms.mean())
    return {
        "engine": label,
        "batch": batch,
        "seq": seq,
        "iterations": int(ms.size),
        "min_ms": float(ms.min()),
        "mean_ms": mean,
        "median_ms": float(np.percentile(ms, 50)),
        "p90_ms": float(np.percentile(ms, 90)),
        "p95_ms": float(np.percentile(ms, 95)),
        "p99_ms": float(np.percentile(ms, 99)),
        "max_ms": float(ms.max()),
        "stdev_ms": float(ms.std(ddof=1)) if ms.size > 1 else 0.0,
        "throughput_seq_per_s": batch * 1000.0 / mean,
    }


def print_row(r: dict) -> None:
    print(
        f"{r['engine']:<17} {r['batch']:>5} {r['seq']:>5} {r['iterations']:>6} "
        f"{r['min_ms']:>9.2f} {r['mean_ms']:>9.2f} {r['median_ms']:>9.2f} {r['p90_ms']:>9.2f} "
        f"{r['p95_ms']:>9.2f} {r['p99_ms']:>9.2f} {r['max_ms']:>9.2f} {r['throughput_seq_per_s']:>10.1f}",
        flush=True,
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="ONNX Runtime CPU peer benchmark for the reference QA model")
    ap.add_argument("--model", default=DEFAULT_MODEL, help="ONNX model (relative paths are from the repo root)")
    ap.add_argument("--threads", type=int, default=2, help="intra_op_num_threads (inter_op is 1)")
    ap.add_argument("--seq", type=int_list, default=[128, 384], help="comma-separated sequence lengths")
    ap.add_argument("--batch", type=int_list, default=[1, 8], help="comma-separated batch sizes")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--iterations", type=int, default=50, help="minimum timed iterations")
    ap.add_argument("--min-seconds", type=float, default=5.0, help="keep iterating until this much time has passed")
    ap.add_argument("--max-iterations", type=int, default=0, help="hard cap on timed iterations (0: none)")
    ap.add_argument("--dynamic-int8", action="store_true",
                    help="also benchmark a quantize_dynamic(per_channel=True, QInt8) copy of the model")
    ap.add_argument("--qdq-model", metavar="PATH", help="also time this static Q/DQ INT8 ONNX model (same inputs)")
    ap.add_argument("--json", metavar="OUT", help="write results as JSON to OUT")
    args = ap.parse_args(argv)

    model = Path(args.model)
    if not model.is_absolute():
        model = (REPO / model).resolve()
    if not model.is_file():
        print(f"model not found: {model}", file=sys.stderr)
        return 2

    cpu = cpu_info()
    load_before = os.getloadavg()
    print(f"onnxruntime {ort.__version__}  numpy {np.__version__}  python {platform.python_version()}")
    print(f"CPU: {cpu['model']} ({cpu['logical_cpus']} logical CPUs; {' '.join(cpu['isa_flags'])})")
    print(f"threads: intra_op={args.threads} inter_op=1, sequential, ORT_ENABLE_ALL, CPUExecutionProvider")
    print(f"model: {model}")
    print(f"load average before: {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}")

    results: list[dict] = []
    variants: list[tuple[str, str]] = [("ort-fp32", str(model))]
    providers: list[str] = []
    with tempfile.TemporaryDirectory(prefix="octet-ort-") as tmp:
        if args.dynamic_int8:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            qpath = os.path.join(tmp, "model.dynamic-int8.onnx")
            t0 = time.perf_counter()
            quantize_dynamic(str(model), qpath, per_channel=True, weight_type=QuantType.QInt8)
            print(f"(quantized to dynamic int8 in {time.perf_counter() - t0:.1f} s, "
                  f"{os.path.getsize(qpath) / 1e6:.1f} MB)")
            variants.append(("ort-dynamic-int8", qpath))
        if args.qdq_model:
            if not Path(args.qdq_model).is_file():
                print(f"Q/DQ model not found: {args.qdq_model}", file=sys.stderr)
                return 2
            variants.append(("ort-static-qdq-int8", args.qdq_model))

        header = (f"{'engine':<17} {'batch':>5} {'seq':>5} {'iters':>6} {'min':>9} {'mean':>9} {'median':>9} "
                  f"{'p90':>9} {'p95':>9} {'p99':>9} {'max':>9} {'seq/s':>10}")
        print("latency in ms")
        print(header)
        print("-" * len(header))
        for label, path in variants:
            sess = make_session(path, args.threads)
            providers = sess.get_providers()
            for batch in args.batch:
                for seq in args.seq:
                    r = bench_one(sess, label, batch, seq, args)
                    results.append(r)
                    print_row(r)
            del sess

    if args.json:
        doc = {
            "benchmark": "peer_ort_cpu",
            "date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "onnxruntime_version": ort.__version__,
            "numpy_version": np.__version__,
            "python_version": platform.python_version(),
            "platform": platform.platform(),
            "cpu": cpu,
            "model": args.model,
            "threads": {"intra_op": args.threads, "inter_op": 1},
            "execution_mode": "ORT_SEQUENTIAL",
            "graph_optimization_level": "ORT_ENABLE_ALL",
            "providers": providers,
            "inputs": "random ids in [1000, 30000), full attention mask, token_type 0 for the first quarter then 1",
            "warmup": args.warmup,
            "min_iterations": args.iterations,
            "min_seconds": args.min_seconds,
            "dynamic_int8": {"enabled": args.dynamic_int8, "per_channel": True, "weight_type": "QInt8"}
            if args.dynamic_int8 else {"enabled": False},
            "throughput": "batch * 1000 / mean_ms, sequences per second",
            # Other processes on the machine skew results; the load average shows it.
            "loadavg_1_5_15_before": [round(x, 2) for x in load_before],
            "loadavg_1_5_15_after": [round(x, 2) for x in os.getloadavg()],
            "results": results,
        }
        out = Path(args.json)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
