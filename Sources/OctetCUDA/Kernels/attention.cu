// attention: fused multi-head self-attention for one (batch, head, block of 16 queries): QKᵀ, scale, mask, softmax, ·V.
//
//   q, k, v = the head's slices of the fused QKV projection (fp16 or f32 [B·S, 3H], columns Q | K | V, head h at h·D)
//   QKᵀ in int8 when kStep > 0:   s[i, j] = (Σ_d q8[i, d]·k8[j, d]) · qStep·kStep / √D,   x8 = sat(rint(x · (1/step)))
//                 else in float:  s[i, j] = (Σ_d q[i, d]·k[j, d]) / √D
//   p[i, j] = softmax_j(s[i, j]) over the real tokens (mask[b, j] = 1); padded keys get exactly 0
//   P·V in integers when pStep > 0: ctx[i, d] = (Σ_j p8[i, j]·v8[j, d]) · pStep·vStep, p8 = rint(p / pStep) in
//                 [0, 255] (pUnsigned: uint8, zero point 0) or [0, 127] (int8), else in float with v unquantized
//   out[b·S + i, h·D + d] = int8 sat(rint(ctx · outQScale)) when outQScale > 0 (the attention output layer's input
//                 quantizer, fused here), else fp16
//
// This is QDQBERT's Q/DQ placement executed literally: the Q/DQ pairs on the four product inputs become integer
// products with the steps folded into one multiplier, as the CPU reference's fused Attention does, so the two agree
// up to float rounding in the scale products and softmax (and the rare int8 flip that rounding causes).
//
// Layout: one block of 4 warps per (16 queries, head, batch); each warp owns 4 query rows. K and V of the head are
// staged in shared memory once per block (int8 when quantized, else fp16), K rows padded by one 32-bit word so the
// per-lane key rows (lane j reads row j) fall in 32 different banks. Each lane scores keys j ≡ lane (mod 32), up to
// 16 per lane (S ≤ 512); the softmax reduces across the warp with shuffles; for P·V the row's probabilities go to
// shared memory and each lane accumulates D/32 output features over all keys. Small and simple: at batch 1 the
// whole attention of a BERT-large layer is a few microseconds; a tensor-core FlashAttention tiling is the step for
// long sequences and large batches.
#include "common.cuh"

namespace {
// Q, K and V come as fp16, or as float32 when `f32` (the INT8 engine's choice: the attention quantizers then see the
// same float values as the CPU reference's, not fp16 roundings of them).
__device__ __forceinline__ float2 load_pair(const void *qkv, bool f32, size_t i) {
    if (f32) return *reinterpret_cast<const float2 *>(static_cast<const float *>(qkv) + i);
    return f16x2_to_float2(*reinterpret_cast<const f16x2 *>(static_cast<const f16 *>(qkv) + i));
}
__device__ __forceinline__ float load_one(const void *qkv, bool f32, size_t i) {
    return f32 ? static_cast<const float *>(qkv)[i] : f16_to_float(static_cast<const f16 *>(qkv)[i]);
}

constexpr int WARPS = 4, ROWS_PER_WARP = 4, QUERIES = WARPS * ROWS_PER_WARP, MAX_KEYS_PER_LANE = 16;


template <int D>
__device__ __forceinline__ void attention(const void *__restrict__ qkv, int f32, const int *__restrict__ mask, int S, int heads,
                                          float qStep, float kStep, float pStep, int pUnsigned, float vStep,
                                          float outQScale, void *__restrict__ out) {
    constexpr int LANE_FEATURES = D / 32;  // output features per lane in P·V
    extern __shared__ __align__(16) unsigned char smem[];
    const int H = heads * D, ld = 3 * H;
    const int b = blockIdx.z, head = blockIdx.y, q0 = blockIdx.x * QUERIES;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
    const bool qk8 = kStep > 0, pv8 = pStep > 0;
    const int kRow = qk8 ? D + 4 : 2 * D + 4;  // bytes, one padding word
    const int vRow = pv8 ? D : 2 * D;
    unsigned char *Ks = smem, *Vs = Ks + S * kRow;
    float *maskAdd = reinterpret_cast<float *>(Vs + ((S * vRow + 15) & ~15));
    float *qRows = maskAdd + S;                 // [WARPS][D]
    float *pRows = qRows + WARPS * D;           // [WARPS][S]
    const size_t base = (size_t)b * S * ld + head * D;  // element index of the head's first query

    wait_for_producers();
    allow_dependents();
    // Stage K and V (2 features per thread-step) and the additive mask.
    for (int e = threadIdx.x; e < S * D / 2; e += blockDim.x) {
        int j = e / (D / 2), d = (e % (D / 2)) * 2;
        float2 kk = load_pair(qkv, f32, base + (size_t)j * ld + H + d), vv = load_pair(qkv, f32, base + (size_t)j * ld + 2 * H + d);
        if (qk8) {
            Ks[j * kRow + d] = quantize_s8(kk.x, 1.f / kStep);
            Ks[j * kRow + d + 1] = quantize_s8(kk.y, 1.f / kStep);
        } else {
            *reinterpret_cast<f16x2 *>(Ks + j * kRow + 2 * d) = float2_to_f16x2(kk.x, kk.y);
        }
        if (pv8) {
            Vs[j * vRow + d] = quantize_s8(vv.x, 1.f / vStep);
            Vs[j * vRow + d + 1] = quantize_s8(vv.y, 1.f / vStep);
        } else {
            *reinterpret_cast<f16x2 *>(Vs + j * vRow + 2 * d) = float2_to_f16x2(vv.x, vv.y);
        }
    }
    for (int j = threadIdx.x; j < S; j += blockDim.x) maskAdd[j] = mask[b * S + j] ? 0.f : -INFINITY;
    __syncthreads();

    const float scoreScale = (qk8 ? qStep * kStep : 1.f) * rsqrtf((float)D);
    float *qRow = qRows + warp * D, *pRow = pRows + warp * S;
    for (int r = 0; r < ROWS_PER_WARP; r++) {
        int i = q0 + warp * ROWS_PER_WARP + r;
        if (i >= S) break;
        if (qk8) {  // the query row as packed int8, 4 per word, for dp4a
            for (int w = lane; w < D / 4; w += 32) {
                size_t x = base + (size_t)i * ld + 4 * w;
                unsigned packed = 0;
#pragma unroll
                for (int e = 0; e < 4; e++) packed |= (unsigned)(unsigned char)quantize_s8(load_one(qkv, f32, x + e), 1.f / qStep) << (8 * e);
                reinterpret_cast<unsigned *>(qRow)[w] = packed;
            }
        } else {
            for (int d = lane; d < D; d += 32) qRow[d] = load_one(qkv, f32, base + (size_t)i * ld + d);
        }
        __syncwarp();
        float s[MAX_KEYS_PER_LANE], rowMax = -INFINITY;
#pragma unroll
        for (int c = 0; c < MAX_KEYS_PER_LANE; c++) {
            int j = lane + 32 * c;
            s[c] = -INFINITY;
            if (j >= S) continue;
            float dot = 0.f;
            if (qk8) {
                int acc = 0;
                const int *kw = reinterpret_cast<const int *>(Ks + j * kRow), *qw = reinterpret_cast<const int *>(qRow);
#pragma unroll
                for (int w = 0; w < D / 4; w++) acc = __dp4a(qw[w], kw[w], acc);
                dot = (float)acc;
            } else {
                const f16x2 *kh = reinterpret_cast<const f16x2 *>(Ks + j * kRow);
#pragma unroll
                for (int w = 0; w < D / 2; w++) {
                    float2 f = f16x2_to_float2(kh[w]);
                    dot += qRow[2 * w] * f.x + qRow[2 * w + 1] * f.y;
                }
            }
            s[c] = dot * scoreScale + maskAdd[j];
            rowMax = fmaxf(rowMax, s[c]);
        }
        rowMax = warp_max(rowMax);
        float sum = 0.f;
#pragma unroll
        for (int c = 0; c < MAX_KEYS_PER_LANE; c++) {
            s[c] = (s[c] == -INFINITY) ? 0.f : __expf(s[c] - rowMax);
            sum += s[c];
        }
        sum = warp_sum(sum);
        float inverse = 1.f / sum;
#pragma unroll
        for (int c = 0; c < MAX_KEYS_PER_LANE; c++) {
            int j = lane + 32 * c;
            if (j >= S) continue;
            float p = s[c] * inverse;
            pRow[j] = pv8 ? fminf(rintf(p / pStep), pUnsigned ? 255.f : 127.f) : p;
        }
        __syncwarp();
        float ctx[LANE_FEATURES];
        if (pv8) {
            int acc[LANE_FEATURES] = {};
            for (int j = 0; j < S; j++) {
                int p = (int)pRow[j];
                if (p == 0) continue;  // warp-uniform: pRow[j] is one shared-memory word
                const signed char *vr = reinterpret_cast<const signed char *>(Vs + j * vRow);
#pragma unroll
                for (int f = 0; f < LANE_FEATURES; f++) acc[f] += p * vr[lane * LANE_FEATURES + f];
            }
#pragma unroll
            for (int f = 0; f < LANE_FEATURES; f++) ctx[f] = (float)acc[f] * (pStep * vStep);
        } else {
#pragma unroll
            for (int f = 0; f < LANE_FEATURES; f++) ctx[f] = 0.f;
            for (int j = 0; j < S; j++) {
                float p = pRow[j];
                const f16 *vr = reinterpret_cast<const f16 *>(Vs + j * vRow);
#pragma unroll
                for (int f = 0; f < LANE_FEATURES; f++) ctx[f] += p * f16_to_float(vr[lane * LANE_FEATURES + f]);
            }
        }
        size_t o = ((size_t)b * S + i) * H + head * D + lane * LANE_FEATURES;
#pragma unroll
        for (int f = 0; f < LANE_FEATURES; f++) {
            if (outQScale > 0) static_cast<signed char *>(out)[o + f] = quantize_s8(ctx[f], outQScale);
            else static_cast<f16 *>(out)[o + f] = float_to_f16(ctx[f]);
        }
        __syncwarp();
    }
}
}  // namespace

#define ATTENTION_VARIANT(D)                                                                                               \
    extern "C" __global__ void __launch_bounds__(WARPS * 32)                                                               \
        attention_d##D(const void *qkv, int f32, const int *mask, int S, int heads, float qStep, float kStep, float pStep, \
                       int pUnsigned, float vStep, float outQScale, void *out) {                                          \
        attention<D>(qkv, f32, mask, S, heads, qStep, kStep, pStep, pUnsigned, vStep, outQScale, out);                    \
    }

ATTENTION_VARIANT(32)
ATTENTION_VARIANT(64)
ATTENTION_VARIANT(128)
