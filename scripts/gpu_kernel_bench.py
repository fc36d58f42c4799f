#!/usr/bin/env python3
"""Kernel workbench for Octet's CUDA kernels, for kernel development on the GPU machine (CuPy + PyTorch there).

Compiles Sources/OctetCUDA/Kernels/*.cu with NVRTC (through CuPy, with common.cuh as Octet passes it), checks every
kernel against a PyTorch float64/int64 reference on fresh random inputs, then times the GEMM variants at BERT's batch-1
shapes against cuBLASLt (torch._int_mm for INT8, torch.mm for FP16), rotating over enough weight sets to leave the
L2 cache (the real model streams every layer's weights from memory). Median of CUDA-event timings.

The release check of the same kernels is `octet selftest --device cuda` (against Octet's CPU reference); this script
is the fast loop for editing a kernel without rebuilding the Swift binary.

    python3 scripts/gpu_kernel_bench.py [--json OUT.json]
"""
import argparse, ctypes, glob, itertools, json, math, os, sys, tempfile
import cupy as cp
import torch

parser = argparse.ArgumentParser()
parser.add_argument("--json")
parser.add_argument("--verbose", action="store_true")
parser.add_argument("--no-gemm-timing", action="store_true")
parser.add_argument("--no-attention-timing", action="store_true")
parser.add_argument("--no-checks", action="store_true", help="timings only")
parser.add_argument("--only-attention", action="store_true", help="the attention checks and timings alone")
parser.add_argument("--epilogues", action="store_true", help="also time each GEMM variant with GELU + int8 output and with float32 output")
parser.add_argument("--gemm-shapes", help="GEMM shapes to time, as M,N,K;M,N,K;… (default: BERT's batch-1 and batch-128 shapes)")
args = parser.parse_args()
skip_other = args.no_checks or args.only_attention  # the GEMM, LayerNorm and QA-head checks
if args.only_attention:
    args.no_gemm_timing = True
torch.manual_seed(1)
folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Sources", "OctetCUDA", "Kernels")
hopper = torch.cuda.get_device_capability() == (9, 0)  # sm_90a: the wgmma kernels exist
modules = {}


def compile_cubin(file):
    """NVRTC (through ctypes) for the device's own architecture, sm_90a on Hopper as Octet compiles (wgmma needs the
    `a` target, which CuPy's compiler does not ask for); returns the path of the cubin."""
    for lib in [os.environ.get("OCTET_CUDA_LIB", "/usr/local/cuda/lib64"), "/usr/local/cuda/lib64"]:
        if os.path.exists(os.path.join(lib, "libnvrtc.so.13")):
            # NVRTC opens its builtins library by name: load it first from the same folder.
            for builtins in sorted(glob.glob(os.path.join(lib, "libnvrtc-builtins.so.13*")))[:1]:
                ctypes.CDLL(builtins, mode=ctypes.RTLD_GLOBAL)
            nvrtc = ctypes.CDLL(os.path.join(lib, "libnvrtc.so.13"))
            break
    else:
        nvrtc = ctypes.CDLL("libnvrtc.so.13")
    major, minor = torch.cuda.get_device_capability()
    arch = f"sm_{major}{minor}" + ("a" if (major, minor) == (9, 0) else "")
    source = open(os.path.join(folder, file)).read().encode()
    header = open(os.path.join(folder, "common.cuh")).read().encode()
    prog = ctypes.c_void_p()
    assert nvrtc.nvrtcCreateProgram(ctypes.byref(prog), source, file.encode(), 1, (ctypes.c_char_p * 1)(header),
                                    (ctypes.c_char_p * 1)(b"common.cuh")) == 0
    options = [f"--gpu-architecture={arch}".encode(), b"--std=c++17", b"-default-device"]
    result = nvrtc.nvrtcCompileProgram(prog, len(options), (ctypes.c_char_p * len(options))(*options))
    size = ctypes.c_size_t()
    nvrtc.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetProgramLog(prog, log)
    assert result == 0, f"NVRTC failed for {file}:\n{log.value.decode()}"
    nvrtc.nvrtcGetCUBINSize(prog, ctypes.byref(size))
    cubin = ctypes.create_string_buffer(size.value)
    nvrtc.nvrtcGetCUBIN(prog, cubin)
    path = os.path.join(tempfile.mkdtemp(), file + ".cubin")
    open(path, "wb").write(cubin.raw)
    return path


def kernel(file, name):
    if file not in modules:
        modules[file] = cp.RawModule(path=compile_cubin(file))
    f = modules[file].get_function(name)
    f.max_dynamic_shared_size_bytes = 200 * 1024
    return f


def ptr(t):
    return cp.uint64(t.data_ptr()) if t is not None else cp.uint64(0)


failures = []
results = {"checks": [], "timings": []}


def report(name, error, tolerance, detail=""):
    ok = error <= tolerance and not math.isnan(error)
    results["checks"].append({"name": name, "error": error, "tolerance": tolerance, "passed": ok})
    if not ok or "--verbose" in sys.argv: print(f"{'ok  ' if ok else 'FAIL'} {name}: error {error:.3g} (tolerance {tolerance:g}) {detail}", flush=True)
    if not ok:
        failures.append(name)


# (variant, BM, BN, BK bytes, threads, stages), as gemm.cu instantiates them.
VARIANTS = [("32x64_k256", 32, 64, 256, 128, 4), ("32x64_k128", 32, 64, 128, 128, 4), ("64x64_k128", 64, 64, 128, 128, 4),
            ("128x128_k64", 128, 128, 64, 256, 4), ("128x128_k128", 128, 128, 128, 256, 3)]
GEMMS = {"i8": VARIANTS, "f16": VARIANTS}
# Split-K runs as a thread-block cluster per tile, which CuPy's launcher cannot ask for: the workbench times and
# checks split 1 here, and `octet selftest --device cuda` checks the split paths (even and uneven) through the engine's
# own launcher.


def gemm(prec, variant, a, w, dq, bias, act, q, kind, out):
    name, bm, bn, bk, threads, stages = next(v for v in GEMMS[prec] if v[0] == variant)
    M, K = a.shape
    N = w.shape[0]
    smem = stages * (bm + bn) * (bk + 16)
    grid = ((N + bn - 1) // bn, (M + bm - 1) // bm, 1)
    kernel("gemm.cu", f"gemm_{prec}_{variant}")(grid, (threads,), (ptr(a), cp.int32(K), ptr(w), cp.int32(M), cp.int32(N), cp.int32(K),
        ptr(dq), ptr(bias), cp.int32(act), ptr(q), cp.int32(kind), ptr(out), cp.int32(N), cp.int32(1)),
        shared_mem=smem)


def fits(prec, variant, K):
    bk = next(v for v in GEMMS[prec] if v[0] == variant)[3]
    return (K * (1 if prec == "i8" else 2)) % bk == 0


def gelu(x):
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


# --- GEMM checks: int8 exact in the integers, then the float epilogue ------------------------------------------------
def check_gemm(prec, label, M, N, K, run):
    """Runs `run(a, w, dq, bias, act, qScale, kind, out)` on random operands and checks it against float64."""
    if prec == "i8":
        a = torch.randint(-128, 128, (M, K), dtype=torch.int8, device="cuda")
        w = torch.randint(-128, 128, (N, K), dtype=torch.int8, device="cuda")
        dq = torch.rand(N, device="cuda") * 1e-4
    else:
        a = torch.randn(M, K, device="cuda").half()
        w = (torch.randn(N, K, device="cuda") * 0.05).half()
        dq = None
    acc = a.double() @ w.double().t()
    bias = torch.randn(N, device="cuda")
    ref = acc * (dq.double() if dq is not None else 1) + bias.double()
    for act, kind in [(0, 0), (1, 1), (1, 2)]:
        r = gelu(ref) if act else ref
        if kind == 2:
            qs = torch.full((N,), 127 / max(r.abs().max().item(), 1e-6), device="cuda")
            out = torch.full((M, N), 99, dtype=torch.int8, device="cuda")
            run(a, w, dq, bias, act, qs, kind, out)
            expect = torch.clamp(torch.round(r * qs.double()), -128, 127)
            report(f"{label} {M}x{N}x{K} gelu int8", (out.double() - expect).abs().max().item(), 1)
        else:
            out = torch.full((M, N), float("nan"), dtype=torch.float16 if kind == 0 else torch.float32, device="cuda")
            run(a, w, dq, bias, act, None, kind, out)
            err = ((out.double() - r).norm() / r.norm()).item()
            report(f"{label} {M}x{N}x{K} {'gelu ' if act else ''}{'fp16' if kind == 0 else 'fp32'}", err, 1e-3 if kind == 0 else 1e-5)


for prec in [] if skip_other else ["i8", "f16"]:
    for (M, N, K) in [(128, 1024, 1024), (200, 384, 1536), (384, 3072, 1024), (1000, 1024, 4096)]:
        for variant, *_ in GEMMS[prec]:
            if fits(prec, variant, K):
                check_gemm(prec, f"gemm_{prec}_{variant}", M, N, K, lambda *x: gemm(prec, variant, *x))

# --- wgmma GEMM (gemm_wgmma.cu): TMA tensor maps and the launch through the driver, which CuPy cannot do -------------
libcuda = ctypes.CDLL("libcuda.so.1")
SMS = torch.cuda.get_device_properties(0).multi_processor_count
# (variant, BM, BN, stages), as gemm_wgmma.cu instantiates them; "pp_": the persistent ping-pong schedule.
WGMMA = [("128x256", 128, 256, 4), ("128x128", 128, 128, 6), ("64x128", 64, 128, 8), ("pp_128x128", 128, 128, 6), ("pp_64x256", 64, 256, 5)]


def tensor_map(t, box_rows):
    """A 2-D byte-wise CUtensorMap over a row-major matrix: box 128 bytes × box_rows, 128-byte swizzle, zero fill."""
    rows, cols = t.shape
    row_bytes = cols * t.element_size()
    m = (ctypes.c_uint64 * 16)()
    dims = (ctypes.c_uint64 * 2)(row_bytes, rows)
    strides = (ctypes.c_uint64 * 1)(t.stride(0) * t.element_size())
    box = (ctypes.c_uint32 * 2)(128, box_rows)
    one = (ctypes.c_uint32 * 2)(1, 1)
    r = libcuda.cuTensorMapEncodeTiled(ctypes.byref(m), 0, 2, ctypes.c_void_p(t.data_ptr()), dims, strides, box, one, 0, 3, 2, 0)
    assert r == 0, f"cuTensorMapEncodeTiled failed ({r})"
    return m


def gemm_wgmma(prec, variant, a, w, dq, bias, act, q, kind, out, maps=None):
    name, bm, bn, stages = next(v for v in WGMMA if v[0] == variant)
    M, K = a.shape
    N = w.shape[0]
    pingpong = variant.startswith("pp_")
    tiles = ((N + bn - 1) // bn) * ((M + bm - 1) // bm)
    grid = (min(tiles, SMS), 1) if pingpong else ((N + bn - 1) // bn, (M + bm - 1) // bm)
    threads = 384 if pingpong else 128 + 2 * bm
    mapA, mapB = maps or (tensor_map(a, bm), tensor_map(w, bn))
    smem = stages * (bm + bn) * 128 + 1024 + 16 * (stages + 2)
    f = kernel("gemm_wgmma.cu", f"gemm_wgmma_pp_{prec}_{variant[3:]}" if pingpong else f"gemm_wgmma_{prec}_{variant}")
    f.max_dynamic_shared_size_bytes = smem
    values = [mapA, mapB, ctypes.c_int32(M), ctypes.c_int32(N), ctypes.c_int32(K), ctypes.c_uint64(dq.data_ptr() if dq is not None else 0),
              ctypes.c_uint64(bias.data_ptr()), ctypes.c_int32(act), ctypes.c_uint64(q.data_ptr() if q is not None else 0),
              ctypes.c_int32(kind), ctypes.c_uint64(out.data_ptr()), ctypes.c_int32(N), ctypes.c_uint64(0)]  # no residual
    params = (ctypes.c_void_p * len(values))(*[ctypes.cast(ctypes.byref(v), ctypes.c_void_p) for v in values])
    stream = cp.cuda.get_current_stream().ptr
    r = libcuda.cuLaunchKernel(ctypes.c_void_p(f.kernel.ptr), grid[0], grid[1], 1, threads, 1, 1, smem,
                               ctypes.c_void_p(stream), params, None)
    assert r == 0, f"cuLaunchKernel failed for gemm_wgmma_{prec}_{variant} ({r})"


for prec in [] if skip_other else ["i8", "f16"]:
    for (M, N, K) in [(128, 1024, 1024), (300, 200, 208), (1000, 3072, 1024), (4096, 1024, 4096)]:
        for variant, *_ in WGMMA:
            check_gemm(prec, f"gemm_wgmma_{prec}_{variant}", M, N, K,
                       lambda *x: gemm_wgmma(prec, variant, *x))
torch.cuda.synchronize()
print(f"wgmma checks done: {sum(1 for c in results['checks'] if c['name'].startswith('gemm_wgmma') and c['passed'])} passed", flush=True)

# --- attention ---------------------------------------------------------------------------------------------------
def attention_ref(qkv, mask, S, heads, D, qStep, kStep, pStep, unsigned, vStep):
    B = mask.shape[0]
    H = heads * D
    x = qkv.double().view(B, S, 3, heads, D).permute(2, 0, 3, 1, 4)  # 3, B, heads, S, D
    q, k, v = x[0], x[1], x[2]
    fq = lambda t, s: torch.clamp(torch.round(t / s), -128, 127) * s if s > 0 else t
    q, k, v = fq(q, qStep), fq(k, kStep), fq(v, vStep)
    s = q @ k.transpose(-1, -2) / math.sqrt(D)
    s = s.masked_fill(mask[:, None, None, :] == 0, float("-inf"))
    p = torch.softmax(s, -1)
    if pStep > 0:
        p = torch.clamp(torch.round(p / pStep), 0, 255 if unsigned else 127) * pStep
    return (p @ v).permute(0, 2, 1, 3).reshape(B * S, H)


for (B, S, heads, D) in [] if args.no_checks else [(1, 128, 12, 32), (2, 384, 16, 64), (3, 77, 4, 128)]:
    qkv = (torch.randn(B * S, 3 * heads * D, device="cuda") * 2).half()
    mask = torch.ones(B, S, dtype=torch.int32, device="cuda")
    for b in range(B):
        mask[b, S - 13 * b:] = 0 if b else 1
    for label, qs, ks, ps, un, vs, outq in [("float", 0, 0, 0, 0, 0, 0), ("int8 uint8-p int8-out", 0.06, 0.05, 1 / 255, 1, 0.04, 0),
                                            ("int8 qk, float pv", 0.06, 0.05, 0, 0, 0, 0)]:
        ref = attention_ref(qkv, mask, S, heads, D, qs, ks, ps, un, vs)
        out = torch.full((B * S, heads * D), float("nan"), dtype=torch.float16, device="cuda")
        kRow = D + 4 if ks > 0 else 2 * D + 4
        vRow = D if ps > 0 else 2 * D
        smem = S * kRow + ((S * vRow + 15) & ~15) + 4 * (S + 4 * D + 4 * S)
        kernel("attention.cu", f"attention_d{D}")(((S + 15) // 16, heads, B), (128,), (ptr(qkv), cp.int32(0), ptr(mask), cp.int32(S), cp.int32(heads),
            cp.float32(qs), cp.float32(ks), cp.float32(ps), cp.int32(un), cp.float32(vs), cp.float32(outq), ptr(out)), shared_mem=smem)
        err = ((out.double() - ref).norm() / ref.norm()).item()
        report(f"attention d{D} B{B} S{S} {label}", err, 2e-2 if ps > 0 else 2e-3)

# tensor-core attention (attention_mma.cu): every QK/PV precision pair, head sizes 32 and 64
def attention_mma(qkv, f32, mask, S, heads, D, qs, ks, ps, un, vs, out, staged=False, resident=False, split=False, offsets=None,
                  wide=False, wgmma=None, groups=1):
    """One attention_mma.cu launch; `wide`: the fp16 one-pass kernel with 128 queries per block (fp16 input, both products
    fp16); `staged`: the kernel that stages all of K and Vᵀ where a ring kernel exists;
    `resident`: the int8 ring's form for S ≤ 128 (both chunks at once, pass 1's scores kept in registers); `split`: the
    kernel with the keys split over a cluster of ⌈S/64⌉ blocks (heads of 64, 65 ≤ S ≤ 512; int8 products from int8
    input). `wgmma`: the fp16 one-pass kernel on Hopper's wgmma ("wgmma", the engine's there), with `groups` key
    groups (1–3), or "paired": two warpgroups of 64 queries sharing each K and V chunk. `offsets`: a packed
    batch (only the real tokens, back to back; sequence b is rows offsets[b] … offsets[b + 1] − 1, S the longest)."""
    qk8, pv8 = ks > 0, ps > 0
    padded = (S + 63) // 64 * 64
    kRow, vRow = D * (1 if qk8 else 2) + 16, padded * (1 if pv8 else 2) + 16
    # fp16 products, or int8 products from int8 input: the queries and the K/V ring (5 × 64 rows); else all of K and
    # Vᵀ and the queries
    ring = ((not qk8 and not pv8) or (qk8 and pv8 and f32 == 2)) and not staged
    form = "staged_" if staged else "resident_" if resident else ""
    smem = 5 * 64 * kRow + padded * 4 if ring else padded * kRow + D * vRow + 64 * kRow + padded * 4
    name = f"attention_mma_d{D}_{'i8' if qk8 else 'f16'}_{'i8' if pv8 else 'f16'}_{form}{['f16in', 'f32in', 'i8in'][f32]}"
    blocks = 1
    if split and qk8:  # one cluster of R blocks per 64 queries, each with one K and one V chunk, its row pairs and int32 sums
        blocks = padded // 64
        name = f"attention_mma_d{D}_i8_i8_split{blocks}_i8in"
        smem = 3 * 64 * kRow + 64 * 4 + 64 * 8 + 64 * (D + 16) * 4
    rows = 64
    if wide:  # 128 queries: the queries (two 64-row halves) and the ring of two K and two V chunks
        name, smem, rows = f"attention_mma_d{D}_f16_f16_q128_f16in", 6 * 64 * kRow + padded * 4, 128
    threads = 128
    if wgmma == "paired":  # two Q tiles and one shared ring, 1 KB of alignment, the mask; 128 queries per block
        name, smem, threads, rows = f"attention_mma_d{D}_f16_f16_wgmma_paired_f16in", 6 * 64 * 128 + 1024 + padded * 4, 256, 128
    elif wgmma:  # Q and each key group's ring of 64 × 128-byte rows in the 128-byte swizzle, 1 KB of alignment, the mask
        name = f"attention_mma_d{D}_f16_f16_{wgmma}" + (f"_groups{groups}" if groups > 1 else "") + "_f16in"
        smem, threads = (1 + 4 * groups) * 64 * 128 + 1024 + padded * 4, 128 * groups
    batch = mask.shape[0] if offsets is None else offsets.numel() - 1
    kernel("attention_mma.cu", name)(((S + rows - 1) // rows * blocks, heads, batch), (threads,), (ptr(qkv), ptr(mask), ptr(offsets), cp.int32(S),
        cp.int32(heads), cp.float32(qs), cp.float32(ks), cp.float32(ps), cp.int32(un), cp.float32(vs), cp.float32(0), ptr(out)), shared_mem=smem)


for (B, S, heads, D) in [] if args.no_checks else [(1, 128, 12, 32), (2, 384, 16, 64), (3, 77, 4, 64), (2, 200, 6, 32)]:
    qkv = torch.randn(B * S, 3 * heads * D, device="cuda") * 2
    mask = torch.ones(B, S, dtype=torch.int32, device="cuda")
    for b in range(1, B):
        mask[b, S - 13 * b:] = 0
    for label, qs, ks, ps, un, vs in [("f16 f16", 0, 0, 0, 0, 0), ("i8 u8", 0.06, 0.05, 1 / 255, 1, 0.04), ("i8 s8", 0.06, 0.05, 1 / 127, 0, 0.04),
                                      ("i8 f16", 0.06, 0.05, 0, 0, 0), ("f16 u8", 0, 0, 1 / 255, 1, 0.04)]:
        for f32 in [0, 1]:
            x = qkv if f32 else qkv.half()
            ref = attention_ref(x.float(), mask, S, heads, D, qs, ks, ps, un, vs)
            out = torch.full((B * S, heads * D), float("nan"), dtype=torch.float16, device="cuda")
            attention_mma(x, f32, mask, S, heads, D, qs, ks, ps, un, vs, out)
            err = ((out.double() - ref).norm() / ref.norm()).item()
            report(f"attention_mma d{D} B{B} S{S} {label} {'f32' if f32 else 'f16'} input", err, 2e-2 if ps > 0 else 3e-3)
            if label == "f16 f16" and not f32:  # 128 queries per block: the same arithmetic per row, so the same bits
                wide_out = torch.full((B * S, heads * D), float("nan"), dtype=torch.float16, device="cuda")
                attention_mma(x, f32, mask, S, heads, D, qs, ks, ps, un, vs, wide_out, wide=True)
                report(f"attention_mma d{D} B{B} S{S} f16 f16 f16 input: 128 queries equals 64", (wide_out.double() - out.double()).abs().max().item(), 0)
            if label == "f16 f16" and not f32 and D == 64 and hopper:  # the wgmma kernels (summation order may differ)
                for form, g in [("wgmma", g) for g in range(1, min(3, (S + 63) // 64) + 1)] + [("paired", 1)]:
                    wg_out = torch.full((B * S, heads * D), float("nan"), dtype=torch.float16, device="cuda")
                    attention_mma(x, f32, mask, S, heads, D, qs, ks, ps, un, vs, wg_out, wgmma=form, groups=g)
                    err = ((wg_out.double() - ref).norm() / ref.norm()).item()
                    report(f"attention_mma d{D} B{B} S{S} f16 f16 f16 input on {form}, {g} key group(s)", err, 3e-3)
        if qs > 0 and ps > 0:  # int8 input, quantized per column as the QKV GEMM's epilogue does
            steps = torch.tensor([qs, ks, vs], device="cuda").repeat_interleave(heads * D)
            q8 = torch.clamp(torch.round(qkv / steps), -128, 127)
            ref = attention_ref(q8 * steps, mask, S, heads, D, qs, ks, ps, un, vs)
            out = torch.full((B * S, heads * D), float("nan"), dtype=torch.float16, device="cuda")
            attention_mma(q8.to(torch.int8), 2, mask, S, heads, D, qs, ks, ps, un, vs, out)
            err = ((out.double() - ref).norm() / ref.norm()).item()
            report(f"attention_mma d{D} B{B} S{S} {label} int8 input", err, 2e-2)
            # The ring kernel and the one that stages everything do the same integer arithmetic: equal outputs.
            staged_out = torch.full((B * S, heads * D), float("nan"), dtype=torch.float16, device="cuda")
            attention_mma(q8.to(torch.int8), 2, mask, S, heads, D, qs, ks, ps, un, vs, staged_out, staged=True)
            report(f"attention_mma d{D} B{B} S{S} {label} int8 input: ring equals two-pass staged", (out.double() - staged_out.double()).abs().max().item(), 0)
            if S <= 128:  # the resident form: the same arithmetic again
                attention_mma(q8.to(torch.int8), 2, mask, S, heads, D, qs, ks, ps, un, vs, staged_out, resident=True)
                report(f"attention_mma d{D} B{B} S{S} {label} int8 input: resident equals ring", (out.double() - staged_out.double()).abs().max().item(), 0)
            if D == 64 and S > 64:  # the keys split over a cluster: the sums combine in another order, so a tolerance
                split_out = torch.full((B * S, heads * D), float("nan"), dtype=torch.float16, device="cuda")
                attention_mma(q8.to(torch.int8), 2, mask, S, heads, D, qs, ks, ps, un, vs, split_out, split=True)
                err = ((split_out.double() - ref).norm() / ref.norm()).item()
                report(f"attention_mma d{D} B{B} S{S} {label} int8 input, keys split over a cluster", err, 2e-2)

# Packed batches (the engine's variable-sequence-length path): only the real tokens, back to back, each sequence found
# through `offsets`; every kernel form against the padded float64 reference at the real rows.
for (lengths, S, heads, D) in [] if args.no_checks else [([160, 100, 37], 160, 4, 64), ([384, 200, 65, 1], 384, 16, 64),
                                                          ([128, 100, 37], 128, 12, 32), ([200, 64], 200, 6, 32)]:
    B = len(lengths)
    qkv = torch.randn(B * S, 3 * heads * D, device="cuda") * 2
    mask = torch.zeros(B, S, dtype=torch.int32, device="cuda")
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
    real = mask.flatten().nonzero().flatten()
    offsets = torch.tensor([0] + list(itertools.accumulate(lengths)), dtype=torch.int32, device="cuda")
    ones = torch.ones(1, real.numel(), dtype=torch.int32, device="cuda")
    longest = (max(lengths) + 63) // 64 * 64
    i8 = ("i8 u8", 0.06, 0.05, 1 / 255, 1, 0.04)
    forms = ([("f16 f16", 0, 0, 0, 0, 0, 0, {}), ("f16 f16", 0, 0, 0, 0, 0, 0, {"wide": True}), (*i8, 1, {}), (*i8, 2, {}), (*i8, 2, {"staged": True})]
             + ([(*i8, 2, {"resident": True})] if longest <= 128 else [])
             + ([(*i8, 2, {"split": True})] if D == 64 and longest > 64 else [])
             + ([("f16 f16", 0, 0, 0, 0, 0, 0, {"wgmma": wg, "groups": g}) for wg, g in [("wgmma", 1), ("wgmma", 3), ("paired", 1)]]
                if D == 64 and hopper else []))
    for label, qs, ks, ps, un, vs, f32, form in forms:
        if f32 == 2:
            steps = torch.tensor([qs, ks, vs], device="cuda").repeat_interleave(heads * D)
            q8 = torch.clamp(torch.round(qkv / steps), -128, 127)
            x, ref = q8.to(torch.int8), attention_ref(q8 * steps, mask, S, heads, D, qs, ks, ps, un, vs)
        else:
            x = qkv if f32 else qkv.half()
            ref = attention_ref(x.float(), mask, S, heads, D, qs, ks, ps, un, vs)
        out = torch.full((real.numel(), heads * D), float("nan"), dtype=torch.float16, device="cuda")
        attention_mma(x[real].contiguous(), f32, ones, longest, heads, D, qs, ks, ps, un, vs, out, offsets=offsets, **form)
        err = ((out.double() - ref[real]).norm() / ref[real].norm()).item()
        name = "+".join(f"{k}={v}" for k, v in form.items()) or "default"
        report(f"attention_mma d{D} packed {lengths} in {S} {label} {['f16', 'f32', 'int8'][f32]} input ({name})", err, 2e-2 if ps > 0 else 3e-3)

# --- LayerNorms and the QA head ----------------------------------------------------------------------------------
for H in [] if skip_other else [384, 1024]:
    T, V, P = 300, 1000, 512
    word, pos, typ = [(torch.randn(n, H, device="cuda") * 0.5).half() for n in (V, P, 2)]
    gamma, beta = torch.rand(H, device="cuda") + 0.5, torch.randn(H, device="cuda") * 0.1
    ids = torch.randint(0, V, (T,), dtype=torch.int32, device="cuda")
    types = torch.randint(0, 2, (T,), dtype=torch.int32, device="cuda")
    S = 100
    x = word[ids.long()].double() + pos[torch.arange(T, device="cuda") % S].double() + typ[types.long()].double()
    ref = torch.nn.functional.layer_norm(x, (H,), gamma.double(), beta.double(), 1e-12)
    out = torch.full((T, H), float("nan"), dtype=torch.float16, device="cuda")
    out8 = torch.zeros(T, H, dtype=torch.int8, device="cuda")
    qs = 127 / ref.abs().max().item()
    kernel("layernorm.cu", "embed_layernorm_f16_i8")((T,), (H // 4,), (ptr(ids), ptr(types), ptr(None), cp.int32(S), ptr(word), ptr(pos), ptr(typ),
        ptr(gamma), ptr(beta), cp.float32(1e-12), cp.int32(H), ptr(out), ptr(out8), cp.float32(qs)))
    report(f"embed_layernorm H{H}", ((out.double() - ref).norm() / ref.norm()).item(), 1e-3)
    report(f"embed_layernorm H{H} int8", (out8.double() - torch.clamp(torch.round(ref * qs), -128, 127)).abs().max().item(), 1)
    local, resid = (torch.randn(T, H, device="cuda") * 3).half(), (torch.randn(T, H, device="cuda") * 3).half()
    for ls, rs in [(0, 0), (0.05, 0.07)]:
        fq = lambda t, s: torch.clamp(torch.round(t / s), -128, 127) * s if s > 0 else t
        ref = torch.nn.functional.layer_norm(fq(local.double(), ls) + fq(resid.double(), rs), (H,), gamma.double(), beta.double(), 1e-12)
        kernel("layernorm.cu", f"residual_layernorm_f16_{'qdq' if ls > 0 else 'float'}_i8")((T,), (H // 4,), (ptr(local), ptr(resid),
            cp.float32(ls), cp.float32(rs), ptr(gamma), ptr(beta), cp.float32(1e-12), cp.int32(H), ptr(out), ptr(out8), cp.float32(qs)))
        report(f"residual_layernorm H{H} steps {ls}/{rs}", ((out.double() - ref).norm() / ref.norm()).item(), 1e-3)
    W, bq = torch.randn(2, H, device="cuda"), torch.randn(2, device="cuda")
    start, end = torch.full((T,), float("nan"), device="cuda"), torch.full((T,), float("nan"), device="cuda")
    kernel("qa_head.cu", "qa_head")(((T + 3) // 4,), (128,), (ptr(out), cp.int32(0), ptr(W), ptr(bq), cp.int32(T), cp.int32(H), ptr(start), ptr(end)))
    ref = out.double() @ W.double().t() + bq.double()
    report(f"qa_head H{H}", max((start.double() - ref[:, 0]).abs().max().item(), (end.double() - ref[:, 1]).abs().max().item()) / ref.abs().max().item(), 1e-5)


# --- timing: BERT GEMM shapes at batch 1 ----------------------------------------------------------------------
def timed(fn, torch_ops, calls=24, replays=50):
    """Median µs per call: `calls` calls captured in one CUDA graph (so host launch cost stays out, as in an engine's
    graph), replayed `replays` times between events."""
    if torch_ops:
        graph = torch.cuda.CUDAGraph()
        fn(0)
        torch.cuda.synchronize()
        with torch.cuda.graph(graph):
            for i in range(calls):
                fn(i)
        replay, stream = graph.replay, torch.cuda.current_stream()
        record = lambda e: e.record(stream)
        make = lambda: torch.cuda.Event(enable_timing=True)
        elapsed = lambda a, b: a.elapsed_time(b)
    else:
        stream = cp.cuda.Stream(non_blocking=True)
        with stream:
            fn(0)
            stream.synchronize()
            stream.begin_capture()
            for i in range(calls):
                fn(i)
            graph = stream.end_capture()
        replay = lambda: graph.launch(stream=stream)
        record = lambda e: e.record(stream)
        make = lambda: cp.cuda.Event()
        elapsed = lambda a, b: cp.cuda.get_elapsed_time(a, b)
    for _ in range(5):
        replay()
    times = []
    for _ in range(replays):
        a, b = make(), make()
        record(a)
        replay()
        record(b)
        b.synchronize()
        times.append(elapsed(a, b) * 1000 / calls)
    return sorted(times)[len(times) // 2]


# Bring the clocks up before timing (the card idles at 345 MHz).
x = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
for _ in range(200):
    x @ x
torch.cuda.synchronize()

print("\nGEMM timings, median µs (weights rotated over 24 sets, as a 24-layer model streams them)", flush=True)
print(f"{'shape M×N×K':>22} {'cuBLASLt i8':>12} {'cuBLASLt f16':>12}  best Octet i8 (variant, split)    best Octet f16", flush=True)
shapes = [tuple(int(x) for x in shape.split(",")) for shape in args.gemm_shapes.split(";")] if args.gemm_shapes else None
for (M, N, K) in [] if args.no_gemm_timing else shapes or [(128, 3072, 1024), (128, 1024, 1024), (128, 4096, 1024), (128, 1024, 4096), (384, 3072, 1024), (384, 1024, 4096),
                  (128, 2304, 768), (128, 768, 3072), (16384, 4096, 1024), (16384, 1024, 4096), (16384, 3072, 1024),
                  (16384, 2304, 768), (16384, 768, 3072), (49152, 4096, 1024)]:
    sets = 24 if M <= 512 else 2
    a8 = torch.randint(-128, 128, (M, K), dtype=torch.int8, device="cuda")
    w8 = [torch.randint(-128, 128, (N, K), dtype=torch.int8, device="cuda") for _ in range(sets)]
    a16 = torch.randn(M, K, device="cuda").half()
    w16 = [torch.randn(N, K, device="cuda").half() for _ in range(sets)]
    dq, bias = torch.rand(N, device="cuda") * 1e-4, torch.randn(N, device="cuda")
    out16 = torch.empty(M, N, dtype=torch.float16, device="cuda")
    out8, out32 = torch.empty(M, N, dtype=torch.int8, device="cuda"), torch.empty(M, N, dtype=torch.float32, device="cuda")
    qs = torch.full((N,), 10.0, device="cuda")
    t_int = timed(lambda i: torch._int_mm(a8, w8[i % sets].t()), True)
    t_h = timed(lambda i: torch.mm(a16, w16[i % sets].t()), True)
    best = {}
    for prec, a, ws in [("i8", a8, w8), ("f16", a16, w16)]:
        for variant, *_ in GEMMS[prec]:  # split 1: the split-K clusters are timed through `octet bench` (see above)
            if not fits(prec, variant, K):
                continue
            t = timed(lambda i: gemm(prec, variant, a, ws[i % sets], dq if prec == "i8" else None, bias, 0, None, 0, out16), False)
            results["timings"].append({"M": M, "N": N, "K": K, "precision": prec, "variant": variant, "split": 1, "us": t})
            if prec not in best or t < best[prec][0]:
                best[prec] = (t, variant, 1)
        for variant, bm, bn, _ in WGMMA:
            maps = [(tensor_map(a, bm), tensor_map(w, bn)) for w in ws]
            t = timed(lambda i: gemm_wgmma(prec, variant, a, ws[i % sets], dq if prec == "i8" else None, bias, 0, None, 0, out16,
                                           maps[i % sets]), False)
            results["timings"].append({"M": M, "N": N, "K": K, "precision": prec, "variant": "wgmma_" + variant, "split": 1, "us": t})
            if t < best[prec][0]:
                best[prec] = (t, "wgmma_" + variant, 1)
            if args.epilogues:  # what the epilogue costs: GELU + int8 output (the FFN's first GEMM), float32 output
                for act, kind, out, label in [(1, 2, out8, "gelu_i8"), (0, 1, out32, "f32")]:
                    t = timed(lambda i: gemm_wgmma(prec, variant, a, ws[i % sets], dq if prec == "i8" else None, bias, act, qs, kind, out,
                                                   maps[i % sets]), False)
                    results["timings"].append({"M": M, "N": N, "K": K, "precision": prec, "variant": f"wgmma_{variant}_{label}", "split": 1, "us": t})
    results["timings"].append({"M": M, "N": N, "K": K, "cublaslt_i8_us": t_int, "cublaslt_f16_us": t_h})
    bi, bh = best["i8"], best["f16"]
    print(f"{M:>7}×{N:>5}×{K:>5} {t_int:>12.1f} {t_h:>12.1f}  {bi[0]:>8.1f} ({bi[1]}, {bi[2]}) {2 * M * N * K / bi[0] / 1e6:>7.0f} TOPS"
          f"   {bh[0]:>8.1f} ({bh[1]}, {bh[2]}) {2 * M * N * K / bh[0] / 1e6:>7.0f} TFLOPS", flush=True)
    print("        " + "  ".join(f"{r['precision']} {r['variant']} {r['us']:.1f}" for r in results["timings"]
                              if r.get("M") == M and r.get("N") == N and r.get("K") == K and "variant" in r), flush=True)

print("\nattention timings, median µs per layer (graph of 24 launches)", flush=True)
for (name, heads, D) in [] if args.no_attention_timing else [("bert-base", 12, 64), ("bert-large", 16, 64), ("minilm", 12, 32)]:
    for (B, S) in [(1, 128), (1, 384), (128, 128), (128, 384)] if name != "minilm" else [(1, 128), (1, 384), (32, 384)]:
        qkv = torch.randn(B * S, 3 * heads * D, device="cuda")
        mask = torch.ones(B, S, dtype=torch.int32, device="cuda")
        out = torch.empty(B * S, heads * D, dtype=torch.float16, device="cuda")
        q8 = torch.randint(-128, 128, qkv.shape, dtype=torch.int8, device="cuda")
        t_i8 = timed(lambda i: attention_mma(q8, 2, mask, S, heads, D, 0.06, 0.05, 1 / 255, 1, 0.04, out), False)
        t_i8_staged = timed(lambda i: attention_mma(q8, 2, mask, S, heads, D, 0.06, 0.05, 1 / 255, 1, 0.04, out, staged=True), False)
        t_i8_resident = {"i8_resident_us": timed(lambda i: attention_mma(q8, 2, mask, S, heads, D, 0.06, 0.05, 1 / 255, 1, 0.04, out, resident=True), False)} if S <= 128 else {}
        half = qkv.half()
        if D == 64 and B == 1:
            t_i8_resident["i8_split_us"] = timed(lambda i: attention_mma(q8, 2, mask, S, heads, D, 0.06, 0.05, 1 / 255, 1, 0.04, out, split=True), False)
        t_f16 = timed(lambda i: attention_mma(half, 0, mask, S, heads, D, 0, 0, 0, 0, 0, out), False)
        t_f16_wide = timed(lambda i: attention_mma(half, 0, mask, S, heads, D, 0, 0, 0, 0, 0, out, wide=True), False)
        # The wgmma kernel (Hopper, heads of 64), with as many key groups as the engine gives small grids.
        wg_groups = min(3, (S + 63) // 64) if (S + 63) // 64 * heads * B < 132 else 1
        t_wgmma = ({"f16_wgmma_us": timed(lambda i: attention_mma(half, 0, mask, S, heads, D, 0, 0, 0, 0, 0, out, wgmma="wgmma", groups=wg_groups), False),
                    "f16_wgmma_paired_us": timed(lambda i: attention_mma(half, 0, mask, S, heads, D, 0, 0, 0, 0, 0, out, wgmma="paired"), False)}
                   if D == 64 and hopper else {})
        q, k, v = half.view(B, S, 3, heads, D).permute(2, 0, 3, 1, 4)
        t_sdpa = timed(lambda i: torch.nn.functional.scaled_dot_product_attention(q, k, v), True)
        # The other precision pairs from float32 input (the recipe's mixed layers), to see what each part costs.
        t_mixed = {f"{qk}/{pv} f32in": timed(lambda i: attention_mma(qkv, 1, mask, S, heads, D, *steps, out), False)
                   for qk, pv, steps in [("i8", "i8", (0.06, 0.05, 1 / 255, 1, 0.04)), ("i8", "f16", (0.06, 0.05, 0, 0, 0)),
                                         ("f16", "i8", (0, 0, 1 / 255, 1, 0.04)), ("f16", "f16", (0, 0, 0, 0, 0))] if B == 1}
        t_f16_staged = timed(lambda i: attention_mma(half, 0, mask, S, heads, D, 0, 0, 0, 0, 0, out, staged=True), False)
        results["timings"].append({"attention": name, "B": B, "S": S, "i8_us": t_i8, "f16_us": t_f16, "f16_q128_us": t_f16_wide, "sdpa_f16_us": t_sdpa,
                                   "i8_two_pass_staged_us": t_i8_staged, "f16_two_pass_staged_us": t_f16_staged, **t_i8_resident, **t_mixed, **t_wgmma})
        print(f"{name:>10} B{B:<3} S{S:<4} int8 {t_i8:7.1f} (staged {t_i8_staged:7.1f}"
              + "".join(f", {k[:-3].replace('_', ' ')} {v:7.1f}" for k, v in t_i8_resident.items())
              + f")   fp16 {t_f16:7.1f} (128 queries {t_f16_wide:7.1f}, staged {t_f16_staged:7.1f}"
              + "".join(f", {k[4:-3]} {v:7.1f}" for k, v in t_wgmma.items()) + ")   "
              f"torch SDPA fp16 {t_sdpa:7.1f}   "
              + "   ".join(f"{k} {v:6.1f}" for k, v in t_mixed.items()), flush=True)

if args.json:
    json.dump(results, open(args.json, "w"), indent=1)
print(f"\n{len(results['checks']) - len(failures)} of {len(results['checks'])} checks passed", flush=True)
sys.exit(1 if failures else 0)
