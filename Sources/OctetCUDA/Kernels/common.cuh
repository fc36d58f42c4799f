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

// Symmetric int8: sat(rint(x · qScale)), qScale = 1 / step (float → int8).
__device__ __forceinline__ signed char quantize_s8(float x, float qScale) {
    return (signed char)(int)fminf(fmaxf(rintf(x * qScale), -128.f), 127.f);
}

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
// GELU is the exact-erf form BERT uses, with erf from the rational approximation the CPU reference computes
// (COctetKernels/elementwise.c, Eigen's and XLA's: within 5e-7 absolute of erf, so GELU stays within float32 rounding of
// the libm form in practice). Why not CUDA's erff: it branches on |x|, and in a GEMM epilogue that converts 64–128
// accumulators per thread the branches kept every conversion in series (the H200 workbench: GELU + int8 output doubled
// a batch-128 FFN GEMM); this form is branch-free, so independent conversions interleave. __fdividef is exact to 2 ulp
// here: the denominator stays between −0.0143 and −2.4.
__device__ __forceinline__ float erf_rational(float x) {
    x = fminf(fmaxf(x, -4.f), 4.f);
    const float x2 = x * x;
    float p = fmaf(x2, -2.72614225801306e-10f, 2.77068142495902e-08f);
    p = fmaf(x2, p, -2.10102402082508e-06f);
    p = fmaf(x2, p, -5.69250639462346e-05f);
    p = fmaf(x2, p, -7.34990630326855e-04f);
    p = fmaf(x2, p, -2.95459980854025e-03f);
    p = fmaf(x2, p, -1.60960333262415e-02f);
    float q = fmaf(x2, -1.45660718464996e-05f, -2.13374055278905e-04f);
    q = fmaf(x2, q, -1.68282697438203e-03f);
    q = fmaf(x2, q, -7.37332916720468e-03f);
    q = fmaf(x2, q, -1.42647390514189e-02f);
    return __fdividef(x * p, q);
}
__device__ __forceinline__ float gelu(float x) { return 0.5f * x * (1.0f + erf_rational(x * 0.70710678118654752f)); }

constexpr int OUT_F16 = 0, OUT_F32 = 1;  // else 2: int8

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
