// gemm_wgmma: Hopper GEMM for many rows (large batches): TMA loads, wgmma tensor-core products, the same fused epilogue
// as gemm.cu, INT8 (s8·s8 → s32) and FP16 (f16·f16 → f32).
//
//   acc[m, n] = Σ_k A[m, k] · B[n, k]                       A: activations [M, K] row-major (lda elements apart)
//                                                            B: weights [N, K] row-major, as PyTorch stores Linear
//   v = acc · dqScale[n] + bias[n]                           dqScale: int8 → float (activation step × weight step[n]);
//                                                            null for FP16 (1)
//   v = gelu(v) if act;  out[m, n] = v as fp16, fp32, or int8 round(v · qScale[n]) saturated (qScale: float → int8)
//   float32 output with `residual` (not null): out[m, n] = v + residual[m, n], the residual stream (ldo apart) added
//   here so the LayerNorm after the GEMM reads one array, not two (session 18)
//   or (int8 kernels, outKind OUT_CODE) the residual code: out[m, n] = sat(rint(fp16(v) / step)) as int8, step =
//   qScale[0], the Q/DQ code of the residual add's local input that the next LayerNorm would compute from the fp16
//   output (`residual_layernorm_f16x8_codes_*`): the same codes, in one byte instead of two (session 33)
//
// Why a second GEMM: gemm.cu's mma.sync tiles reach about 250 TOPS at M = 16384 on the H200, where cuBLASLt's INT8
// reaches 576 and the tensor cores' dense INT8 rate is about 1,979. Hopper's full rate needs its own instructions:
// `wgmma` (one warpgroup, 128 threads, multiplies a 64×N×32-byte step in one asynchronous instruction, reading both
// operands from shared memory) and the Tensor Memory Accelerator (`cp.async.bulk.tensor`: one thread copies a whole
// 2-D box from global to shared memory, so the loads cost no per-thread address arithmetic or registers).
//
// Layout: a block computes a (64·CONSUMERS) × BN tile. Warpgroup 0 is the producer: one thread issues, per 128-byte K
// slab, one TMA copy of A's slab (BM rows × 128 bytes) and one of B's (BN rows × 128 bytes) into a ring of STAGES
// buffers, each completing on the stage's "full" mbarrier with its byte count. Warpgroups 1…CONSUMERS each own 64 rows
// of the tile: they wait for a stage to be full, issue four wgmma steps over its 128 bytes (k32 for int8, k16 for
// fp16: 32 bytes each), and release the stage on its "empty" mbarrier once the wgmma of the *previous* stage has
// completed (wgmma.wait_group 1), so one group of products stays in flight while the next stage is waited for.
// Both operands are K-major with the TMA's 128-byte swizzle (16-byte chunk c of row r lands at chunk c ^ (r mod 8)),
// which is the layout wgmma's 128B-swizzle shared-memory descriptor reads: rows of 128 bytes, 8-row groups 1,024
// bytes apart; a k step advances the descriptor's start address by 32 bytes. The accumulators of a warpgroup follow
// mma.sync's m16n8 layout per warp (warp w: rows 16w…16w+15; register 4j+i: n8 block j, row g + 8·(i/2), column
// 2t + (i mod 2), for lane = 4g + t), so the epilogue is gemm.cu's. Rows past M and columns past N read as zeros
// (TMA fills them) and are not stored.
// Requirements (checked by the host): lda·sizeof(element) and K·sizeof(element) multiples of 16 bytes, A and B
// 16-byte aligned, N even; the tensor maps as `tensorMap2D` builds them (box 128 bytes × BM or BN rows, 128B swizzle).
#include "common.cuh"
#include "wgmma.cuh"

namespace {

// A tile's per-column epilogue values (dqScale, bias and the output's scale for columns n0 … n0 + BN − 1), staged in
// shared memory by the warpgroup that owns the tile before its products, so their latency overlaps its wait for its
// first slab (or its turn), not the epilogue; only a block's first tile waits for them. (Nsight Compute on the
// batch-128 ping-pong kernels, session 17: loaded with __ldg inside the epilogue, one chunk of columns at a time, the
// epilogue's FFMAs waited on them — the largest stall of the fp16-output QKV GEMM, whose epilogue took twice its main
// loop's warp time, so the tensor cores idled half the time.) Laid out by column pair, as a lane reads them: one
// 16-byte load gives a pair's dqScale and bias. `scale` is what the epilogue multiplies by: with GELU s =
// qScale (int8 out: `gelu_scaled` then quantizes with 1) or 1; without, qScale (int8 out) or unused. Columns past N repeat
// the last pair (never stored; N is even).
template <int BN> struct __align__(16) Columns {
    float4 dqBias[BN / 2];  // pair i: dqScale[2i], dqScale[2i + 1], bias[2i], bias[2i + 1]
    float2 scale[BN / 2];
};
// Each consumer warpgroup's Columns and, per warp, 1 KB through which the epilogue's stores pass (`epilogue`): the
// kernels' only static shared memory, 12·BN + 4,096 bytes per consumer warpgroup.
template <int BN, int GROUPS> struct __align__(16) EpilogueShared {
    Columns<BN> columns[GROUPS];
    uint4 staging[GROUPS][4][64];
};
// CODES: an int8 kernel, which may be asked the residual codes (OUT_CODE); the FP16 kernels compile without that branch.
template <bool CODES, int BN>
__device__ __forceinline__ void stage_columns(Columns<BN> &c, int n0, int N, const float *__restrict__ dqScale,
                                              const float *__restrict__ bias, const float *__restrict__ qScale, int outKind, int act) {
    const bool quantized = outKind != OUT_F16 && outKind != OUT_F32;  // only an int8 output reads qScale
    for (int i = threadIdx.x % 128; i < BN / 2; i += 128) {
        const int n = min(n0 + 2 * i, N - 2);
        const float2 d = dqScale ? __ldg(reinterpret_cast<const float2 *>(dqScale + n)) : make_float2(1.f, 1.f);
        const float2 b = bias ? __ldg(reinterpret_cast<const float2 *>(bias + n)) : make_float2(0.f, 0.f);
        float2 q = make_float2(1.f, 1.f);
        if (CODES && outKind == OUT_CODE) {  // the residual code: qScale → the step (one value), staged with its reciprocal
            const float step = __ldg(qScale);
            q = make_float2(step, quantize_inverse(step));
        } else if (quantized) {
            q = __ldg(reinterpret_cast<const float2 *>(qScale + n));
        }
        c.dqBias[i] = make_float4(d.x, d.y, b.x, b.y);
        c.scale[i] = q;
    }
}

// The epilogue of one 64-row half of a tile from a warpgroup's accumulators (gemm.cu's math, in the same fragment
// layout), with the output kind and GELU fixed at compile time and the per-column values from `cols` (shared memory).
// It works through the columns in chunks of CHUNK n8 blocks (32 columns): every conversion of a chunk (scale, bias,
// GELU: 4·CHUNK independent chains per lane) is computed before any of its stores.
//
// Stores. In the fragment layout a lane holds two adjacent columns of each n8 block, so a warp storing straight from
// registers writes 4 bytes (fp16) or 2 (int8) of a row per lane: an int8 store fills a quarter of each 32-byte sector
// (Nsight Compute, session 17). So a tile wholly inside the matrix (rows and `out` 16-byte aligned) passes each chunk
// through its warp's 1 KB of shared memory (`staging`): the lanes write their pairs in the fragment layout (16 rows ×
// 64 bytes fp16, 16 × 32 int8), then each lane reads 16 contiguous bytes of a row back and stores them, a warp
// covering whole rows of the chunk (64 or 32 bytes: whole sectors where the row pitch is a multiple of 32 bytes, as at
// every BERT shape; `wide` asks only 16). The 16-byte units of a row are XOR-swizzled by
// row (fp16: unit j ^ (r/2 mod 4); int8: unit ^ (r/4 mod 2)), which makes both the writes (a lane's word at row
// g (+8), unit j) and the 16-byte reads free of bank conflicts. The session-17 form transposed each chunk across the
// quad with shuffles and selects instead: about 6 instructions per output against 1 here (SASS counts, cuobjdump).
// Float32 output (8 bytes per lane: whole sectors already) and edge tiles store pairs, the latter behind bounds checks.
template <int KIND, bool ACT, int BN, typename T, int J = BN / 8>
__device__ __forceinline__ void epilogue_columns(const Fragment<BN, T> &acc, const Columns<BN> &cols, uint4 *__restrict__ staging,
                                                 int m0, int n0, int M, int N, void *__restrict__ out, int ldo,
                                                 const float *__restrict__ residual, int jBase = 0) {
    constexpr int CHUNK = 4, BYTES = KIND == OUT_F16 ? 2 : KIND == OUT_F32 ? 4 : 1;
    constexpr bool INT8_OUT = KIND != OUT_F16 && KIND != OUT_F32;
    static_assert(BN % (8 * CHUNK) == 0, "whole chunks of n8 blocks");
    const int warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int row = m0 + warp * 16 + g;
    const bool inside = m0 + 64 <= M && n0 + BN <= N;
    const bool wide = KIND != OUT_F32 && inside && (ldo * BYTES) % 16 == 0 && (reinterpret_cast<size_t>(out) & 15) == 0;
    unsigned char *buf = reinterpret_cast<unsigned char *>(staging + warp * 64);
#pragma unroll
    for (int j0 = 0; j0 < J; j0 += CHUNK) {
        float v[CHUNK][4];
        float2 scale[CHUNK];
        // Float32 output with the residual stream added (the attention-output and FFN-output GEMMs of the INT8 engine):
        // the chunk's residual pairs are loaded before its conversions, so their latency overlaps them.
        float2 res[CHUNK][2];
        if (KIND == OUT_F32 && residual) {
#pragma unroll
            for (int j = 0; j < CHUNK; j++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int r = row + 8 * h, n = n0 + (jBase + j0 + j) * 8 + t * 2;
                    res[j][h] = inside || (r < M && n < N) ? *reinterpret_cast<const float2 *>(residual + (size_t)r * ldo + n)
                                                           : make_float2(0.f, 0.f);
                }
        }
#pragma unroll
        for (int j = 0; j < CHUNK; j++) {
            const float4 db = cols.dqBias[(jBase + j0 + j) * 4 + t];
            scale[j] = ACT || INT8_OUT ? cols.scale[(jBase + j0 + j) * 4 + t] : make_float2(0.f, 0.f);
#pragma unroll
            for (int i = 0; i < 4; i++) {
                v[j][i] = (float)acc.v[4 * (j0 + j) + i] * (i % 2 ? db.y : db.x) + (i % 2 ? db.w : db.z);
                if (ACT) v[j][i] = gelu_scaled(v[j][i], INT8_OUT ? (i % 2 ? scale[j].y : scale[j].x) : 1.f);
            }
            if (ACT) scale[j] = make_float2(1.f, 1.f);  // int8 out: already scaled
            if (KIND == OUT_CODE) {  // the value an fp16 output would hold, which the code quantizes (scale: step, 1 / step)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const float2 r = f16x2_to_float2(float2_to_f16x2(v[j][2 * h], v[j][2 * h + 1]));
                    v[j][2 * h] = r.x;
                    v[j][2 * h + 1] = r.y;
                }
            }
            if (KIND == OUT_F32 && residual) {
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    v[j][2 * h] += res[j][h].x;
                    v[j][2 * h + 1] += res[j][h].y;
                }
            }
        }
        if (wide) {
            __syncwarp();  // the previous chunk's reads of `buf` are done
#pragma unroll
            for (int j = 0; j < CHUNK; j++)
#pragma unroll
                for (int h = 0; h < 2; h++) {
                    const int r = g + 8 * h;
                    if (KIND == OUT_F16) {
                        *reinterpret_cast<unsigned *>(buf + r * 64 + (j ^ (r >> 1 & 3)) * 16 + t * 4) =
                            float2_to_f16x2(v[j][2 * h], v[j][2 * h + 1]);
                    } else {
                        const unsigned pair = KIND == OUT_CODE
                                                  ? __byte_perm(quantize_code_bits(v[j][2 * h], scale[j].x, scale[j].y),
                                                                quantize_code_bits(v[j][2 * h + 1], scale[j].x, scale[j].y), 0x0040)
                                                  : __byte_perm(quantize_s8_bits(v[j][2 * h], scale[j].x),
                                                                quantize_s8_bits(v[j][2 * h + 1], scale[j].y), 0x0040);
                        *reinterpret_cast<unsigned short *>(buf + r * 32 + (((2 * j + t / 2) ^ (r >> 2 & 1) * 4) * 4) + (t & 1) * 2) =
                            (unsigned short)pair;
                    }
                }
            __syncwarp();  // the chunk is in `buf`
            const size_t at = (size_t)(m0 + warp * 16) * ldo + n0 + (jBase + j0) * 8;
            if (KIND == OUT_F16) {
#pragma unroll
                for (int k = 0; k < 2; k++) {
                    const int p = lane + 32 * k, r = p / 4, u = p % 4;
                    *reinterpret_cast<uint4 *>(static_cast<f16 *>(out) + at + (size_t)r * ldo + u * 8) =
                        *reinterpret_cast<const uint4 *>(buf + r * 64 + (u ^ (r >> 1 & 3)) * 16);
                }
            } else {
                const int r = lane / 2, u = lane % 2;
                *reinterpret_cast<uint4 *>(static_cast<signed char *>(out) + at + (size_t)r * ldo + u * 16) =
                    *reinterpret_cast<const uint4 *>(buf + r * 32 + (u ^ (r >> 2 & 1)) * 16);
            }
            continue;
        }
#pragma unroll
        for (int j = 0; j < CHUNK; j++) {
            const int n = n0 + (jBase + j0 + j) * 8 + t * 2;
            if (KIND == OUT_CODE) {  // edge tiles: the codes as integral floats, which the int8 store passes unchanged
#pragma unroll
                for (int i = 0; i < 4; i++) v[j][i] = quantize_code(v[j][i], scale[j].x, scale[j].y);
                scale[j] = make_float2(1.f, 1.f);
            }
            const float qs[2] = {scale[j].x, scale[j].y};
#pragma unroll
            for (int h = 0; h < 2; h++)
                if (inside || (row + 8 * h < M && n < N)) store_pair(out, ldo, KIND, row + 8 * h, n, v[j][2 * h], v[j][2 * h + 1], qs);
        }
    }
}

//
// ROLL (set by the cooperative schedule for tiles of up to 128 columns): the chunk loop is not unrolled. At batch 1 a
// block runs its epilogue once, from a cold instruction cache, and Nsight Compute's stall samples (session 28,
// BERT-large s384 b1) put a third of the FFN-out GEMM's warp time (`gemm_wgmma_i8_64x64`) and most of its "no
// instruction" stalls in the epilogue, 400 straight-line instructions fetched once each. Rolled, the loop's body is
// fetched once and run BN / 32 times (SASS: 3,048 instructions in `gemm_wgmma_i8_64x64`, 5,280 unrolled); the chunk's
// accumulators always sit at the front of a copy of the tile (`a`), which moves down by 16 registers after each chunk
// (BN / 2 − 16 moves), so no register is indexed at run time. On the H200 it took BERT-large INT8 s384 b1 from 0.918
// to 0.871 ms tuned, and FP16 from 1.218 to 1.077 with tuning off (session 28, call 4). The ping-pong schedules (batch
// 128) stay unrolled: their epilogues overlap another warpgroup's products and stay in the instruction cache from tile
// to tile, and rolled they were 1.3% slower there. The cooperative 128×256 tile (a few hundred rows and up) stays
// unrolled too; it was not measured rolled.
// `epilogue_columns` is the unrolled epilogue over J n8 blocks from jBase, and the rolled loop calls it a chunk at a
// time. Written so, every unrolled kernel compiles to the SASS it had before the rolled form existed. A first form
// (one lambda for both) changed the ping-pong kernels' SASS by 48–88 instructions and spilled a register in the
// 128×128 ones, and BERT-large INT8 batch 128 ran 1.3–1.6% slower for it (session 29, call 3: s128 b128 13.74 ms with
// this form against 13.92–13.96, s384 b128 44.68–44.70 against 45.26–45.38; batch 1 the same).
template <int KIND, bool ACT, bool ROLL, int BN, typename T>
__device__ __forceinline__ void epilogue(const Fragment<BN, T> &acc, const Columns<BN> &cols, uint4 *__restrict__ staging,
                                         int m0, int n0, int M, int N, void *__restrict__ out, int ldo,
                                         const float *__restrict__ residual) {
    if constexpr (ROLL) {
        constexpr int CHUNK = 4;
        Fragment<BN, T> a = acc;  // n8 blocks jBase … jBase + CHUNK − 1: their accumulators at the front of `a`
#pragma unroll 1
        for (int jBase = 0; jBase < BN / 8; jBase += CHUNK) {
            epilogue_columns<KIND, ACT, BN, T, CHUNK>(a, cols, staging, m0, n0, M, N, out, ldo, residual, jBase);
#pragma unroll
            for (int i = 0; i + 4 * CHUNK < BN / 2; i++) a.v[i] = a.v[i + 4 * CHUNK];  // the next chunk to the front
        }
    } else {
        epilogue_columns<KIND, ACT, BN, T>(acc, cols, staging, m0, n0, M, N, out, ldo, residual);
    }
}

// The runtime epilogue choice (output kind × GELU) mapped to the compiled variants: `run(EpilogueVariant<KIND, ACT>())`
// for the one asked. CODES: an int8 kernel, the only kind the engine asks residual codes of.
template <int KIND, bool ACT> struct EpilogueVariant {
    static constexpr int kind = KIND;
    static constexpr bool act = ACT;
};
template <bool CODES, typename F>
__device__ __forceinline__ void with_epilogue_variant(int outKind, int act, F &&run) {
    if (outKind == OUT_F16) {
        if (act) run(EpilogueVariant<OUT_F16, true>()); else run(EpilogueVariant<OUT_F16, false>());
    } else if (outKind == OUT_F32) {
        if (act) run(EpilogueVariant<OUT_F32, true>()); else run(EpilogueVariant<OUT_F32, false>());
    } else if (CODES && outKind == OUT_CODE) {
        if constexpr (CODES) run(EpilogueVariant<OUT_CODE, false>());
    } else {
        if (act) run(EpilogueVariant<2, true>()); else run(EpilogueVariant<2, false>());
    }
}
template <bool ROLL, int BN, typename T>
__device__ __forceinline__ void epilogue(const Fragment<BN, T> &acc, const Columns<BN> &cols, uint4 *__restrict__ staging, int m0,
                                         int n0, int M, int N, int act, int outKind, void *__restrict__ out, int ldo,
                                         const float *__restrict__ residual) {
    with_epilogue_variant<integer_accumulator<T>>(outKind, act, [&](auto v) {
        epilogue<decltype(v)::kind, decltype(v)::act, ROLL>(acc, cols, staging, m0, n0, M, N, out, ldo, residual);
    });
}

// Barrier setup shared by every schedule: `full` completes when a stage's two TMA copies have landed (one arrival, the
// producer's, plus the bytes), `empty` when its consumers (`consumers` threads) have finished reading it. Thread 0 then
// runs `beforeWait`, which may only touch what never changes (weights), before `griddepcontrol.wait`.
template <int STAGES, typename F>
__device__ __forceinline__ void init_barriers(unsigned long long *full, unsigned long long *empty, unsigned consumers, F &&beforeWait) {
    if (threadIdx.x == 0) {
        for (int s = 0; s < STAGES; s++) {
            barrier_init(full + s, 1);
            barrier_init(empty + s, consumers);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");  // visible to the TMA unit
        beforeWait();
    }
    __syncthreads();
    wait_for_producers();
    allow_dependents();
}
template <int STAGES>
__device__ __forceinline__ void init_barriers(unsigned long long *full, unsigned long long *empty, unsigned consumers) {
    init_barriers<STAGES>(full, empty, consumers, [] {});
}

// The ring of stages both schedules stream K through: STAGES buffers, each a BM-row slab of A and a BN-row slab of B
// (128 bytes of K per row), then a `full` and an `empty` mbarrier per stage. Ring position p uses stage p mod STAGES in
// its (p / STAGES)-th lap. The buffers start 1,024-byte aligned (the swizzle pattern assumes it; the host asks for
// 1,024 bytes more than the ring needs).
template <int BM, int BN, int STAGES>
struct Ring {
    enum : int { BK = 128, A_BYTES = BM * BK, STAGE_BYTES = (BM + BN) * BK };
    unsigned char *smem;
    unsigned long long *full, *empty;

    __device__ __forceinline__ explicit Ring(unsigned char *raw)
        : smem(raw + ((1024 - (smem_address(raw) & 1023)) & 1023)),
          full(reinterpret_cast<unsigned long long *>(smem + STAGES * STAGE_BYTES)), empty(full + STAGES) {}

    // Producer: the K slab at byte x of rows m0 (A) and n0 (B) into `position`, once its consumers have released the
    // position one lap earlier.
    __device__ __forceinline__ void load(int position, const TensorMap &mapA, const TensorMap &mapB, int x, int m0, int n0) {
        const int s = position % STAGES;
        if (position >= STAGES) barrier_wait(empty + s, (position / STAGES - 1) & 1);
        unsigned char *stage = smem + s * STAGE_BYTES;
        barrier_expect(full + s, STAGE_BYTES);
        tma_load(stage, mapA, full + s, x, m0);
        tma_load(stage + A_BYTES, mapB, full + s, x, n0);
    }

    // Producer of the persistent schedules (one thread): every tile of the block (tiles blockIdx.x, + gridDim.x, …;
    // tile t at rows t / tilesN · BM, columns t mod tilesN · BN) in order, kTiles K slabs each, one ring position per slab.
    __device__ __forceinline__ void load_tiles(const TensorMap &mapA, const TensorMap &mapB, int tiles, int tilesN, int kTiles) {
        int position = 0;
        for (int tile = blockIdx.x; tile < tiles; tile += gridDim.x) {
            const int m0 = tile / tilesN * BM, n0 = tile % tilesN * BN;
            for (int kt = 0; kt < kTiles; kt++) load(position++, mapA, mapB, kt * BK, m0, n0);
        }
    }

    // Consumer (one warpgroup): the products of positions first … first + kTiles − 1 into HALVES accumulator tiles of
    // 64 rows each, from `aOffset` bytes into each stage's A slab. Each position is released once the next one's
    // products are issued and its own have completed (wgmma.wait_group 1), so one group stays in flight; the last
    // position's group is still in flight and the position unreleased on return. (No operand fence inside the loop: the
    // newest group still writes the accumulators, and touching them would make ptxas serialize every wgmma.)
    template <int HALVES, typename T>
    __device__ __forceinline__ void multiply(Fragment<BN, T> (&acc)[HALVES], int first, int kTiles, int aOffset) {
        for (int kt = 0; kt < kTiles; kt++) {
            const int position = first + kt;
            issue(acc, position, aOffset);
            wgmma_wait<1>();
            if (kt > 0) release(position - 1);
        }
    }

    // Consumer of the ping-pong schedules (warpgroup c of C, its i-th tile, the block's j-th; their C turn barriers follow
    // the ring's `empty` ones): waits for its turn (turn[c] completes once per tile of warpgroup c − 1: phase i, or
    // i − 1 for warpgroup 0, which starts without waiting), multiplies the tile's kTiles slabs into fresh accumulators,
    // passes the turn on, and completes its products, releasing the last slab too, since the ring goes on to the next
    // tile.
    template <int C, int HALVES, typename T>
    __device__ __forceinline__ void multiply_in_turn(Fragment<BN, T> (&acc)[HALVES], int c, int i, int j, int kTiles) {
        unsigned long long *turn = empty + STAGES;
        if (c > 0 || i > 0) barrier_wait(turn + c, (c > 0 ? i : i - 1) & 1);
        zero(acc);
        multiply(acc, j * kTiles, kTiles, 0);
        barrier_arrive(turn + (c + 1) % C);
        wgmma_wait<0>();
        release(j * kTiles + kTiles - 1);
    }

    // Consumer (one warpgroup): waits for `position` to be full and issues its products as one committed group, not
    // waited for.
    template <int HALVES, typename T>
    __device__ __forceinline__ void issue(Fragment<BN, T> (&acc)[HALVES], int position, int aOffset) {
        const int s = position % STAGES;
        barrier_wait(full + s, (position / STAGES) & 1);
        const unsigned a = descriptor_low(smem_address(smem + s * STAGE_BYTES) + aOffset),
                       b = descriptor_low(smem_address(smem + s * STAGE_BYTES + A_BYTES));
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BK; kk += 32)
#pragma unroll
            for (int h = 0; h < HALVES; h++) wgmma(acc[h], descriptor(a, h * 64 * BK + kk), descriptor(b, kk));
        wgmma_commit();
    }

    __device__ __forceinline__ void release(int position) { barrier_arrive(empty + position % STAGES); }

    // The two halves of `load` for a position of the first lap (no release to wait for): the weights' slab, which may be
    // fetched before the previous kernel has finished (weights never change), and the activations' slab after it.
    __device__ __forceinline__ void loadWeights(int position, const TensorMap &mapB, int x, int n0) {
        barrier_expect(full + position, STAGE_BYTES);
        tma_load(smem + position * STAGE_BYTES + A_BYTES, mapB, full + position, x, n0);
    }
    __device__ __forceinline__ void loadActivations(int position, const TensorMap &mapA, int x, int m0) {
        tma_load(smem + position * STAGE_BYTES, mapA, full + position, x, m0);
    }
};

// The start of the one-tile schedules (cooperative and split-K): the ring's barriers (`consumers` threads release a
// stage), then the weights' slabs of the first lap, K slabs kt0 … kt0 + early − 1 with early = min(kTiles, STAGES),
// requested before `griddepcontrol.wait`: weights never change, so under programmatic dependent launch their fetch
// overlaps the previous kernel's tail, and the activations' slabs follow once that kernel is done. Returns `early`;
// the producer thread then calls `finish_loads`.
template <int BM, int BN, int STAGES>
__device__ __forceinline__ int start_ring(Ring<BM, BN, STAGES> &ring, const TensorMap &mapB, int n0, int kt0, int kTiles,
                                          unsigned consumers) {
    const int early = min(kTiles, STAGES);
    init_barriers<STAGES>(ring.full, ring.empty, consumers, [&] {
        for (int kt = 0; kt < early; kt++) ring.loadWeights(kt, mapB, (kt0 + kt) * Ring<BM, BN, STAGES>::BK, n0);
    });
    return early;
}
// The producer thread's part after `start_ring`: the activations of the first lap, then whole slabs.
template <int BM, int BN, int STAGES>
__device__ __forceinline__ void finish_loads(Ring<BM, BN, STAGES> &ring, const TensorMap &mapA, const TensorMap &mapB, int m0,
                                             int n0, int kt0, int kTiles, int early) {
    constexpr int BK = Ring<BM, BN, STAGES>::BK;
    for (int kt = 0; kt < early; kt++) ring.loadActivations(kt, mapA, (kt0 + kt) * BK, m0);
    for (int kt = early; kt < kTiles; kt++) ring.load(kt, mapA, mapB, (kt0 + kt) * BK, m0, n0);
}

template <int HALVES, int BN, typename T> __device__ __forceinline__ void zero(Fragment<BN, T> (&acc)[HALVES]) {
#pragma unroll
    for (int h = 0; h < HALVES; h++)
#pragma unroll
        for (int i = 0; i < BN / 2; i++) acc[h].v[i] = 0;
}

// Cooperative schedule: one tile per block, its rows split over CONSUMERS warpgroups of 64.
template <int CONSUMERS, int BN, int STAGES, bool INT8>
__device__ __forceinline__ void gemm(const TensorMap &mapA, const TensorMap &mapB, int M, int N, int K,
                                     const float *__restrict__ dqScale, const float *__restrict__ bias, int act,
                                     const float *__restrict__ qScale, int outKind, void *__restrict__ out, int ldo,
                                     const float *__restrict__ residual) {
    typedef typename Accumulator<INT8>::T T;
    typedef Ring<64 * CONSUMERS, BN, STAGES> R;
    extern __shared__ unsigned char raw[];
    R ring(raw);
    if (threadIdx.x == 0) {
        prefetch_map(mapA);
        prefetch_map(mapB);
    }
    const int tid = threadIdx.x, group = warpgroup_index();
    const int m0 = blockIdx.y * 64 * CONSUMERS, n0 = blockIdx.x * BN;
    const int kTiles = (K * (INT8 ? 1 : 2) + R::BK - 1) / R::BK;
    const int early = start_ring(ring, mapB, n0, 0, kTiles, CONSUMERS * 128);

    if (group == 0) {  // producer
        if (tid == 0) finish_loads(ring, mapA, mapB, m0, n0, 0, kTiles, early);
        return;
    }

    const int c = group - 1;
    __shared__ EpilogueShared<BN, CONSUMERS> shared;  // each consumer warpgroup's columns (loads overlap the first slabs' wait)
    stage_columns<INT8>(shared.columns[c], n0, N, dqScale, bias, qScale, outKind, act);
    Fragment<BN, T> acc[1];
    zero(acc);
    ring.multiply(acc, 0, kTiles, c * 64 * R::BK);
    wgmma_wait<0>();
    fence_operands(acc[0]);
    warpgroup_sync(1 + c);
    epilogue<BN <= 128>(acc[0], shared.columns[c], shared.staging[c][0], m0 + c * 64, n0, M, N, act, outKind, out, ldo, residual);
}

// Ping-pong schedule (persistent): each of C consumer warpgroups owns whole (64·HALVES) × BN tiles, they take the
// block's tiles in turn, and the producer streams their K slabs through one ring in tile order. So while one
// warpgroup runs its epilogue (at K = 1,024 a tile has only 8 int8 slabs, and the epilogue — scales, GELU, stores —
// costs about as long as the products), another's products keep the tensor cores busy, and the producer is already
// loading the next tile. The grid is at most one block per multiprocessor; block b takes tiles b, b + grid, …,
// warpgroups in rotation. C = 3 (`gemm_wgmma_p3_*`, 64 × 128 tiles, session 18) is for epilogues longer than a main
// loop (GELU into int8): two warpgroups can be in their epilogues while the third multiplies.
template <int C, int HALVES, int BN, int STAGES, bool INT8>
__device__ __forceinline__ void gemm_pingpong(const TensorMap &mapA, const TensorMap &mapB, int M, int N, int K,
                                              const float *__restrict__ dqScale, const float *__restrict__ bias, int act,
                                              const float *__restrict__ qScale, int outKind, void *__restrict__ out, int ldo,
                                              const float *__restrict__ residual) {
    typedef typename Accumulator<INT8>::T T;
    typedef Ring<64 * HALVES, BN, STAGES> R;
    constexpr int BM = 64 * HALVES;
    // Registers move from the producer (one thread at work) to the consumers: 40 + C × CONSUMER_REGS per 128 threads
    // fits the 64 K registers of a multiprocessor (C = 2: 232, for 128 accumulators and the epilogue; C = 3: 152).
    constexpr int CONSUMER_REGS = C == 2 ? 232 : 152;
    static_assert(C == 2 || C == 3, "two or three consumer warpgroups");
    static_assert(128 * (40 + C * CONSUMER_REGS) <= 65536, "the register file");
    extern __shared__ unsigned char raw[];
    R ring(raw);
    if (threadIdx.x == 0) {
        prefetch_map(mapA);
        prefetch_map(mapB);
    }
    // turn[c]: warpgroup c may start its next main loop (the one before it has finished waiting for its slabs).
    unsigned long long *turn = ring.empty + STAGES;
    const int tid = threadIdx.x, group = warpgroup_index();
    const int tilesN = (N + BN - 1) / BN, tiles = tilesN * ((M + BM - 1) / BM);
    const int kTiles = (K * (INT8 ? 1 : 2) + R::BK - 1) / R::BK;
    if (tid == 0) {
        for (int k = 0; k < C; k++) barrier_init(turn + k, 128);
    }
    init_barriers<STAGES>(ring.full, ring.empty, 128);

    if (group == 0) {  // producer: every tile of the block in order, one ring position per K slab
        asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
        if (tid == 0) ring.load_tiles(mapA, mapB, tiles, tilesN, kTiles);
        return;
    }

    asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(CONSUMER_REGS));
    const int c = group - 1;
    Fragment<BN, T> acc[HALVES];
    // The block's j-th tile occupies ring positions j·kTiles … (j+1)·kTiles − 1; warpgroup c takes j = c, c + C, …
    // The main loops take turns (warpgroup 0 first, then 1, …): a warpgroup starts waiting for its slabs only once the
    // one before it has waited for all of its own. Besides ordering the tensor-core work, this keeps every wait within
    // one lap of the ring: a slab STAGES or more positions ahead would test a barrier phase of the same parity that has
    // not begun, which mbarrier parity waits report as complete. turn[c] completes once per tile of warpgroup c − 1, so
    // warpgroup c's i-th wait is for its phase i (c > 0) or i − 1 (c = 0, which starts without waiting).
    __shared__ EpilogueShared<BN, C> shared;  // each warpgroup's tile's per-column values, staged while it waits its turn
    for (int i = 0, j = c, tile = blockIdx.x + c * gridDim.x; tile < tiles; i++, j += C, tile += C * gridDim.x) {
        const int m0 = tile / tilesN * BM, n0 = tile % tilesN * BN;
        warpgroup_sync(1 + c);  // the previous tile's epilogue has read its values
        stage_columns<INT8>(shared.columns[c], n0, N, dqScale, bias, qScale, outKind, act);
        ring.template multiply_in_turn<C>(acc, c, i, j, kTiles);
        warpgroup_sync(1 + c);                  // every thread's share of the column values is in place
        // One copy of the epilogue's code for every half: the next half moves into the first's registers.
#pragma unroll 1
        for (int h = 0; h < HALVES; h++) {
            fence_operands(acc[0]);
            epilogue<false>(acc[0], shared.columns[c], shared.staging[c][0], m0 + h * 64, n0, M, N, act, outKind, out, ldo, residual);
#pragma unroll
            for (int k = 0; k + 1 < HALVES; k++) acc[k] = acc[k + 1];
        }
    }
}


// Products and epilogue on warpgroups of their own ("pe", persistent; a tuning candidate only with OCTET_GEMM_PE=1):
// the FFN-in GEMM (K = 1,024, GELU into int8) keeps the tensor cores 47% busy in the ping-pong kernel (Nsight Compute,
// sessions 32 and 34), where FFN out (K = 4,096) keeps them 84% busy with the same products: a tile's epilogue, about
// 20 instructions per output on one warp per scheduler, outlasts the other warpgroup's main loop (4,096 cycles per
// 128 × 128 tile at K = 1,024). Here the two product warpgroups take the block's tiles in turn exactly as
// `gemm_pingpong` (the same ring and turn barriers, 128-row accumulators), but instead of running the epilogue each
// hands its accumulators over through shared memory (`handoff`, 64 KB at BN = 128, in fragment order: 16-byte unit q of
// half h of thread t at (h · BN/8 + q) · 128 + t, so a warp's stores and loads are whole 512-byte runs, free of bank
// conflicts) and goes back to its next tile. Two epilogue warpgroups (epilogue warpgroup e takes half e, rows 64e …
// 64e + 63: the same thread index holds the same fragment positions) run the same `epilogue_columns` as every wgmma
// kernel on it, a chunk at a time, so the outputs are the same bits, with two warps per scheduler in epilogues.
// One handoff buffer: a product warpgroup writes tile j once tile j − 1 has been written (`handFull`, phase j − 1) and
// read (`handEmpty`, phase j − 1), so the buffer's tiles go in block order and every parity wait is within one phase;
// the epilogue reads tile j once written (`handFull`, phase j).
// Registers: 640 threads start at 96 each (ptxas's count for the launch bound), and `setmaxnreg.inc` draws only on what
// the block's own `.dec` calls release, so the roles share 5 · 96 = 480 per thread index: the producer gives back to
// 24, the epilogue warpgroups to 64, the product warpgroups take 160 (128 accumulators; at 152 or less ptxas spills
// them and serializes the wgmmas). ptxas compiles each region for its `setmaxnreg` count (checked on a test kernel:
// 200 live values after `setmaxnreg.inc 232` at 384 threads, no spills; without it, spills). At 64 the epilogue
// spills a few staging addresses in its fp16-output paths (reloaded once per chunk); GELU into int8 (FFN in) and the
// codes do not spill. Shared memory: STAGES ring slabs (four: the ping-pong kernel has six), 1 KB for the
// barriers, the handoff. (Session 34's first form multiplied each tile with both product warpgroups, 64 rows each,
// without `setmaxnreg`: correct, and 8–33% slower than the ping-pong tiles at every BERT shape, FFN out included:
// docs/results/h200-2026-12-02-s34/4-pe/rejected-pe-gemm.diff.)
// An accumulator (int32 or float) as the 32 bits the handoff buffer holds, and back.
__device__ __forceinline__ unsigned bits_of(int v) { return (unsigned)v; }
__device__ __forceinline__ unsigned bits_of(float v) { return __float_as_uint(v); }
template <typename T> __device__ __forceinline__ T from_bits(unsigned u);
template <> __device__ __forceinline__ int from_bits<int>(unsigned u) { return (int)u; }
template <> __device__ __forceinline__ float from_bits<float>(unsigned u) { return __uint_as_float(u); }
template <int KIND, bool ACT, int BN, typename T>
__device__ __forceinline__ void handoff_epilogue(const uint4 *hand, unsigned long long *handEmpty, const Columns<BN> &cols,
                                                 uint4 *__restrict__ staging, int m0, int n0, int M, int N, void *__restrict__ out,
                                                 int ldo, const float *__restrict__ residual) {
    constexpr int CHUNK = 4, J = BN / 8;
#pragma unroll
    for (int jBase = 0; jBase < J; jBase += CHUNK) {
        Fragment<BN, T> a;  // the chunk's accumulators at the front, as the rolled epilogue keeps them
#pragma unroll
        for (int j = 0; j < CHUNK; j++) {
            const uint4 u = hand[(jBase + j) * 128 + threadIdx.x % 128];
            a.v[4 * j] = from_bits<T>(u.x);
            a.v[4 * j + 1] = from_bits<T>(u.y);
            a.v[4 * j + 2] = from_bits<T>(u.z);
            a.v[4 * j + 3] = from_bits<T>(u.w);
        }
        // The tile's last loads are issued: the buffer may refill. (`hand` is not __restrict__, so the arrive's memory
        // clobber keeps the loads before it.)
        if (jBase + CHUNK == J) barrier_arrive(handEmpty);
        epilogue_columns<KIND, ACT, BN, T, CHUNK>(a, cols, staging, m0, n0, M, N, out, ldo, residual, jBase);
    }
}

template <int BN, int STAGES, bool INT8>
__device__ __forceinline__ void gemm_pingpong_epilogue(const TensorMap &mapA, const TensorMap &mapB, int M, int N, int K,
                                                       const float *__restrict__ dqScale, const float *__restrict__ bias, int act,
                                                       const float *__restrict__ qScale, int outKind, void *__restrict__ out, int ldo,
                                                       const float *__restrict__ residual) {
    typedef typename Accumulator<INT8>::T T;
    typedef Ring<128, BN, STAGES> R;
    constexpr int C = 2, BM = 128, PRODUCER_REGS = 24, PRODUCT_REGS = 160, EPILOGUE_REGS = 64;
    // setmaxnreg.inc draws only on what the block's own .dec calls released: 640 threads launch at 96 registers each
    // (ptxas gives a kernel that uses setmaxnreg its launch bound's whole count: "Used 96 registers"; with fewer the
    // products' .inc would wait forever, which the self-test's time limit would show as a hang).
    static_assert(PRODUCER_REGS + C * PRODUCT_REGS + 2 * EPILOGUE_REGS <= 5 * 96, "the block's registers");
    extern __shared__ unsigned char raw[];
    R ring(raw);
    unsigned long long *turn = ring.empty + STAGES, *handFull = turn + C, *handEmpty = handFull + 1;
    uint4 *handoff = reinterpret_cast<uint4 *>(ring.smem + STAGES * R::STAGE_BYTES + 1024);
    if (threadIdx.x == 0) {
        prefetch_map(mapA);
        prefetch_map(mapB);
    }
    const int tid = threadIdx.x, group = warpgroup_index();
    const int tilesN = (N + BN - 1) / BN, tiles = tilesN * ((M + BM - 1) / BM);
    const int kTiles = (K * (INT8 ? 1 : 2) + R::BK - 1) / R::BK;
    if (tid == 0) {
        for (int k = 0; k < C; k++) barrier_init(turn + k, 128);
        barrier_init(handFull, 128);   // one product warpgroup's threads, once per tile
        barrier_init(handEmpty, 256);  // both epilogue warpgroups' threads, once per tile
    }
    init_barriers<STAGES>(ring.full, ring.empty, 128);

    if (group == 0) {  // producer: every tile of the block in order, one ring position per K slab
        asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(PRODUCER_REGS));
        if (tid == 0) ring.load_tiles(mapA, mapB, tiles, tilesN, kTiles);
        return;
    }
    if (group <= C) {  // products: the block's j-th tile (ring positions j·kTiles …) by warpgroup j mod C, as gemm_pingpong
        asm volatile("setmaxnreg.inc.sync.aligned.u32 %0;\n" ::"n"(PRODUCT_REGS));
        const int c = group - 1;
        Fragment<BN, T> acc[2];
        for (int i = 0, j = c, tile = blockIdx.x + c * gridDim.x; tile < tiles; i++, j += C, tile += C * gridDim.x) {
            ring.template multiply_in_turn<C>(acc, c, i, j, kTiles);
            fence_operands(acc[0]);
            fence_operands(acc[1]);
            // Every warp of this warpgroup has arrived on handFull for its previous tile (phase j − 2) before any waits
            // for phase j − 1: a warp a tile ahead of another could otherwise see the same parity two phases back.
            warpgroup_sync(1 + c);
            if (j > 0) {
                barrier_wait(handFull, (j - 1) & 1);   // tile j − 1 is in the buffer (its writer's phase) …
                barrier_wait(handEmpty, (j - 1) & 1);  // … and read
            }
#pragma unroll
            for (int h = 0; h < 2; h++)
#pragma unroll
                for (int q = 0; q < BN / 8; q++)
                    handoff[(h * (BN / 8) + q) * 128 + tid % 128] =
                        make_uint4(bits_of(acc[h].v[4 * q]), bits_of(acc[h].v[4 * q + 1]),
                                   bits_of(acc[h].v[4 * q + 2]), bits_of(acc[h].v[4 * q + 3]));
            barrier_arrive(handFull);
        }
        return;
    }
    // Epilogue warpgroup e: rows 64e … 64e + 63 of every tile of the block, in order.
    asm volatile("setmaxnreg.dec.sync.aligned.u32 %0;\n" ::"n"(EPILOGUE_REGS));
    const int e = group - 1 - C;
    __shared__ EpilogueShared<BN, 2> shared;  // each epilogue warpgroup's copy of the tile's column values, its staging
    for (int j = 0, tile = blockIdx.x; tile < tiles; j++, tile += gridDim.x) {
        const int m0 = tile / tilesN * BM, n0 = tile % tilesN * BN;
        warpgroup_sync(1 + C + e);  // the previous tile's epilogue has read its column values
        stage_columns<INT8>(shared.columns[e], n0, N, dqScale, bias, qScale, outKind, act);
        barrier_wait(handFull, j & 1);
        warpgroup_sync(1 + C + e);  // every thread's share of the column values is in place
        const uint4 *hand = handoff + e * (BN / 8) * 128;
        with_epilogue_variant<integer_accumulator<T>>(outKind, act, [&](auto v) {
            handoff_epilogue<decltype(v)::kind, decltype(v)::act, BN, T>(hand, handEmpty, shared.columns[e], shared.staging[e][0],
                                                                         m0 + 64 * e, n0, M, N, out, ldo, residual);
        });
    }
}

// Split-K schedule for few rows (batch 1: M = 128 or 384), where a GEMM is a stream of weights. A 64×128 tile per block
// gave BERT-large s128 b1's FFN-out GEMM (N = 1,024, K = 4,096) 16 blocks on 132 multiprocessors, each pulling 512 KB
// of weights through one TMA ring: 9.4 µs where the weights stream in about 1 µs. Here the grid's z splits K: the
// `split` blocks of a tile (a thread-block cluster (1, 1, split), split ≤ 16) each take K slabs
// [z·slabs/split, (z+1)·slabs/split), so tiles × split blocks pull the weights together. Each block parks its partial
// tile (int32 or float, rows padded by 8 words so a warp's stores spread over the banks) in its ring's buffers, idle
// by then; after a cluster barrier block z adds rows [z·BM/split, (z+1)·BM/split) of all the cluster's partials in
// rank order through distributed shared memory (a fixed order: float sums never depend on timing) and runs the
// epilogue on them with all its threads, so the epilogue's work (GELU, quantization) is split too. The weights' first
// slabs are requested before `griddepcontrol.wait` (weights never change), so under programmatic dependent launch their
// fetch overlaps the previous kernel's tail. Every thread stays to the last cluster barrier. Splits of 9–16 are
// Hopper's non-portable cluster sizes (the host allows them per function and only where the occupancy query says such a
// cluster fits). A split of 1 is a plain launch (a cluster of one block): the tile's epilogue then runs on every thread
// of the block, the producer warpgroup's too, instead of on the consumers alone. Bigger tiles (128×128, 128×256,
// 64×256) exist for a few hundred rows: a block streams (BM + BN) · K / split bytes for 2 · BM · BN · K / split
// operations, so at M = 384 the 64×64 tiles read every weight six times and every activation N / 64 times through L2,
// where a 128×256 tile reads them three times and N / 256 times. Four stages, though a
// block of BERT-large's FFN out at batch 1 has 8 slabs to fetch: with eight (129 KB of shared memory) the same splits
// measured 30–50% slower on the H200, clusters waiting for multiprocessors with that much shared memory free (the
// cooperative kernel, eight stages, is the candidate for shapes that need no split).
template <int CONSUMERS, int BN, int STAGES, bool INT8>
__device__ __forceinline__ void gemm_splitk(const TensorMap &mapA, const TensorMap &mapB, int M, int N, int K,
                                            const float *__restrict__ dqScale, const float *__restrict__ bias, int act,
                                            const float *__restrict__ qScale, int outKind, void *__restrict__ out, int ldo,
                                            const float *__restrict__ residual) {
    typedef typename Accumulator<INT8>::T T;
    constexpr int BM = 64 * CONSUMERS, THREADS = 128 * (CONSUMERS + 1), LD = BN + 8, MAX_SPLIT = 16;
    typedef Ring<BM, BN, STAGES> R;
    static_assert(BM * LD * 4 <= STAGES * R::STAGE_BYTES, "the partial tile is parked in the ring's buffers");
    extern __shared__ unsigned char raw[];
    R ring(raw);
    if (threadIdx.x == 0) {
        prefetch_map(mapA);
        prefetch_map(mapB);
    }
    const int tid = threadIdx.x, group = warpgroup_index();
    const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN, split = gridDim.z, z = blockIdx.z;
    const int slabs = (K * (INT8 ? 1 : 2) + R::BK - 1) / R::BK, kt0 = z * slabs / split, kTiles = (z + 1) * slabs / split - kt0;
    const int early = start_ring(ring, mapB, n0, kt0, kTiles, CONSUMERS * 128);

    Fragment<BN, T> acc[1];
    if (group == 0) {  // producer
        if (tid == 0) finish_loads(ring, mapA, mapB, m0, n0, kt0, kTiles, early);
    } else {
        zero(acc);
        ring.multiply(acc, 0, kTiles, (group - 1) * 64 * R::BK);
        wgmma_wait<0>();
        fence_operands(acc[0]);
    }
    // Every consumer has waited for every slab and its products are complete: the ring's buffers are free.
    __syncthreads();
    T *tile = reinterpret_cast<T *>(ring.smem);
    if (group > 0) {
        const int warp = (tid % 128) / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
#pragma unroll
        for (int j = 0; j < BN / 8; j++)
#pragma unroll
            for (int h = 0; h < 2; h++) {
                T *p = tile + ((group - 1) * 64 + warp * 16 + g + 8 * h) * LD + 8 * j + 2 * t;
                p[0] = acc[0].v[4 * j + 2 * h];
                p[1] = acc[0].v[4 * j + 2 * h + 1];
            }
    }
    // The reduction: a thread adds four adjacent columns of a row over the cluster's blocks with one 16-byte load per
    // block (rows are 16-byte aligned: LD·4 is a multiple of 16), and stores them with one store (two pairs at the edge).
    constexpr int QUADS = BN / 4, ROW_STEP = THREADS / QUADS;
    const int column = (tid % QUADS) * 4;
    float dq[4], bi[4], qs[2][2] = {{0.f, 0.f}, {0.f, 0.f}};
#pragma unroll
    for (int h = 0; h < 2; h++) {
        const int nc = min(n0 + column + 2 * h, N - 2);  // loads stay inside; stores check n
        const float2 d = dqScale ? __ldg(reinterpret_cast<const float2 *>(dqScale + nc)) : make_float2(1.f, 1.f);
        const float2 b = bias ? __ldg(reinterpret_cast<const float2 *>(bias + nc)) : make_float2(0.f, 0.f);
        dq[2 * h] = d.x; dq[2 * h + 1] = d.y; bi[2 * h] = b.x; bi[2 * h + 1] = b.y;
        if (outKind != OUT_F16 && outKind != OUT_F32) {
            const float2 q = __ldg(reinterpret_cast<const float2 *>(qScale + nc));
            qs[h][0] = q.x;
            qs[h][1] = q.y;
        }
    }
    // A lane's four columns as one store where rows keep 16-byte alignment (`store_quad`), else as two pairs.
    const bool quads = ldo % 4 == 0 && (reinterpret_cast<size_t>(out) & 15) == 0;
    const bool residualQuads = ldo % 4 == 0 && (reinterpret_cast<size_t>(residual) & 15) == 0;
    const int rank = (int)cluster_rank();
    cluster_sync();  // every block's partial tile is complete and visible to the cluster
    const int rowEnd = (rank + 1) * BM / split;
    for (int r = rank * BM / split + tid / QUADS; r < rowEnd; r += ROW_STEP) {
        // Up to 8 blocks' loads are issued before their sums (16 at once would cost 32 more registers per thread, and
        // with them the second block per multiprocessor of the 384-thread tiles).
        T v[8][4];
#pragma unroll
        for (int zz = 0; zz < 8; zz++)
            if (zz < split) cluster_load4(cluster_address(tile + r * LD + column, zz), v[zz]);
        T sum[4] = {v[0][0], v[0][1], v[0][2], v[0][3]};
#pragma unroll
        for (int zz = 1; zz < 8; zz++)
            if (zz < split)
#pragma unroll
                for (int e = 0; e < 4; e++) sum[e] += v[zz][e];
        if (split > 8) {
#pragma unroll
            for (int zz = 8; zz < MAX_SPLIT; zz++)
                if (zz < split) cluster_load4(cluster_address(tile + r * LD + column, zz), v[zz - 8]);
#pragma unroll
            for (int zz = 8; zz < MAX_SPLIT; zz++)
                if (zz < split)
#pragma unroll
                    for (int e = 0; e < 4; e++) sum[e] += v[zz - 8][e];
        }
        const int m = m0 + r;
        if (m >= M) continue;
        float y[4], q[2][2] = {{qs[0][0], qs[0][1]}, {qs[1][0], qs[1][1]}};
#pragma unroll
        for (int h = 0; h < 2; h++) {
            y[2 * h] = (float)sum[2 * h] * dq[2 * h] + bi[2 * h];
            y[2 * h + 1] = (float)sum[2 * h + 1] * dq[2 * h + 1] + bi[2 * h + 1];
            if (act) gelu_pair(y[2 * h], y[2 * h + 1], outKind, q[h]);
        }
        if (residual && outKind == OUT_F32) {  // float32 output with the residual stream added
            if (residualQuads && n0 + column + 4 <= N) {
                const float4 add = *reinterpret_cast<const float4 *>(residual + (size_t)m * ldo + n0 + column);
                y[0] += add.x, y[1] += add.y, y[2] += add.z, y[3] += add.w;
            } else {
#pragma unroll
                for (int e = 0; e < 4; e++)
                    if (n0 + column + e < N) y[e] += residual[(size_t)m * ldo + n0 + column + e];
            }
        }
        if (quads && n0 + column + 4 <= N) {
            const float q4[4] = {q[0][0], q[0][1], q[1][0], q[1][1]};
            store_quad(out, ldo, outKind, m, n0 + column, y, q4);
            continue;
        }
#pragma unroll
        for (int h = 0; h < 2; h++)
            if (n0 + column + 2 * h < N) store_pair(out, ldo, outKind, m, n0 + column + 2 * h, y[2 * h], y[2 * h + 1], q[h]);
    }
    cluster_sync();  // no block leaves while another still reads its shared memory
}

// The GEMM before a residual LayerNorm with the add and the LayerNorm fused into it (the engine takes it with
// `OCTET_FUSED_LAYERNORM=1`; two earlier versions were correct on the H200 and slower than the two kernels they
// replace, below): the attention-output and FFN-output GEMMs, whose N is the hidden
// size. At batch 1 each residual LayerNorm is a launch of its own (17–19% of BERT-large's pass on the H200), reading
// back the float32 GEMM output just written. Here
//   local = acc · dqScale[n] + bias[n]                                        (the GEMM, as `epilogue`)
//   x     = dq(q(local, localStep)) + dq(q(residual[m, n], residualStep))    (QDQ; else local + residual)
//   y     = (x − mean) / sqrt(var + eps) · gamma[n] + beta[n]                (two-pass variance, float, as layernorm.cu)
//   out[m, n] = y (float32, the residual stream); copy[m, n] = y as fp16 (COPY 1) or sat(rint(y · qScale)) (COPY 2)
// A band of 64 rows belongs to the R = N / 64 blocks of a thread-block cluster (launch cluster (R, 1, 1), R ≤ 16: more
// than 8 is Hopper's non-portable size; N ≤ 1,024), each one cooperative 64 × 64 tile. After the products a block's
// consumer warpgroup writes its tile's x (the add done) into the idle ring, and after a cluster barrier block z
// normalizes rows [z·64/R, (z+1)·64/R) of the band, four rows at a time, 64 threads per row, reading each row from the
// owning blocks' shared memory. Eight stages (128 KB) keep one block per multiprocessor, so a cluster's 16 blocks
// stream their weights through 16 multiprocessors rather than sharing 8. History (docs/GPU.md): the first version
// (64×128 tiles, the normalization in the consumer warps' fragments, row sums crossing the cluster) ran 2,700
// instructions per thread of its epilogue on 64 warps, 35 µs at BERT-large s128 b1 against 9 + 5 for the two kernels it
// replaced; the second (this layout with six stages, rows normalized one at a time with block-wide sums) 21.5 µs
// against 9.0 + 5.2; this third 17–20 µs (session 17), so the engine keeps it opt-in.
// Every thread of the cluster joins its barriers.
template <bool QDQ, int COPY>
__device__ __forceinline__ void gemm_layernorm(const TensorMap &mapA, const TensorMap &mapB, int M, int N, int K,
                                               const float *__restrict__ dqScale, const float *__restrict__ bias,
                                               const float *__restrict__ residual, float localStep, float residualStep,
                                               const float *__restrict__ gamma, const float *__restrict__ beta, float eps,
                                               float *__restrict__ out, void *__restrict__ copy, float qScale) {
    constexpr int BN = 64, STAGES = 8, LD = BN + 4, THREADS = 256;
    typedef Ring<64, BN, STAGES> R;
    static_assert(64 * LD * 4 <= STAGES * R::STAGE_BYTES, "the tile's x is parked in the ring's buffers");
    extern __shared__ unsigned char raw[];
    R ring(raw);
    if (threadIdx.x == 0) {
        prefetch_map(mapA);
        prefetch_map(mapB);
    }
    const int tid = threadIdx.x, group = warpgroup_index();
    const int m0 = blockIdx.y * 64, n0 = blockIdx.x * BN, blocks = N / BN;
    const int kTiles = (K + R::BK - 1) / R::BK;
    const int early = start_ring(ring, mapB, n0, 0, kTiles, 128);
    Fragment<BN, int> acc[1];
    if (group == 0) {  // producer
        if (tid == 0) finish_loads(ring, mapA, mapB, m0, n0, 0, kTiles, early);
    } else {
        zero(acc);
        ring.multiply(acc, 0, kTiles, 0);
        wgmma_wait<0>();
        fence_operands(acc[0]);
    }
    __syncthreads();  // every slab consumed: the ring's buffers are free
    float *x = reinterpret_cast<float *>(ring.smem);  // [64][LD]: this block's 64 columns of the band, the add done
    if (group == 1) {
        const int warp = (tid % 128) / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
#pragma unroll
        for (int j = 0; j < BN / 8; j++) {
            const int c = 8 * j + 2 * t, n = n0 + c;
            const float2 dq = __ldg(reinterpret_cast<const float2 *>(dqScale + n)), bi = __ldg(reinterpret_cast<const float2 *>(bias + n));
#pragma unroll
            for (int h = 0; h < 2; h++) {
                const int r = warp * 16 + g + 8 * h, m = m0 + r;
                const float2 res = m < M ? *reinterpret_cast<const float2 *>(residual + (size_t)m * N + n) : make_float2(0.f, 0.f);
                const float l0 = (float)acc[0].v[4 * j + 2 * h] * dq.x + bi.x, l1 = (float)acc[0].v[4 * j + 2 * h + 1] * dq.y + bi.y;
                x[r * LD + c] = QDQ ? fake_quantize(l0, localStep) + fake_quantize(res.x, residualStep) : l0 + res.x;
                x[r * LD + c + 1] = QDQ ? fake_quantize(l1, localStep) + fake_quantize(res.y, residualStep) : l1 + res.y;
            }
        }
    }
    const int rank = (int)cluster_rank();
    cluster_sync();  // every block's x is complete and visible to the cluster
    // The normalization, ROWS rows at a time with 64 threads (two warps) each: thread u of a row takes the column pairs
    // 2·(u + 64·j), j < N / 128, each read from the owning block's shared memory with one 8-byte load; a row's sums are
    // two warp sums met in shared memory. (The second version went row by row with block-wide sums: each row a chain of
    // a remote load and two block reductions.)
    constexpr int ROWS = THREADS / 64, MAX_PAIRS = 1024 / 128;
    __shared__ float sums[2][ROWS][2];  // per row group: its two warps' sums of x, then of (x − mean)²
    const int sub = tid / 64, u = tid % 64, pairs = N / 128;
    float ga[MAX_PAIRS][2], be[MAX_PAIRS][2];
#pragma unroll
    for (int j = 0; j < MAX_PAIRS; j++) {
        const int column = 2 * (u + 64 * j);
        const float2 g2 = j < pairs ? __ldg(reinterpret_cast<const float2 *>(gamma + column)) : make_float2(0.f, 0.f);
        const float2 b2 = j < pairs ? __ldg(reinterpret_cast<const float2 *>(beta + column)) : make_float2(0.f, 0.f);
        ga[j][0] = g2.x; ga[j][1] = g2.y; be[j][0] = b2.x; be[j][1] = b2.y;
    }
    const int first = rank * 64 / blocks, last = (rank + 1) * 64 / blocks;
    for (int r0 = first; r0 < last; r0 += ROWS) {  // the same iterations for every thread: the barriers inside are safe
        const int r = r0 + sub;
        const bool live = r < last && m0 + r < M;
        float v[MAX_PAIRS][2], sum = 0.f;
#pragma unroll
        for (int j = 0; j < MAX_PAIRS; j++) {
            v[j][0] = v[j][1] = 0.f;
            const int column = 2 * (u + 64 * j);
            if (live && j < pairs) cluster_load2(cluster_address(x + r * LD + column % BN, column / BN), v[j]);
        }
#pragma unroll
        for (int j = 0; j < MAX_PAIRS; j++) sum += v[j][0] + v[j][1];
        sum = warp_sum(sum);
        if (tid % 32 == 0) sums[0][sub][u / 32] = sum;
        __syncthreads();
        const float mean = (sums[0][sub][0] + sums[0][sub][1]) / N;
        float squares = 0.f;
#pragma unroll
        for (int j = 0; j < MAX_PAIRS; j++)
            if (j < pairs) {
                v[j][0] -= mean;
                v[j][1] -= mean;
                squares += v[j][0] * v[j][0] + v[j][1] * v[j][1];
            }
        squares = warp_sum(squares);
        if (tid % 32 == 0) sums[1][sub][u / 32] = squares;
        __syncthreads();  // (the next iteration writes sums[0] only after this barrier, sums[1] after its first)
        const float inverse = rsqrtf((sums[1][sub][0] + sums[1][sub][1]) / N + eps);
        if (!live) continue;
        const float qs[2] = {qScale, qScale};
#pragma unroll
        for (int j = 0; j < MAX_PAIRS; j++)
            if (j < pairs) {
                const int column = 2 * (u + 64 * j);
                const float y0 = v[j][0] * inverse * ga[j][0] + be[j][0], y1 = v[j][1] * inverse * ga[j][1] + be[j][1];
                store_pair(out, N, OUT_F32, m0 + r, column, y0, y1, qs);
                if (COPY == 1) store_pair(copy, N, OUT_F16, m0 + r, column, y0, y1, qs);
                if (COPY == 2) store_pair(copy, N, 2, m0 + r, column, y0, y1, qs);
            }
    }
    cluster_sync();  // no block leaves while another still reads its x
}
}  // namespace

// The variants the engine chooses from. Name: gemm_wgmma_<precision>_<BM>x<BN> (cooperative: one tile per block,
// CONSUMERS warpgroups of 64 rows; grid = tiles), gemm_wgmma_pp_<precision>_<BM>x<BN> (ping-pong: grid = at most one
// block per multiprocessor) and gemm_wgmma_sk_<precision>_<BM>x<BN> (split-K: grid = tiles × split, cluster (1, 1,
// split), split ≤ min(16, K's 128-byte slabs)), gemm_wgmma_p3_<precision>_64x128 (ping-pong with three consumer
// warpgroups) and gemm_wgmma_pe_<precision>_128x128 (ping-pong products, epilogue on two warpgroups of its own: grid as
// ping-pong). 128 + 128·CONSUMERS threads (ping-pong: 384, p3: 512, pe: 640); shared memory STAGES × (BM + BN) × 128
// bytes + 1,024 (alignment) + 16 × (STAGES + 2) (barriers) of dynamic shared memory (pe: 1,024 for the barriers and
// BM × BN × 4 for the handoff instead), plus, for the cooperative, ping-pong and pe kernels, 12 × BN + 4,096 bytes of
// static shared memory per consumer (pe: epilogue) warpgroup (`EpilogueShared`: 2 in ping-pong and pe, 3 in p3). (A schedule of two blocks per multiprocessor with no producer warpgroup, `gemm_wgmma_x2_*`,
// ran 7–40% slower than the ping-pong 128×128 tile at every BERT shape on the H200: session 33,
// docs/results/h200-2026-12-02-s33/0-x2-three/rejected-x2-gemm.diff.)
// One entry point per variant: THREADS, and the schedule's template call (its template arguments hold commas, so it
// comes last, as the variadic part).
#define GEMM_ENTRY(NAME, THREADS, ...)                                                                                 \
    extern "C" __global__ void __launch_bounds__(THREADS, 1)                                                           \
        NAME(const __grid_constant__ TensorMap mapA, const __grid_constant__ TensorMap mapB, int M, int N, int K,      \
             const float *dqScale, const float *bias, int act, const float *qScale, int outKind, void *out, int ldo,   \
             const float *residual) {                                                                                 \
        __VA_ARGS__(mapA, mapB, M, N, K, dqScale, bias, act, qScale, outKind, out, ldo, residual);                     \
    }
#define WGMMA_VARIANT(NAME, CONSUMERS, BN, STAGES, INT8)                                                               \
    GEMM_ENTRY(NAME, 128 * (CONSUMERS + 1), gemm<CONSUMERS, BN, STAGES, INT8>)
#define PINGPONG_VARIANT(NAME, C, HALVES, BN, STAGES, INT8)                                                            \
    GEMM_ENTRY(NAME, 128 * (C + 1), gemm_pingpong<C, HALVES, BN, STAGES, INT8>)
#define HANDOFF_VARIANT(NAME, BN, STAGES, INT8) GEMM_ENTRY(NAME, 640, gemm_pingpong_epilogue<BN, STAGES, INT8>)
#define SPLITK_VARIANT(NAME, CONSUMERS, BN, STAGES, INT8)                                                              \
    GEMM_ENTRY(NAME, 128 * (CONSUMERS + 1), gemm_splitk<CONSUMERS, BN, STAGES, INT8>)
#define WGMMA_VARIANTS(PRECISION, INT8)                                                                                \
    WGMMA_VARIANT(gemm_wgmma_##PRECISION##_128x256, 2, 256, 4, INT8)                                                   \
    WGMMA_VARIANT(gemm_wgmma_##PRECISION##_128x128, 2, 128, 6, INT8)                                                   \
    WGMMA_VARIANT(gemm_wgmma_##PRECISION##_128x96, 2, 96, 7, INT8)                                                     \
    WGMMA_VARIANT(gemm_wgmma_##PRECISION##_64x128, 1, 128, 8, INT8)                                                    \
    PINGPONG_VARIANT(gemm_wgmma_pp_##PRECISION##_128x128, 2, 2, 128, 6, INT8)                                          \
    PINGPONG_VARIANT(gemm_wgmma_pp_##PRECISION##_64x256, 2, 1, 256, 5, INT8)                                           \
    PINGPONG_VARIANT(gemm_wgmma_p3_##PRECISION##_64x128, 3, 1, 128, 8, INT8)                                           \
    HANDOFF_VARIANT(gemm_wgmma_pe_##PRECISION##_128x128, 128, 4, INT8)                                                 \
    WGMMA_VARIANT(gemm_wgmma_##PRECISION##_64x64, 1, 64, 8, INT8)                                                      \
    SPLITK_VARIANT(gemm_wgmma_sk_##PRECISION##_64x128, 1, 128, 4, INT8)                                                \
    SPLITK_VARIANT(gemm_wgmma_sk_##PRECISION##_128x64, 2, 64, 4, INT8)                                                 \
    SPLITK_VARIANT(gemm_wgmma_sk_##PRECISION##_64x64, 1, 64, 4, INT8)                                                 \
    SPLITK_VARIANT(gemm_wgmma_sk_##PRECISION##_128x128, 2, 128, 4, INT8)                                               \
    SPLITK_VARIANT(gemm_wgmma_sk_##PRECISION##_128x96, 2, 96, 4, INT8)                                                 \
    SPLITK_VARIANT(gemm_wgmma_sk_##PRECISION##_128x256, 2, 256, 4, INT8)                                               \
    SPLITK_VARIANT(gemm_wgmma_sk_##PRECISION##_64x256, 1, 256, 4, INT8)

WGMMA_VARIANTS(i8, true)
WGMMA_VARIANTS(f16, false)

// The fused GEMM + residual LayerNorm (INT8 GEMMs, the INT8 engine's float32 stream):
// gemm_wgmma_i8_64x64_ln_<qdq|float>_<none|f16|i8>, 256 threads, grid (N / 64, ⌈M / 64⌉), cluster (N / 64, 1, 1),
// shared memory 8 × (64 + 64) × 128 bytes + 1,024 (alignment) + 16 × 9 (barriers).
#define LAYERNORM_VARIANT(NAME, QDQ, COPY)                                                                             \
    extern "C" __global__ void __launch_bounds__(256, 1)                                                               \
        NAME(const __grid_constant__ TensorMap mapA, const __grid_constant__ TensorMap mapB, int M, int N, int K,      \
             const float *dqScale, const float *bias, const float *residual, float localStep, float residualStep,      \
             const float *gamma, const float *beta, float eps, float *out, void *copy, float qScale) {                 \
        gemm_layernorm<QDQ, COPY>(mapA, mapB, M, N, K, dqScale, bias, residual, localStep, residualStep, gamma, beta,  \
                                  eps, out, copy, qScale);                                                             \
    }
LAYERNORM_VARIANT(gemm_wgmma_i8_64x64_ln_float_none, false, 0)
LAYERNORM_VARIANT(gemm_wgmma_i8_64x64_ln_float_f16, false, 1)
LAYERNORM_VARIANT(gemm_wgmma_i8_64x64_ln_float_i8, false, 2)
LAYERNORM_VARIANT(gemm_wgmma_i8_64x64_ln_qdq_none, true, 0)
LAYERNORM_VARIANT(gemm_wgmma_i8_64x64_ln_qdq_f16, true, 1)
LAYERNORM_VARIANT(gemm_wgmma_i8_64x64_ln_qdq_i8, true, 2)
