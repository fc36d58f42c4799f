// qa_head: the extractive-QA head, start/end logits = hidden · Wᵀ + b with W [2, H] (float), one warp per token;
// hidden is the residual stream, fp16 or float32 (f32).
//
//   start[t] = Σ_d hidden[t, d]·W[0, d] + b[0],   end[t] = Σ_d hidden[t, d]·W[1, d] + b[1]    (float accumulation)
//
// Why not the GEMM: N = 2 would waste a tensor-core tile on 2 of its 64 columns; this is one coalesced read of the last
// hidden state and a warp reduction. The head stays in float in every recipe (QDQBERT leaves it unquantized).
#include "common.cuh"

extern "C" __global__ void qa_head(const void *hidden, int f32, const float *weight, const float *bias, int tokens, int H,
                                   float *start, float *end) {
    wait_for_producers();
    allow_dependents();
    int row = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (row >= tokens) return;
    float s = 0.f, e = 0.f;
#pragma unroll 4
    for (int d = 2 * lane; d < H; d += 64) {
        size_t i = (size_t)row * H + d;
        float2 h = f32 ? *reinterpret_cast<const float2 *>(static_cast<const float *>(hidden) + i)
                       : f16x2_to_float2(*reinterpret_cast<const f16x2 *>(static_cast<const f16 *>(hidden) + i));
        s += h.x * weight[d] + h.y * weight[d + 1];
        e += h.x * weight[H + d] + h.y * weight[H + d + 1];
    }
    for (int o = 16; o > 0; o /= 2) {
        s += __shfl_xor_sync(0xffffffff, s, o);
        e += __shfl_xor_sync(0xffffffff, e, o);
    }
    if (lane == 0) {
        start[row] = s + bias[0];
        end[row] = e + bias[1];
    }
}
