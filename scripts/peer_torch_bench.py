#!/usr/bin/env python3
"""PyTorch peer for `octet bench --device cuda`: BertForQuestionAnswering (random weights, SDPA attention, TF32 off) in
FP32 and FP16, eager, CUDA graph, and torch.compile(mode="reduce-overhead"), at the same shapes as Octet, in the same
device call.

Timing: inputs already on the GPU (as Octet's "GPU compute" column: no host-to-device copy), warm-up, then the median
of --iterations forwards, each timed with CUDA events around the forward (graph: around the replay).

    python3 scripts/peer_torch_bench.py --models bert-base,bert-large --batch 1 --seq 128,384 \\
        --precisions fp16 --modes eager,graph,compile --json OUT.json
"""
import argparse, json, os, sys, time
import torch
from transformers import BertConfig, BertForQuestionAnswering
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from nvml_power import PowerSampler, bus_id  # noqa: E402  (the clock, power and energy beside each timing)

parser = argparse.ArgumentParser()
parser.add_argument("--models", default="bert-base,bert-large")
parser.add_argument("--batch", default="1")
parser.add_argument("--seq", default="128,384")
parser.add_argument("--precisions", default="fp16,fp32")
parser.add_argument("--modes", default="eager,graph,compile")
parser.add_argument("--iterations", type=int, default=200)
parser.add_argument("--json")
args = parser.parse_args()
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
SHAPES = {"bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072),
          "bert-large": dict(hidden_size=1024, num_hidden_layers=24, num_attention_heads=16, intermediate_size=4096)}


def median_ms(fn, iterations, preroll=False):
    """Median and min ms of `fn` between two CUDA events. With `preroll` a 2 ms GPU spin is queued before the first
    event, so the host's work for the call (a compiled module's guards, its CUDA-graph tree's bookkeeping, the input
    copies) runs while the GPU still spins and the events time the GPU's work alone, as they do for a bare graph
    replay and for Octet's "GPU compute"."""
    for _ in range(20):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(iterations):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        if preroll:
            torch.cuda._sleep(4_000_000)  # clock cycles: about 2 ms at the H200's 1.98 GHz
        a.record()
        fn()
        b.record()
        b.synchronize()
        times.append(a.elapsed_time(b))
    times.sort()
    return times[len(times) // 2], times[0]


sampler = PowerSampler(bus_id(torch.cuda.get_device_properties(0)))

# Warm the clocks (the card idles at a low clock).
x = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
for _ in range(200):
    x @ x
torch.cuda.synchronize()

results = []
print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
print(f"{'model':<11} {'prec':<5} {'mode':<8} {'batch':>5} {'seq':>4} {'median ms':>10} {'min ms':>8}"
      f" {'GPU median':>10} {'GPU min':>8} {'SM MHz':>6} {'W':>4} {'capped':>6} {'J/run':>7}"
      "  (GPU: compile only, host work hidden; above batch 1, NVML while timed: SM MHz the samples' median, W the"
      " energy counter's mean power, capped the share of samples at the power cap, J/run the board's energy per run)", flush=True)
for name in args.models.split(","):
    config = BertConfig(vocab_size=30522, **SHAPES[name], attn_implementation="sdpa")
    for precision in args.precisions.split(","):
        dtype = torch.float16 if precision == "fp16" else torch.float32
        model = BertForQuestionAnswering(config).eval().to("cuda", dtype)
        for s in map(int, args.seq.split(",")):
            for b in map(int, args.batch.split(",")):
                ids = torch.randint(1000, 30000, (b, s), device="cuda")
                mask = torch.ones(b, s, dtype=torch.long, device="cuda")
                types = torch.zeros(b, s, dtype=torch.long, device="cuda")
                for mode in args.modes.split(","):
                    began = time.time()
                    with torch.inference_mode():
                        if mode == "eager":
                            fn = lambda: model(input_ids=ids, attention_mask=mask, token_type_ids=types)
                        elif mode == "graph":
                            stream = torch.cuda.Stream()
                            stream.wait_stream(torch.cuda.current_stream())
                            with torch.cuda.stream(stream):
                                for _ in range(3):
                                    model(input_ids=ids, attention_mask=mask, token_type_ids=types)
                            torch.cuda.current_stream().wait_stream(stream)
                            graph = torch.cuda.CUDAGraph()
                            with torch.cuda.graph(graph):
                                model(input_ids=ids, attention_mask=mask, token_type_ids=types)
                            fn = graph.replay
                        else:
                            # A fresh, static compile for every model and shape: Dynamo's cache is keyed on the forward's
                            # code, shared by both models, and a second shape would otherwise recompile with dynamic
                            # sizes (automatic dynamic shapes), a slower peer than a user who compiles one shape gets.
                            torch._dynamo.reset()
                            compiled = torch.compile(model, mode="reduce-overhead", dynamic=False)
                            fn = lambda: compiled(input_ids=ids, attention_mask=mask, token_type_ids=types)
                            for _ in range(3):
                                fn()
                        # Sampled above batch 1 only: at batch 1 the sampler's thread taking the GIL could delay a
                        # launch, which the events would count against the peer (and batch 1 draws far below the cap).
                        if b > 1:
                            sampler.start()
                        median, best = median_ms(fn, args.iterations)
                        power = sampler.stop() if b > 1 else None
                        joules = power.pop("joules") if power else None
                        if power:
                            power.pop("seconds")
                        if joules is not None:  # over median_ms's 20 warm-up runs and its timed ones
                            power["joules_per_run"] = joules / (args.iterations + 20)
                        # The compiled module's host work per call can exceed a batch-1 forward's GPU time; its GPU
                        # time alone is the figure comparable with the graph's and Octet's.
                        gpu = median_ms(fn, args.iterations, preroll=True) if mode == "compile" else None
                    results.append({"model": name, "precision": precision, "mode": mode, "batch": b, "seq": s,
                                    "median_ms": median, "min_ms": best, "setup_s": time.time() - began,
                                    **({"gpu_median_ms": gpu[0], "gpu_min_ms": gpu[1]} if gpu else {}), **(power or {})})
                    extra = f" {gpu[0]:>10.3f} {gpu[1]:>8.3f}" if gpu else f" {'':>10} {'':>8}"
                    if power:
                        extra += (f" {power['sm_clock_mhz_median']:>6.0f} {power.get('power_w_mean', power['power_w_median']):>4.0f}"
                                  f" {100 * power['power_capped_fraction']:>5.0f}%"
                                  + (f" {power['joules_per_run']:>7.4g}" if "joules_per_run" in power else ""))
                    print(f"{name:<11} {precision:<5} {mode:<8} {b:>5} {s:>4} {median:>10.3f} {best:>8.3f}{extra}", flush=True)
                    if args.json:  # after every shape, so a run cut short by its time limit keeps what it measured
                        with open(args.json + ".tmp", "w") as f:  # then renamed: a kill mid-write leaves the last whole file
                            json.dump({"torch": torch.__version__, "device": torch.cuda.get_device_name(), "results": results}, f, indent=1)
                        os.replace(args.json + ".tmp", args.json)
        del model
        torch.cuda.empty_cache()
