// attention_mma: fused multi-head self-attention on tensor cores, for one (64 queries, head, batch) per block.
//
// The same function as attention.cu (QDQBERT's Q/DQ pairs executed as integer products; see there for the math):
//   s[i, j] = (Σ_d q8[i, d]·k8[j, d]) · qStep·kStep / √D + mask[j]      (QK8; else fp16 q, k and 1/√D)
//   p[i, j] = softmax_j(s[i, j]);   p8 = rint(p / pStep) ∈ [0, 255] or [0, 127]   (PV8; else fp16 p)
//   ctx[i, d] = (Σ_j p8[i, j]·v8[j, d]) · pStep·vStep                    (PV8; else fp16 p·v with float sums)
//   out = int8 sat(rint(ctx · outQScale)) when outQScale > 0, else fp16
//
// Why two passes over the keys when P is quantized: the quantized probabilities must be the final normalized ones (the
// CPU reference quantizes softmax's output), which an online softmax only knows at the end. With both products in
// fp16 nothing needs them final, and `attention_flash` (below) makes one pass with an online softmax instead. Pass 1 computes each row's max and sum
// chunk by chunk; pass 2 recomputes the scores (a few tensor-core instructions), normalizes, quantizes and multiplies
// by V. Scores never leave registers.
//
// Layout: each warp owns 16 query rows; 4 warps per block. K is staged in shared memory as [key][d] (int8 or fp16,
// rows padded by 16 bytes), V transposed as Vᵀ [d][key], keys padded with zeros to a multiple of 64 (masked). Both
// products use mma.sync: m16n8k32 s8·s8 for QKᵀ and u8·s8 for P·V (or m16n8k16 f16), operands by ldmatrix. The
// score accumulators (rows g, g+8; keys 2t, 2t+1 of each 8-key block) become P·V's A operand in registers: for fp16
// directly (FlashAttention-2's layout identity); for int8 a 32-key A fragment wants keys 4t…4t+3, so thread t packs
// keys {2t, 2t+1, 8+2t, 9+2t} instead and Vᵀ's keys are stored in that same permuted order (a sum over keys does not
// care about their order, only that P and V agree).
//
// Staging (latency, not bandwidth, is what a block of 128 threads staging a few tens of kilobytes waits on): the input
// kind is a template parameter, so each load sits in straight-line code; every load a thread needs is issued before
// the first store that uses it. With int8 input (the INT8 engine: the QKV GEMM already quantized Q, K and V with the
// attention's steps) K and the queries are plain row copies, done with cp.async straight into shared memory, and only
// V passes through registers to be transposed. Name: attention_mma_d<D>_<qk>_<pv>_<in>, in = f16in, f32in or i8in.
//
// Batches come padded (sequence b is rows b·S …, padding masked) or packed: only the real tokens, back to back, with
// `offsets` (B + 1 row indices) saying where each sequence starts, as TensorRT's variable-sequence-length BERT does, so
// the GEMMs around the attention spend nothing on padding (`sequence_span`).
#include "common.cuh"
#include "flash.cuh"

namespace {
constexpr int WARPS = 4;


template <bool C, class A, class B> struct Select { typedef A T; };
template <class A, class B> struct Select<false, A, B> { typedef B T; };

__device__ __forceinline__ void mma_s8(int (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma_u8s8(int (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+r"(c[0]), "+r"(c[1]), "+r"(c[2]), "+r"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}
__device__ __forceinline__ void mma_f16(float (&c)[4], const unsigned (&a)[4], unsigned b0, unsigned b1) {
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3]) : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

// Q, K and V arrive as fp16 (IN 0), float32 (1), or int8 already quantized by the QKV GEMM's epilogue with the
// attention's own steps (2: the INT8 engine's path, a quarter of the bytes of float32). `load8` reads 8 consecutive
// elements of fp16 or float32 (16 bytes of fp16, two 16-byte loads of float32).
template <int IN> __device__ __forceinline__ void load8(const void *qkv, size_t i, float (&v)[8]) {
    if (IN == 1) {
        float4 a = *reinterpret_cast<const float4 *>(static_cast<const float *>(qkv) + i), b = *reinterpret_cast<const float4 *>(static_cast<const float *>(qkv) + i + 4);
        v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
    } else {
        uint4 a = *reinterpret_cast<const uint4 *>(static_cast<const f16 *>(qkv) + i);
        unsigned w[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
        for (int k = 0; k < 4; k++) { float2 f = f16x2_to_float2(w[k]); v[2 * k] = f.x; v[2 * k + 1] = f.y; }
    }
}

// Where key offset r (0…31) of a 32-key group sits in Vᵀ's permuted int8 order (see the header).
__device__ __forceinline__ int permuted(int r) {
    int h = r / 16, q = r % 16;
    int t = q < 8 ? q / 2 : (q - 8) / 2, e = q < 8 ? q % 2 : 2 + (q - 8) % 2;
    return 16 * h + 4 * t + e;
}


// Pass 1 over one chunk of scores (s[block][0..1] row g, [2..3] row g + 8): each row's running max and sum of
// exponentials, updated online. A row whose keys so far are all masked keeps max −∞ and sum 0.
__device__ __forceinline__ void online_max_sum(const float (&s)[8][4], float (&rowMax)[2], float (&rowSum)[2]) {
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const float m = fmaxf(row_max(s, r), rowMax[r]);
        if (m == -INFINITY) continue;  // every key so far masked
        float sum = 0.f;
#pragma unroll
        for (int jb = 0; jb < 8; jb++) sum += __expf(s[jb][2 * r] - m) + __expf(s[jb][2 * r + 1] - m);
        rowSum[r] = rowSum[r] * __expf(rowMax[r] - m) + quad_sum(sum);
        rowMax[r] = m;
    }
}

// The probabilities' quantizer, p8 = rint(p / step) in [0, 255] (unsigned) or [0, 127], as the CPU's quantizer computes
// it (an exactly rounded division) without dividing in the common case: x = p · (1/step) is within 3 ulp of p / step
// (one rounding in the reciprocal, one in the product), and ulp(x) ≤ 2⁻¹⁶ for x < 256, so unless x lies within 10⁻³ of
// a half-integer both round to the same integer; the rare rest takes the exact division. Probabilities below a
// quarter step are 0 without either (their quotients round to 0 anyway), which keeps the tiny and subnormal ones off
// the division's slow path: with peaked softmaxes that path cost more than the rest of the kernel. (Tolerance: exact.)
struct ProbabilityQuantizer {
    float step, qScale, quarterStep, max;
    __device__ __forceinline__ ProbabilityQuantizer(float step, int isUnsigned)
        : step(step), qScale(1.f / step), quarterStep(0.25f * step), max(isUnsigned ? 255.f : 127.f) {}
    __device__ __forceinline__ float operator()(float p) const {
        if (p < quarterStep) return 0.f;
        const float x = p * qScale;
        return fminf(fabsf(x - floorf(x) - 0.5f) < 1e-3f ? rintf(__fdiv_rn(p, step)) : rintf(x), max);
    }
};

// Pass 2's probabilities of one chunk in place: p = exp(s − rowMax) · inverse (rowMax and 1/sum of the whole row),
// quantized when QUANTIZE.
template <bool QUANTIZE>
__device__ __forceinline__ void normalize(float (&s)[8][4], const float (&rowMax)[2], const float (&inverse)[2],
                                          const ProbabilityQuantizer &quantize) {
#pragma unroll
    for (int jb = 0; jb < 8; jb++)
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const float p = __expf(s[jb][e] - rowMax[e / 2]) * inverse[e / 2];
            s[jb][e] = QUANTIZE ? quantize(p) : p;
        }
}

template <int D, bool QK8, bool PV8, int IN>
__device__ __forceinline__ void attention(const void *__restrict__ qkv, const int *__restrict__ mask, const int *__restrict__ offsets, int Smax, int heads,
                                          float qStep, float kStep, float pStep, int pUnsigned, float vStep, float outQScale,
                                          void *__restrict__ out) {
    constexpr int QK_BYTES = D * (QK8 ? 1 : 2), K_ROW = QK_BYTES + 16;
    constexpr int V_ELEM = PV8 ? 1 : 2;
    extern __shared__ __align__(16) unsigned char smem[];
    const int H = heads * D, ld = 3 * H;
    const int b = blockIdx.z, head = blockIdx.y, q0 = blockIdx.x * WARPS * ROWS;
    const Span span = sequence_span(offsets, Smax, b);
    const int S = span.length;
    if (q0 >= S) return;  // past a shorter packed sequence's end (a split cluster shares q0: all its blocks leave)
    const int Spad = (S + KEY_CHUNK - 1) / KEY_CHUNK * KEY_CHUNK, V_ROW = Spad * V_ELEM + 16;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    unsigned char *Ks = smem, *Vt = Ks + Spad * K_ROW, *Qs = Vt + D * V_ROW;
    float *maskAdd = reinterpret_cast<float *>(Qs + WARPS * ROWS * K_ROW);
    const size_t base = (size_t)span.first * ld + head * D;
    static_assert(IN != 2 || (QK8 && PV8), "int8 input is only planned when the attention quantizes Q, K and V");
    wait_for_producers();
    allow_dependents();

    // The additive mask first (S ≤ 512: at most 4 keys per thread), so its loads overlap the staging below.
    int keep[4];
#pragma unroll
    for (int u = 0; u < 4; u++) {
        const int j = threadIdx.x + u * WARPS * 32;
        keep[u] = j < S ? mask[span.first + j] : 0;
    }

    if (IN == 2) {
        // K [key][d] and the queries: row copies into shared memory (zero-filled past S); Vᵀ through registers, one
        // key's 16 d values per step, four steps' loads issued before their stores.
        const signed char *src = static_cast<const signed char *>(qkv);
        constexpr int CHUNKS = D / 16;
        for (int e = threadIdx.x; e < Spad * CHUNKS; e += blockDim.x) {
            const int j = e / CHUNKS, c = (e % CHUNKS) * 16;
            copy16(Ks + j * K_ROW + c, src + base + (size_t)min(j, S - 1) * ld + H + c, j < S);
        }
        for (int e = threadIdx.x; e < WARPS * ROWS * CHUNKS; e += blockDim.x) {
            const int r = e / CHUNKS, c = (e % CHUNKS) * 16, i = q0 + r;
            copy16(Qs + r * K_ROW + c, src + base + (size_t)min(i, S - 1) * ld + c, i < S);
        }
        copy_commit();
        // Key fastest: a warp's 32 lanes take 32 consecutive keys of one 16-feature column, so each byte store lands
        // in one 32-byte span of a Vᵀ row (8 banks, no conflict). With features fastest, 4 lanes' stores fell in one
        // bank (the column groups are 16 rows apart, and 16 rows of a 16-byte-aligned stride are 0 mod 128 bytes).
        for (int e0 = threadIdx.x; e0 < Spad * CHUNKS; e0 += 4 * blockDim.x) {
            uint4 v[4];
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int e = e0 + u * blockDim.x, j = e % Spad, c = (e / Spad) * 16;
                v[u] = e < Spad * CHUNKS && j < S ? *reinterpret_cast<const uint4 *>(src + base + (size_t)j * ld + 2 * H + c)
                                                  : make_uint4(0, 0, 0, 0);
            }
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int e = e0 + u * blockDim.x, j = e % Spad, c = (e / Spad) * 16;
                if (e >= Spad * CHUNKS) continue;
                const unsigned w[4] = {v[u].x, v[u].y, v[u].z, v[u].w};
                const int key = (j & ~31) + permuted(j & 31);
#pragma unroll
                for (int k = 0; k < 16; k++) Vt[(c + k) * V_ROW + key] = (unsigned char)(w[k / 4] >> (8 * (k % 4)));
            }
        }
        copy_wait<0>();
    } else {
        // fp16 or float32 input: 8 elements per thread-step, quantized (QK8, PV8) or converted to fp16 here. K with
        // features fastest (a warp reads whole rows) and one 8- or 16-byte store per step; Vᵀ with keys fastest, so a
        // warp's element stores fill one span of a Vᵀ row instead of piling 4–8 lanes into one bank (see above).
        const int groups = Spad * D / 8;
        for (int e0 = threadIdx.x; e0 < groups; e0 += 4 * blockDim.x) {
            float kv[4][8];
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int e = e0 + u * blockDim.x, j = e / (D / 8), d = (e % (D / 8)) * 8;
                if (e < groups && j < S) load8<IN>(qkv, base + (size_t)j * ld + H + d, kv[u]);
                else
#pragma unroll
                    for (int k = 0; k < 8; k++) kv[u][k] = 0.f;
            }
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int e = e0 + u * blockDim.x, j = e / (D / 8), d = (e % (D / 8)) * 8;
                if (e >= groups) continue;
                if (QK8) {
                    unsigned w[2] = {0, 0};
#pragma unroll
                    for (int k = 0; k < 8; k++) w[k / 4] |= (unsigned)(unsigned char)quantize_s8(kv[u][k], 1.f / kStep) << (8 * (k % 4));
                    *reinterpret_cast<uint2 *>(Ks + j * K_ROW + d) = make_uint2(w[0], w[1]);
                } else {
                    *reinterpret_cast<uint4 *>(Ks + j * K_ROW + 2 * d) =
                        make_uint4(float2_to_f16x2(kv[u][0], kv[u][1]), float2_to_f16x2(kv[u][2], kv[u][3]),
                                   float2_to_f16x2(kv[u][4], kv[u][5]), float2_to_f16x2(kv[u][6], kv[u][7]));
                }
            }
        }
        for (int e0 = threadIdx.x; e0 < groups; e0 += 4 * blockDim.x) {
            float vv[4][8];
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int e = e0 + u * blockDim.x, j = e % Spad, d = (e / Spad) * 8;
                if (e < groups && j < S) load8<IN>(qkv, base + (size_t)j * ld + 2 * H + d, vv[u]);
                else
#pragma unroll
                    for (int k = 0; k < 8; k++) vv[u][k] = 0.f;
            }
#pragma unroll
            for (int u = 0; u < 4; u++) {
                const int e = e0 + u * blockDim.x, j = e % Spad, d = (e / Spad) * 8;
                if (e >= groups) continue;
#pragma unroll
                for (int k = 0; k < 8; k++) {
                    if (PV8) Vt[(d + k) * V_ROW + (j & ~31) + permuted(j & 31)] = quantize_s8(vv[u][k], 1.f / vStep);
                    else reinterpret_cast<f16 *>(Vt + (d + k) * V_ROW)[j] = float_to_f16(vv[u][k]);
                }
            }
        }
        constexpr int Q_STEPS = WARPS * ROWS * D / 8 / (WARPS * 32);  // 4 (D = 64) or 2 (D = 32)
        float q[Q_STEPS][8];
#pragma unroll
        for (int u = 0; u < Q_STEPS; u++) {
            const int e = threadIdx.x + u * WARPS * 32, r = e / (D / 8), d = (e % (D / 8)) * 8, i = q0 + r;
            if (i < S) load8<IN>(qkv, base + (size_t)i * ld + d, q[u]);
            else
#pragma unroll
                for (int k = 0; k < 8; k++) q[u][k] = 0.f;
        }
#pragma unroll
        for (int u = 0; u < Q_STEPS; u++) {
            const int e = threadIdx.x + u * WARPS * 32, r = e / (D / 8), d = (e % (D / 8)) * 8;
#pragma unroll
            for (int k = 0; k < 8; k++) {
                if (QK8) Qs[r * K_ROW + d + k] = quantize_s8(q[u][k], 1.f / qStep);
                else reinterpret_cast<f16 *>(Qs + r * K_ROW)[d + k] = float_to_f16(q[u][k]);
            }
        }
    }
#pragma unroll
    for (int u = 0; u < 4; u++) {
        const int j = threadIdx.x + u * WARPS * 32;
        if (j < Spad) maskAdd[j] = keep[u] ? 0.f : -INFINITY;
    }
    __syncthreads();

    // The warp's 16 query rows as A fragments, one per 32 bytes of d.
    unsigned qa[QK_BYTES / 32][4];
#pragma unroll
    for (int c = 0; c < QK_BYTES / 32; c++) ldmatrix_x4(qa[c], Qs + (warp * ROWS + lane % 16) * K_ROW + c * 32 + (lane / 16) * 16);
    const float scoreScale = (QK8 ? qStep * kStep : 1.f) * rsqrtf((float)D);

    // Scores of the warp's rows against one chunk of 64 keys: s[block][0..1] row g, [2..3] row g+8; keys 8·block + 2t, +1.
    auto scores = [&](int chunk, float (&s)[8][4]) {
#pragma unroll
        for (int jb = 0; jb < 8; jb += 2) {
            const int key0 = chunk * KEY_CHUNK + jb * 8;
            if (QK8) {
                int acc[2][4] = {};
#pragma unroll
                for (int c = 0; c < QK_BYTES / 32; c++) {
                    unsigned r[4];
                    ldmatrix_x4(r, Ks + (key0 + lane % 8 + (lane / 16) * 8) * K_ROW + c * 32 + ((lane / 8) % 2) * 16);
                    mma_s8(acc[0], qa[c], r[0], r[1]);
                    mma_s8(acc[1], qa[c], r[2], r[3]);
                }
#pragma unroll
                for (int h = 0; h < 2; h++)
#pragma unroll
                    for (int e = 0; e < 4; e++) s[jb + h][e] = (float)acc[h][e];
            } else {
                float acc[2][4] = {};
#pragma unroll
                for (int c = 0; c < QK_BYTES / 32; c++) {
                    unsigned r[4];
                    ldmatrix_x4(r, Ks + (key0 + lane % 8 + (lane / 16) * 8) * K_ROW + c * 32 + ((lane / 8) % 2) * 16);
                    mma_f16(acc[0], qa[c], r[0], r[1]);
                    mma_f16(acc[1], qa[c], r[2], r[3]);
                }
#pragma unroll
                for (int h = 0; h < 2; h++)
#pragma unroll
                    for (int e = 0; e < 4; e++) s[jb + h][e] = acc[h][e];
            }
        }
#pragma unroll
        for (int jb = 0; jb < 8; jb++) {
            const int key = chunk * KEY_CHUNK + jb * 8 + 2 * t;
            const float m0 = maskAdd[key], m1 = maskAdd[key + 1];
            s[jb][0] = s[jb][0] * scoreScale + m0;
            s[jb][1] = s[jb][1] * scoreScale + m1;
            s[jb][2] = s[jb][2] * scoreScale + m0;
            s[jb][3] = s[jb][3] * scoreScale + m1;
        }
    };
    // Pass 1: each row's max and sum of exponentials (online over the chunks).
    float rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};
    const int chunks = Spad / KEY_CHUNK;
    for (int chunk = 0; chunk < chunks; chunk++) {
        float s[8][4];
        scores(chunk, s);
        online_max_sum(s, rowMax, rowSum);
    }
    const float inverse[2] = {rowSum[0] > 0 ? 1.f / rowSum[0] : 0.f, rowSum[1] > 0 ? 1.f / rowSum[1] : 0.f};

    // Pass 2: normalized (and quantized) probabilities times V.
    typedef typename Select<PV8, int, float>::T Acc;
    Acc o[D / 8][4] = {};
    const ProbabilityQuantizer quantize(pStep, pUnsigned);
    for (int chunk = 0; chunk < chunks; chunk++) {
        float s[8][4];
        scores(chunk, s);
        normalize<PV8>(s, rowMax, inverse, quantize);
        if (PV8) {
#pragma unroll
            for (int group = 0; group < 2; group++) {  // 32 keys: blocks 4·group … 4·group + 3
                const int b0 = 4 * group;
                auto pack = [&](int blockA, int blockB, int row) {
                    return (unsigned)s[blockA][2 * row] | (unsigned)s[blockA][2 * row + 1] << 8 |
                           (unsigned)s[blockB][2 * row] << 16 | (unsigned)s[blockB][2 * row + 1] << 24;
                };
                unsigned a[4] = {pack(b0, b0 + 1, 0), pack(b0, b0 + 1, 1), pack(b0 + 2, b0 + 3, 0), pack(b0 + 2, b0 + 3, 1)};
                const int key0 = chunk * KEY_CHUNK + group * 32;
#pragma unroll
                for (int jd = 0; jd < D / 8; jd += 2) {
                    unsigned r[4];
                    ldmatrix_x4(r, Vt + (jd * 8 + lane % 8 + (lane / 16) * 8) * V_ROW + key0 + ((lane / 8) % 2) * 16);
                    mma_u8s8(reinterpret_cast<int (&)[4]>(o[jd]), a, r[0], r[1]);
                    mma_u8s8(reinterpret_cast<int (&)[4]>(o[jd + 1]), a, r[2], r[3]);
                }
            }
        } else {
#pragma unroll
            for (int group = 0; group < 4; group++) {  // 16 keys: blocks 2·group, 2·group + 1
                const int b0 = 2 * group;
                unsigned a[4] = {float2_to_f16x2(s[b0][0], s[b0][1]), float2_to_f16x2(s[b0][2], s[b0][3]),
                                 float2_to_f16x2(s[b0 + 1][0], s[b0 + 1][1]), float2_to_f16x2(s[b0 + 1][2], s[b0 + 1][3])};
                const int keyByte = (chunk * KEY_CHUNK + group * 16) * 2;
#pragma unroll
                for (int jd = 0; jd < D / 8; jd += 2) {
                    unsigned r[4];
                    ldmatrix_x4(r, Vt + (jd * 8 + lane % 8 + (lane / 16) * 8) * V_ROW + keyByte + ((lane / 8) % 2) * 16);
                    mma_f16(reinterpret_cast<float (&)[4]>(o[jd]), a, r[0], r[1]);
                    mma_f16(reinterpret_cast<float (&)[4]>(o[jd + 1]), a, r[2], r[3]);
                }
            }
        }
    }

    const float outScale = PV8 ? pStep * vStep : 1.f;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = q0 + warp * ROWS + g + 8 * r;
        if (i >= S) continue;
        const size_t row = ((size_t)span.first + i) * H + head * D;
#pragma unroll
        for (int jd = 0; jd < D / 8; jd++) {
            const int d = jd * 8 + 2 * t;
            float c0 = (float)o[jd][2 * r] * outScale, c1 = (float)o[jd][2 * r + 1] * outScale;
            if (outQScale > 0) {
                char2 q;
                q.x = quantize_s8(c0, outQScale);
                q.y = quantize_s8(c1, outQScale);
                *reinterpret_cast<char2 *>(static_cast<signed char *>(out) + row + d) = q;
            } else {
                *reinterpret_cast<f16x2 *>(static_cast<f16 *>(out) + row + d) = float2_to_f16x2(c0, c1);
            }
        }
    }
}

__device__ __forceinline__ void ldmatrix_x4_trans(unsigned (&r)[4], const void *p) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(smem_address(p)));
}

// The scaled, masked scores of a warp's 16 query rows (A fragments `qa`, one per 32 bytes of a row) against a 64-key
// chunk staged as [key][d] rows of ROW bytes, int8 (m16n8k32, int32 sums) or fp16 (m16n8k16, float sums):
// s[block][0..1] row g, [2..3] row g + 8; keys 8·block + 2t, + 1; `maskAdd`: the chunk's additive mask (0 or −∞).
template <int D, int ROW, bool INT8>
__device__ __forceinline__ void chunk_scores(const unsigned (&qa)[D * (INT8 ? 1 : 2) / 32][4], const unsigned char *Kc,
                                             const float *maskAdd, float scoreScale, int lane, float (&s)[8][4]) {
    typedef typename Select<INT8, int, float>::T Acc;
    const int t = lane % 4;
#pragma unroll
    for (int jb = 0; jb < 8; jb += 2) {
        Acc acc[2][4] = {};
#pragma unroll
        for (int c = 0; c < D * (INT8 ? 1 : 2) / 32; c++) {
            unsigned r[4];
            ldmatrix_x4(r, Kc + (jb * 8 + lane % 8 + (lane / 16) * 8) * ROW + c * 32 + ((lane / 8) % 2) * 16);
            if constexpr (INT8) {
                mma_s8(acc[0], qa[c], r[0], r[1]);
                mma_s8(acc[1], qa[c], r[2], r[3]);
            } else {
                mma_f16(acc[0], qa[c], r[0], r[1]);
                mma_f16(acc[1], qa[c], r[2], r[3]);
            }
        }
#pragma unroll
        for (int e = 0; e < 4; e++) {
            s[jb][e] = (float)acc[0][e];
            s[jb + 1][e] = (float)acc[1][e];
        }
    }
#pragma unroll
    for (int jb = 0; jb < 8; jb++) {
        const float m0 = maskAdd[jb * 8 + 2 * t], m1 = maskAdd[jb * 8 + 2 * t + 1];
        s[jb][0] = s[jb][0] * scoreScale + m0;
        s[jb][1] = s[jb][1] * scoreScale + m1;
        s[jb][2] = s[jb][2] * scoreScale + m0;
        s[jb][3] = s[jb][3] * scoreScale + m1;
    }
}

// FP16 products in both (the FP16 engine): one pass over the keys, FlashAttention-2's schedule. Nothing here is
// quantized, so the probabilities need not be final before P·V: each row keeps a running max m and sum l, and when a
// chunk raises m the partial sums and the output accumulators are scaled by exp(m_old − m_new):
//   p = exp(s − m),   l ← l·c + Σ p,   o ← o·c + p·V,   out = o / l   at the end.
// The scores are kept in log₂ units (log₂e / √D is their scale), so every exponential — p, the correction c and the
// key groups' merge factors — is 2^(a₂ − b₂) = exp(a − b), one `ex2.approx.ftz` each (eleventh session).
// K and V stream through a two-stage ring of 64-key chunks ([key][d] fp16 rows, 16 bytes of padding) filled by
// cp.async while the previous chunk is multiplied, so the shared memory is 5 × 64 rows whatever S is (46 KB at
// D = 64: four blocks per multiprocessor, where staging all of K and Vᵀ took 116 KB at S = 384, one block, 4 warps
// on a multiprocessor). V's B fragments come from its [key][d] rows by ldmatrix .trans, so V is never transposed.
// Float32 input (IN 1) is converted while staging, synchronously. Tolerance as the two-pass kernel's fp16 path: p
// and V rounded to fp16, sums in float32.
//
// Key groups (G > 1, for grids with fewer blocks than multiprocessors: batch 1). A warp's chunks run in series, so a
// block's time is one warp's chain over every key chunk (6 at S = 384) however many blocks the grid has: with 16 heads
// × 6 query tiles at BERT-large s384 b1 the 96 blocks leave 36 multiprocessors idle and each block walks all 384 keys.
// With G groups of 4 warps (128·G threads) group k takes chunks k, k + G, …, each with its own two-stage ring and its
// own named barrier, so the chain is chunks / G long. At the end groups 1 … G − 1 park their running max m, sum l and
// output sums o in shared memory (the rings' buffers, free by then) and group 0 merges them as FlashAttention's
// split-KV (flash-decoding) does: m = max_k m_k, c_k = exp(m_k − m), out = Σ c_k·o_k / Σ c_k·l_k.
// 64 rows from r0 of one column block (col: 0 for Q, H for K, 2H for V) of fp16 (IN 0) or float32 (IN 1) QKV into
// shared memory as fp16 [row][d] rows of ROW bytes; rows past S read as zeros. fp16 goes by cp.async (the caller
// commits and waits), float32 through registers, converted, every load issued before the first store.
template <int D, int IN, int ROW>
__device__ __forceinline__ void stage_rows_f16(unsigned char *dst, const void *__restrict__ qkv, size_t base, int r0, int col, int S, int ld,
                                               int tid = threadIdx.x) {
    constexpr int TILE = WARPS * ROWS, PIECES = D / 8;
    if (IN == 0) {
#pragma unroll
        for (int u = 0; u < TILE * PIECES / (WARPS * 32); u++) {
            const int e = tid + u * WARPS * 32, r = e / PIECES, d = (e % PIECES) * 8, j = r0 + r;
            copy16(dst + r * ROW + 2 * d, static_cast<const f16 *>(qkv) + base + (size_t)min(j, S - 1) * ld + col + d, j < S);
        }
    } else {
        constexpr int STEPS = TILE * PIECES / (WARPS * 32);
        float v[STEPS][8];
#pragma unroll
        for (int u = 0; u < STEPS; u++) {
            const int e = tid + u * WARPS * 32, r = e / PIECES, d = (e % PIECES) * 8, j = r0 + r;
            if (j < S) load8<IN>(qkv, base + (size_t)j * ld + col + d, v[u]);
            else
#pragma unroll
                for (int k = 0; k < 8; k++) v[u][k] = 0.f;
        }
#pragma unroll
        for (int u = 0; u < STEPS; u++) {
            const int e = tid + u * WARPS * 32, r = e / PIECES, d = (e % PIECES) * 8;
            *reinterpret_cast<uint4 *>(dst + r * ROW + 2 * d) =
                make_uint4(float2_to_f16x2(v[u][0], v[u][1]), float2_to_f16x2(v[u][2], v[u][3]),
                           float2_to_f16x2(v[u][4], v[u][5]), float2_to_f16x2(v[u][6], v[u][7]));
        }
    }
}

// P·V of one 64-key chunk in fp16 into float sums (the flash kernels): `s` holds the warp's probabilities as the score
// fragments (chunk_scores' layout), which are P's A fragments as they stand (16 keys: blocks 2·group, 2·group + 1);
// V's B fragments come by ldmatrix .trans from [key][d] rows (matrices: keys 0–7 and 8–15 of d block jd, then jd + 1).
template <int D, int ROW>
__device__ __forceinline__ void pv_chunk_f16(const float (&s)[8][4], const unsigned char *Vc, int lane, float (&o)[D / 8][4]) {
#pragma unroll
    for (int group = 0; group < 4; group++) {
        const int b0 = 2 * group;
        unsigned a[4] = {float2_to_f16x2(s[b0][0], s[b0][1]), float2_to_f16x2(s[b0][2], s[b0][3]),
                         float2_to_f16x2(s[b0 + 1][0], s[b0 + 1][1]), float2_to_f16x2(s[b0 + 1][2], s[b0 + 1][3])};
#pragma unroll
        for (int jd = 0; jd < D / 8; jd += 2) {
            unsigned r[4];
            ldmatrix_x4_trans(r, Vc + (group * 16 + lane % 8 + ((lane / 8) % 2) * 8) * ROW + (jd * 8 + (lane / 16) * 8) * 2);
            mma_f16(o[jd], a, r[0], r[1]);
            mma_f16(o[jd + 1], a, r[2], r[3]);
        }
    }
}


// The key groups' merge (G > 1), FlashAttention's split-KV (flash-decoding) step: groups 1 … G − 1 park their running
// max m, sum l and output sums o in `parked` (free shared memory: rows of D + 8 floats, so a half-warp's float2 stores
// hit 32 distinct banks), and group 0 folds each in: m = max(m, m_k), both sides rescaled by exp(old m − m), in group
// order. Returns false for groups 1 … G − 1 (done) and true for group 0, whose o, rowMax and l then hold the merge.
// Both one-pass kernels with key groups share it (the mma.sync one and the wgmma one).
template <int D, int G>
__device__ __forceinline__ bool merge_key_groups(float *parked, int group, int warp, int g, int t, float (&o)[D / 8][4], float (&rowMax)[2],
                                                 float (&l)[2]) {
    constexpr int OROW = D + 8, TILE = WARPS * ROWS;
    const int part = TILE * (OROW + 2);  // one group's floats: o rows, then m, then l
    __syncthreads();  // every group is done with the rings
    if (group > 0) {
        float *po = parked + (group - 1) * part, *pm = po + TILE * OROW, *pl = pm + TILE;
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int row = warp * ROWS + g + 8 * r;
#pragma unroll
            for (int jd = 0; jd < D / 8; jd++)
                *reinterpret_cast<float2 *>(po + row * OROW + jd * 8 + 2 * t) = make_float2(o[jd][2 * r], o[jd][2 * r + 1]);
            if (t == 0) {
                pm[row] = rowMax[r];
                pl[row] = l[r];
            }
        }
    }
    __syncthreads();
    if (group > 0) return false;
#pragma unroll
    for (int k = 0; k < G - 1; k++) {
        const float *po = parked + k * part, *pm = po + TILE * OROW, *pl = pm + TILE;
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const int row = warp * ROWS + g + 8 * r;
            const float mk = pm[row], m = fmaxf(rowMax[r], mk), shift = m == -INFINITY ? 0.f : m;
            const float c0 = exp2_ftz(rowMax[r] - shift), ck = exp2_ftz(mk - shift);
            rowMax[r] = m;
            l[r] = l[r] * c0 + pl[row] * ck;
#pragma unroll
            for (int jd = 0; jd < D / 8; jd++) {
                const float2 ok = *reinterpret_cast<const float2 *>(po + row * OROW + jd * 8 + 2 * t);
                o[jd][2 * r] = o[jd][2 * r] * c0 + ok.x * ck;
                o[jd][2 * r + 1] = o[jd][2 * r + 1] * c0 + ok.y * ck;
            }
        }
    }
    return true;
}


template <int D, int IN, int G>
__device__ __forceinline__ void attention_flash(const void *__restrict__ qkv, const int *__restrict__ mask, const int *__restrict__ offsets, int Smax, int heads,
                                                float outQScale, void *__restrict__ out) {
    constexpr int ROW = 2 * D + 16, TILE = WARPS * ROWS;  // bytes per staged row
    static_assert(TILE == KEY_CHUNK, "the query tile and the key chunk share the staging code");
    extern __shared__ __align__(16) unsigned char smem[];
    // Q, then each group's ring (two stages of a K and a V chunk), then the mask.
    const int group = threadIdx.x / (WARPS * 32), tid = threadIdx.x % (WARPS * 32);
    unsigned char *Qs = smem, *Ks = Qs + TILE * ROW + group * 4 * KEY_CHUNK * ROW, *Vs = Ks + 2 * KEY_CHUNK * ROW;
    float *maskAdd = reinterpret_cast<float *>(Qs + TILE * ROW + G * 4 * KEY_CHUNK * ROW);
    const int H = heads * D, ld = 3 * H;
    const int b = blockIdx.z, head = blockIdx.y, q0 = blockIdx.x * TILE;
    const Span span = sequence_span(offsets, Smax, b);
    const int S = span.length;
    if (q0 >= S) return;  // past a shorter packed sequence's end (a split cluster shares q0: all its blocks leave)
    const int Spad = (S + KEY_CHUNK - 1) / KEY_CHUNK * KEY_CHUNK, chunks = Spad / KEY_CHUNK;
    const int warp = (threadIdx.x / 32) % WARPS, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const size_t base = (size_t)span.first * ld + head * D;
    stage_mask_f16(maskAdd, mask, offsets, span, Spad, G * WARPS * 32);
    wait_for_producers();
    allow_dependents();

    auto stage = [&](unsigned char *dst, int r0, int col) { stage_rows_f16<D, IN, ROW>(dst, qkv, base, r0, col, S, ld, tid); };
    if (group == 0) stage(Qs, q0, 0);
    if (group < chunks) {
        stage(Ks, group * KEY_CHUNK, H);
        stage(Vs, group * KEY_CHUNK, 2 * H);
    }
    if (IN == 0) copy_commit();
    if (IN == 0) copy_wait<0>();
    __syncthreads();  // Q, every group's first chunk and the mask
    unsigned qa[D / 16][4];
#pragma unroll
    for (int kc = 0; kc < D / 16; kc++) ldmatrix_x4(qa[kc], Qs + (warp * ROWS + lane % 16) * ROW + kc * 32 + (lane / 16) * 16);

    // Scores in log₂ units (log₂e / √D folded into their scale; the mask's 0 and −∞ are the same in both), so each
    // exponential is one ex2: rowMax too is in log₂ units, and exp(a − b) = 2^(a₂ − b₂).
    const float scoreScale = 1.4426950408889634f * rsqrtf((float)D);
    float o[D / 8][4] = {}, rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};
    for (int c = group, i = 0; c < chunks; c += G, i++) {
        const int st = i & 1;
        if (i > 0) {
            if (IN == 0) copy_wait<0>();
            // Chunk c is in stage st for every thread of the group, and every warp of the group is done with its
            // previous chunk, whose stage the prefetch below overwrites.
            if (G == 1) __syncthreads();
            else asm volatile("bar.sync %0, %1;\n" ::"r"(1 + group), "n"(WARPS * 32) : "memory");
        }
        if (c + G < chunks) {
            stage(Ks + (st ^ 1) * KEY_CHUNK * ROW, (c + G) * KEY_CHUNK, H);
            stage(Vs + (st ^ 1) * KEY_CHUNK * ROW, (c + G) * KEY_CHUNK, 2 * H);
            if (IN == 0) copy_commit();
        }
        const unsigned char *Kc = Ks + st * KEY_CHUNK * ROW, *Vc = Vs + st * KEY_CHUNK * ROW;

        float s[8][4];
        chunk_scores<D, ROW, false>(qa, Kc, maskAdd + c * KEY_CHUNK, scoreScale, lane, s);

        online_softmax_step<D>(s, rowMax, rowSum, o);

        pv_chunk_f16<D, ROW>(s, Vc, lane, o);
    }
    float l[2] = {quad_sum(rowSum[0]), quad_sum(rowSum[1])};

    // Key groups 1 … G − 1 hand their sums to group 0, in the rings' shared memory (every group is done with them).
    if (G > 1 && !merge_key_groups<D, G>(reinterpret_cast<float *>(Qs + TILE * ROW), group, warp, g, t, o, rowMax, l)) return;

    store_context_rows<D>(out, o, l, span, S, q0 + warp * ROWS + g, H, head, t, outQScale);
}

// The one-pass FP16 attention with 128 queries per block for big grids (batch 128): each warp owns two m16 tiles (32
// query rows), so every K fragment (ldmatrix) feeds two QKᵀ products and every Vᵀ fragment two P·V products, where
// the 64-query kernel reads each once per 16 rows. Shared-memory reads per tensor-core product halve, as in
// FlashAttention-2's forward kernel for heads of 64 (128 queries, 4 warps). Same arithmetic per row as
// `attention_flash` without key groups (scores in log₂ units, online softmax, one ring of two K and two V chunks of
// 64 keys), each row's operations the same and in the same order, so the outputs are bit for bit its. Costs: about twice the
// registers per thread (Q fragments, scores and outputs for two tiles), so two blocks per multiprocessor instead of
// three; the queries take 128 staged rows. For grids of at least two 128-query blocks per multiprocessor (below that
// the 64-query kernel's twice as many blocks fill the device better).
template <int D, int ROW, int MT>
__device__ __forceinline__ void chunk_scores_tiles(const unsigned (&qa)[MT][D / 16][4], const unsigned char *Kc, const float *maskAdd,
                                                   float scoreScale, int lane, float (&s)[MT][8][4]) {
    const int t = lane % 4;
#pragma unroll
    for (int jb = 0; jb < 8; jb += 2) {
        float acc[MT][2][4] = {};
#pragma unroll
        for (int c = 0; c < D / 16; c++) {
            unsigned r[4];
            ldmatrix_x4(r, Kc + (jb * 8 + lane % 8 + (lane / 16) * 8) * ROW + c * 32 + ((lane / 8) % 2) * 16);
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                mma_f16(acc[mt][0], qa[mt][c], r[0], r[1]);
                mma_f16(acc[mt][1], qa[mt][c], r[2], r[3]);
            }
        }
#pragma unroll
        for (int mt = 0; mt < MT; mt++)
#pragma unroll
            for (int e = 0; e < 4; e++) {
                s[mt][jb][e] = acc[mt][0][e];
                s[mt][jb + 1][e] = acc[mt][1][e];
            }
    }
#pragma unroll
    for (int jb = 0; jb < 8; jb++) {
        const float m0 = maskAdd[jb * 8 + 2 * t], m1 = maskAdd[jb * 8 + 2 * t + 1];
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            s[mt][jb][0] = s[mt][jb][0] * scoreScale + m0;
            s[mt][jb][1] = s[mt][jb][1] * scoreScale + m1;
            s[mt][jb][2] = s[mt][jb][2] * scoreScale + m0;
            s[mt][jb][3] = s[mt][jb][3] * scoreScale + m1;
        }
    }
}
template <int D, int ROW, int MT>
__device__ __forceinline__ void pv_chunk_f16_tiles(const float (&s)[MT][8][4], const unsigned char *Vc, int lane, float (&o)[MT][D / 8][4]) {
#pragma unroll
    for (int group = 0; group < 4; group++) {
        const int b0 = 2 * group;
        unsigned a[MT][4];
#pragma unroll
        for (int mt = 0; mt < MT; mt++) {
            a[mt][0] = float2_to_f16x2(s[mt][b0][0], s[mt][b0][1]);
            a[mt][1] = float2_to_f16x2(s[mt][b0][2], s[mt][b0][3]);
            a[mt][2] = float2_to_f16x2(s[mt][b0 + 1][0], s[mt][b0 + 1][1]);
            a[mt][3] = float2_to_f16x2(s[mt][b0 + 1][2], s[mt][b0 + 1][3]);
        }
#pragma unroll
        for (int jd = 0; jd < D / 8; jd += 2) {
            unsigned r[4];
            ldmatrix_x4_trans(r, Vc + (group * 16 + lane % 8 + ((lane / 8) % 2) * 8) * ROW + (jd * 8 + (lane / 16) * 8) * 2);
#pragma unroll
            for (int mt = 0; mt < MT; mt++) {
                mma_f16(o[mt][jd], a[mt], r[0], r[1]);
                mma_f16(o[mt][jd + 1], a[mt], r[2], r[3]);
            }
        }
    }
}

template <int D, int IN>
__device__ __forceinline__ void attention_flash_wide(const void *__restrict__ qkv, const int *__restrict__ mask, const int *__restrict__ offsets,
                                                     int Smax, int heads, float outQScale, void *__restrict__ out) {
    constexpr int ROW = 2 * D + 16, MT = 2, TILE = WARPS * ROWS * MT;  // bytes per staged row; 128 queries
    extern __shared__ __align__(16) unsigned char smem[];
    // Q (128 rows), the ring (two stages of a K and a V chunk), then the mask.
    unsigned char *Qs = smem, *Ks = Qs + TILE * ROW, *Vs = Ks + 2 * KEY_CHUNK * ROW;
    float *maskAdd = reinterpret_cast<float *>(Vs + 2 * KEY_CHUNK * ROW);
    const int H = heads * D, ld = 3 * H;
    const int b = blockIdx.z, head = blockIdx.y, q0 = blockIdx.x * TILE;
    const Span span = sequence_span(offsets, Smax, b);
    const int S = span.length;
    if (q0 >= S) return;
    const int Spad = (S + KEY_CHUNK - 1) / KEY_CHUNK * KEY_CHUNK, chunks = Spad / KEY_CHUNK;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const size_t base = (size_t)span.first * ld + head * D;
    stage_mask_f16(maskAdd, mask, offsets, span, Spad, WARPS * 32);
    wait_for_producers();
    allow_dependents();

    auto stage = [&](unsigned char *dst, int r0, int col) { stage_rows_f16<D, IN, ROW>(dst, qkv, base, r0, col, S, ld); };
    stage(Qs, q0, 0);
    stage(Qs + KEY_CHUNK * ROW, q0 + KEY_CHUNK, 0);
    stage(Ks, 0, H);
    stage(Vs, 0, 2 * H);
    if (IN == 0) copy_commit();
    if (IN == 0) copy_wait<0>();
    __syncthreads();  // Q, the first chunk and the mask
    // Warp w owns query rows 32w … 32w + 31: tile mt is rows 32w + 16mt … (the fragment rows g and g + 8 of each).
    unsigned qa[MT][D / 16][4];
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int kc = 0; kc < D / 16; kc++)
            ldmatrix_x4(qa[mt][kc], Qs + (warp * 32 + mt * 16 + lane % 16) * ROW + kc * 32 + (lane / 16) * 16);

    const float scoreScale = 1.4426950408889634f * rsqrtf((float)D);  // log₂ units, as attention_flash
    float o[MT][D / 8][4] = {}, rowMax[MT][2], rowSum[MT][2];
#pragma unroll
    for (int mt = 0; mt < MT; mt++) rowMax[mt][0] = rowMax[mt][1] = -INFINITY, rowSum[mt][0] = rowSum[mt][1] = 0.f;
    for (int c = 0; c < chunks; c++) {
        const int st = c & 1;
        if (c > 0) {
            if (IN == 0) copy_wait<0>();
            __syncthreads();  // chunk c is in stage st for every thread, and chunk c − 1's stage is free
        }
        if (c + 1 < chunks) {
            stage(Ks + (st ^ 1) * KEY_CHUNK * ROW, (c + 1) * KEY_CHUNK, H);
            stage(Vs + (st ^ 1) * KEY_CHUNK * ROW, (c + 1) * KEY_CHUNK, 2 * H);
            if (IN == 0) copy_commit();
        }
        const unsigned char *Kc = Ks + st * KEY_CHUNK * ROW, *Vc = Vs + st * KEY_CHUNK * ROW;
        float s[MT][8][4];
        chunk_scores_tiles<D, ROW, MT>(qa, Kc, maskAdd + c * KEY_CHUNK, scoreScale, lane, s);
#pragma unroll
        for (int mt = 0; mt < MT; mt++) online_softmax_step<D>(s[mt], rowMax[mt], rowSum[mt], o[mt]);
        pv_chunk_f16_tiles<D, ROW, MT>(s, Vc, lane, o);
    }
#pragma unroll
    for (int mt = 0; mt < MT; mt++)
#pragma unroll
        for (int r = 0; r < 2; r++) {
            const float l = quad_sum(rowSum[mt][r]), inverse = l > 0 ? 1.f / l : 0.f;
            const int i = q0 + warp * 32 + mt * 16 + g + 8 * r;
            if (i >= S) continue;
            const size_t row = ((size_t)span.first + i) * H + head * D;
#pragma unroll
            for (int jd = 0; jd < D / 8; jd++)
                store_context_pair(out, row, jd * 8 + 2 * t, o[mt][jd][2 * r] * inverse, o[mt][jd][2 * r + 1] * inverse, outQScale);
        }
}

// 64 rows from r0 of one column block (col: 0 for Q, H for K, 2H for V) of int8 QKV into shared memory by cp.async,
// [row][d] with rows of D + 16 bytes; rows past S read as zeros. `base`: the element index of the head's first query.
template <int D>
__device__ __forceinline__ void stage_rows_i8(unsigned char *dst, const signed char *src, size_t base, int r0, int col, int S, int ld) {
    constexpr int ROW = D + 16, PIECES = D / 16;
#pragma unroll
    for (int u = 0; u < KEY_CHUNK * PIECES / (WARPS * 32); u++) {
        const int e = threadIdx.x + u * WARPS * 32, r = e / PIECES, c = (e % PIECES) * 16, j = r0 + r;
        copy16(dst + r * ROW + c, src + base + (size_t)min(j, S - 1) * ld + col + c, j < S);
    }
}

// P·V of one 64-key chunk into int32 sums: `p` holds the warp's quantized probabilities as the score fragments
// (chunk_scores' layout), `Vc` the chunk's V as [key][d] rows of D + 16 bytes, read by ldmatrix .trans and byte
// permutes (see attention_ring_i8); o[2q] and o[2q + 1] are the even and odd features of columns 16q … 16q + 15.
template <int D>
__device__ __forceinline__ void pv_chunk_i8(const float (&p)[8][4], const unsigned char *Vc, int lane, int (&o)[D / 8][4]) {
    constexpr int ROW = D + 16;
#pragma unroll
    for (int group = 0; group < 2; group++) {  // 32 keys: blocks 4·group … 4·group + 3
        const int b0 = 4 * group;
        auto pack = [&](int blockA, int blockB, int row) {
            return (unsigned)p[blockA][2 * row] | (unsigned)p[blockA][2 * row + 1] << 8 |
                   (unsigned)p[blockB][2 * row] << 16 | (unsigned)p[blockB][2 * row + 1] << 24;
        };
        unsigned a[4] = {pack(b0, b0 + 1, 0), pack(b0, b0 + 1, 1), pack(b0 + 2, b0 + 3, 0), pack(b0 + 2, b0 + 3, 1)};
#pragma unroll
        for (int q = 0; q < D / 16; q++) {
            unsigned r[4];  // keys 0–7, 8–15, 16–23, 24–31 of the group; features 16q … 16q + 15
            ldmatrix_x4_trans(r, Vc + (group * 32 + lane) * ROW + q * 16);
            mma_u8s8(o[2 * q], a, __byte_perm(r[0], r[1], 0x6420), __byte_perm(r[2], r[3], 0x6420));
            mma_u8s8(o[2 * q + 1], a, __byte_perm(r[0], r[1], 0x7531), __byte_perm(r[2], r[3], 0x7531));
        }
    }
}

// Both products in int8 from int8 Q, K and V (the INT8 engine: the QKV GEMM quantized them with the attention's steps):
// the same two passes and the same arithmetic as `attention` above, but K and V stream through a two-stage ring of
// 64-key chunks by cp.async (step i of 2·chunks is pass i / chunks over chunk i % chunks; pass 1 loads K, pass 2 K
// and V), so a block holds 5 × 64 rows of D + 16 bytes (27 KB at D = 64, against 62 KB with all of K and Vᵀ at
// S = 384), and V is never transposed: P·V's B fragments come from V's [key][d] rows by ldmatrix .trans, which moves
// 16-bit pairs. Thread (g, t) then holds, from the 8-key tiles k0 and k0 + 8, the bytes
//   rA = V[k0+2t][2p], V[k0+2t][2p+1], V[k0+2t+1][2p], V[k0+2t+1][2p+1]     (p = the tile's pair column g)
//   rB = the same for keys k0+8+2t, k0+9+2t,
// and two byte permutes give the 4-key B fragments of keys {2t, 2t+1, 8+2t, 9+2t} (the order P's A fragment packs, see
// the header) for feature 2p (bytes 0, 2 of rA and rB) and for feature 2p + 1 (bytes 1, 3). So each 16-feature column
// block gives two n-blocks, its even and its odd features, and thread t's four outputs of a row are the consecutive
// features 16q + 4t … 16q + 4t + 3: one 4-byte (int8) or 8-byte (fp16) store.
//
// RESIDENT (S ≤ 128; the default there, `OCTET_ATTENTION_RESIDENT=0` turns it off): both chunks' K and V fit the two
// stages at once, so both are loaded up front and pass 1's scores stay in registers for pass 2 (no second QKᵀ, two
// barriers instead of four); the arithmetic is the same, so the outputs are too. H200, BERT-large s128 b128: 93.2 µs
// per layer against 105.6 for the ring.
template <int D, bool RESIDENT>
__device__ __forceinline__ void attention_ring_i8(const void *__restrict__ qkv, const int *__restrict__ mask, const int *__restrict__ offsets, int Smax, int heads,
                                                  float qStep, float kStep, float pStep, int pUnsigned, float vStep, float outQScale,
                                                  void *__restrict__ out) {
    constexpr int ROW = D + 16, TILE = WARPS * ROWS, PIECES = D / 16;  // bytes per staged row; 16 bytes per piece
    static_assert(TILE == KEY_CHUNK, "the query tile and the key chunk share the staging code");
    extern __shared__ __align__(16) unsigned char smem[];
    unsigned char *Qs = smem, *Ks = Qs + TILE * ROW, *Vs = Ks + 2 * KEY_CHUNK * ROW;
    float *maskAdd = reinterpret_cast<float *>(Vs + 2 * KEY_CHUNK * ROW);
    const int H = heads * D, ld = 3 * H;
    const int b = blockIdx.z, head = blockIdx.y, q0 = blockIdx.x * TILE;
    const Span span = sequence_span(offsets, Smax, b);
    const int S = span.length;
    if (q0 >= S) return;  // past a shorter packed sequence's end (a split cluster shares q0: all its blocks leave)
    const int Spad = (S + KEY_CHUNK - 1) / KEY_CHUNK * KEY_CHUNK, chunks = Spad / KEY_CHUNK;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const size_t base = (size_t)span.first * ld + head * D;
    const signed char *src = static_cast<const signed char *>(qkv);
    wait_for_producers();
    allow_dependents();

    auto stage = [&](unsigned char *dst, int r0, int col) { stage_rows_i8<D>(dst, src, base, r0, col, S, ld); };
    auto load_chunk = [&](int stage_, int chunk, bool withV) {
        stage(Ks + stage_ * KEY_CHUNK * ROW, chunk * KEY_CHUNK, H);
        if (withV) stage(Vs + stage_ * KEY_CHUNK * ROW, chunk * KEY_CHUNK, 2 * H);
        copy_commit();
    };
    // Ring: step i of 2·chunks is pass i / chunks over chunk i % chunks, in stage i & 1. Resident: chunk c in stage c.
    auto load_step = [&](int i) { load_chunk(i & 1, i % chunks, i >= chunks); };
    stage(Qs, q0, 0);  // joins the first group
    if (RESIDENT) {
        load_chunk(0, 0, true);
        if (chunks > 1) load_chunk(1, 1, true);
    } else {
        load_step(0);
    }
    for (int j = threadIdx.x; j < Spad; j += WARPS * 32) maskAdd[j] = j < S && mask[span.first + j] ? 0.f : -INFINITY;

    const float scoreScale = qStep * kStep * rsqrtf((float)D);
    unsigned qa[D / 32][4];
    const ProbabilityQuantizer quantize(pStep, pUnsigned);
    float rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f}, inverse[2] = {0.f, 0.f};
    int o[D / 8][4] = {};
    auto load_queries = [&] {
#pragma unroll
        for (int c = 0; c < D / 32; c++) ldmatrix_x4(qa[c], Qs + (warp * ROWS + lane % 16) * ROW + c * 32 + (lane / 16) * 16);
    };
    auto scores_of = [&](const unsigned char *Kc, int chunk, float (&s)[8][4]) {
        chunk_scores<D, ROW, true>(qa, Kc, maskAdd + chunk * KEY_CHUNK, scoreScale, lane, s);
    };
    auto pass1 = [&](const float (&s)[8][4]) { online_max_sum(s, rowMax, rowSum); };
    auto finish_pass1 = [&] {
        inverse[0] = rowSum[0] > 0 ? 1.f / rowSum[0] : 0.f;
        inverse[1] = rowSum[1] > 0 ? 1.f / rowSum[1] : 0.f;
    };
    // Pass 2 over one chunk: normalized, quantized probabilities times V.
    auto pass2 = [&](float (&s)[8][4], const unsigned char *Vc) {
        normalize<true>(s, rowMax, inverse, quantize);
        pv_chunk_i8<D>(s, Vc, lane, o);
    };

    if (RESIDENT) {
        float resident[2][8][4];
#pragma unroll
        for (int c = 0; c < 2; c++) {
            if (c >= chunks) break;
            if (c == 0 && chunks > 1) copy_wait<1>();  // Q and chunk 0; chunk 1 may still be in flight
            else copy_wait<0>();
            __syncthreads();
            if (c == 0) load_queries();
            scores_of(Ks + c * KEY_CHUNK * ROW, c, resident[c]);
            pass1(resident[c]);
        }
        finish_pass1();
#pragma unroll
        for (int c = 0; c < 2; c++)
            if (c < chunks) pass2(resident[c], Vs + c * KEY_CHUNK * ROW);
    } else {
        for (int i = 0; i < 2 * chunks; i++) {
            copy_wait<0>();
            // Step i's chunk is in its stage for every thread, and every warp is done with step i − 1, whose stage the
            // prefetch below overwrites.
            __syncthreads();
            if (i == 0) load_queries();
            if (i + 1 < 2 * chunks) load_step(i + 1);
            float s[8][4];
            scores_of(Ks + (i & 1) * KEY_CHUNK * ROW, i % chunks, s);
            if (i < chunks) {
                pass1(s);
                continue;
            }
            if (i == chunks) finish_pass1();
            pass2(s, Vs + (i & 1) * KEY_CHUNK * ROW);
        }
    }

    const float outScale = pStep * vStep;
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int i = q0 + warp * ROWS + g + 8 * r;
        if (i >= S) continue;
        const size_t row = ((size_t)span.first + i) * H + head * D;
#pragma unroll
        for (int q = 0; q < D / 16; q++) {
            const int d = 16 * q + 4 * t;  // features d … d + 3: even block c0, odd c0, even c1, odd c1
            const float c[4] = {(float)o[2 * q][2 * r] * outScale, (float)o[2 * q + 1][2 * r] * outScale,
                                (float)o[2 * q][2 * r + 1] * outScale, (float)o[2 * q + 1][2 * r + 1] * outScale};
            if (outQScale > 0) {
                unsigned w = 0;
#pragma unroll
                for (int k = 0; k < 4; k++) w |= (unsigned)(unsigned char)quantize_s8(c[k], outQScale) << (8 * k);
                *reinterpret_cast<unsigned *>(static_cast<signed char *>(out) + row + d) = w;
            } else {
                *reinterpret_cast<uint2 *>(static_cast<f16 *>(out) + row + d) = make_uint2(float2_to_f16x2(c[0], c[1]), float2_to_f16x2(c[2], c[3]));
            }
        }
    }
}

// Int8 products from int8 input with the keys split over a thread-block cluster (the default on grids with fewer
// blocks than multiprocessors, `OCTET_ATTENTION_SPLIT=0` turns it off; H200, BERT-large b1: s384 12.4 µs per layer
// against 25.6 staged, s128 9.5 against 10.9): at batch 1 one block per 64 queries and head leaves most multiprocessors idle (BERT-large
// s384: 96 blocks of 4 warps on 132 SMs) and each block's two passes over all keys are one long dependent chain. Here
// the R = ⌈S/64⌉ blocks of a cluster (R ≤ 8, the cluster size compiled in) share the same 64 queries and each takes one
// 64-key chunk:
//   pass 1: its chunk's scores (kept in registers), each row's max m_z and sum l_z = Σ exp(s − m_z) over its keys;
//   the pairs meet through distributed shared memory, and every block combines all R of them in rank order, so all
//   agree exactly: M = max_z m_z,  L = Σ_z l_z · exp(m_z − M);
//   pass 2: p = exp(s − M) / L quantized as in `attention`, times its V chunk (V read as in the ring kernel), into int32
//   partial outputs in shared memory; after a cluster barrier block z adds a band of 64/R rows over all R blocks in
//   rank order (integers: exact) and stores them.
// The combination of the sums differs from the chunk-by-chunk online update only in float rounding, so the results
// agree with the other kernels within the usual tolerance, not bit for bit.
template <int D, int R>
__device__ __forceinline__ void attention_split_i8(const void *__restrict__ qkv, const int *__restrict__ mask, const int *__restrict__ offsets, int Smax, int heads,
                                                   float qStep, float kStep, float pStep, int pUnsigned, float vStep, float outQScale,
                                                   void *__restrict__ out) {
    constexpr int ROW = D + 16, TILE = WARPS * ROWS, PIECES = D / 16;
    static_assert(TILE == KEY_CHUNK, "the query tile and the key chunk share the staging code");
    extern __shared__ __align__(16) unsigned char smem[];
    unsigned char *Qs = smem, *Ks = Qs + TILE * ROW, *Vs = Ks + KEY_CHUNK * ROW;
    float *maskAdd = reinterpret_cast<float *>(Vs + KEY_CHUNK * ROW);  // [KEY_CHUNK]
    float *stats = maskAdd + KEY_CHUNK;                                 // [TILE][2]: this block's row max and sum
    // [TILE][D + 16]: this block's P·V sums; the padding puts the two rows of a quarter-warp's 16-byte stores in
    // different banks
    constexpr int PROW = D + 16;
    int *partial = reinterpret_cast<int *>(stats + 2 * TILE);
    const int H = heads * D, ld = 3 * H;
    const int b = blockIdx.z, head = blockIdx.y, q0 = (blockIdx.x / R) * TILE;
    const Span span = sequence_span(offsets, Smax, b);
    const int S = span.length;
    if (q0 >= S) return;  // past a shorter packed sequence's end (a split cluster shares q0: all its blocks leave)
    const int rank = (int)cluster_rank(), key0 = rank * KEY_CHUNK;
    const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const size_t base = (size_t)span.first * ld + head * D;
    const signed char *src = static_cast<const signed char *>(qkv);
    wait_for_producers();
    allow_dependents();

    stage_rows_i8<D>(Qs, src, base, q0, 0, S, ld);
    stage_rows_i8<D>(Ks, src, base, key0, H, S, ld);
    stage_rows_i8<D>(Vs, src, base, key0, 2 * H, S, ld);
    copy_commit();
    for (int j = threadIdx.x; j < KEY_CHUNK; j += WARPS * 32) {
        const int key = key0 + j;
        maskAdd[j] = key < S && mask[span.first + key] ? 0.f : -INFINITY;
    }
    copy_wait<0>();
    __syncthreads();

    unsigned qa[D / 32][4];
#pragma unroll
    for (int c = 0; c < D / 32; c++) ldmatrix_x4(qa[c], Qs + (warp * ROWS + lane % 16) * ROW + c * 32 + (lane / 16) * 16);
    const float scoreScale = qStep * kStep * rsqrtf((float)D);
    float s[8][4];
    chunk_scores<D, ROW, true>(qa, Ks, maskAdd, scoreScale, lane, s);

    // Pass 1 over this block's keys, then the cluster's pairs combined.
    float rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f}, inverse[2];
    online_max_sum(s, rowMax, rowSum);
    if (t == 0) {
#pragma unroll
        for (int r = 0; r < 2; r++) {
            stats[2 * (warp * ROWS + g + 8 * r)] = rowMax[r];
            stats[2 * (warp * ROWS + g + 8 * r) + 1] = rowSum[r];
        }
    }
    cluster_sync();  // every block's pairs are visible to the cluster
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const float *pair = stats + 2 * (warp * ROWS + g + 8 * r);
        float m[R], l[R], M = -INFINITY;
#pragma unroll
        for (int z = 0; z < R; z++) {
            m[z] = cluster_load(cluster_address(pair, z), 0.f);
            l[z] = cluster_load(cluster_address(pair + 1, z), 0.f);
            M = fmaxf(M, m[z]);
        }
        float L = 0.f;
#pragma unroll
        for (int z = 0; z < R; z++)
            if (m[z] != -INFINITY) L += l[z] * __expf(m[z] - M);
        rowMax[r] = M;
        inverse[r] = L > 0 ? 1.f / L : 0.f;
    }

    // Pass 2: this block's quantized probabilities times its V chunk.
    normalize<true>(s, rowMax, inverse, ProbabilityQuantizer(pStep, pUnsigned));
    int o[D / 8][4] = {};
    pv_chunk_i8<D>(s, Vs, lane, o);
    // This block's sums, features in order (see the ring kernel for the even/odd blocks).
#pragma unroll
    for (int r = 0; r < 2; r++) {
        const int row = warp * ROWS + g + 8 * r;
#pragma unroll
        for (int q = 0; q < D / 16; q++)
            *reinterpret_cast<int4 *>(partial + row * PROW + 16 * q + 4 * t) =
                make_int4(o[2 * q][2 * r], o[2 * q + 1][2 * r], o[2 * q][2 * r + 1], o[2 * q + 1][2 * r + 1]);
    }
    cluster_sync();  // every block's sums are visible to the cluster

    // Block z adds rows [z·64/R, (z+1)·64/R) over the cluster in rank order and stores them.
    const int rowBegin = rank * TILE / R, rowEnd = (rank + 1) * TILE / R;
    const float outScale = pStep * vStep;
    for (int e = threadIdx.x; e < (rowEnd - rowBegin) * D; e += WARPS * 32) {
        const int row = rowBegin + e / D, d = e % D, i = q0 + row;
        int sum = 0;
#pragma unroll
        for (int z = 0; z < R; z++) sum += cluster_load(cluster_address(partial + row * PROW + d, z), 0);
        if (i >= S) continue;
        const float c = (float)sum * outScale;
        const size_t at = ((size_t)span.first + i) * H + head * D + d;
        if (outQScale > 0) static_cast<signed char *>(out)[at] = quantize_s8(c, outQScale);
        else static_cast<f16 *>(out)[at] = float_to_f16(c);
    }
    cluster_sync();  // no block leaves while another still reads its shared memory
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// The one-pass FP16 attention on Hopper's warpgroup MMA (`attention_flash_wgmma`, heads of 64, fp16 Q, K and V; the
// engine's choice on Hopper since session 26, `OCTET_ATTENTION_WGMMA=0` runs the mma.sync kernels instead). On the H200
// it took BERT-large INT8 (attention FP16) s384 b1 from 0.969 to 0.927 ms and s384 b128 from 45.4–46.5 to 44.2–44.3
// (docs/PERFORMANCE.md, session 26; per layer, the workbench: 6.2 against 9.6 µs and 306 against 361). Why: at batch
// 128 the H200 runs at its power cap, so a pass's time is its energy (docs/GPU.md, seventeenth session), and the
// mma.sync kernels above spend most of their instructions feeding the tensor cores: per 64-key chunk each warp issues 64 mma.sync and 32 ldmatrix, where one
// warpgroup here issues 8 wgmma that read K and V straight from shared memory (FlashAttention-3's forward, without its
// producer warpgroup and its intra-warpgroup overlap so far). The arithmetic per row is `attention_flash`'s: scores in
// log₂ units, the same online-softmax step, the same stores; only the products' summation order inside the tensor
// cores may differ (fp32 sums either way). Tolerance: as `attention_flash` (p and V in fp16, sums in float32).
//
// Key groups (G > 1, for grids with fewer blocks than multiprocessors: batch 1) as in `attention_flash`: G warpgroups,
// group k taking chunks k, k + G, … through its own ring, merged by `merge_key_groups`.
//
// Layout: one warpgroup (128 threads) per 64 queries of one head; warp w owns query rows 16w … 16w + 15, and a wgmma
// m64n64 accumulator holds, per thread, exactly the s[8][4] / o[8][4] fragments of the mma.sync kernels (n8 block j:
// row g keys or features 8j + 2t, + 1; row g + 8 the same), so their softmax code applies as it stands. Q and a
// two-stage ring of K and V chunks (64 rows × 128 bytes each) are staged by cp.async in the 128-byte swizzle (16-byte
// chunk c of row r at c ^ (r mod 8)), the layout wgmma's 128B-swizzled descriptors read:
//   S = Q·Kᵀ: A = Q and B = K, both K-major (d contiguous), 4 steps of k16 advancing both descriptors by 32 bytes
//   (common.cuh's 128B-swizzled `descriptor`, as the GEMMs build theirs);
//   O += P·V: A = P from registers (the score fragments as fp16 pairs: FlashAttention's layout identity, as in
//   `pv_chunk_f16`), B = V as it is stored, [key][d] with d contiguous: MN-major for this product (N = d, K = key),
//   read with the transpose bit; its 8-key groups of 128-byte rows are 1,024 bytes apart (the descriptor's stride
//   byte offset, as for the K-major operands; its leading byte offset would step 64-feature blocks, and there is one),
//   so each k16 step advances by 2,048 bytes.
// cp.async writes through the generic proxy and wgmma reads through the async proxy, so each thread fences
// (`fence.proxy.async`) after its copies land and before the barrier that publishes them. The wgmma operations and the
// fence are flash.cuh's.

// 64 rows from r0 of one column block of fp16 QKV into a 64 × 128-byte tile in the 128-byte swizzle, by THREADS
// threads (one warpgroup, a key group, or both warpgroups of a paired block); rows past S read as zeros (so masked
// keys' V rows are 0, never NaN times a zero probability). The caller commits and waits.
template <int THREADS = 128>
__device__ __forceinline__ void stage_swizzled(unsigned char *dst, const f16 *__restrict__ qkv, size_t base, int r0, int col, int S, int ld) {
#pragma unroll
    for (int u = 0; u < 512 / THREADS; u++) {
        const int e = threadIdx.x % THREADS + u * THREADS, r = e / 8, c = e % 8, j = r0 + r;  // 512 copies of 16 bytes
        copy16(dst + r * 128 + ((c ^ (r & 7)) * 16), qkv + base + (size_t)min(j, S - 1) * ld + col + c * 8, j < S);
    }
}

// W: warpgroups of 64 queries sharing one ring (W = 2, the paired kernel, for big grids: each K and V chunk is staged
// once for 128 queries, half the staging traffic and copy instructions per query); G: key groups (small grids). One of
// the two is 1.
template <int G, int W>
__device__ __forceinline__ void attention_flash_wgmma(const void *__restrict__ qkvIn, const int *__restrict__ mask, const int *__restrict__ offsets,
                                                      int Smax, int heads, float outQScale, void *__restrict__ out) {
    static_assert(G == 1 || W == 1, "key groups or paired queries, not both");
    constexpr int D = 64, TILE = 64, TILE_BYTES = TILE * 128;
    extern __shared__ __align__(16) unsigned char raw[];
    // Q (W tiles), then each key group's ring (K stages 0 and 1, V stages 0 and 1), 1,024-byte aligned (the swizzle
    // assumes it; the host adds 1 KB), then the mask.
    unsigned char *Qs = raw + ((1024 - (smem_address(raw) & 1023)) & 1023);
    const int group = W > 1 ? 0 : warpgroup_index(), queryHalf = W > 1 ? warpgroup_index() : 0;  // key group, query warpgroup
    unsigned char *Ks = Qs + W * TILE_BYTES + group * 4 * TILE_BYTES, *Vs = Ks + 2 * TILE_BYTES;
    float *maskAdd = reinterpret_cast<float *>(Qs + W * TILE_BYTES + G * 4 * TILE_BYTES);
    const f16 *qkv = static_cast<const f16 *>(qkvIn);
    const int H = heads * D, ld = 3 * H;
    const int b = blockIdx.z, head = blockIdx.y, q0 = blockIdx.x * TILE * W;
    const Span span = sequence_span(offsets, Smax, b);
    const int S = span.length;
    if (q0 >= S) return;  // past a shorter packed sequence's end (the whole block leaves)
    const int Spad = (S + KEY_CHUNK - 1) / KEY_CHUNK * KEY_CHUNK, chunks = Spad / KEY_CHUNK;
    const int warp = (threadIdx.x / 32) % 4, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const size_t base = (size_t)span.first * ld + head * D;
    stage_mask_f16(maskAdd, mask, offsets, span, Spad, G * W * 128);
    wait_for_producers();
    allow_dependents();

    // Group k takes chunks k, k + G, …, each through its own ring (key groups: see `attention_flash`). A paired
    // block's warpgroups stage their own Q tiles (the second one's rows may all be past S: zeros, never stored) and
    // the shared ring together.
    if (group == 0) stage_swizzled(Qs + queryHalf * TILE_BYTES, qkv, base, q0 + queryHalf * TILE, 0, S, ld);
    if (group < chunks) {
        stage_swizzled<128 * W>(Ks, qkv, base, group * KEY_CHUNK, H, S, ld);
        stage_swizzled<128 * W>(Vs, qkv, base, group * KEY_CHUNK, 2 * H, S, ld);
    }
    copy_commit();
    copy_wait<0>();
    fence_proxy_async();  // this thread's copies are visible to wgmma
    __syncthreads();      // everyone's: Q, every group's first chunk and the mask
    const float scoreScale = 1.4426950408889634f * rsqrtf((float)D);
    // The operands' 128B-swizzled descriptors (common.cuh's `descriptor`): the low words once, each step's offset added.
    const unsigned qLow = descriptor_low(smem_address(Qs + queryHalf * TILE_BYTES));
    float o[D / 8][4] = {}, rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};
    float oacc[32] = {};
    for (int c = group, i = 0; c < chunks; c += G, i++) {
        const int st = i & 1;
        if (i > 0) {
            copy_wait<0>();
            fence_proxy_async();
            // Chunk c is in stage st for every thread of the group, and the group's wgmmas on its previous chunk, whose
            // stage the prefetch below overwrites, are complete (each chunk ends with a wait).
            if (G == 1) __syncthreads();
            else asm volatile("bar.sync %0, 128;\n" ::"r"(1 + group) : "memory");
        }
        if (c + G < chunks) {
            stage_swizzled<128 * W>(Ks + (st ^ 1) * TILE_BYTES, qkv, base, (c + G) * KEY_CHUNK, H, S, ld);
            stage_swizzled<128 * W>(Vs + (st ^ 1) * TILE_BYTES, qkv, base, (c + G) * KEY_CHUNK, 2 * H, S, ld);
            copy_commit();
        }
        const unsigned kLow = descriptor_low(smem_address(Ks + st * TILE_BYTES)), vLow = descriptor_low(smem_address(Vs + st * TILE_BYTES));

        wgmma_attention_chunk(qLow, kLow, vLow, maskAdd + c * KEY_CHUNK, scoreScale, t, o, oacc, rowMax, rowSum);
    }
    float l[2] = {quad_sum(rowSum[0]), quad_sum(rowSum[1])};
#pragma unroll
    for (int jd = 0; jd < D / 8; jd++)
#pragma unroll
        for (int e = 0; e < 4; e++) o[jd][e] = oacc[4 * jd + e];
    // Key groups 1 … G − 1 hand their sums to group 0, in the rings' shared memory (every group is done with them).
    if (G > 1 && !merge_key_groups<D, G>(reinterpret_cast<float *>(Qs + TILE_BYTES), group, warp, g, t, o, rowMax, l)) return;
    store_context_rows<D>(out, o, l, span, S, q0 + queryHalf * TILE + warp * ROWS + g, H, head, t, outQScale);
}
#endif

}  // namespace

// attention_mma_d<D>_<qk>_<pv>_<in>: qk and pv are i8 or f16; in is the input kind (f16in, f32in, i8in).
#define ATTENTION_MMA(D, QK8, PV8, IN, NAME)                                                                               \
    extern "C" __global__ void __launch_bounds__(WARPS * 32)                                                               \
        NAME(const void *qkv, const int *mask, const int *offsets, int S, int heads, float qStep, float kStep, float pStep, int pUnsigned,     \
             float vStep, float outQScale, void *out) {                                                                   \
        attention<D, QK8, PV8, IN>(qkv, mask, offsets, S, heads, qStep, kStep, pStep, pUnsigned, vStep, outQScale, out);            \
    }
#define ATTENTION_MMA_FLOAT_INPUTS(D, QK8, PV8, NAME)                                                                      \
    ATTENTION_MMA(D, QK8, PV8, 0, NAME##_f16in)                                                                            \
    ATTENTION_MMA(D, QK8, PV8, 1, NAME##_f32in)
// Int8 input, both products int8: the ring kernel. The kernel that stages all of K and Vᵀ stays as
// attention_mma_d<D>_i8_i8_staged_i8in for comparison (OCTET_ATTENTION_STAGED=1).
#define ATTENTION_RING(D, RESIDENT, NAME)                                                                                  \
    extern "C" __global__ void __launch_bounds__(WARPS * 32)                                                               \
        NAME(const void *qkv, const int *mask, const int *offsets, int S, int heads, float qStep, float kStep, float pStep, int pUnsigned,     \
             float vStep, float outQScale, void *out) {                                                                   \
        attention_ring_i8<D, RESIDENT>(qkv, mask, offsets, S, heads, qStep, kStep, pStep, pUnsigned, vStep, outQScale, out);        \
    }
// Int8 input, both products int8, the keys split over a cluster of R blocks (compiled in, so any launcher can run it;
// the grid's x is R × the query blocks): attention_mma_d64_i8_i8_split<R>_i8in.
#define ATTENTION_SPLIT(D, R, NAME)                                                                                        \
    extern "C" __global__ void __cluster_dims__(R, 1, 1) __launch_bounds__(WARPS * 32)                                     \
        NAME(const void *qkv, const int *mask, const int *offsets, int S, int heads, float qStep, float kStep, float pStep, int pUnsigned,     \
             float vStep, float outQScale, void *out) {                                                                   \
        attention_split_i8<D, R>(qkv, mask, offsets, S, heads, qStep, kStep, pStep, pUnsigned, vStep, outQScale, out);             \
    }
// Both products in fp16: the one-pass kernel (same arguments; the steps are unused). The two-pass kernel stays as
// attention_mma_d<D>_f16_f16_staged_<in> for comparison (OCTET_ATTENTION_STAGED=1).
// attention_mma_d<D>_f16_f16_groups<G>_<in>: the same with G key groups (128·G threads).
#define ATTENTION_FLASH_GROUPS(D, IN, G, NAME)                                                                             \
    extern "C" __global__ void __launch_bounds__(G * WARPS * 32)                                                           \
        NAME(const void *qkv, const int *mask, const int *offsets, int S, int heads, float, float, float, int, float, float outQScale,         \
             void *out) {                                                                                                  \
        attention_flash<D, IN, G>(qkv, mask, offsets, S, heads, outQScale, out);                                                    \
    }
#define ATTENTION_FLASH(D, IN, NAME) ATTENTION_FLASH_GROUPS(D, IN, 1, NAME)
// attention_mma_d<D>_f16_f16_q128_<in>: 128 queries per block (`attention_flash_wide`; grid x = ⌈S / 128⌉).
#define ATTENTION_FLASH_WIDE(D, IN, NAME)                                                                                  \
    extern "C" __global__ void __launch_bounds__(WARPS * 32)                                                               \
        NAME(const void *qkv, const int *mask, const int *offsets, int S, int heads, float, float, float, int, float, float outQScale,         \
             void *out) {                                                                                                  \
        attention_flash_wide<D, IN>(qkv, mask, offsets, S, heads, outQScale, out);                                                  \
    }

ATTENTION_MMA_FLOAT_INPUTS(32, true, true, attention_mma_d32_i8_i8)
ATTENTION_MMA_FLOAT_INPUTS(32, true, false, attention_mma_d32_i8_f16)
ATTENTION_MMA_FLOAT_INPUTS(32, false, true, attention_mma_d32_f16_i8)
ATTENTION_FLASH(32, 0, attention_mma_d32_f16_f16_f16in)
ATTENTION_FLASH(32, 1, attention_mma_d32_f16_f16_f32in)
ATTENTION_FLASH_GROUPS(32, 0, 2, attention_mma_d32_f16_f16_groups2_f16in)
ATTENTION_FLASH_GROUPS(32, 0, 3, attention_mma_d32_f16_f16_groups3_f16in)
ATTENTION_FLASH_WIDE(32, 0, attention_mma_d32_f16_f16_q128_f16in)
ATTENTION_MMA_FLOAT_INPUTS(32, false, false, attention_mma_d32_f16_f16_staged)
ATTENTION_RING(32, false, attention_mma_d32_i8_i8_i8in)
ATTENTION_RING(32, true, attention_mma_d32_i8_i8_resident_i8in)
ATTENTION_MMA(32, true, true, 2, attention_mma_d32_i8_i8_staged_i8in)
ATTENTION_MMA_FLOAT_INPUTS(64, true, true, attention_mma_d64_i8_i8)
ATTENTION_MMA_FLOAT_INPUTS(64, true, false, attention_mma_d64_i8_f16)
ATTENTION_MMA_FLOAT_INPUTS(64, false, true, attention_mma_d64_f16_i8)
ATTENTION_FLASH(64, 0, attention_mma_d64_f16_f16_f16in)
ATTENTION_FLASH(64, 1, attention_mma_d64_f16_f16_f32in)
ATTENTION_FLASH_GROUPS(64, 0, 2, attention_mma_d64_f16_f16_groups2_f16in)
ATTENTION_FLASH_GROUPS(64, 0, 3, attention_mma_d64_f16_f16_groups3_f16in)
ATTENTION_FLASH_WIDE(64, 0, attention_mma_d64_f16_f16_q128_f16in)
ATTENTION_MMA_FLOAT_INPUTS(64, false, false, attention_mma_d64_f16_f16_staged)
ATTENTION_RING(64, false, attention_mma_d64_i8_i8_i8in)
ATTENTION_SPLIT(64, 2, attention_mma_d64_i8_i8_split2_i8in)
ATTENTION_SPLIT(64, 3, attention_mma_d64_i8_i8_split3_i8in)
ATTENTION_SPLIT(64, 4, attention_mma_d64_i8_i8_split4_i8in)
ATTENTION_SPLIT(64, 5, attention_mma_d64_i8_i8_split5_i8in)
ATTENTION_SPLIT(64, 6, attention_mma_d64_i8_i8_split6_i8in)
ATTENTION_SPLIT(64, 7, attention_mma_d64_i8_i8_split7_i8in)
ATTENTION_SPLIT(64, 8, attention_mma_d64_i8_i8_split8_i8in)
ATTENTION_RING(64, true, attention_mma_d64_i8_i8_resident_i8in)
ATTENTION_MMA(64, true, true, 2, attention_mma_d64_i8_i8_staged_i8in)
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// attention_mma_d64_f16_f16_wgmma_f16in: the one-pass FP16 attention on wgmma (Hopper's sm_90a only; 64 queries per
// block of 128 threads, dynamic shared memory 5 × 8 KB + 1 KB of alignment + the mask).
// attention_mma_d64_f16_f16_wgmma_groups<G>_f16in: the same with G key groups of one warpgroup each (128·G threads;
// Q, G rings of 32 KB, 1 KB of alignment, the mask), for grids with fewer blocks than multiprocessors (batch 1).
// attention_mma_d64_f16_f16_wgmma_paired_f16in: 128 queries per block of two warpgroups that share one ring (256
// threads; two Q tiles, one ring of 32 KB, 1 KB of alignment, the mask; grid x = ⌈S / 128⌉), for big grids (batch 128)
// past 128 keys: the engine's choice there since session 27 (10% less time than the 64-query kernel alone at BERT-base
// s384 b128 on the H200; 10% more at s128, where each sequence has only two chunks to share).
#define ATTENTION_WGMMA(G, W, NAME)                                                                                    \
    extern "C" __global__ void __launch_bounds__(G * W * 128)                                                              \
        NAME(const void *qkv, const int *mask, const int *offsets, int S, int heads, float, float, float, int, float, float outQScale,         \
             void *out) {                                                                                                  \
        attention_flash_wgmma<G, W>(qkv, mask, offsets, S, heads, outQScale, out);                                                 \
    }
ATTENTION_WGMMA(1, 1, attention_mma_d64_f16_f16_wgmma_f16in)
ATTENTION_WGMMA(2, 1, attention_mma_d64_f16_f16_wgmma_groups2_f16in)
ATTENTION_WGMMA(3, 1, attention_mma_d64_f16_f16_wgmma_groups3_f16in)
ATTENTION_WGMMA(1, 2, attention_mma_d64_f16_f16_wgmma_paired_f16in)
#endif
