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
// tiles × splitK, and the splitK blocks of a tile form one thread-block cluster (Hopper): block z reduces K tiles
// [z·kTiles/splitK, (z+1)·kTiles/splitK), parks its partial sums in its own shared memory, and after a cluster barrier
// each block adds one share of the tile's fragments from every block's shared memory (distributed shared memory, in
// the order z = 0…splitK−1, so the result never depends on timing) and runs the epilogue for that share. No global
// workspace, no atomics, no second kernel: an earlier version wrote partial slices to global memory and let the last
// block (a per-tile counter) add them, which cost three dependent round trips through L2 per GEMM.
//
// Why the epilogue's per-column scales and bias are loaded before the main loop: at batch 1 the whole kernel is a few
// memory round trips long, and loading them after the last mma added one more.
//
// Layout and instructions: each block stages BM×BK-byte slabs of A and BN×BK-byte slabs of B in shared memory with
// cp.async (16-byte copies, zero-filled past M or N), STAGES deep so loads overlap the tensor-core work. Rows are padded
// by 16 bytes (BK + 16 is an odd multiple of 16 bytes), so the 8 rows one ldmatrix phase reads fall in 8 different
// 16-byte bank groups. One 32-byte
// slice of a row is one mma's K step in both precisions (32 int8 or 16 fp16 values), and the mma.sync fragments of
// m16n8k32.s8 and m16n8k16.f16 read the same bytes (a0: row g, bytes 4t; a1: row g+8; a2/a3: +16 bytes; b0: row n=g,
// bytes 4t; b1: +16), so one kernel body serves both, the element type only choosing the instruction.
// Requirements (checked by the host): K·sizeof(element) a multiple of BK, 1 ≤ splitK ≤ min(8, K tiles) launched as a
// cluster of (1, 1, splitK), lda a multiple of 16 bytes, N even.
#include "common.cuh"

namespace {

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

constexpr int MAX_SPLIT = 8;


template <int BM, int BN, int BK, int WM, int WN, int STAGES, bool INT8>
__device__ __forceinline__ void gemm(const void *__restrict__ A, int lda, const void *__restrict__ B, int M, int N, int K,
                                     const float *__restrict__ dqScale, const float *__restrict__ bias, int act,
                                     const float *__restrict__ qScale, int outKind, void *__restrict__ out, int ldo, int splitK) {
    typedef typename Acc<INT8>::T T;
    constexpr int ELEM = INT8 ? 1 : 2;
    constexpr int WARPS_N = BN / WN, THREADS = (BM / WM) * WARPS_N * 32;
    constexpr int MI = WM / 16, NI = WN / 8, ROW = BK + 16, CHUNKS = BK / 16;
    static_assert(NI % 2 == 0, "B fragments load two n8 blocks per ldmatrix");
    static_assert(THREADS % (BN / 2) == 0 && BM * BN * 4 <= STAGES * (BM + BN) * ROW, "the reduction tile fits");
    // Without split-K the epilogue runs from the mma fragments; with it, from the tile reduced over the cluster, where
    // thread tid owns the column pair (tid mod BN/2) of every (THREADS / (BN/2))-th row of its block's band.
    const bool direct = splitK == 1;
    extern __shared__ __align__(16) unsigned char smem[];
    unsigned char *As = smem, *Bs = smem + STAGES * BM * ROW;

    const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
    const int wm = (warp / WARPS_N) * WM, wn = (warp % WARPS_N) * WN;
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, z = blockIdx.z;
    const size_t ldaBytes = (size_t)lda * ELEM, ldbBytes = (size_t)K * ELEM;
    const int allTiles = K * ELEM / BK, kt0 = z * allTiles / splitK, kTiles = (z + 1) * allTiles / splitK - kt0;
    const unsigned char *a = static_cast<const unsigned char *>(A) + (size_t)kt0 * BK;
    const unsigned char *b = static_cast<const unsigned char *>(B) + (size_t)kt0 * BK;

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
    // The epilogue's per-column values (the fragments' columns; with split-K the thread's one column pair, kept in slot
    // 0). Small tiles fetch them now, so their latency hides under the main loop (at batch 1 the whole kernel is a few
    // round trips long); large tiles fetch them after it, where their 24 registers do not compete with the main loop's
    // fragments (held during the loop they made a batch-128 pass 27–31% slower on the H200).
    constexpr bool EARLY = BM <= 64;
    float dq[NI][2], bi[NI][2], qs[NI][2];
    auto fetchColumns = [&]() {
#pragma unroll
        for (int j = 0; j < NI; j++)
#pragma unroll
            for (int e = 0; e < 2; e++) {
                const int n = min((direct ? n0 + wn + j * 8 + t * 2 : n0 + (tid % (BN / 2)) * 2) + e, N - 1);
                dq[j][e] = dqScale ? __ldg(dqScale + n) : 1.f;
                bi[j][e] = bias ? __ldg(bias + n) : 0.f;
                qs[j][e] = qScale ? __ldg(qScale + n) : 0.f;
            }
    };
    if (EARLY) fetchColumns();
    wait_for_producers();
    allow_dependents();
#pragma unroll
    for (int s = 0; s < STAGES - 1; s++) {
        if (s < kTiles) loadA(s, s);
        copy_commit();
    }
    for (int kt = 0; kt < kTiles; kt++) {
        copy_wait<STAGES - 2>();
        __syncthreads();
        int next = kt + STAGES - 1;
        if (next < kTiles) { loadA(next % STAGES, next); loadB(next % STAGES, next); }
        copy_commit();
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
    copy_wait<0>();
    if (!EARLY) fetchColumns();

    if (direct) {
#pragma unroll
        for (int i = 0; i < MI; i++)
#pragma unroll
            for (int j = 0; j < NI; j++) {
                int n = n0 + wn + j * 8 + t * 2;
                if (n >= N) continue;
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    int m = m0 + wm + i * 16 + g + h * 8;
                    if (m >= M) continue;
                    float v0 = (float)acc[i][j][2 * h] * dq[j][0] + bi[j][0], v1 = (float)acc[i][j][2 * h + 1] * dq[j][1] + bi[j][1];
                    float q[2] = {qs[j][0], qs[j][1]};
                    if (act) gelu_pair(v0, v1, outKind, q);
                    store_pair(out, ldo, outKind, m, n, v0, v1, q);
                }
            }
        return;
    }

    // Split-K: the block parks its partial tile [BM][BN] in the (now idle) pipeline buffers; after a cluster barrier
    // each block takes a band of rows and adds that band over all blocks of the cluster, in rank order, through
    // distributed shared memory (a fixed order: float sums do not depend on timing), then runs the epilogue for it.
    T *tile = reinterpret_cast<T *>(smem);
    __syncthreads();  // every warp is done with the pipeline's buffers
#pragma unroll
    for (int i = 0; i < MI; i++)
#pragma unroll
        for (int j = 0; j < NI; j++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                T *p = tile + (wm + i * 16 + g + h * 8) * BN + wn + j * 8 + t * 2;
                p[0] = acc[i][j][2 * h];
                p[1] = acc[i][j][2 * h + 1];
            }
    constexpr int ROW_STEP = THREADS / (BN / 2);  // rows apart that one thread handles
    const int column = (tid % (BN / 2)) * 2, n = n0 + column;
    const int rank = (int)cluster_rank();
    cluster_sync();  // every block's tile is complete and visible to the cluster
    const int rowBegin = rank * BM / splitK, rowEnd = (rank + 1) * BM / splitK;
    for (int r = rowBegin + tid / (BN / 2); r < rowEnd; r += ROW_STEP) {
        T v[MAX_SPLIT][2];
#pragma unroll
        for (int zz = 0; zz < MAX_SPLIT; zz++)  // every block's loads issued before the sums
            if (zz < splitK) {
                const unsigned address = cluster_address(tile + r * BN + column, zz);
                v[zz][0] = cluster_load(address, T());
                v[zz][1] = cluster_load(address + 4, T());
            }
        T s0 = v[0][0], s1 = v[0][1];
#pragma unroll
        for (int zz = 1; zz < MAX_SPLIT; zz++)
            if (zz < splitK) { s0 += v[zz][0]; s1 += v[zz][1]; }
        const int m = m0 + r;
        if (m >= M || n >= N) continue;
        float v0 = (float)s0 * dq[0][0] + bi[0][0], v1 = (float)s1 * dq[0][1] + bi[0][1];
        float q[2] = {qs[0][0], qs[0][1]};
        if (act) gelu_pair(v0, v1, outKind, q);
        store_pair(out, ldo, outKind, m, n, v0, v1, q);
    }
    cluster_sync();  // no block leaves while another still reads its shared memory
}

}  // namespace

// The variants the engine chooses from (per shape, at engine build). Name: gemm_<precision>_<BM>x<BN>_k<BK bytes>.
// Deep K slabs for small M (few tiles, so each block must keep many bytes in flight), square tiles for large M.
// (Tried and dropped: 2 or 4 groups of warps sharing a tile's K steps, to give each multiprocessor more warps at batch
// 1; the extra reduction made BERT-base s128 b1 1–8% slower on the H200.)
#define GEMM_VARIANT(NAME, BM, BN, BK, WM, WN, STAGES, INT8)                                                               \
    extern "C" __global__ void __launch_bounds__((BM / WM) * (BN / WN) * 32)                                              \
        NAME(const void *A, int lda, const void *B, int M, int N, int K, const float *dqScale, const float *bias, int act,  \
             const float *qScale, int outKind, void *out, int ldo, int splitK) {                                        \
        gemm<BM, BN, BK, WM, WN, STAGES, INT8>(A, lda, B, M, N, K, dqScale, bias, act, qScale, outKind, out, ldo, splitK);   \
    }
#define GEMM_VARIANTS(PRECISION, INT8)                                                                                     \
    GEMM_VARIANT(gemm_##PRECISION##_32x64_k256, 32, 64, 256, 32, 16, 4, INT8)                                             \
    GEMM_VARIANT(gemm_##PRECISION##_32x64_k128, 32, 64, 128, 32, 16, 4, INT8)                                             \
    GEMM_VARIANT(gemm_##PRECISION##_64x64_k128, 64, 64, 128, 32, 32, 4, INT8)                                             \
    GEMM_VARIANT(gemm_##PRECISION##_128x128_k64, 128, 128, 64, 64, 32, 4, INT8)                                           \
    GEMM_VARIANT(gemm_##PRECISION##_128x128_k128, 128, 128, 128, 64, 32, 3, INT8)

GEMM_VARIANTS(i8, true)
GEMM_VARIANTS(f16, false)
