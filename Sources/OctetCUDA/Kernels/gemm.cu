// gemm: tensor-core GEMM with a fused epilogue, INT8 (s8·s8 → s32) and FP16 (f16·f16 → f32), for small and large M.
//
//   acc[m, n] = Σ_k A[m, k] · B[n, k]                       A: activations [M, K] row-major (stride lda elements)
//                                                            B: weights [N, K] row-major, as PyTorch stores Linear
//   v = acc · dqScale[n] + bias[n]                           dqScale: int8 → float (activation step × weight step[n]);
//                                                            null for FP16 (1)
//   v = gelu(v) if gelu                                      exact erf GELU, as BERT and the CPU reference use
//   out[m, n] = v as fp16, fp32, or int8 round(v · qScale[n]) saturated (qScale: float → int8, 1 / the step)
//
// Why a GEMM of Octet's own: at batch 1 (M = 128 tokens) a library GEMM launches a few tiles and leaves most of the
// H200's 132 multiprocessors idle while the weights (the real cost: up to 4 MB per GEMM) stream in. Here the grid is
// tiles × splitK: each of `splitK` blocks of a tile reduces a contiguous K range, writes its partial sums to its own
// slice of `workspace` ([splitK][M][N], int32 or float), and the block that finishes last (a per-tile counter) adds
// the slices in order z = 0…splitK−1 and runs the epilogue. So the result is deterministic (the order never depends on
// timing), the counter is reset by that last block (a CUDA graph can replay the launch), and no second kernel runs.
//
// Layout and instructions: each block stages BM×BK-byte slabs of A and BN×BK-byte slabs of B in shared memory with
// cp.async (16-byte copies, zero-filled past M or N), STAGES deep so loads overlap the tensor-core work. Rows are padded
// by 16 bytes (BK + 16 is an odd multiple of 16 bytes), so the 8 rows one ldmatrix phase reads fall in 8 different
// 16-byte bank groups. One 32-byte
// slice of a row is one mma's K step in both precisions (32 int8 or 16 fp16 values), and the mma.sync fragments of
// m16n8k32.s8 and m16n8k16.f16 read the same bytes (a0: row g, bytes 4t; a1: row g+8; a2/a3: +16 bytes; b0: row n=g,
// bytes 4t; b1: +16), so one kernel body serves both, the element type only choosing the instruction.
// Requirements (checked by the host): K·sizeof(element) a multiple of BK·splitK, lda a multiple of 16 bytes, N even.
#include "common.cuh"

namespace {


__device__ __forceinline__ unsigned smem_address(const void *p) {
    return static_cast<unsigned>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void copy16(void *dst, const void *src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_address(dst)), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void wait_groups() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

template <bool INT8> struct Acc;
template <> struct Acc<true> { typedef int T; };
template <> struct Acc<false> { typedef float T; };

__device__ __forceinline__ void mma(int (&c)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
__device__ __forceinline__ void mma(float (&c)[4], const unsigned (&a)[4], const unsigned (&b)[2]) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

__device__ __forceinline__ float gelu(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

// Output kinds.
constexpr int OUT_F16 = 0, OUT_F32 = 1;  // else 2: int8

__device__ __forceinline__ void store_pair(void *out, int ldo, int kind, int m, int n, float v0, float v1, const float *qScale) {
    size_t i = (size_t)m * ldo + n;
    if (kind == OUT_F16) {
        *reinterpret_cast<f16x2 *>(static_cast<f16 *>(out) + i) = float2_to_f16x2(v0, v1);
    } else if (kind == OUT_F32) {
        *reinterpret_cast<float2 *>(static_cast<float *>(out) + i) = make_float2(v0, v1);
    } else {  // OUT_I8
        char2 c;
        c.x = quantize_s8(v0, qScale[n]);
        c.y = quantize_s8(v1, qScale[n + 1]);
        *reinterpret_cast<char2 *>(static_cast<signed char *>(out) + i) = c;
    }
}

__device__ __forceinline__ void ldmatrix_x4(unsigned (&r)[4], const void *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_address(p)));
}

template <int BM, int BN, int BK, int WM, int WN, int STAGES, bool INT8>
__device__ __forceinline__ void gemm(const void *__restrict__ A, int lda, const void *__restrict__ B, int M, int N, int K,
                                     const float *__restrict__ dqScale, const float *__restrict__ bias, int act,
                                     const float *__restrict__ qScale, int outKind, void *__restrict__ out, int ldo,
                                     void *__restrict__ workspace, int *__restrict__ counters, int splitK) {
    typedef typename Acc<INT8>::T T;
    constexpr int ELEM = INT8 ? 1 : 2;
    constexpr int WARPS_N = BN / WN, THREADS = (BM / WM) * (BN / WN) * 32;
    constexpr int MI = WM / 16, NI = WN / 8, ROW = BK + 16, CHUNKS = BK / 16;
    static_assert(NI % 2 == 0, "B fragments load two n8 blocks per ldmatrix");
    extern __shared__ __align__(16) unsigned char smem[];
    unsigned char *As = smem, *Bs = smem + STAGES * BM * ROW;

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
    const int wm = (warp / WARPS_N) * WM, wn = (warp % WARPS_N) * WN;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, z = blockIdx.z;
    const size_t ldaBytes = (size_t)lda * ELEM, ldbBytes = (size_t)K * ELEM;
    const int kBytes = K * ELEM / splitK, kTiles = kBytes / BK;
    const unsigned char *a = static_cast<const unsigned char *>(A) + (size_t)z * kBytes;
    const unsigned char *b = static_cast<const unsigned char *>(B) + (size_t)z * kBytes;

    // BM rows × BK/16 chunks of 16 bytes of A; BN rows of B.
    auto loadA = [&](int stage, int kt) {
        for (int c = tid; c < BM * CHUNKS; c += THREADS) {
            int r = c / CHUNKS, col = (c % CHUNKS) * 16, m = m0 + r;
            copy16(As + (stage * BM + r) * ROW + col, a + (size_t)min(m, M - 1) * ldaBytes + kt * BK + col, m < M);
        }
    };
    auto loadB = [&](int stage, int kt) {
        for (int c = tid; c < BN * CHUNKS; c += THREADS) {
            int r = c / CHUNKS, col = (c % CHUNKS) * 16, n = n0 + r;
            copy16(Bs + (stage * BN + r) * ROW + col, b + (size_t)min(n, N - 1) * ldbBytes + kt * BK + col, n < N);
        }
    };

    T acc[MI][NI][4];
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++)
#pragma unroll
            for (int r = 0; r < 4; r++) acc[i][j][r] = 0;

    // The weights' first stages are fetched before waiting for the kernel that produces A (programmatic dependent
    // launch: this overlaps the weight stream with the previous kernel's tail). They join the first commit group.
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++)
        if (s < kTiles) loadB(s, s);
    wait_for_producers();
    allow_dependents();
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < kTiles) loadA(s, s);
        commit();
    }
    for (int kt = 0; kt < kTiles; kt++) {
        wait_groups<STAGES - 2>();
        __syncthreads();
        int next = kt + STAGES - 1;
        if (next < kTiles) { loadA(next % STAGES, next); loadB(next % STAGES, next); }
        commit();
        const unsigned char *as = As + (kt % STAGES) * BM * ROW, *bs = Bs + (kt % STAGES) * BN * ROW;
#pragma unroll
        for (int kk = 0; kk < BK; kk += 32) {
            // ldmatrix.x4: lanes 0–15 address rows 0–15 at bytes kk, lanes 16–31 the same rows 16 bytes on (A: a0–a3);
            // for B, lanes address n rows (lane % 8) + 8·(lane / 16) at kk + 16·((lane / 8) % 2) (two n8 blocks).
            unsigned af[MI][4], bf[NI][2];
#pragma unroll
            for (int i = 0; i < MI; i++) ldmatrix_x4(af[i], as + (wm + i * 16 + lane % 16) * ROW + kk + (lane / 16) * 16);
#pragma unroll
            for (int j = 0; j < NI; j += 2) {
                unsigned r[4];
                ldmatrix_x4(r, bs + (wn + j * 8 + lane % 8 + (lane / 16) * 8) * ROW + kk + ((lane / 8) % 2) * 16);
                bf[j][0] = r[0]; bf[j][1] = r[1]; bf[j + 1][0] = r[2]; bf[j + 1][1] = r[3];
            }
#pragma unroll
            for (int i = 0; i < MI; i++)
#pragma unroll
                for (int j = 0; j < NI; j++) mma(acc[i][j], af[i], bf[j]);
        }
    }
    wait_groups<0>();

    if (splitK > 1) {
        // Partial sums to this split's slice; the last block of the tile adds all slices in order.
        T *ws = static_cast<T *>(workspace);
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int j = 0; j < NI; j++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    int m = m0 + wm + i * 16 + g + h * 8, n = n0 + wn + j * 8 + t * 2;
                    if (m < M && n < N) {
                        T *p = ws + ((size_t)z * M + m) * N + n;
                        p[0] = acc[i][j][2 * h];
                        p[1] = acc[i][j][2 * h + 1];
                    }
                }
        __threadfence();
        __syncthreads();
        __shared__ int last;
        int tile = blockIdx.y * gridDim.x + blockIdx.x;
        if (tid == 0) last = atomicAdd(&counters[tile], 1) == splitK - 1;
        __syncthreads();
        if (!last) return;
        __threadfence();
        if (tid == 0) counters[tile] = 0;
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int j = 0; j < NI; j++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    int m = m0 + wm + i * 16 + g + h * 8, n = n0 + wn + j * 8 + t * 2;
                    if (m < M && n < N) {
                        T s0 = 0, s1 = 0;
                        for (int zz = 0; zz < splitK; zz++) {
                            const T *p = ws + ((size_t)zz * M + m) * N + n;
                            s0 += __ldcg(p);
                            s1 += __ldcg(p + 1);
                        }
                        acc[i][j][2 * h] = s0;
                        acc[i][j][2 * h + 1] = s1;
                    }
                }
    }

#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++) {
            int n = n0 + wn + j * 8 + t * 2;
            if (n >= N) continue;
            float d0 = dqScale ? dqScale[n] : 1.f, d1 = dqScale ? dqScale[n + 1] : 1.f;
            float b0 = bias ? bias[n] : 0.f, b1 = bias ? bias[n + 1] : 0.f;
#pragma unroll
            for (int h = 0; h < 2; h++) {
                int m = m0 + wm + i * 16 + g + h * 8;
                if (m >= M) continue;
                float v0 = (float)acc[i][j][2 * h] * d0 + b0, v1 = (float)acc[i][j][2 * h + 1] * d1 + b1;
                if (act) { v0 = gelu(v0); v1 = gelu(v1); }
                store_pair(out, ldo, outKind, m, n, v0, v1, qScale);
            }
        }
}

}  // namespace

// The variants the engine chooses from (per shape, at engine build). Name: gemm_<precision>_<BM>x<BN>_k<BK bytes>.
// Deep K slabs for small M (few tiles, so each block must keep many bytes in flight), square tiles for large M.
#define GEMM_VARIANT(NAME, BM, BN, BK, WM, WN, STAGES, INT8)                                                               \
    extern "C" __global__ void __launch_bounds__((BM / WM) * (BN / WN) * 32)                                              \
        NAME(const void *A, int lda, const void *B, int M, int N, int K, const float *dqScale, const float *bias, int act,  \
             const float *qScale, int outKind, void *out, int ldo, void *workspace, int *counters, int splitK) {           \
        gemm<BM, BN, BK, WM, WN, STAGES, INT8>(A, lda, B, M, N, K, dqScale, bias, act, qScale, outKind, out, ldo, workspace, \
                                               counters, splitK);                                                          \
    }

GEMM_VARIANT(gemm_i8_32x64_k256, 32, 64, 256, 32, 16, 4, true)
GEMM_VARIANT(gemm_i8_32x64_k128, 32, 64, 128, 32, 16, 4, true)
GEMM_VARIANT(gemm_i8_64x64_k128, 64, 64, 128, 32, 32, 4, true)
GEMM_VARIANT(gemm_i8_128x128_k64, 128, 128, 64, 64, 32, 4, true)
GEMM_VARIANT(gemm_i8_128x128_k128, 128, 128, 128, 64, 32, 3, true)
GEMM_VARIANT(gemm_f16_32x64_k256, 32, 64, 256, 32, 16, 4, false)
GEMM_VARIANT(gemm_f16_32x64_k128, 32, 64, 128, 32, 16, 4, false)
GEMM_VARIANT(gemm_f16_64x64_k128, 64, 64, 128, 32, 32, 4, false)
GEMM_VARIANT(gemm_f16_128x128_k64, 128, 128, 64, 64, 32, 4, false)
GEMM_VARIANT(gemm_f16_128x128_k128, 128, 128, 128, 64, 32, 3, false)
