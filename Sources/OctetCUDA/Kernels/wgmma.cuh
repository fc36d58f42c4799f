// wgmma.cuh: Hopper's building blocks for the TMA + wgmma kernels (gemm_wgmma.cu's GEMMs and qkv_attention.cu's fused
// QKV projection and attention): the tensor map a kernel takes by value, the accumulator fragments and the wgmma
// instructions that name all of their registers, the mbarriers TMA copies complete, and the TMA copy itself. sm_90a
// only; the files that include it are compiled for Hopper alone.
#pragma once
#include "common.cuh"

namespace {

// A CUtensorMap (cuda.h): 128 opaque bytes, passed by value as a __grid_constant__ parameter.
struct __align__(64) TensorMap {
    unsigned long long bits[16];
};

template <bool INT8> struct Accumulator { typedef int T; };
template <> struct Accumulator<false> { typedef float T; };
template <typename T> constexpr bool integer_accumulator = false;  // whether T is an int8 kernel's accumulator
template <> constexpr bool integer_accumulator<int> = true;

template <int N, typename T> struct Fragment {
    T v[N / 2];  // a warpgroup's 64 × N accumulator tile: N / 2 registers per thread
};

// wgmma with every accumulator register as an operand: the instruction names all N / 2 of them (64 or 128), listed
// once here as operand numbers and constraints.
#define REGS_32                                                                                                        \
    "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21,"              \
    "%22, %23, %24, %25, %26, %27, %28, %29, %30, %31"
#define REGS_48                                                                                                        \
    REGS_32 ", %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47"
#define REGS_64                                                                                                        \
    REGS_32 ", %32, %33, %34, %35, %36, %37, %38, %39, %40, %41,"                                                       \
    "%42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61,"              \
    "%62, %63"
#define REGS_128                                                                                                       \
    REGS_64 ", " "%64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83," \
    "%84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, %96, %97, %98, %99, %100, %101, %102,"                \
    "%103, %104, %105, %106, %107, %108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118,"                  \
    "%119, %120, %121, %122, %123, %124, %125, %126, %127"
#define REGS_96                                                                                                        \
    REGS_64 ", %64, %65, %66, %67, %68, %69, %70, %71, %72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83,"    \
    "%84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95"
#define OPERANDS_8(C, i) C(d[i]), C(d[i + 1]), C(d[i + 2]), C(d[i + 3]), C(d[i + 4]), C(d[i + 5]), C(d[i + 6]), C(d[i + 7])
#define OPERANDS_32(C, i) OPERANDS_8(C, i), OPERANDS_8(C, i + 8), OPERANDS_8(C, i + 16), OPERANDS_8(C, i + 24)
#define OPERANDS_48(C, i) OPERANDS_32(C, i), OPERANDS_8(C, i + 32), OPERANDS_8(C, i + 40)
#define OPERANDS_64(C, i) OPERANDS_32(C, i), OPERANDS_32(C, i + 32)
#define INT_ACC(x) "+r"(x)
#define FLOAT_ACC(x) "+f"(x)
// scale-d = 1 (accumulate; the accumulators start at 0). FP16: scale-a = scale-b = 1, neither operand transposed.
__device__ __forceinline__ void wgmma(Fragment<64, int> &acc, unsigned long long a, unsigned long long b) {
    int *d = acc.v;
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\nwgmma.mma_async.sync.aligned.m64n64k32.s32.s8.s8 {" REGS_32
                 "}, %32, %33, p;\n}\n" : OPERANDS_32(INT_ACC, 0) : "l"(a), "l"(b), "r"(1));
}
__device__ __forceinline__ void wgmma(Fragment<64, float> &acc, unsigned long long a, unsigned long long b) {
    float *d = acc.v;
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\nwgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {" REGS_32
                 "}, %32, %33, p, 1, 1, 0, 0;\n}\n" : OPERANDS_32(FLOAT_ACC, 0) : "l"(a), "l"(b), "r"(1));
}
__device__ __forceinline__ void wgmma(Fragment<96, int> &acc, unsigned long long a, unsigned long long b) {
    int *d = acc.v;
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %50, 0;\nwgmma.mma_async.sync.aligned.m64n96k32.s32.s8.s8 {" REGS_48
                 "}, %48, %49, p;\n}\n" : OPERANDS_48(INT_ACC, 0) : "l"(a), "l"(b), "r"(1));
}
__device__ __forceinline__ void wgmma(Fragment<96, float> &acc, unsigned long long a, unsigned long long b) {
    float *d = acc.v;
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %50, 0;\nwgmma.mma_async.sync.aligned.m64n96k16.f32.f16.f16 {" REGS_48
                 "}, %48, %49, p, 1, 1, 0, 0;\n}\n" : OPERANDS_48(FLOAT_ACC, 0) : "l"(a), "l"(b), "r"(1));
}
__device__ __forceinline__ void wgmma(Fragment<128, int> &acc, unsigned long long a, unsigned long long b) {
    int *d = acc.v;
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\nwgmma.mma_async.sync.aligned.m64n128k32.s32.s8.s8 {" REGS_64
                 "}, %64, %65, p;\n}\n" : OPERANDS_64(INT_ACC, 0) : "l"(a), "l"(b), "r"(1));
}
__device__ __forceinline__ void wgmma(Fragment<128, float> &acc, unsigned long long a, unsigned long long b) {
    float *d = acc.v;
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\nwgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {" REGS_64
                 "}, %64, %65, p, 1, 1, 0, 0;\n}\n" : OPERANDS_64(FLOAT_ACC, 0) : "l"(a), "l"(b), "r"(1));
}
// 64 × 192: one head's Q, K and V columns side by side (qkv_attention.cu).
__device__ __forceinline__ void wgmma(Fragment<192, int> &acc, unsigned long long a, unsigned long long b) {
    int *d = acc.v;
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %98, 0;\nwgmma.mma_async.sync.aligned.m64n192k32.s32.s8.s8 {" REGS_96
                 "}, %96, %97, p;\n}\n" : OPERANDS_64(INT_ACC, 0), OPERANDS_32(INT_ACC, 64) : "l"(a), "l"(b), "r"(1));
}
__device__ __forceinline__ void wgmma(Fragment<256, int> &acc, unsigned long long a, unsigned long long b) {
    int *d = acc.v;
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\nwgmma.mma_async.sync.aligned.m64n256k32.s32.s8.s8 {" REGS_128
                 "}, %128, %129, p;\n}\n" : OPERANDS_64(INT_ACC, 0), OPERANDS_64(INT_ACC, 64) : "l"(a), "l"(b), "r"(1));
}
__device__ __forceinline__ void wgmma(Fragment<256, float> &acc, unsigned long long a, unsigned long long b) {
    float *d = acc.v;
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\nwgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 {" REGS_128
                 "}, %128, %129, p, 1, 1, 0, 0;\n}\n" : OPERANDS_64(FLOAT_ACC, 0), OPERANDS_64(FLOAT_ACC, 64) : "l"(a), "l"(b), "r"(1));
}

// Keeps the compiler from moving accumulator reads or writes across the asynchronous wgmma (CUTLASS's
// warpgroup_fence_operand).
template <int N> __device__ __forceinline__ void fence_operands(Fragment<N, int> &acc) {
#pragma unroll
    for (int i = 0; i < N / 2; i++) asm volatile("" : "+r"(acc.v[i])::"memory");
}
template <int N> __device__ __forceinline__ void fence_operands(Fragment<N, float> &acc) {
#pragma unroll
    for (int i = 0; i < N / 2; i++) asm volatile("" : "+f"(acc.v[i])::"memory");
}

// mbarriers (shared-memory arrive/wait barriers with a transaction byte count, which TMA copies complete).
__device__ __forceinline__ void barrier_init(unsigned long long *bar, unsigned count) {
    asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(smem_address(bar)), "r"(count));
}
__device__ __forceinline__ void barrier_expect(unsigned long long *bar, unsigned bytes) {
    asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(smem_address(bar)), "r"(bytes) : "memory");
}
__device__ __forceinline__ void barrier_arrive(unsigned long long *bar) {
    asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(smem_address(bar)) : "memory");
}
// Waits for the phase of parity `parity` to complete (a fresh barrier counts the phase before it, parity 1, as done).
__device__ __forceinline__ void barrier_wait(unsigned long long *bar, unsigned parity) {
    unsigned done = 0;
    while (!done)
        asm volatile("{\n.reg .pred p;\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\nselp.u32 %0, 1, 0, p;\n}\n"
                     : "=r"(done) : "r"(smem_address(bar)), "r"(parity) : "memory");
}
// Fetches a tensor map (a kernel parameter) into the TMA unit's descriptor cache, so the first copies need not wait for
// it (CUTLASS's prefetch_tma_descriptor): at batch 1 each GEMM is a few microseconds, most of it the latency of its
// first slabs.
__device__ __forceinline__ void prefetch_map(const TensorMap &map) {
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<unsigned long long>(&map)) : "memory");
}
// One TMA copy of the box at (x bytes, y rows) of `map` into shared memory, completing on `bar`.
__device__ __forceinline__ void tma_load(void *dst, const TensorMap &map, unsigned long long *bar, int x, int y) {
    asm volatile("cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];\n"
                 ::"r"(smem_address(dst)), "l"(reinterpret_cast<unsigned long long>(&map)), "r"(smem_address(bar)), "r"(x), "r"(y)
                 : "memory");
}

// A barrier of the 128 threads of one warpgroup (named barrier `id`; 0 is __syncthreads').
__device__ __forceinline__ void warpgroup_sync(int id) { asm volatile("bar.sync %0, 128;\n" ::"r"(id) : "memory"); }

}  // namespace
