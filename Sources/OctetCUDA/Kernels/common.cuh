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

// GEMM epilogues (gemm.cu, gemm_wgmma.cu): GELU, and the store of two adjacent output columns as fp16, float32 or
// int8 (round(v · qScale) saturated; qScale: float → int8 per column).
//
// GELU is the exact-erf form BERT uses, gelu(z) = z·Φ(z) = z/2·(1 + erf(z/√2)), with erf from the rational
// approximation the CPU reference computes (COctetKernels/elementwise.c, Eigen's and XLA's: erf(x) = x·p(x²)/q(x²) for
// |x| ≤ 4, within 5e-7 absolute of erf). Here x = z/√2 is folded into the coefficients (P_k = p_k·2⁻ᵏ/√2,
// Q_k = q_k·2⁻ᵏ, computed in double and rounded once to float; the clamp becomes 4√2), and 1 + erf becomes one
// fraction, so
//     gelu(z)·2h = z·h · (Q(z²) + z·P(z²)) / Q(z²)      (z clamped to ±4√2 inside P, Q and the z·P term only)
// for any per-column h: h = 1/2 gives GELU, h = qScale/2 GELU already scaled for int8 quantization. Against the CPU's
// form it differs by float rounding (at most 1.9e-6 absolute over |z| ≤ 12, simulated in float32 with numpy: the
// same size as either form's distance from exact GELU). Beyond the clamp the approximation's overshoot of erf past −1
// (about 5e-8) is not rounded away as the CPU's 1 + erf rounds it, so for z < −4√2 the result is about +4.7e-8·|z|
// where GELU is −0: under 1e-6 for |z| < 20 and far below an int8 step for any activation BERT produces (a numerator
// clamped to ≤ 0 fixes it with one more instruction per output, and measured 0.9% slower at BERT-large s128 b128 on the
// H200, session 19, so it is not done). Why not CUDA's erff: it branches on |x|, and in a GEMM
// epilogue that converts 64–128 accumulators per thread the branches kept every conversion in series; this form is
// branch-free, so independent conversions interleave. Cost per output (SASS counted with cuobjdump): 2 FMNMX,
// 1 FMUL, 10 FFMA, 1 FFMA for the numerator, 1 MUFU.RCP, 3 FMUL. The reciprocal is `rcp.approx.ftz` (relative error
// under 2⁻²³; Q stays between −2.4 and −0.0143, so the flush to zero never applies): `__fdividef` without -ftz adds a
// denormal test and two predicated multiplies per output.
__device__ __forceinline__ float rcp_approx(float x) {
    float r;
    asm("rcp.approx.ftz.f32 %0, %1;" : "=f"(r) : "f"(x));
    return r;
}
__device__ __forceinline__ float gelu_scaled(float z, float h) {
    const float zc = fminf(fmaxf(z, -5.65685424949238f), 5.65685424949238f), s = zc * zc;
    float p = fmaf(s, -3.011990180e-12f, 6.122398699e-10f);
    p = fmaf(s, p, -9.285302127e-08f);
    p = fmaf(s, p, -5.031512501e-06f);
    p = fmaf(s, p, -1.299292198e-04f);
    p = fmaf(s, p, -1.044608769e-03f);
    p = fmaf(s, p, -1.138161402e-02f);
    float q = fmaf(s, -9.103794696e-07f, -2.667175613e-05f);
    q = fmaf(s, q, -4.207067541e-04f);
    q = fmaf(s, q, -3.686664626e-03f);
    q = fmaf(s, q, -1.426473912e-02f);
    return (z * h) * fmaf(zc, p, q) * rcp_approx(q);
}
__device__ __forceinline__ float gelu(float z) { return gelu_scaled(z, 0.5f); }

constexpr int OUT_F16 = 0, OUT_F32 = 1;  // else 2: int8

// GELU of an output pair and the scale its store then applies, the same arithmetic in every GEMM kernel, so a GELU +
// int8 output has the same bits whichever kernel the tuner picks: into int8, qScale / 2 is folded into `gelu_scaled`
// and the quantization multiplies by 1 (the wgmma epilogue stages qScale / 2 per column and does the same); otherwise
// h = 1/2. `qScale` is the pair's output scale on entry and what `store_pair` should use on return.
__device__ __forceinline__ void gelu_pair(float &v0, float &v1, int outKind, float (&qScale)[2]) {
    const bool int8 = outKind != OUT_F16 && outKind != OUT_F32;
    v0 = gelu_scaled(v0, int8 ? 0.5f * qScale[0] : 0.5f);
    v1 = gelu_scaled(v1, int8 ? 0.5f * qScale[1] : 0.5f);
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
