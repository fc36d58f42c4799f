// qkv_attention: the QKV projection and the FP16 attention of one head of one sequence in one kernel, so Q, K and V
// never leave the multiprocessor (Hopper, sm_90a; heads of 64; int8 hidden states and weights, fp16 Q, K and V).
//
//   acc[i, n] = Σ_k x8[i, k] · W8[n, k]          x8: the LayerNorm's int8 copy [tokens, H]; W8: the QKV weights [3H, H],
//                                                 rows n = part·H + head·64 + d for part 0, 1, 2 (Q, K, V), d < 64
//   q/k/v[i, d] = fp16(acc · dqScale[n] + bias[n])   exactly the QKV GEMM's fp16 epilogue (gemm_wgmma.cu), same FMA
//   ctx[i, :] = softmax_j(q[i]·k[j] / √64 + mask[j]) · v   attention_flash_wgmma's arithmetic (attention_mma.cu),
//                                                 scores in log₂ units, online softmax over 64-key chunks, p in fp16
//   out = int8 sat(rint(ctx · outQScale)) when outQScale > 0, else fp16 (`store_context_rows`)
// Tolerance: the same values as the two kernels it replaces on the grids the engine takes it for (a block per
// multiprocessor or more, where the wgmma attention runs without key groups): the GEMM's int32 sums are exact and the
// attention's chunks run the same code (`wgmma_attention_chunk`) in the same order. Forced onto small grids
// (`OCTET_FUSED_ATTENTION=always`), it differs from the key-group kernel there by the order of the softmax's sums.
//
// Why: at batch 128 the H200 runs every pass at its 700 W cap, so a pass's time is its energy (docs/GPU.md,
// seventeenth session), and a byte to or from HBM costs about 104 pJ above idle where a tensor-core operation costs 0.3
// (twenty-third session). The QKV GEMM writes fp16 Q, K and V, 96 MB per layer at BERT-large s128 b128, past the 50 MB
// L2, and the attention reads them back: about 20 mJ per layer, 5% of the pass. Here they stay in shared memory.
//
// Layout: one block per (head, sequence), 384 threads. Warpgroup 0 is the producer: one thread streams the sequence's
// rows of x8 (a box of 128 rows × 128 bytes of K per slab, TMA) and the head's 192 weight rows (three boxes of 64: its
// Q, K and V rows, landing back to back as one 192-row operand) through a ring of STAGES slabs, as gemm_wgmma.cu's
// producers do. Warpgroups 1 and 2 each own 64 of every 128-row tile: a 64 × 192 int32 accumulator (m64n192k32, 96
// registers), whose epilogue writes fp16 Q, K and V straight into 64-row tiles in the 128-byte swizzle that wgmma's
// descriptors read (16-byte chunk c of row r at c ^ (r mod 8)). K and V rows past the sequence's end are written as
// zeros, as `stage_swizzled` fills them (their rows hold the next packed sequence's values or TMA's zero fill: a
// masked key's V must be 0, never NaN times a zero probability, and its score must stay finite before the mask's −∞). Once every tile of the sequence is in (R tiles of 128 rows: R = 1, 2, 3 for up to 128, 256, 384
// tokens), each consumer warpgroup takes every other 64-query tile and runs attention_flash_wgmma's loop over all key
// chunks, which are all resident: no staging ring, no waits on copies.
// Shared memory (dynamic, 1,024-byte aligned): the ring (STAGES × (128 + 192) × 128 bytes: 3 slabs at R = 2, 2 at R =
// 3), 2R tiles each of Q, K and V (8 KB each), the mask (128R floats), the ring's mbarriers: 218 and 226.5 KB at R = 2
// and 3 (Hopper's limit is 227 KB). One block per multiprocessor: 384 threads at up to 168 registers fill the register
// file, and each phase of a block (products, epilogue, attention) runs after the one before.
// Sequences of up to 128 tokens (R = 1) take `qkv_attention_pair` instead: two blocks per multiprocessor, so one
// block's softmax runs beside the other's products (at BERT-large s128 b128 it took the pass from 12.45 to 12.10 ms
// where this form at R = 1 had taken it from 12.80: docs/PERFORMANCE.md, session 32).
#include "common.cuh"
#include "wgmma.cuh"
#include "flash.cuh"

namespace {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
constexpr int D = 64, TILE_BYTES = 64 * 128, BK = 128, BM = 128, BN = 3 * D;
constexpr int A_BYTES = BM * BK, STAGE_BYTES = (BM + BN) * BK;

// The epilogue of one consumer warpgroup's 64 rows of row tile `rt`: fp16 Q, K and V into tile rt·2 + c of each part
// (`parts[0..2]`: the Q, K and V tiles), in gemm_wgmma.cu's fragment layout (register 4j + i: n8 block j, row
// g + 8·(i / 2), column 2t + i mod 2). n8 block j is part j / 8 and 16-byte chunk j mod 8 of a tile's 128-byte row,
// stored at chunk (j mod 8) ^ (row mod 8): a warp's 32 words land in 32 distinct banks.
__device__ __forceinline__ void store_qkv(const Fragment<BN, int> &acc, unsigned char *const (&parts)[3], int rt, int c, int S,
                                          int H, int head, const float *__restrict__ dqScale, const float *__restrict__ bias) {
    const int warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const int tile = rt * 2 + c;
#pragma unroll
    for (int j = 0; j < BN / 8; j++) {
        const int part = j / 8, chunk = j % 8, n = part * H + head * D + chunk * 8 + 2 * t;
        const float2 dq = __ldg(reinterpret_cast<const float2 *>(dqScale + n)), b = __ldg(reinterpret_cast<const float2 *>(bias + n));
        unsigned char *base = parts[part] + tile * TILE_BYTES;
#pragma unroll
        for (int h = 0; h < 2; h++) {
            const int r = warp * 16 + g + 8 * h;  // row within the 64-row tile
            const float v0 = (float)acc.v[4 * j + 2 * h] * dq.x + b.x, v1 = (float)acc.v[4 * j + 2 * h + 1] * dq.y + b.y;
            const bool pastEnd = part != 0 && tile * 64 + r >= S;  // K and V of a key past the sequence: zero
            *reinterpret_cast<unsigned *>(base + r * 128 + ((chunk ^ (r & 7)) * 16) + t * 4) = pastEnd ? 0u : float2_to_f16x2(v0, v1);
        }
    }
}

// One slab into `stage`, completing on `full`: K tile kt of the 128 x8 rows from `row` (TMA zero-fills past the
// tokens), then the head's Q, K and V weight rows (three boxes of 64 landing back to back as one 192-row operand).
__device__ __forceinline__ void load_slab(unsigned char *stage, unsigned long long *full, const TensorMap &mapX, const TensorMap &mapW,
                                          int kt, int row, int H, int head) {
    barrier_expect(full, STAGE_BYTES);
    tma_load(stage, mapX, full, kt * BK, row);
#pragma unroll
    for (int part = 0; part < 3; part++) tma_load(stage + A_BYTES + part * 64 * BK, mapW, full, kt * BK, part * H + head * D);
}

// One 64-query tile's attention over `chunks` resident 64-key chunks: attention_flash_wgmma's loop (attention_mma.cu)
// without its staging, then the context's store.
__device__ __forceinline__ void attend(const unsigned char *Q, const unsigned char *Ks, const unsigned char *Vs, const float *maskAdd,
                                       int chunks, const Span &span, int S, int q0, int H, int head, float outQScale, void *__restrict__ out) {
    const int warp = (threadIdx.x % 128) / 32, lane = threadIdx.x % 32, g = lane / 4, t = lane % 4;
    const float scoreScale = 1.4426950408889634f * rsqrtf((float)D);
    const unsigned qLow = descriptor_low(smem_address(Q));
    float o[D / 8][4] = {}, rowMax[2] = {-INFINITY, -INFINITY}, rowSum[2] = {0.f, 0.f};
    float oacc[32] = {};
    for (int c = 0; c < chunks; c++) {
        const unsigned kLow = descriptor_low(smem_address(Ks + c * TILE_BYTES)), vLow = descriptor_low(smem_address(Vs + c * TILE_BYTES));
        wgmma_attention_chunk(qLow, kLow, vLow, maskAdd + c * KEY_CHUNK, scoreScale, t, o, oacc, rowMax, rowSum);
    }
    float l[2] = {quad_sum(rowSum[0]), quad_sum(rowSum[1])};
#pragma unroll
    for (int jd = 0; jd < D / 8; jd++)
#pragma unroll
        for (int e = 0; e < 4; e++) o[jd][e] = oacc[4 * jd + e];
    store_context_rows<D>(out, o, l, span, S, q0 + warp * ROWS + g, H, head, t, outQScale);
}

// R: row tiles of 128 the block can hold (the engine's choice: ⌈longest sequence / 128⌉, 2 or 3; 1 takes
// `qkv_attention_pair`). Grid (heads,
// sequences); `mapX`: x8 [tokens, H] in boxes of 128 rows × 128 bytes; `mapW`: W8 [3H, H] in boxes of 64 rows.
template <int R>
__device__ __forceinline__ void qkv_attention(const TensorMap &mapX, const TensorMap &mapW, const float *__restrict__ dqScale,
                                              const float *__restrict__ bias, const int *__restrict__ mask, const int *__restrict__ offsets,
                                              int Smax, int heads, float outQScale, void *__restrict__ out) {
    constexpr int STAGES = R == 3 ? 2 : 3;  // three slabs in flight where the tiles leave room (R = 3 fills 227 KB with two)
    static_assert(R == 2 || R == 3, "one row tile takes qkv_attention_pair");
    extern __shared__ unsigned char raw[];
    unsigned char *ring = raw + ((1024 - (smem_address(raw) & 1023)) & 1023);
    unsigned char *const parts[3] = {ring + STAGES * STAGE_BYTES, ring + STAGES * STAGE_BYTES + 2 * R * TILE_BYTES,
                                     ring + STAGES * STAGE_BYTES + 4 * R * TILE_BYTES};
    float *maskAdd = reinterpret_cast<float *>(parts[2] + 2 * R * TILE_BYTES);
    unsigned long long *full = reinterpret_cast<unsigned long long *>(maskAdd + 128 * R), *empty = full + STAGES;
    const int head = blockIdx.x, H = heads * D;
    const Span span = sequence_span(offsets, Smax, blockIdx.y);
    const int S = span.length, rowTiles = (S + BM - 1) / BM, kTiles = H / BK, chunks = (S + KEY_CHUNK - 1) / KEY_CHUNK;
    if (rowTiles > R) __trap();  // the host picks R = ⌈longest / 128⌉; more rows would overrun the tiles
    if (threadIdx.x == 0) {
        prefetch_map(mapX);
        prefetch_map(mapW);
        for (int s = 0; s < STAGES; s++) {
            barrier_init(full + s, 1);
            barrier_init(empty + s, 256);  // both consumer warpgroups read every slab
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");  // visible to the TMA unit
    }
    stage_mask_f16(maskAdd, mask, offsets, span, chunks * KEY_CHUNK, 384);
    __syncthreads();
    wait_for_producers();
    allow_dependents();

    const int group = warpgroup_index();
    if (group == 0) {  // producer: the sequence's row tiles in order, each K slab of x8 and of the head's 192 weight rows
        if (threadIdx.x == 0) {
            for (int rt = 0, p = 0; rt < rowTiles; rt++)
                for (int kt = 0; kt < kTiles; kt++, p++) {
                    const int s = p % STAGES;
                    if (p >= STAGES) barrier_wait(empty + s, (p / STAGES - 1) & 1);
                    load_slab(ring + s * STAGE_BYTES, full + s, mapX, mapW, kt, span.first + rt * BM, H, head);
                }
        }
        return;
    }

    const int c = group - 1;  // rows 64c … 64c + 63 of every row tile
    for (int rt = 0; rt < rowTiles; rt++) {
        Fragment<BN, int> acc;
#pragma unroll
        for (int i = 0; i < BN / 2; i++) acc.v[i] = 0;
        for (int kt = 0; kt < kTiles; kt++) {
            const int p = rt * kTiles + kt, s = p % STAGES;
            barrier_wait(full + s, (p / STAGES) & 1);
            const unsigned a = descriptor_low(smem_address(ring + s * STAGE_BYTES) + c * 64 * BK),
                           b = descriptor_low(smem_address(ring + s * STAGE_BYTES + A_BYTES));
            wgmma_fence();
#pragma unroll
            for (int kk = 0; kk < BK; kk += 32) wgmma(acc, descriptor(a, kk), descriptor(b, kk));
            wgmma_commit();
            wgmma_wait<1>();
            if (kt > 0) barrier_arrive(empty + (p - 1) % STAGES);  // the previous slab's products are done
        }
        wgmma_wait<0>();
        fence_operands(acc);
        barrier_arrive(empty + (rt * kTiles + kTiles - 1) % STAGES);
        store_qkv(acc, parts, rt, c, S, H, head, dqScale, bias);
    }
    fence_proxy_async();  // this thread's Q, K and V stores are visible to wgmma
    asm volatile("bar.sync 1, 256;\n" ::: "memory");  // both consumer warpgroups' tiles are in
    for (int qt = c; qt < chunks; qt += 2)
        attend(parts[0] + qt * TILE_BYTES, parts[1], parts[2], maskAdd, chunks, span, S, qt * 64, H, head, outQScale, out);
}

// The one-row-tile form for two blocks per multiprocessor (sequences of up to 128 tokens): 256 threads, both
// warpgroups consumers, thread 0 issuing the copies. Why: in the form above each block's phases run one after another
// on its multiprocessor (Nsight Compute at BERT-large s128 b128: the tensor pipe 44% busy, 1.05 instructions issued per
// cycle of 4, 8.5 warps resident), so while a block runs its softmax or waits for its first slabs the tensor cores
// idle; with two blocks resident one block's products run beside the other's attention. The price: two slabs in flight
// per block (83.5 KB of shared memory each, so two fit beside the driver's 1 KB per block), Q, K and V written over
// the ring once both warpgroups' products are done, and at most 128 registers per thread (ptxas spills 18 of them
// around the Q, K and V epilogue, once per block). Measured (session 32, BERT-large s128 b128, Nsight Compute at the
// base clock): 160 µs per launch against the one-block form's 191, the tensor pipe 53% busy against 44%.
// Slab p's refill is issued by thread 0 once every consumer thread has released it (`empty`), right after its own
// warpgroup's products of the slab are done, so the two warpgroups run at most one slab apart.
__device__ __forceinline__ void qkv_attention_pair(const TensorMap &mapX, const TensorMap &mapW, const float *__restrict__ dqScale,
                                                   const float *__restrict__ bias, const int *__restrict__ mask, const int *__restrict__ offsets,
                                                   int Smax, int heads, float outQScale, void *__restrict__ out) {
    constexpr int STAGES = 2;
    extern __shared__ unsigned char raw[];
    unsigned char *ring = raw + ((1024 - (smem_address(raw) & 1023)) & 1023);
    // Q, K and V (two 64-row tiles each, 48 KB) over the ring's first 48 KB, written after its last slab is consumed.
    unsigned char *const parts[3] = {ring, ring + 2 * TILE_BYTES, ring + 4 * TILE_BYTES};
    float *maskAdd = reinterpret_cast<float *>(ring + STAGES * STAGE_BYTES);
    unsigned long long *full = reinterpret_cast<unsigned long long *>(maskAdd + 128), *empty = full + STAGES;
    const int head = blockIdx.x, H = heads * D;
    const Span span = sequence_span(offsets, Smax, blockIdx.y);
    const int S = span.length, kTiles = H / BK, chunks = (S + KEY_CHUNK - 1) / KEY_CHUNK;
    if (S > BM) __trap();  // the host takes this form for sequences of up to 128 tokens only
    auto issue = [&](int p) {  // slab p (K tile p) into ring slot p mod STAGES
        load_slab(ring + (p % STAGES) * STAGE_BYTES, full + p % STAGES, mapX, mapW, p, span.first, H, head);
    };
    if (threadIdx.x == 0) {
        prefetch_map(mapX);
        prefetch_map(mapW);
        for (int s = 0; s < STAGES; s++) {
            barrier_init(full + s, 1);
            barrier_init(empty + s, 256);
        }
        asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
    }
    stage_mask_f16(maskAdd, mask, offsets, span, chunks * KEY_CHUNK, 256);
    __syncthreads();
    wait_for_producers();
    allow_dependents();
    if (threadIdx.x == 0)
        for (int p = 0; p < STAGES && p < kTiles; p++) issue(p);

    const int c = warpgroup_index();  // rows 64c … 64c + 63 of the row tile
    Fragment<BN, int> acc;
#pragma unroll
    for (int i = 0; i < BN / 2; i++) acc.v[i] = 0;
    for (int kt = 0; kt < kTiles; kt++) {
        const int s = kt % STAGES;
        barrier_wait(full + s, (kt / STAGES) & 1);
        const unsigned a = descriptor_low(smem_address(ring + s * STAGE_BYTES) + c * 64 * BK),
                       b = descriptor_low(smem_address(ring + s * STAGE_BYTES + A_BYTES));
        wgmma_fence();
#pragma unroll
        for (int kk = 0; kk < BK; kk += 32) wgmma(acc, descriptor(a, kk), descriptor(b, kk));
        wgmma_commit();
        // All of this slab's products done before the refill's branch: a wgmma in flight across it is serialized by
        // ptxas (C7515, the branch's registers taken from the accumulators at 128 per thread). The tensor cores do
        // not idle meanwhile: the other block's warpgroups and this block's other warpgroup issue theirs.
        wgmma_wait<0>();
        barrier_arrive(empty + s);
        if (threadIdx.x == 0 && kt + STAGES < kTiles) {  // refill the slot once both warpgroups have released it
            barrier_wait(empty + s, (kt / STAGES) & 1);
            issue(kt + STAGES);
        }
    }
    fence_operands(acc);
    asm volatile("bar.sync 1, 256;\n" ::: "memory");  // both warpgroups' products are done reading the ring
    store_qkv(acc, parts, 0, c, S, H, head, dqScale, bias);
    fence_proxy_async();  // this thread's Q, K and V stores are visible to wgmma
    asm volatile("bar.sync 1, 256;\n" ::: "memory");  // both warpgroups' tiles are in
    if (c < chunks) attend(parts[0] + c * TILE_BYTES, parts[1], parts[2], maskAdd, chunks, span, S, c * 64, H, head, outQScale, out);
}
#endif
}  // namespace

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
// qkv_attention_i8_d64_r1_pair: 256 threads, two blocks per multiprocessor; grid (heads, sequences) of up to 128
// tokens; dynamic shared memory 1,024 + 2 × 40,960 + 512 + 32 bytes (`CUDABertEngine.fusedAttentionPairSharedBytes`).
extern "C" __global__ void __launch_bounds__(256, 2)
    qkv_attention_i8_d64_r1_pair(const __grid_constant__ TensorMap mapX, const __grid_constant__ TensorMap mapW, const float *dqScale,
                                 const float *bias, const int *mask, const int *offsets, int S, int heads, float outQScale, void *out) {
    qkv_attention_pair(mapX, mapW, dqScale, bias, mask, offsets, S, heads, outQScale, out);
}

// qkv_attention_i8_d64_r<R>: 384 threads; grid (heads, sequences); dynamic shared memory 1,024 + STAGES × 40,960 +
// 6R × 8,192 + 512R + 16 × STAGES bytes, STAGES = 3 for R = 2 and 2 for R = 3 (`CUDABertEngine.fusedAttentionSharedBytes`).
#define QKV_ATTENTION(R)                                                                                                \
    extern "C" __global__ void __launch_bounds__(384, 1)                                                               \
        qkv_attention_i8_d64_r##R(const __grid_constant__ TensorMap mapX, const __grid_constant__ TensorMap mapW,     \
                                  const float *dqScale, const float *bias, const int *mask, const int *offsets, int S,  \
                                  int heads, float outQScale, void *out) {                                             \
        qkv_attention<R>(mapX, mapW, dqScale, bias, mask, offsets, S, heads, outQScale, out);                          \
    }
QKV_ATTENTION(2)
QKV_ATTENTION(3)
#endif
