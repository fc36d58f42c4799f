// common.cuh: what every Octet kernel shares, passed to NVRTC as a header so no CUDA toolkit headers are needed at run
// time (NVRTC 13.0 has no built-in cuda_fp16.h; the binary carries everything it compiles).
//
// fp16 values travel as raw bits (`f16`, `f16x2`) and convert with the PTX cvt instructions: round to nearest even
// float → fp16, exact fp16 → float, as cuda_fp16.h's __float2half_rn / __half2float do.
#pragma once

typedef unsigned short f16;
typedef unsigned int f16x2;  // low half: the first (lower-address) element

#ifndef INFINITY
#define INFINITY __int_as_float(0x7f800000)
#endif

__device__ __forceinline__ float f16_to_float(f16 h) {
    float f;
    asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
    return f;
}
__device__ __forceinline__ f16 float_to_f16(float f) {
    f16 h;
    asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(f));
    return h;
}
__device__ __forceinline__ float2 f16x2_to_float2(f16x2 v) {
    return make_float2(f16_to_float((f16)(v & 0xffff)), f16_to_float((f16)(v >> 16)));
}
__device__ __forceinline__ f16x2 float2_to_f16x2(float lo, float hi) {
    f16x2 v;
    asm("cvt.rn.f16x2.f32 %0, %1, %2;" : "=r"(v) : "f"(hi), "f"(lo));  // cvt packs its first source in the upper half
    return v;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o /= 2) v += __shfl_xor_sync(0xffffffff, v, o);
    return v;
}
__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, o));
    return v;
}

// Symmetric int8: sat(rint(x · qScale)), qScale = 1 / step (float → int8). One conversion instruction rounds to
// nearest even and saturates (the same result as rintf, two clamps and a truncating conversion for every finite x: the
// four instructions cost a tenth of a GELU epilogue's per-output work; NaN gives 0 where the clamps gave −128).
__device__ __forceinline__ int quantize_s8_bits(float x, float qScale) {  // the byte in bits 0–7 (for byte permutes)
    int q;
    asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(q) : "f"(x * qScale));
    return q;
}
__device__ __forceinline__ signed char quantize_s8(float x, float qScale) { return (signed char)quantize_s8_bits(x, qScale); }

// Shared-memory staging, shared by the GEMM and the attention: the 32-bit shared address of a generic pointer;
// cp.async 16-byte copies from global memory (zero-filled when `valid` is false, so rows past the end read as 0), their
// commit groups and the wait for all but the newest N groups; ldmatrix of four 8×8 b16 tiles (a whole mma fragment).
__device__ __forceinline__ unsigned smem_address(const void *p) { return static_cast<unsigned>(__cvta_generic_to_shared(p)); }
// threadIdx.x / 128, the thread's warpgroup, broadcast from lane 0 (CUTLASS's canonical_warp_group_idx) so that the
// compiler knows it is the same in every lane of a warp. Whatever derives from it (a consumer's ring positions, stage
// addresses, wgmma descriptors) can then live in uniform registers: computed once per warp on the uniform datapath
// instead of in every lane, and read by wgmma without an R2UR per descriptor word. Derived from threadIdx.x / 128
// directly, the batch-128 GEMM main loops spent about 10 vector instructions per wgmma on descriptors (R2UR, MOV,
// IADD3; Nsight Compute, session 29): a third of the QKV GEMM's instructions. With it: pp_i8_128x128 7,888 SASS
// instructions (8,576 before), i8_128x256 16,296 (20,056), no new spills; BERT-large INT8 on the H200, tuning off,
// s128 b128 13.05–13.07 ms against 13.59–13.62, s384 b128 42.71–42.77 against 44.17–44.32, s384 b1 0.93 against 0.98.
__device__ __forceinline__ int warpgroup_index() { return __shfl_sync(0xffffffffu, threadIdx.x / 128, 0); }
__device__ __forceinline__ void copy16(void *dst, const void *src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address(dst)), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void copy_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void copy_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory"); }
__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_address(p)));
}

// Thread-block clusters (the GEMM's split-K, the attention's split keys): the barrier over all blocks of the cluster
// (release/acquire, so shared-memory writes before it are visible to every block after it), this block's rank, and a
// 32-bit load from another block's shared memory.
__device__ __forceinline__ void cluster_sync() {
    asm volatile("barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n" ::: "memory");
}
__device__ __forceinline__ unsigned cluster_rank() {
    unsigned r;
    asm volatile("mov.u32 %0, %%cluster_ctarank;\n" : "=r"(r));
    return r;
}
__device__ __forceinline__ unsigned cluster_address(const void *p, unsigned rank) {
    unsigned r;
    asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\n" : "=r"(r) : "r"(smem_address(p)), "r"(rank));
    return r;
}
__device__ __forceinline__ int cluster_load(unsigned address, int) {
    int v;
    asm volatile("ld.shared::cluster.s32 %0, [%1];\n" : "=r"(v) : "r"(address) : "memory");
    return v;
}
// Two adjacent floats (8-byte aligned) from another block's shared memory in one load.
__device__ __forceinline__ void cluster_load2(unsigned address, float (&v)[2]) {
    asm volatile("ld.shared::cluster.v2.f32 {%0, %1}, [%2];\n" : "=f"(v[0]), "=f"(v[1]) : "r"(address) : "memory");
}
// Four adjacent 32-bit values (16-byte aligned) from another block's shared memory in one load.
__device__ __forceinline__ void cluster_load4(unsigned address, int (&v)[4]) {
    asm volatile("ld.shared::cluster.v4.s32 {%0, %1, %2, %3}, [%4];\n" : "=r"(v[0]), "=r"(v[1]), "=r"(v[2]), "=r"(v[3]) : "r"(address) : "memory");
}
__device__ __forceinline__ void cluster_load4(unsigned address, float (&v)[4]) {
    asm volatile("ld.shared::cluster.v4.f32 {%0, %1, %2, %3}, [%4];\n" : "=f"(v[0]), "=f"(v[1]), "=f"(v[2]), "=f"(v[3]) : "r"(address) : "memory");
}
__device__ __forceinline__ float cluster_load(unsigned address, float) {
    float v;
    asm volatile("ld.shared::cluster.f32 %0, [%1];\n" : "=f"(v) : "r"(address) : "memory");
    return v;
}

// Programmatic dependent launch (Hopper): a kernel launched with programmatic stream serialization may start while the
// kernel before it still runs. Each kernel may read only immutable data (weights) before `wait_for_producers`, which
// returns when the previous kernel has finished and its writes are visible, and lets its own successor start
// (`allow_dependents`) only after that wait: triggering earlier lets a whole cascade of later kernels launch and sit
// on the multiprocessors waiting (measured: slower than no overlap at all). Both are no-ops in a plain launch.
__device__ __forceinline__ void allow_dependents() { asm volatile("griddepcontrol.launch_dependents;" ::: "memory"); }
__device__ __forceinline__ void wait_for_producers() { asm volatile("griddepcontrol.wait;" ::: "memory"); }

// A Q/DQ pair (the residual add's inputs in an all-INT8 recipe): dq(q(v)) = sat(rint(v / step))·step, the exact
// division as the CPU reference computes it; identity at step 0.
__device__ __forceinline__ float fake_quantize(float v, float step) {
    return step > 0 ? fminf(fmaxf(rintf(__fdiv_rn(v, step)), -128.f), 127.f) * step : v;
}
// The same value without a division per element, for kernels that quantize many values with one step (the LayerNorms'
// residual add). `inverse` = RN(1 / step), once per thread (`quantize_inverse`). Then (Markstein's theorem, the step
// after the reciprocal in CUDA's own div.rn fast path) q0 = RN(c·inverse) is within an ulp of c / step, the remainder
// c − q0·step is exact in one FMA, and RN(q0 + remainder·inverse) = RN(c / step): the exact quotient, so rint sees what
// the CPU's division gives. v is first clamped to ±128·step (exact: a power-of-two multiple), which changes no
// saturated result and maps ±∞ to ±128 and NaN to −128, as the exact form saturates them. 3 arithmetic instructions
// and 2 clamps where __fdiv_rn takes about 8 with its range check and slow-path branch: the batch-128 LayerNorms with
// the add's Q/DQ (the recipe's form) issue 16 such quantizations per thread and row and were issue-bound (Nsight
// Compute, session 30: BERT-large s128 b128, 45 µs, 0.76 instructions per cycle per scheduler, DRAM at 55%). With
// this form the kernel took 38 µs (DRAM 65%), and BERT-large INT8 on the H200 (tuning off, alternated twice) ran
// s128 b128 in 12.79–12.80 ms against 13.12–13.18, s384 b128 41.82–41.99 against 42.68–42.83, s128 b1 0.599–0.601
// against 0.608–0.611.
// Checked on the CPU against the exact division (session 30, C with fmaf): every finite fp16 value and 40,000 random
// float32 values per step, 6,000 steps log-uniform over [1e-30, 1e30], 513 million cases: equal in value (a zero can
// come out +0 where the division gives −0). Below about 1e-36 the remainder is subnormal and results differ, so
// `quantize_inverse` gives 0 outside [2⁻⁹⁰, 2⁹⁰] and the caller then takes `fake_quantize`.
__device__ __forceinline__ float quantize_inverse(float step) { return step >= 0x1p-90f && step <= 0x1p90f ? __frcp_rn(step) : 0.f; }
// The exact quotient RN(c / step) of v clamped to c = ±128·step, as `fake_quantize_fast` rounds it (step > 0).
__device__ __forceinline__ float clamped_quotient(float v, float step, float inverse) {
    const float limit = 128.f * step, c = fminf(fmaxf(v, -limit), limit);
    const float q0 = c * inverse;
    return fmaf(fmaf(-q0, step, c), inverse, q0);
}
// The int8 code of that Q/DQ as a float, sat(rint(v / step)) (step > 0).
__device__ __forceinline__ float quantize_code(float v, float step, float inverse) {
    return fminf(rintf(clamped_quotient(v, step, inverse)), 127.f);
}
__device__ __forceinline__ float fake_quantize_fast(float v, float step, float inverse) {
    if (!(step > 0)) return v;
    return quantize_code(v, step, inverse) * step;
}
// The int8 code of the same Q/DQ, sat(rint(v / step)), in bits 0–7 (step > 0 and `quantize_inverse(step)` ≠ 0): what
// a kernel stores when the next one needs only the code (the residual codes: `residual_layernorm_f16x8_codes_*` and
// the GEMM epilogue's OUT_CODE). The quotient is in [−128, 128] after the clamp, so the saturating conversion rounds
// and clamps as `fminf(rintf(q), 127)` does; code · step is then `fake_quantize_fast`'s value bit for bit.
__device__ __forceinline__ int quantize_code_bits(float v, float step, float inverse) {
    int q;
    asm("cvt.rni.sat.s8.f32 %0, %1;" : "=r"(q) : "f"(clamped_quotient(v, step, inverse)));
    return q;
}
// Four int8 values from bits 0–7 of each into one word, a in the lowest byte.
__device__ __forceinline__ unsigned pack_s8x4(int a, int b, int c, int d) {
    return __byte_perm(__byte_perm(a, b, 0x0040), __byte_perm(c, d, 0x0040), 0x5410);
}
// Byte k of w as a signed integer in float.
__device__ __forceinline__ float s8_to_float(unsigned w, int k) { return (float)(int)(signed char)(w >> (8 * k)); }

// GEMM epilogues (gemm.cu, gemm_wgmma.cu): GELU, and the store of two adjacent output columns as fp16, float32 or
// int8 (round(v · qScale) saturated; qScale: float → int8 per column).
//
// GELU is the exact-erf form BERT uses, gelu(z) = z·Φ(z), here through the normal tail Φ(−|z|) (Abramowitz and Stegun
// 26.2.17 in erfc form, 7.1.26: erfc(x) = t·P(t)·e^(−x²) with t = 1 / (1 + p·x), |error| ≤ 1.5e-7 for x ≥ 0):
//     Φ(−|z|) = t·P(t)·2^(−z²·log₂e / 2),   t = 1 / (1 + 0.2316419·|z|)   (P's coefficients halved, p folded with 1/√2)
//     gelu(z)·s = (max(z, 0) − |z|·Φ(−|z|))·s                            (z·Φ(z) = max(z, 0) − |z|·Φ(−|z|))
// for any per-column s: s = 1 gives GELU, s = qScale GELU already scaled for int8 quantization. Simulated in float32
// (numpy, exact 2^x and 1/x) it is within 3.3e-7 of exact GELU over |z| ≤ 12, where the previous rational form was
// within 1.4e-6 (simulated alike); `ex2.approx.ftz` and `rcp.approx.ftz` add under 2⁻²² relative. The CPU reference
// (COctetKernels/elementwise.c, `gelu_approx`) computes the same t and P(t) with the same coefficients in the same
// order, and the Gaussian factor as e^(−z²/2) (Cephes) where this takes 2^(−z²·log₂e/2), so the engines differ by
// rounding alone (about 1 ulp): an INT8 model turns any systematic difference into int8 rounding flips, which the
// self-test's random-token model checks catch (session 21: this form against the CPU's earlier rational one, 0.0526 of
// 0.05; both on this form, session 22: 0.0349). No clamp: the tail underflows to 0 for |z| past about 13, where
// gelu(z) = max(z, 0) exactly. Infinite z would give NaN (±∞·0), where the rational form gave +∞ for both signs; the
// inputs here are int32 or float accumulators of bounded products, always finite, and NaN stays NaN. Cost per output
// (SASS counted with cuobjdump): 1 FMNMX, 6 FFMA, 5 FMUL, 1 MUFU.RCP, 1 MUFU.EX2, 14 in all (13 with s = 1 known at
// compile time), where the rational form took 2 FMNMX, 11 FFMA, 4 FMUL and 1 MUFU.RCP, 18 (session 20's Nsight Compute
// found the batch-128 FFN-in epilogue issue-bound, most of its 23 instructions per output the GELU's). Why not CUDA's erff: it branches on |x|,
// and in a GEMM epilogue that converts 64–128 accumulators per thread the branches kept every conversion in series;
// this form is branch-free, so independent conversions interleave. The reciprocal is `rcp.approx.ftz` (relative error
// under 2⁻²³; its argument is at least 1).
__device__ __forceinline__ float rcp_approx(float x) {
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}
// 2^x by the special-function unit with denormal results flushed to zero (`ex2.approx.ftz`: one MUFU; `__expf` without
// -ftz wraps it in a range test and two multiplies, and takes a multiply by log₂e before it).
__device__ __forceinline__ float exp2_ftz(float x) {
    float y;
    asm("ex2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
__device__ __forceinline__ float gelu_scaled(float z, float s) {
    const float t = rcp_approx(fmaf(0.2316419f, fabsf(z), 1.f));
    float p = fmaf(t, 0.5307027145f, -0.7265760135f);
    p = fmaf(t, p, 0.7107068705f);
    p = fmaf(t, p, -0.142248368f);
    p = fmaf(t, p, 0.127414796f);
    const float tail = (p * t) * exp2_ftz(z * (z * -0.7213475204444817f));  // Φ(−|z|)
    return fmaf(-fabsf(z), tail, fmaxf(z, 0.f)) * s;
}
__device__ __forceinline__ float gelu(float z) { return gelu_scaled(z, 1.f); }

constexpr int OUT_F16 = 0, OUT_F32 = 1, OUT_CODE = 3;  // 2: int8 (v · qScale); 3: the residual code (below)

// GELU of an output pair and the scale its store then applies, the same arithmetic in every GEMM kernel, so a GELU +
// int8 output has the same bits whichever kernel the tuner picks: into int8, qScale is folded into `gelu_scaled` and
// the quantization multiplies by 1 (the wgmma epilogue stages qScale per column and does the same); otherwise s = 1.
// `qScale` is the pair's output scale on entry and what `store_pair` should use on return.
__device__ __forceinline__ void gelu_pair(float &v0, float &v1, int outKind, float (&qScale)[2]) {
    const bool int8 = outKind != OUT_F16 && outKind != OUT_F32;
    v0 = gelu_scaled(v0, int8 ? qScale[0] : 1.f);
    v1 = gelu_scaled(v1, int8 ? qScale[1] : 1.f);
    if (int8) qScale[0] = qScale[1] = 1.f;
}

__device__ __forceinline__ void store_pair(void *out, int ldo, int kind, int m, int n, float v0, float v1, const float (&qScale)[2]) {
    size_t i = (size_t)m * ldo + n;
    if (kind == OUT_F16) {
        *reinterpret_cast<f16x2 *>(static_cast<f16 *>(out) + i) = float2_to_f16x2(v0, v1);
    } else if (kind == OUT_F32) {
        *reinterpret_cast<float2 *>(static_cast<float *>(out) + i) = make_float2(v0, v1);
    } else {  // OUT_I8
        char2 c;
        c.x = quantize_s8(v0, qScale[0]);
        c.y = quantize_s8(v1, qScale[1]);
        *reinterpret_cast<char2 *>(static_cast<signed char *>(out) + i) = c;
    }
}

// Four adjacent output columns n … n + 3 (n a multiple of 4, ldo too, `out` 16-byte aligned) as one store: 8 bytes of
// fp16, 16 of float32 or 4 of int8 (qScale per column), where two `store_pair`s would split a lane's bytes in two.
__device__ __forceinline__ void store_quad(void *out, int ldo, int kind, int m, int n, const float (&v)[4], const float (&qScale)[4]) {
    size_t i = (size_t)m * ldo + n;
    if (kind == OUT_F16) {
        *reinterpret_cast<uint2 *>(static_cast<f16 *>(out) + i) = make_uint2(float2_to_f16x2(v[0], v[1]), float2_to_f16x2(v[2], v[3]));
    } else if (kind == OUT_F32) {
        *reinterpret_cast<float4 *>(static_cast<float *>(out) + i) = make_float4(v[0], v[1], v[2], v[3]);
    } else {
        char4 c;
        c.x = quantize_s8(v[0], qScale[0]);
        c.y = quantize_s8(v[1], qScale[1]);
        c.z = quantize_s8(v[2], qScale[2]);
        c.w = quantize_s8(v[3], qScale[3]);
        *reinterpret_cast<char4 *>(static_cast<signed char *>(out) + i) = c;
    }
}

// A LayerNorm's copy of four adjacent outputs for the next linear layers (element i of `copy`): fp16 (COPY 1) or int8
// sat(rint(y · qScale)) (COPY 2); nothing for COPY 0.
template <int COPY> __device__ __forceinline__ void store_copy4(void *copy, size_t i, float4 y, float qScale) {
    if (COPY == 1) {
        *reinterpret_cast<uint2 *>(static_cast<f16 *>(copy) + i) = make_uint2(float2_to_f16x2(y.x, y.y), float2_to_f16x2(y.z, y.w));
    } else if (COPY == 2) {
        char4 q;
        q.x = quantize_s8(y.x, qScale);
        q.y = quantize_s8(y.y, qScale);
        q.z = quantize_s8(y.z, qScale);
        q.w = quantize_s8(y.w, qScale);
        *reinterpret_cast<char4 *>(static_cast<signed char *>(copy) + i) = q;
    }
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// Hopper's warpgroup MMA (sm_90a only), shared by the GEMMs (gemm_wgmma.cu) and the attention (attention_mma.cu).
// wgmma's shared-memory matrix descriptor, K-major with 128-byte swizzle: start address / 16 (bits 0–13), leading
// byte offset (unused by swizzled K-major layouts; 1), stride byte offset 1,024 / 16 (8 rows of 128 bytes), swizzle
// mode 1 = 128B (bits 62–63). The buffers are 1,024-byte aligned, as the swizzle pattern assumes.
// Built in two halves: the low word (start address and leading byte offset) once per stage, the high word a constant,
// and a k step or a 64-row half adds its byte offset / 16 to the low word. That equals rebuilding the descriptor from
// address + offset because shared-memory addresses stay below 228 KB, so the 14-bit start address never carries into
// bit 14. (Rebuilt every k step, a mask, a shift, an or and a move per operand sat between the wgmma instructions:
// about 18 instructions per pair of them in the batch-128 main loop, on the schedulers the other warpgroup's epilogue
// needs; Nsight Compute, session 20.)
__device__ __forceinline__ unsigned descriptor_low(unsigned address) { return ((address & 0x3FFFF) >> 4) | (1u << 16); }
__device__ __forceinline__ unsigned long long descriptor(unsigned low, unsigned offset) {
    return (unsigned long long)((1024 >> 4) | (1u << 30)) << 32 | (low + offset / 16);
}
__device__ __forceinline__ void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory"); }
__device__ __forceinline__ void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory"); }
template <int N> __device__ __forceinline__ void wgmma_wait() { asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory"); }
#endif
