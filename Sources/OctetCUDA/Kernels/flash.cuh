// flash.cuh: the one-pass (FlashAttention-style) attention's pieces shared by attention_mma.cu and qkv_attention.cu:
// a block's sequence in a padded or packed batch, the quad reductions and the online-softmax step over one chunk of
// score fragments (mma.sync's m16n8 layout, which a wgmma m64n64 accumulator holds per warp too), the mask in
// log₂-score units, the context's store, and the FP16 wgmma operations the Hopper kernels multiply with.
#pragma once
#include "common.cuh"

namespace {
constexpr int ROWS = 16, KEY_CHUNK = 64;  // query rows per warp (an m16 tile); keys per chunk

// The sequence a block works on: its first row in QKV [tokens, 3H] and in the output [tokens, H], and its length.
// Padded batches (`offsets` null): sequence b is rows b·Smax … b·Smax + Smax − 1, padding masked by `mask`. Packed
// batches (TensorRT's variable-sequence-length layout: only the real tokens, back to back): sequence b is rows
// offsets[b] … offsets[b + 1] − 1, every one real (`mask` holds ones there), and the grid is sized for the longest, so
// blocks past a shorter sequence's end have nothing to do. `offsets` is uploaded before the pass starts, so it may be
// read before `wait_for_producers`.
struct Span {
    int first, length;
};
__device__ __forceinline__ Span sequence_span(const int *offsets, int Smax, int b) {
    if (offsets == nullptr) return {b * Smax, Smax};
    const int first = offsets[b];
    return {first, offsets[b + 1] - first};
}

// The max and the sum over a quad: the 4 lanes that hold one row of a score fragment.
__device__ __forceinline__ float quad_max(float v) {
    v = fmaxf(v, __shfl_xor_sync(0xffffffff, v, 1));
    return fmaxf(v, __shfl_xor_sync(0xffffffff, v, 2));
}
__device__ __forceinline__ float quad_sum(float v) {
    v += __shfl_xor_sync(0xffffffff, v, 1);
    return v + __shfl_xor_sync(0xffffffff, v, 2);
}

// The max of row r (0: g, 1: g + 8) of a chunk's score fragments, over the quad that holds the row.
__device__ __forceinline__ float row_max(const float (&s)[8][4], int r) {
    float m = -INFINITY;
#pragma unroll
    for (int jb = 0; jb < 8; jb++) m = fmaxf(m, fmaxf(s[jb][2 * r], s[jb][2 * r + 1]));
    return quad_max(m);
}

// Row r (0: g, 1: g + 8) of a chunk's scores, in log₂ units as the one-pass kernel keeps them, replaced by
// 2^(s − shift); returns this thread's sum of them (its keys only: the quad's sums meet later).
__device__ __forceinline__ float exponentiate_row(float (&s)[8][4], int r, float shift) {
    float sum = 0.f;
#pragma unroll
    for (int jb = 0; jb < 8; jb++) {
        s[jb][2 * r] = exp2_ftz(s[jb][2 * r] - shift);
        s[jb][2 * r + 1] = exp2_ftz(s[jb][2 * r + 1] - shift);
        sum += s[jb][2 * r] + s[jb][2 * r + 1];
    }
    return sum;
}

// One row pair of a head's output (features d, d + 1 of token row `row`): int8 when outQScale > 0, else fp16.
__device__ __forceinline__ void store_context_pair(void *out, size_t row, int d, float c0, float c1, float outQScale) {
    if (outQScale > 0) {
        char2 q;
        q.x = quantize_s8(c0, outQScale);
        q.y = quantize_s8(c1, outQScale);
        *reinterpret_cast<char2 *>(static_cast<signed char *>(out) + row + d) = q;
    } else {
        *reinterpret_cast<f16x2 *>(static_cast<f16 *>(out) + row + d) = float2_to_f16x2(c0, c1);
    }
}

// The context rows of one m16 tile (rows `first` and first + 8 of the sequence, the thread's feature pairs 8j + 2t of
// `o`), divided by their softmax sums `l` and stored as `store_context_pair` does; rows past S are not stored.
template <int D>
__device__ __forceinline__ void store_context_rows(void *out, const float (&o)[D / 8][4], const float (&l)[2], const Span &span, int S,
                                                   int first, int H, int head, int t, float outQScale) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const float inverse = l[r] > 0 ? 1.f / l[r] : 0.f;
        const int i = first + 8 * r;
        if (i >= S) continue;
        const size_t row = ((size_t)span.first + i) * H + head * D;
#pragma unroll
        for (int jd = 0; jd < D / 8; jd++)
            store_context_pair(out, row, jd * 8 + 2 * t, o[jd][2 * r] * inverse, o[jd][2 * r + 1] * inverse, outQScale);
    }
}

// The one-pass kernels' mask in log₂-score units as they add it (0 or −∞ per key up to Spad), from the padded batch's
// mask or, for a packed one (`offsets`), all real tokens: like `offsets`, the mask is uploaded before the pass starts,
// so it is read before the dependency wait and its load latency overlaps the QKV GEMM's tail.
__device__ __forceinline__ void stage_mask_f16(float *maskAdd, const int *__restrict__ mask, const int *__restrict__ offsets,
                                               const Span &span, int Spad, int threads) {
    for (int j = threadIdx.x; j < Spad; j += threads)
        maskAdd[j] = j < span.length && (offsets != nullptr || mask[span.first + j]) ? 0.f : -INFINITY;
}

// One chunk's online-softmax step for one m16 tile of the one-pass kernels (rows g and g + 8, scores in log₂ units):
// a row whose keys so far are all masked keeps m = −∞ and contributes nothing (its exponents use 0 in place of m, so
// no −∞ − (−∞)); when a chunk raises m, the thread's partial sum and its output sums are scaled by 2^(m_old − m).
template <int D>
__device__ __forceinline__ void online_softmax_step(float (&s)[8][4], float (&rowMax)[2], float (&rowSum)[2], float (&o)[D / 8][4]) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const float m = fmaxf(row_max(s, r), rowMax[r]);
        const float shift = m == -INFINITY ? 0.f : m, correction = exp2_ftz(rowMax[r] - shift);
        rowMax[r] = m;
        const float sum = exponentiate_row(s, r, shift);
        rowSum[r] = rowSum[r] * correction + sum;  // this thread's keys only; the quad's sums meet at the end
#pragma unroll
        for (int jd = 0; jd < D / 8; jd++) {
            o[jd][2 * r] *= correction;
            o[jd][2 * r + 1] *= correction;
        }
    }
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// cp.async and ordinary stores write through the generic proxy and wgmma reads through the async proxy, so each thread
// fences (`fence.proxy.async`) after its writes land and before the barrier that publishes them.
__device__ __forceinline__ void fence_proxy_async() { asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory"); }
#define AW_D32 "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}"
#define AW_OUT(a)                                                                                                          \
    "+f"(a[0]), "+f"(a[1]), "+f"(a[2]), "+f"(a[3]), "+f"(a[4]), "+f"(a[5]), "+f"(a[6]), "+f"(a[7]), "+f"(a[8]), "+f"(a[9]),   \
        "+f"(a[10]), "+f"(a[11]), "+f"(a[12]), "+f"(a[13]), "+f"(a[14]), "+f"(a[15]), "+f"(a[16]), "+f"(a[17]), "+f"(a[18]),  \
        "+f"(a[19]), "+f"(a[20]), "+f"(a[21]), "+f"(a[22]), "+f"(a[23]), "+f"(a[24]), "+f"(a[25]), "+f"(a[26]), "+f"(a[27]),  \
        "+f"(a[28]), "+f"(a[29]), "+f"(a[30]), "+f"(a[31])
// S (+)= Q·Kᵀ for one k16 step, both operands from shared memory (K-major, no transpose); `accumulate` 0 overwrites.
__device__ __forceinline__ void wgmma_ss_f16(float (&d)[32], unsigned long long a, unsigned long long b, int accumulate) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\nwgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " AW_D32
                 ", %32, %33, p, 1, 1, 0, 0;\n}\n" : AW_OUT(d) : "l"(a), "l"(b), "r"(accumulate));
}
// O += P·V for one k16 step: A from registers (four f16x2 per thread, mma.sync's m16k16 A layout per warp), B from
// shared memory MN-major (transpose bit set).
__device__ __forceinline__ void wgmma_rs_f16_tb(float (&d)[32], const unsigned (&a)[4], unsigned long long b) {
    asm volatile("{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\nwgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 " AW_D32
                 ", {%32,%33,%34,%35}, %36, p, 1, 1, 1;\n}\n" : AW_OUT(d) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(b), "r"(1));
}
// Keeps the compiler from moving accumulator reads or writes across the asynchronous wgmma.
__device__ __forceinline__ void fence_accumulators(float (&d)[32]) {
#pragma unroll
    for (int i = 0; i < 32; i++) asm volatile("" : "+f"(d[i])::"memory");
}
// One 64-key chunk of the wgmma attention for one warpgroup's 64 queries (attention_mma.cu's
// `attention_flash_wgmma`, qkv_attention.cu): S = Q·Kᵀ from the 128B-swizzled tiles at qLow and kLow (four k16 steps),
// scaled to log₂ units with the chunk's mask added, the online-softmax step (the output sums live in the P·V
// accumulator `oacc`, moved through `o`), then O += P·V with P from registers and V at vLow read MN-major.
__device__ __forceinline__ void wgmma_attention_chunk(unsigned qLow, unsigned kLow, unsigned vLow, const float *chunkMask, float scoreScale,
                                                      int t, float (&o)[8][4], float (&oacc)[32], float (&rowMax)[2], float (&rowSum)[2]) {
    constexpr int D = 64;
    float sacc[32];
    fence_accumulators(sacc);
    wgmma_fence();
#pragma unroll
    for (int kk = 0; kk < D / 16; kk++) wgmma_ss_f16(sacc, descriptor(qLow, 32 * kk), descriptor(kLow, 32 * kk), kk > 0);
    wgmma_commit();
    wgmma_wait<0>();
    fence_accumulators(sacc);

    float s[8][4];
#pragma unroll
    for (int jb = 0; jb < 8; jb++) {
        const float m0 = chunkMask[jb * 8 + 2 * t], m1 = chunkMask[jb * 8 + 2 * t + 1];
        s[jb][0] = sacc[4 * jb] * scoreScale + m0;
        s[jb][1] = sacc[4 * jb + 1] * scoreScale + m1;
        s[jb][2] = sacc[4 * jb + 2] * scoreScale + m0;
        s[jb][3] = sacc[4 * jb + 3] * scoreScale + m1;
    }
    // The softmax step rescales the output sums, which live in the P·V accumulator: move them through `o`.
#pragma unroll
    for (int jd = 0; jd < D / 8; jd++)
#pragma unroll
        for (int e = 0; e < 4; e++) o[jd][e] = oacc[4 * jd + e];
    online_softmax_step<D>(s, rowMax, rowSum, o);
#pragma unroll
    for (int jd = 0; jd < D / 8; jd++)
#pragma unroll
        for (int e = 0; e < 4; e++) oacc[4 * jd + e] = o[jd][e];

    // P's A fragments, all four k16 groups before the fence (wgmma reads registers written before its fence).
    unsigned a[4][4];
#pragma unroll
    for (int kg = 0; kg < 4; kg++) {  // keys 16·kg … + 15: score blocks 2·kg and 2·kg + 1
        const int b0 = 2 * kg;
        a[kg][0] = float2_to_f16x2(s[b0][0], s[b0][1]);
        a[kg][1] = float2_to_f16x2(s[b0][2], s[b0][3]);
        a[kg][2] = float2_to_f16x2(s[b0 + 1][0], s[b0 + 1][1]);
        a[kg][3] = float2_to_f16x2(s[b0 + 1][2], s[b0 + 1][3]);
    }
    fence_accumulators(oacc);
    wgmma_fence();
#pragma unroll
    for (int kg = 0; kg < 4; kg++) wgmma_rs_f16_tb(oacc, a[kg], descriptor(vLow, 2048 * kg));  // 16 keys: 2,048 bytes of V
    wgmma_commit();
    wgmma_wait<0>();
    fence_accumulators(oacc);
}
#endif

}  // namespace
