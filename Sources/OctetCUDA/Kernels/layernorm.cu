// layernorm: the two LayerNorms of BERT with their neighbours fused, one block per token (H ≤ 1024, H % 128 == 0; the
// codes LayerNorms' `_rows` kernels take several tokens per block in turn).
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
// Why the f16x8 kernels (residual_layernorm_f16x8_<qdq|float>_<...>, an fp16 stream, H % 256 == 0): with many rows
// (batch 128) these kernels are a memory stream, and how many bytes each multiprocessor has in flight decides their
// speed. With one quad per thread an fp16 stream loads 8 bytes per thread and array where a float32 one loads 16:
// session 24 measured BERT-large s128 b128's two LayerNorms at 95 µs per layer with the fp16 stream against 104 with
// float32, 2.4 TB/s against 4.0 for the bytes each moves. Two quads per thread (H/8 threads, one 16-byte load per
// array) give fp16 the float32 kernel's bytes per load; at batch 1 the quad kernels stay (latency: session 20 measured
// two quads per thread slower there).
//
// Layout: row-major [tokens, H]; block = one token, H/4 threads (H % 128 == 0, so whole warps), thread i holds
// elements 4i…4i+3 (one 16-byte load of float32 or 8-byte load of fp16, coalesced); f16x8: H/8 threads, thread i
// holds elements 8i…8i+7 (one 16-byte load).
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

// Q quads from element i on: Q loads of 16 bytes (float32) or, for fp16, one of 8 (Q = 1) or 16 bytes (Q = 2).
template <bool F32, int Q> __device__ __forceinline__ void load_quads(const void *p, size_t i, float4 (&v)[Q]) {
    static_assert(Q == 1 || Q == 2, "one or two quads per thread");
    if (F32 || Q == 1) {
#pragma unroll
        for (int q = 0; q < Q; q++) v[q] = load4<F32>(p, i + 4 * q);
    } else {
        const uint4 u = *reinterpret_cast<const uint4 *>(static_cast<const f16 *>(p) + i);
        const float2 a = f16x2_to_float2(u.x), b = f16x2_to_float2(u.y), c = f16x2_to_float2(u.z), d = f16x2_to_float2(u.w);
        v[0] = make_float4(a.x, a.y, b.x, b.y);
        v[Q - 1] = make_float4(c.x, c.y, d.x, d.y);
    }
}

// Q quads stored from element i on, as `load_quads` reads them.
template <bool F32, int Q> __device__ __forceinline__ void store_quads(void *p, size_t i, const float4 (&v)[Q]) {
    if (F32 || Q == 1) {
#pragma unroll
        for (int q = 0; q < Q; q++) store4<F32>(p, i + 4 * q, v[q]);
    } else {
        *reinterpret_cast<uint4 *>(static_cast<f16 *>(p) + i) = make_uint4(float2_to_f16x2(v[0].x, v[0].y), float2_to_f16x2(v[0].z, v[0].w),
                                                                          float2_to_f16x2(v[Q - 1].x, v[Q - 1].y),
                                                                          float2_to_f16x2(v[Q - 1].z, v[Q - 1].w));
    }
}

// The sum of v over the block (all threads get it); `slots` holds one partial per warp. The slots past the block's
// warps are zeroed (by threads of warp 0, which no warp's leader overwrites) before the barrier, so every thread adds
// all MAX_WARPS slots unconditionally: two 16-byte loads and seven adds, where testing each slot against the warp count
// took about 30 instructions per call in the x8 LayerNorms (cuobjdump: uniform predicates, moves to uniform registers
// and predicated adds per slot), two calls per row. The same sum in the same order, plus zeros: the same value (a −0
// total comes out +0).
__device__ __forceinline__ float block_sum(float v, float *slots) {
    const int warp = threadIdx.x / 32, warps = blockDim.x / 32;
    v = warp_sum(v);
    if (threadIdx.x % 32 == 0) slots[warp] = v;
    if (threadIdx.x >= warps && threadIdx.x < MAX_WARPS) slots[threadIdx.x] = 0.f;
    __syncthreads();
    float total = slots[0];
#pragma unroll
    for (int w = 1; w < MAX_WARPS; w++) total += slots[w];
    return total;
}

// fp16's value of each element (round to nearest even), kept as float.
__device__ __forceinline__ float4 round_to_half4(float4 v) {
    const float2 lo = f16x2_to_float2(float2_to_f16x2(v.x, v.y)), hi = f16x2_to_float2(float2_to_f16x2(v.z, v.w));
    return make_float4(lo.x, lo.y, hi.x, hi.y);
}

// y = d · inverse · gamma + beta for Q quads of centred values d from element i on, written to the stream and (COPY > 0)
// the copy: the last step of every LayerNorm here.
// CODES (an fp16 stream, two quads per thread): the stream is stored as the next residual add's int8 codes of the fp16
// values, sat(rint(fp16(y) / outStep)) (`residual_layernorm_codes`), 8 bytes per thread; with COPY = 3 (merged) into
// `copy`, where they are the next GEMM's int8 input too (its step is outStep), and `out` is not written.
template <bool F32, int COPY, bool ROUND, int Q, bool CODES = false>
__device__ __forceinline__ void store_normalized(const float4 (&d)[Q], float inverse, const float4 (&g)[Q], const float4 (&b)[Q],
                                                 void *out, void *copy, float qScale, size_t i, float outStep, float outInverse) {
    float4 y[Q];
#pragma unroll
    for (int q = 0; q < Q; q++) {
        y[q] = make_float4(d[q].x * inverse * g[q].x + b[q].x, d[q].y * inverse * g[q].y + b[q].y, d[q].z * inverse * g[q].z + b[q].z,
                           d[q].w * inverse * g[q].w + b[q].w);
        // An fp16 stream with an int8 copy (the INT8 engine with the recipe's fp16 stream), or its float32 storage: the
        // quantizer reads the stored fp16 value, as the CPU reference and the Q/DQ export's Cast pair do.
        if ((!F32 && COPY == 2) || ROUND || CODES) y[q] = round_to_half4(y[q]);
    }
    if constexpr (CODES) {
        static_assert(!F32 && Q == 2, "codes of an fp16 stream, two quads per thread");
        auto code = [&](float v) { return quantize_code_bits(v, outStep, outInverse); };
        *reinterpret_cast<uint2 *>(static_cast<signed char *>(COPY == 3 ? copy : out) + i) =
            make_uint2(pack_s8x4(code(y[0].x), code(y[0].y), code(y[0].z), code(y[0].w)),
                       pack_s8x4(code(y[1].x), code(y[1].y), code(y[1].z), code(y[1].w)));
    } else {
        store_quads<F32, Q>(out, i, y);
    }
    if (COPY == 1) {
        store_quads<false, Q>(copy, i, y);
    } else if (COPY != 3) {
#pragma unroll
        for (int q = 0; q < Q; q++) store_copy4<COPY>(copy, i + 4 * q, y[q], qScale);
    }
}

// Normalizes the thread's Q quads x (elements 4·Q·threadIdx.x on of the row) and writes the stream and (COPY > 0) the
// copy. ROUND (with F32): a float32 stream that holds fp16 values (the recipe's fp16 stream stored as float32, where
// those kernels are faster): y is rounded to fp16 before both stores, the values an fp16 stream would hold.
// A block may normalize several rows in turn (`residual_layernorm_codes`'s ROWS) with the same slots: each slot array is
// read after its barrier and written again only after the other array's barrier, which every reader reaches after
// its reads.
template <bool F32, int COPY, bool ROUND = false, int Q = 1, bool CODES = false>
__device__ __forceinline__ void normalize_store(const float4 (&x)[Q], const float4 (&g)[Q], const float4 (&b)[Q], int H, float eps,
                                                void *out, void *copy, float qScale, size_t row, float outStep = 0.f,
                                                float outInverse = 0.f) {
    __shared__ float slots[2][MAX_WARPS];
    float sum = 0.f;
#pragma unroll
    for (int q = 0; q < Q; q++) sum += (x[q].x + x[q].y) + (x[q].z + x[q].w);
    const float mean = block_sum(sum, slots[0]) / H;
    float4 d[Q];
    float squares = 0.f;
#pragma unroll
    for (int q = 0; q < Q; q++) {
        d[q] = make_float4(x[q].x - mean, x[q].y - mean, x[q].z - mean, x[q].w - mean);
        squares += (d[q].x * d[q].x + d[q].y * d[q].y) + (d[q].z * d[q].z + d[q].w * d[q].w);
    }
    const float inverse = rsqrtf(block_sum(squares, slots[1]) / H + eps);
    store_normalized<F32, COPY, ROUND, Q, CODES>(d, inverse, g, b, out, copy, qScale, row * H + 4 * Q * threadIdx.x, outStep, outInverse);
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
    const float4 x[1] = {make_float4(w.x + p.x + t.x, w.y + p.y + t.y, w.z + p.z + t.z, w.w + p.w + t.w)};
    normalize_store<F32, COPY, ROUND>(x, {g}, {b}, H, eps, out, copy, qScale, row);
}

// The residual add of a quad: 0 a float add, 1 the add's Q/DQ on both inputs through the steps' reciprocals
// (`fake_quantize_fast`), 3 the same by exact division (steps outside `quantize_inverse`'s range), 2 summed already
// (x = local).
template <int ADD>
__device__ __forceinline__ float4 residual_add(float4 l, float4 r, float localStep, float residualStep, float localInverse,
                                               float residualInverse) {
    if (ADD == 2) return l;
    if (ADD == 1 || ADD == 3) {
        // One value's Q/DQ plus its partner's: by reciprocal (1) or by division (3).
        auto add = [&](float a, float b) {
            return ADD == 1 ? fake_quantize_fast(a, localStep, localInverse) + fake_quantize_fast(b, residualStep, residualInverse)
                            : fake_quantize(a, localStep) + fake_quantize(b, residualStep);
        };
        return make_float4(add(l.x, r.x), add(l.y, r.y), add(l.z, r.z), add(l.w, r.w));
    }
    return make_float4(l.x + r.x, l.y + r.y, l.z + r.z, l.w + r.w);
}

template <bool F32, int ADD, int COPY, bool ROUND, int Q>
__device__ __forceinline__ void residual_layernorm_with(const void *__restrict__ local, const void *__restrict__ residual,
                                                        float localStep, float residualStep, float localInverse, float residualInverse,
                                                        const float *__restrict__ gamma, const float *__restrict__ beta, float eps,
                                                        int H, void *__restrict__ out, void *__restrict__ copy, float qScale) {
    const int row = blockIdx.x;
    float4 g[Q], b[Q];
#pragma unroll
    for (int q = 0; q < Q; q++) {  // weights: before the producer ends
        g[q] = __ldg(reinterpret_cast<const float4 *>(gamma) + Q * threadIdx.x + q);
        b[q] = __ldg(reinterpret_cast<const float4 *>(beta) + Q * threadIdx.x + q);
    }
    wait_for_producers();
    allow_dependents();
    const size_t i = (size_t)row * H + 4 * Q * threadIdx.x;
    static_assert(!ROUND || (F32 && ADD != 2), "a rounded stream is a float32 one, and the GEMM's sum is not rounded");
    float4 l[Q], r[Q] = {}, x[Q];  // r: unread by the summed add
    load_quads<F32, Q>(local, i, l);
    if (ADD != 2) load_quads<F32, Q>(residual, i, r);
#pragma unroll
    for (int q = 0; q < Q; q++)
        x[q] = residual_add<ADD>(ROUND ? round_to_half4(l[q]) : l[q], r[q], localStep, residualStep, localInverse, residualInverse);
    normalize_store<F32, COPY, ROUND, Q>(x, g, b, H, eps, out, copy, qScale, row);
}

// The exact-division form of the add's Q/DQ, called only for steps `quantize_inverse` leaves out: not inlined, so its
// registers do not add to the fast form's (inlined beside it they took the x8 kernel from 47 registers to 56, ten
// blocks per multiprocessor to nine).
template <bool F32, int COPY, bool ROUND, int Q>
__device__ __noinline__ void residual_layernorm_exact(const void *__restrict__ local, const void *__restrict__ residual, float localStep,
                                                      float residualStep, const float *__restrict__ gamma, const float *__restrict__ beta,
                                                      float eps, int H, void *__restrict__ out, void *__restrict__ copy, float qScale) {
    residual_layernorm_with<F32, 3, COPY, ROUND, Q>(local, residual, localStep, residualStep, 0.f, 0.f, gamma, beta, eps, H, out, copy, qScale);
}

// ADD: 0 float add, 1 the add's Q/DQ, 2 summed (x = local; `residual` unread). ROUND: the float32 `local` is rounded
// to fp16 first (the value an fp16-output GEMM would have stored), and y before its stores (`normalize_store`).
// Q: quads per thread (the block has H / (4·Q) threads). With the add's Q/DQ, steps that `quantize_inverse` leaves out
// (0 aside) take the exact division instead (`residual_layernorm_exact`), a branch the whole grid takes alike.
template <bool F32, int ADD, int COPY, bool ROUND = false, int Q = 1>
__device__ __forceinline__ void residual_layernorm(const void *__restrict__ local, const void *__restrict__ residual,
                                                   float localStep, float residualStep, const float *__restrict__ gamma,
                                                   const float *__restrict__ beta, float eps, int H, void *__restrict__ out,
                                                   void *__restrict__ copy, float qScale) {
    float localInverse = 0.f, residualInverse = 0.f;
    if (ADD == 1) {
        localInverse = quantize_inverse(localStep);
        residualInverse = quantize_inverse(residualStep);
        if ((localStep > 0 && localInverse == 0) || (residualStep > 0 && residualInverse == 0)) {
            residual_layernorm_exact<F32, COPY, ROUND, Q>(local, residual, localStep, residualStep, gamma, beta, eps, H, out, copy, qScale);
            return;
        }
    }
    residual_layernorm_with<F32, ADD, COPY, ROUND, Q>(local, residual, localStep, residualStep, localInverse, residualInverse, gamma, beta,
                                                      eps, H, out, copy, qScale);
}

// The residual codes (session 33): an fp16 stream whose residual adds all quantize both inputs (the recipe's Q/DQ adds)
// needs only the adds' int8 codes between kernels, not fp16 values. The GEMM before each LayerNorm stores the code of
// its output (gemm_wgmma.cu's OUT_CODE: sat(rint(fp16(v) / localStep))), and each LayerNorm stores, beside the int8
// copy for the next GEMM, the code of its fp16 output for the next add (outStep: that add's residual step) instead of
// the output. The codes are the integers `residual_layernorm<false, 1, …, 2>`'s `fake_quantize_fast` rounds to, in 1
// byte per element where that kernel moves 2: at BERT-large s128 b128 the LayerNorm's bytes go from 117 MB to 67
// (local and residual read, the stream and the copy written, a byte each), and each GEMM writes 16 MB less. The add is
// code · step + code · step with each product rounded, as the CPU reference adds its two fake-quantized arrays
// (`__fmul_rn` keeps the compiler from fusing one product into the add, as it does in that kernel: an FFMA in its
// SASS, one rounding fewer than the CPU), so x matches the CPU's and may differ from that kernel's in the last bit.
// RES_CODE: the residual input is codes (false: layer 0's first add, which reads the embedding LayerNorm's fp16
// stream); OUT_CODE: the output is codes (false: the last LayerNorm, whose fp16 stream the QA head reads). The x8
// form's layout: H/8 threads per row, 8 elements (8 bytes of each code array) per thread. (16 elements per thread,
// one 16-byte load per code array, measured 1% slower at BERT-large s128 b128 and no faster at s384: session 33,
// `rejected-wide-code-layernorm.diff`.) Every step is in `quantize_inverse`'s range (the host's condition for the codes).
// ROWS (the `_rows` kernels, `OCTET_LN_ROWS`): the block normalizes ⌈rows / gridDim.x⌉ consecutive rows in turn, so
// the weights' loads, the steps' reciprocals and the addressing (about 80 instructions, cuobjdump) are paid once per
// block; a row then takes about 300 instructions per thread where the one-row kernel takes 376 (the merged c8 form).
// The grid has ⌈rows / rows per block⌉ blocks. Each row's arithmetic is the one-row kernel's. The engine takes 4 rows per
// block from 32 rows per multiprocessor (session 35's A/B at batch 128: 0.7–1.0% faster per pass than one row per
// block, 2 and 8 in between).
template <bool RES_CODE, bool OUT_CODE, int COPY, bool ROWS = false>
__device__ __forceinline__ void residual_layernorm_codes(const void *__restrict__ local, const void *__restrict__ residual,
                                                         float localStep, float residualStep, const float *__restrict__ gamma,
                                                         const float *__restrict__ beta, float eps, int H, void *__restrict__ out,
                                                         void *__restrict__ copy, float qScale, float outStep, int rows = 0) {
    constexpr int Q = 2;
    float4 g[Q], b[Q];
#pragma unroll
    for (int q = 0; q < Q; q++) {  // weights: before the producer ends
        g[q] = __ldg(reinterpret_cast<const float4 *>(gamma) + Q * threadIdx.x + q);
        b[q] = __ldg(reinterpret_cast<const float4 *>(beta) + Q * threadIdx.x + q);
    }
    const float residualInverse = quantize_inverse(residualStep), outInverse = OUT_CODE ? quantize_inverse(outStep) : 0.f;
    wait_for_producers();
    allow_dependents();
    // One row's add and normalization.
    auto normalize_row = [&](size_t row) {
        const size_t i = row * H + 4 * Q * threadIdx.x;
        // (__ldg: the read-only load the one-row kernel's `__restrict__` gave it, which the lambda's capture loses.)
        const uint2 l = __ldg(reinterpret_cast<const uint2 *>(static_cast<const signed char *>(local) + i));
        float r[8];
        if (RES_CODE) {  // merged (COPY = 3): the previous LayerNorm's codes are in `copy`, which this one then overwrites
            const uint2 w = COPY == 3 ? *reinterpret_cast<const uint2 *>(static_cast<const signed char *>(copy) + i)
                                      : __ldg(reinterpret_cast<const uint2 *>(static_cast<const signed char *>(residual) + i));
#pragma unroll
            for (int k = 0; k < 4; k++) {
                r[k] = s8_to_float(w.x, k);
                r[4 + k] = s8_to_float(w.y, k);
            }
        } else {
            float4 v[Q];
            load_quads<false, Q>(residual, i, v);
            const float f[8] = {v[0].x, v[0].y, v[0].z, v[0].w, v[1].x, v[1].y, v[1].z, v[1].w};
#pragma unroll
            for (int k = 0; k < 8; k++) r[k] = quantize_code(f[k], residualStep, residualInverse);
        }
        auto add = [&](unsigned w, int k, float code) { return __fadd_rn(__fmul_rn(s8_to_float(w, k), localStep), __fmul_rn(code, residualStep)); };
        const float4 x[Q] = {make_float4(add(l.x, 0, r[0]), add(l.x, 1, r[1]), add(l.x, 2, r[2]), add(l.x, 3, r[3])),
                             make_float4(add(l.y, 0, r[4]), add(l.y, 1, r[5]), add(l.y, 2, r[6]), add(l.y, 3, r[7]))};
        normalize_store<false, COPY, false, Q, OUT_CODE>(x, g, b, H, eps, out, copy, qScale, row, outStep, outInverse);
    };
    if constexpr (ROWS) {
        // The same rows for every thread of the block, so the barriers inside are safe.
        const int per = (rows + gridDim.x - 1) / gridDim.x, first = blockIdx.x * per, last = min(rows, first + per);
        for (int row = first; row < last; row++) normalize_row((size_t)row);
    } else {
        normalize_row(blockIdx.x);
    }
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

#define RESIDUAL_LAYERNORM_RQ(NAME, F32, ADD, COPY, ROUND, Q)                                                              \
    extern "C" __global__ void NAME(const void *local, const void *residual, float localStep, float residualStep,          \
                                    const float *gamma, const float *beta, float eps, int H, void *out, void *copy,         \
                                    float qScale) {                                                                        \
        residual_layernorm<F32, ADD, COPY, ROUND, Q>(local, residual, localStep, residualStep, gamma, beta, eps, H, out,    \
                                                     copy, qScale);                                                        \
    }
#define RESIDUAL_LAYERNORM_R(NAME, F32, ADD, COPY, ROUND) RESIDUAL_LAYERNORM_RQ(NAME, F32, ADD, COPY, ROUND, 1)
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
// f16x8: the fp16 stream with two quads per thread (many rows).
RESIDUAL_LAYERNORM_RQ(residual_layernorm_f16x8_float_none, false, 0, 0, false, 2)
RESIDUAL_LAYERNORM_RQ(residual_layernorm_f16x8_float_f16, false, 0, 1, false, 2)
RESIDUAL_LAYERNORM_RQ(residual_layernorm_f16x8_float_i8, false, 0, 2, false, 2)
RESIDUAL_LAYERNORM_RQ(residual_layernorm_f16x8_qdq_none, false, 1, 0, false, 2)
RESIDUAL_LAYERNORM_RQ(residual_layernorm_f16x8_qdq_f16, false, 1, 1, false, 2)
RESIDUAL_LAYERNORM_RQ(residual_layernorm_f16x8_qdq_i8, false, 1, 2, false, 2)
// The residual codes (`residual_layernorm_codes`): residual_layernorm_f16x8_codes_<residual: f16|c8>_<output: f16|c8>_<copy>,
// and beside each its several-rows form `…_rows` (ROWS; 4 rows per block by default from 32 rows per multiprocessor,
// `OCTET_LN_ROWS=1|2|4|8` to choose), the same kernel with the row count `rows` last.
#define RESIDUAL_LAYERNORM_CODES(NAME, RES_CODE, OUT_CODE, COPY)                                                           \
    extern "C" __global__ void NAME(const void *local, const void *residual, float localStep, float residualStep,          \
                                    const float *gamma, const float *beta, float eps, int H, void *out, void *copy,         \
                                    float qScale, float outStep) {                                                         \
        residual_layernorm_codes<RES_CODE, OUT_CODE, COPY>(local, residual, localStep, residualStep, gamma, beta, eps, H,   \
                                                           out, copy, qScale, outStep);                                    \
    }                                                                                                                      \
    extern "C" __global__ void NAME##_rows(const void *local, const void *residual, float localStep, float residualStep,   \
                                           const float *gamma, const float *beta, float eps, int H, void *out, void *copy,  \
                                           float qScale, float outStep, int rows) {                                        \
        residual_layernorm_codes<RES_CODE, OUT_CODE, COPY, true>(local, residual, localStep, residualStep, gamma, beta,     \
                                                                 eps, H, out, copy, qScale, outStep, rows);                \
    }
RESIDUAL_LAYERNORM_CODES(residual_layernorm_f16x8_codes_f16_c8_i8, false, true, 2)
RESIDUAL_LAYERNORM_CODES(residual_layernorm_f16x8_codes_c8_c8_i8, true, true, 2)
RESIDUAL_LAYERNORM_CODES(residual_layernorm_f16x8_codes_c8_f16_none, true, false, 0)
// Merged (the default since session 34; `OCTET_MERGED_CODES=0` keeps two arrays): where the next add's residual step and
// the next GEMM's input step are one step (a calibrator gives the same tensor the same amax), one array of codes serves
// both, and the GEMM's input is then quantized by the exact quotient, as the CPU reference's QuantizeLinear divides,
// not by the reciprocal's product: 16 MB less written per LayerNorm at BERT-large s128 b128. Each thread reads its
// residual codes from `copy` before it overwrites the same bytes with its own.
RESIDUAL_LAYERNORM_CODES(residual_layernorm_f16x8_codes_f16_merged, false, true, 3)
RESIDUAL_LAYERNORM_CODES(residual_layernorm_f16x8_codes_c8_merged, true, true, 3)
