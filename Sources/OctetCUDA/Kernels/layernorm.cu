// layernorm: the two LayerNorms of BERT with their neighbours fused, one warp per token (H ≤ 1024, H % 64 == 0).
//
// embed_layernorm:    x = word[id] + position[t mod S] + tokenType[type]             (fp16 tables, float sum)
// residual_layernorm: x = dq(q(local)) + dq(q(residual))                             (each Q/DQ only when its step
//                     > 0: the residual add's own quantizers in an all-INT8 recipe; dq(q(v)) = sat(rint(v / step))·step)
// then, both:         y = (x − mean) / sqrt(var + eps) · gamma + beta               (two-pass variance, float)
//                     out[t] = y, the residual stream: float32 when f32, else fp16 (local and residual likewise)
//                     copy[t] = the next linear layers' input, when copyKind is 1 (fp16) or 2 (int8:
//                     sat(rint(y · qScale)), the quantizer after the LayerNorm fused here so the GEMM reads int8)
//
// Why fused: at batch 1 each of these is a few microseconds of launch and one read of a [tokens, H] tensor; fusing the
// add, the normalization and the quantization leaves one read and one or two writes per element. The INT8 engine
// keeps the residual stream in float32 (so its quantizers see the CPU reference's values, not fp16 roundings); the
// FP16 engine keeps it in fp16, as TensorRT does. All arithmetic is float.
//
// Layout: row-major [tokens, H]; lane l holds the pairs l, l + 32, … (2-element loads, coalesced), at most 16 pairs.
#include "common.cuh"

namespace {
constexpr int MAX_PAIRS = 16;

__device__ __forceinline__ float fake_quantize(float v, float step) {
    return step > 0 ? fminf(fmaxf(rintf(__fdiv_rn(v, step)), -128.f), 127.f) * step : v;
}

__device__ __forceinline__ float2 load2(const void *p, int f32, size_t i) {
    if (f32) return *reinterpret_cast<const float2 *>(static_cast<const float *>(p) + i);
    return f16x2_to_float2(*reinterpret_cast<const f16x2 *>(static_cast<const f16 *>(p) + i));
}

__device__ __forceinline__ void store2(void *p, int f32, size_t i, float a, float b) {
    if (f32) *reinterpret_cast<float2 *>(static_cast<float *>(p) + i) = make_float2(a, b);
    else *reinterpret_cast<f16x2 *>(static_cast<f16 *>(p) + i) = float2_to_f16x2(a, b);
}

// Normalizes the lane's pairs and writes the stream and (optionally) the copy.
__device__ __forceinline__ void normalize_store(float2 (&x)[MAX_PAIRS], int pairs, int H, float eps, const float *gamma,
                                                const float *beta, void *out, int f32, void *copy, int copyKind, float qScale,
                                                size_t row) {
    const int lane = threadIdx.x % 32;
    float sum = 0.f;
#pragma unroll
    for (int c = 0; c < MAX_PAIRS; c++) if (c < pairs) sum += x[c].x + x[c].y;
    float mean = warp_sum(sum) / H, sq = 0.f;
#pragma unroll
    for (int c = 0; c < MAX_PAIRS; c++) if (c < pairs) { float a = x[c].x - mean, b = x[c].y - mean; sq += a * a + b * b; }
    float inverse = rsqrtf(warp_sum(sq) / H + eps);
#pragma unroll
    for (int c = 0; c < MAX_PAIRS; c++) {
        if (c >= pairs) break;
        int d = 2 * (lane + 32 * c);
        size_t i = row * H + d;
        float y0 = (x[c].x - mean) * inverse * gamma[d] + beta[d], y1 = (x[c].y - mean) * inverse * gamma[d + 1] + beta[d + 1];
        store2(out, f32, i, y0, y1);
        if (copyKind == 1) {
            store2(copy, 0, i, y0, y1);
        } else if (copyKind == 2) {
            char2 q;
            q.x = quantize_s8(y0, qScale);
            q.y = quantize_s8(y1, qScale);
            *reinterpret_cast<char2 *>(static_cast<signed char *>(copy) + i) = q;
        }
    }
}
}  // namespace

extern "C" __global__ void embed_layernorm(const int *ids, const int *types, int tokens, int S, const f16 *word,
                                           const f16 *position, const f16 *tokenType, const float *gamma,
                                           const float *beta, float eps, int H, void *out, int f32, void *copy, int copyKind,
                                           float qScale) {
    wait_for_producers();
    allow_dependents();
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= tokens) return;
    const int pairs = H / 64;
    const size_t w = (size_t)ids[row] * H, p = (size_t)(row % S) * H, y = (size_t)types[row] * H;
    float2 x[MAX_PAIRS];
#pragma unroll
    for (int c = 0; c < MAX_PAIRS; c++) {
        if (c >= pairs) break;
        int d = 2 * (lane + 32 * c);
        float2 a = load2(word, 0, w + d), b = load2(position, 0, p + d), e = load2(tokenType, 0, y + d);
        x[c] = make_float2(a.x + b.x + e.x, a.y + b.y + e.y);
    }
    normalize_store(x, pairs, H, eps, gamma, beta, out, f32, copy, copyKind, qScale, row);
}

extern "C" __global__ void residual_layernorm(const void *local, const void *residual, int tokens, float localStep,
                                              float residualStep, const float *gamma, const float *beta, float eps, int H,
                                              void *out, int f32, void *copy, int copyKind, float qScale) {
    wait_for_producers();
    allow_dependents();
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= tokens) return;
    const int pairs = H / 64;
    float2 x[MAX_PAIRS];
#pragma unroll
    for (int c = 0; c < MAX_PAIRS; c++) {
        if (c >= pairs) break;
        size_t i = (size_t)row * H + 2 * (lane + 32 * c);
        float2 a = load2(local, f32, i), b = load2(residual, f32, i);
        x[c] = make_float2(fake_quantize(a.x, localStep) + fake_quantize(b.x, residualStep),
                           fake_quantize(a.y, localStep) + fake_quantize(b.y, residualStep));
    }
    normalize_store(x, pairs, H, eps, gamma, beta, out, f32, copy, copyKind, qScale, row);
}
