#!/usr/bin/env python3
"""Energy per operation of the tensor cores' precisions at the GPU's power cap, for the question the batch-128 bar asks.

At batch 128 the H200 runs at its 700 W cap (docs/GPU.md, seventeenth session), so a pass's time is its energy over
about 700 W. Whether INT8 can run twice as fast as PyTorch's FP16 there therefore depends on how much less energy an
INT8 product takes than an FP16 one, not on their peak rates. This holds cuBLAS(Lt) GEMMs of BERT-large's batch-128
shapes (M = 16,384: QKV, FFN in, FFN out) in FP16 (`torch.mm`), INT8 (`torch._int_mm`, int32 out) and FP8 E4M3
(`torch._scaled_mm`, fp16 out) for a few seconds each after a heater has brought the board to its cap, over enough
weight sets to leave L2 (as a pass streams every layer's weights), on random data of realistic spread (power depends on
the bits multiplied: zeros draw far less). NVML gives each run's energy (scripts/nvml_power.py): picojoules per
operation (multiply and add counted as two), TOPS, mean power and SM clock. `torch._int_mm` writes int32, twice the
bytes of FP16's output, so read INT8's energy per operation at FFN out (K = 4,096: a quarter of the output bytes per
operation of the K = 1,024 shapes) as the closest to the tensor cores' own.

    python3 scripts/gpu_energy_bench.py [--seconds 3] [--json OUT.json]
"""
import argparse, json, os, sys, time
import torch
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nvml_power import PowerSampler, bus_id  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("--seconds", type=float, default=3.0, help="timed seconds per GEMM and precision")
parser.add_argument("--precisions", default="fp16,int8,fp8")
parser.add_argument("--json")
args = parser.parse_args()
SHAPES = [("qkv", 16384, 3072, 1024), ("ffn-in", 16384, 4096, 1024), ("ffn-out", 16384, 1024, 4096)]
sampler = PowerSampler(bus_id(torch.cuda.get_device_properties(0)))
if not sampler.nvml:
    sys.exit("gpu_energy_bench.py: NVML (libnvidia-ml.so.1) did not load; energy cannot be measured")


def operands(precision, m, n, k, sets):
    """A [m, k] and `sets` weights as the GEMM wants them ([k, n], column-major where cuBLASLt asks for it)."""
    g = torch.Generator(device="cuda").manual_seed(1)
    if precision == "int8":  # quantized activations and weights spread like a calibrated BERT's (|x| mostly < 64)
        a = (torch.randn(m, k, device="cuda", generator=g) * 32).round().clamp(-127, 127).to(torch.int8)
        ws = [(torch.randn(n, k, device="cuda", generator=g) * 32).round().clamp(-127, 127).to(torch.int8).t() for _ in range(sets)]
        return a, ws, lambda a, w: torch._int_mm(a, w)
    if precision == "fp8":
        a = torch.randn(m, k, device="cuda", generator=g).to(torch.float8_e4m3fn)
        ws = [torch.randn(n, k, device="cuda", generator=g).to(torch.float8_e4m3fn).t() for _ in range(sets)]
        one = torch.ones((), device="cuda")
        return a, ws, lambda a, w: torch._scaled_mm(a, w, scale_a=one, scale_b=one, out_dtype=torch.float16)
    a = torch.randn(m, k, device="cuda", generator=g, dtype=torch.float16)
    ws = [(torch.randn(k, n, device="cuda", generator=g, dtype=torch.float16) * 0.02) for _ in range(sets)]
    return a, ws, lambda a, w: torch.mm(a, w)


def run(op, a, ws, seconds):
    """Launches of `op` over the weight sets for about `seconds`; returns the launch count."""
    count, began = 0, time.perf_counter()
    while time.perf_counter() - began < seconds:
        for w in ws:
            op(a, w)
        count += len(ws)
        torch.cuda.synchronize()
    return count


torch.backends.cuda.matmul.allow_tf32 = False
results = []
print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}; {args.seconds:g} s per row after a 2-s heater", flush=True)
print(f"{'GEMM':<8} {'M×N×K':<17} {'precision':<9} {'TOPS':>7} {'W':>5} {'SM MHz':>6} {'capped':>6} {'pJ/op':>7}", flush=True)
for name, m, n, k in SHAPES:
    for precision in args.precisions.split(","):
        element = {"fp16": 2, "int8": 1, "fp8": 1}[precision]
        sets = max(2, int(64e6 / (n * k * element)) + 1)  # more weight bytes than the 50 MB L2
        try:
            a, ws, op = operands(precision, m, n, k, sets)
            run(op, a, ws, 2.0)  # the heater: the board at its cap before anything is measured
            sampler.start()
            began = time.perf_counter()
            count = run(op, a, ws, args.seconds)
            seconds = time.perf_counter() - began
            power = sampler.stop() or {}
        except (RuntimeError, TypeError) as error:  # a precision this PyTorch or GPU lacks
            print(f"{name:<8} {f'{m}×{n}×{k}':<17} {precision:<9} not run: {error}".splitlines()[0], flush=True)
            continue
        ops = 2.0 * m * n * k * count
        joules = power.get("joules")
        row = {"gemm": name, "m": m, "n": n, "k": k, "precision": precision, "launches": count, "seconds": seconds,
               "tops": ops / seconds / 1e12, **power, **({"pj_per_op": joules / ops * 1e12} if joules else {})}
        results.append(row)
        print(f"{name:<8} {f'{m}×{n}×{k}':<17} {precision:<9} {row['tops']:>7.0f} {power.get('power_w_mean', float('nan')):>5.0f}"
              f" {power.get('sm_clock_mhz_median', float('nan')):>6.0f} {100 * power.get('power_capped_fraction', 0):>5.0f}%"
              f" {row.get('pj_per_op', float('nan')):>7.3f}", flush=True)
        if args.json:  # after every row, written whole and renamed, so a run cut short keeps what it measured
            with open(args.json + ".tmp", "w") as f:
                json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(), "results": results}, f, indent=1)
            os.replace(args.json + ".tmp", args.json)
        del a, ws
        torch.cuda.empty_cache()
