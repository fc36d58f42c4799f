// layernorm: the two LayerNorms of BERT with their neighbours fused, one block per token (H ≤ 1024, H % 128 == 0).
//
// embed_layernorm:    x = word[id] + position[pos] + tokenType[type]                 (fp16 tables, float sum)
//                     pos = t mod S in a padded batch, positions[t] in a packed one (only real tokens, back to back)
// residual_layernorm: x = dq(q(local)) + dq(q(residual))                             (the residual add's own Q/DQ in
//                     an all-INT8 recipe, QDQ variants only; dq(q(v)) = sat(rint(v / step))·step, identity at step 0)
//                     or x = local, the sum already made by the GEMM before it (SUMMED variants: the GEMM's epilogue
//                     added the residual, so this kernel reads one [tokens, H] array instead of two)
// then, both:         y = (x − mean) / sqrt(var + eps) · gamma + beta               (two-pass variance, float)
//                     out[t] = y, the residual stream: float32 (F32) or fp16 (local and residual likewise)
//                     copy[t] = the next linear layers' input, when COPY is 1 (fp16) or 2 (int8:
//                     sat(rint(y · qScale)), the quantizer after the LayerNorm fused here so the GEMM reads int8)
//
// Why fused: at batch 1 each of these is a few microseconds of launch and one read of a [tokens, H] tensor; fusing the
// add, the normalization and the quantization leaves one read and one or two writes per element. The INT8 engine
// keeps the residual stream in float32 (so its quantizers see the CPU reference's values, not fp16 roundings) unless
// the recipe says fp16 (`halfPrecisionStream`: the CPU reference then rounds where this kernel stores, and the int8
// copy quantizes the stored fp16 value); the FP16 engine keeps it in fp16, as TensorRT does. All arithmetic is float.
//
// Why one block per token and one quad per thread: with 128 rows (batch 1) this kernel is pure latency. A warp per row
// left each lane 24 elements of serial work (the add's exact divisions alone are a few hundred instructions) on 32 of
// the 132 multiprocessors, at about 7 cycles per instruction with nothing to hide behind: 8 µs per call. Here H/4
// threads share a row (one 16-byte quad each), the grid covers as many multiprocessors as there are tokens, and the
// two reductions go through shared memory.
//
// Why templates: every load a thread needs (its quad of local, residual, gamma and beta) is issued before the first
// is used. An earlier version chose the stream type and the add's Q/DQ with run-time flags per element, and its loads
// sat in separate basic blocks. The stream type, the add's Q/DQ and the copy kind are template parameters, one kernel
// per combination (name: residual_layernorm_<f32|f16|f32h>_<qdq|float|summed>_<none|f16|i8>, summed with f32 only;
// embed_layernorm_<f32|f16|f32h>_<...>; f32h: a float32 stream holding fp16 values, `local` and y rounded to fp16).
//
// Layout: row-major [tokens, H]; block = one token, H/4 threads (H % 128 == 0, so whole warps), thread i holds
// elements 4i…4i+3 (one 16-byte load of float32 or 8-byte load of fp16, coalesced).
#include "common.cuh"

namespace {
constexpr int MAX_WARPS = 8;  // H ≤ 1024

template <bool F32> __device__ __forceinline__ float4 load4(const void *p, size_t i) {
    if (F32) return *reinterpret_cast<const float4 *>(static_cast<const float *>(p) + i);
    uint2 v = *reinterpret_cast<const uint2 *>(static_cast<const f16 *>(p) + i);
    float2 a = f16x2_to_float2(v.x), b = f16x2_to_float2(v.y);
    return make_float4(a.x, a.y, b.x, b.y);
}

template <bool F32> __device__ __forceinline__ void store4(void *p, size_t i, float4 v) {
    if (F32) *reinterpret_cast<float4 *>(static_cast<float *>(p) + i) = v;
    else *reinterpret_cast<uint2 *>(static_cast<f16 *>(p) + i) = make_uint2(float2_to_f16x2(v.x, v.y), float2_to_f16x2(v.z, v.w));
}

// The sum of v over the block (all threads get it); `slots` holds one partial per warp.
__device__ __forceinline__ float block_sum(float v, float *slots) {
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) slots[warp] = v;
    __syncthreads();
    float total = 0.f;
#pragma unroll
    for (int w = 0; w < MAX_WARPS; w++)
        if (w < warps) total += slots[w];
    return total;
}

// fp16's value of each element (round to nearest even), kept as float.
__device__ __forceinline__ float4 round_to_half4(float4 v) {
    const float2 lo = f16x2_to_float2(float2_to_f16x2(v.x, v.y)), hi = f16x2_to_float2(float2_to_f16x2(v.z, v.w));
    return make_float4(lo.x, lo.y, hi.x, hi.y);
}

// Normalizes the thread's quad x (element 4·threadIdx.x of the row) and writes the stream and (COPY > 0) the copy.
// ROUND (with F32): a float32 stream that holds fp16 values (the recipe's fp16 stream stored as float32, where those
// kernels are faster): y is rounded to fp16 before both stores, the values an fp16 stream would hold.
template <bool F32, int COPY, bool ROUND = false>
__device__ __forceinline__ void normalize_store(float4 x, float4 g, float4 b, int H, float eps, void *out, void *copy,
                                                float qScale, size_t row) {
    __shared__ float slots[2][MAX_WARPS];
    const float mean = block_sum((x.x + x.y) + (x.z + x.w), slots[0]) / H;
    const float a = x.x - mean, c = x.y - mean, e = x.z - mean, f = x.w - mean;
    const float inverse = rsqrtf(block_sum((a * a + c * c) + (e * e + f * f), slots[1]) / H + eps);
    const size_t i = row * H + 4 * threadIdx.x;
    float4 y = make_float4(a * inverse * g.x + b.x, c * inverse * g.y + b.y, e * inverse * g.z + b.z, f * inverse * g.w + b.w);
    // An fp16 stream with an int8 copy (the INT8 engine with the recipe's fp16 stream), or its float32 storage: the
    // quantizer reads the stored fp16 value, as the CPU reference and the Q/DQ export's Cast pair do.
    if ((!F32 && COPY == 2) || ROUND) y = round_to_half4(y);
    store4<F32>(out, i, y);
    store_copy4<COPY>(copy, i, y, qScale);
}

template <bool F32, int COPY, bool ROUND = false>
__device__ __forceinline__ void embed_layernorm(const int *__restrict__ ids, const int *__restrict__ types,
                                                const int *__restrict__ positions, int S,
                                                const f16 *__restrict__ word, const f16 *__restrict__ position,
                                                const f16 *__restrict__ tokenType, const float *__restrict__ gamma,
                                                const float *__restrict__ beta, float eps, int H, void *__restrict__ out,
                                                void *__restrict__ copy, float qScale) {
    const int row = blockIdx.x, d = 4 * threadIdx.x;
    const float4 g = __ldg(reinterpret_cast<const float4 *>(gamma) + threadIdx.x);
    const float4 b = __ldg(reinterpret_cast<const float4 *>(beta) + threadIdx.x);
    // The positions are uploaded before the pass starts: like the tables, they may be read before the wait.
    const float4 p = load4<false>(position, (size_t)(positions ? positions[row] : row % S) * H + d);
    wait_for_producers();
    allow_dependents();
    const float4 w = load4<false>(word, (size_t)ids[row] * H + d), t = load4<false>(tokenType, (size_t)types[row] * H + d);
    const float4 x = make_float4(w.x + p.x + t.x, w.y + p.y + t.y, w.z + p.z + t.z, w.w + p.w + t.w);
    normalize_store<F32, COPY, ROUND>(x, g, b, H, eps, out, copy, qScale, row);
}

// ADD: 0 float add, 1 the add's Q/DQ, 2 summed (x = local; `residual` unread). ROUND: the float32 `local` is rounded
// to fp16 first (the value an fp16-output GEMM would have stored), and y before its stores (`normalize_store`).
template <bool F32, int ADD, int COPY, bool ROUND = false>
__device__ __forceinline__ void residual_layernorm(const void *__restrict__ local, const void *__restrict__ residual,
                                                   float localStep, float residualStep, const float *__restrict__ gamma,
                                                   const float *__restrict__ beta, float eps, int H, void *__restrict__ out,
                                                   void *__restrict__ copy, float qScale) {
    const int row = blockIdx.x;
    const float4 g = __ldg(reinterpret_cast<const float4 *>(gamma) + threadIdx.x);  // weights: before the producer ends
    const float4 b = __ldg(reinterpret_cast<const float4 *>(beta) + threadIdx.x);
    wait_for_producers();
    allow_dependents();
    const size_t i = (size_t)row * H + 4 * threadIdx.x;
    static_assert(!ROUND || (F32 && ADD != 2), "a rounded stream is a float32 one, and the GEMM's sum is not rounded");
    float4 l = load4<F32>(local, i);
    const float4 r = ADD == 2 ? make_float4(0.f, 0.f, 0.f, 0.f) : load4<F32>(residual, i);
    if (ROUND) l = round_to_half4(l);
    float4 x;
    if (ADD == 2)
        x = l;
    else if (ADD == 1)
        x = make_float4(fake_quantize(l.x, localStep) + fake_quantize(r.x, residualStep),
                        fake_quantize(l.y, localStep) + fake_quantize(r.y, residualStep),
                        fake_quantize(l.z, localStep) + fake_quantize(r.z, residualStep),
                        fake_quantize(l.w, localStep) + fake_quantize(r.w, residualStep));
    else
        x = make_float4(l.x + r.x, l.y + r.y, l.z + r.z, l.w + r.w);
    normalize_store<F32, COPY, ROUND>(x, g, b, H, eps, out, copy, qScale, row);
}
}  // namespace

#define EMBED_LAYERNORM_R(NAME, F32, COPY, ROUND)                                                                          \
    extern "C" __global__ void NAME(const int *ids, const int *types, const int *positions, int S, const f16 *word,         \
                                    const f16 *position, const f16 *tokenType, const float *gamma, const float *beta,       \
                                    float eps, int H, void *out, void *copy, float qScale) {                               \
        embed_layernorm<F32, COPY, ROUND>(ids, types, positions, S, word, position, tokenType, gamma, beta, eps, H, out,    \
                                          copy, qScale);                                                                   \
    }
#define EMBED_LAYERNORM(NAME, F32, COPY) EMBED_LAYERNORM_R(NAME, F32, COPY, false)
EMBED_LAYERNORM(embed_layernorm_f32_none, true, 0)
EMBED_LAYERNORM(embed_layernorm_f32_f16, true, 1)
EMBED_LAYERNORM(embed_layernorm_f32_i8, true, 2)
EMBED_LAYERNORM(embed_layernorm_f16_none, false, 0)
EMBED_LAYERNORM(embed_layernorm_f16_f16, false, 1)
EMBED_LAYERNORM(embed_layernorm_f16_i8, false, 2)
// f32h: a float32 stream holding fp16 values (the recipe's fp16 stream stored as float32).
EMBED_LAYERNORM_R(embed_layernorm_f32h_none, true, 0, true)
EMBED_LAYERNORM_R(embed_layernorm_f32h_f16, true, 1, true)
EMBED_LAYERNORM_R(embed_layernorm_f32h_i8, true, 2, true)

#define RESIDUAL_LAYERNORM_R(NAME, F32, ADD, COPY, ROUND)                                                                  \
    extern "C" __global__ void NAME(const void *local, const void *residual, float localStep, float residualStep,          \
                                    const float *gamma, const float *beta, float eps, int H, void *out, void *copy,         \
                                    float qScale) {                                                                        \
        residual_layernorm<F32, ADD, COPY, ROUND>(local, residual, localStep, residualStep, gamma, beta, eps, H, out, copy,  \
                                                  qScale);                                                                 \
    }
#define RESIDUAL_LAYERNORM(NAME, F32, ADD, COPY) RESIDUAL_LAYERNORM_R(NAME, F32, ADD, COPY, false)
RESIDUAL_LAYERNORM(residual_layernorm_f32_float_none, true, 0, 0)
RESIDUAL_LAYERNORM(residual_layernorm_f32_float_f16, true, 0, 1)
RESIDUAL_LAYERNORM(residual_layernorm_f32_float_i8, true, 0, 2)
RESIDUAL_LAYERNORM(residual_layernorm_f32_qdq_none, true, 1, 0)
RESIDUAL_LAYERNORM(residual_layernorm_f32_qdq_f16, true, 1, 1)
RESIDUAL_LAYERNORM(residual_layernorm_f32_qdq_i8, true, 1, 2)
RESIDUAL_LAYERNORM(residual_layernorm_f32_summed_none, true, 2, 0)
RESIDUAL_LAYERNORM(residual_layernorm_f32_summed_f16, true, 2, 1)
RESIDUAL_LAYERNORM(residual_layernorm_f32_summed_i8, true, 2, 2)
RESIDUAL_LAYERNORM(residual_layernorm_f16_float_none, false, 0, 0)
RESIDUAL_LAYERNORM(residual_layernorm_f16_float_f16, false, 0, 1)
RESIDUAL_LAYERNORM(residual_layernorm_f16_float_i8, false, 0, 2)
RESIDUAL_LAYERNORM(residual_layernorm_f16_qdq_none, false, 1, 0)
RESIDUAL_LAYERNORM(residual_layernorm_f16_qdq_f16, false, 1, 1)
RESIDUAL_LAYERNORM(residual_layernorm_f16_qdq_i8, false, 1, 2)
RESIDUAL_LAYERNORM_R(residual_layernorm_f32h_float_none, true, 0, 0, true)
RESIDUAL_LAYERNORM_R(residual_layernorm_f32h_float_f16, true, 0, 1, true)
RESIDUAL_LAYERNORM_R(residual_layernorm_f32h_float_i8, true, 0, 2, true)
RESIDUAL_LAYERNORM_R(residual_layernorm_f32h_qdq_none, true, 1, 0, true)
RESIDUAL_LAYERNORM_R(residual_layernorm_f32h_qdq_f16, true, 1, 1, true)
RESIDUAL_LAYERNORM_R(residual_layernorm_f32h_qdq_i8, true, 1, 2, true)
