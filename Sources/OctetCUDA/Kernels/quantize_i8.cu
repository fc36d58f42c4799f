// quantize_i8: float32 → int8, ONNX QuantizeLinear with zero point 0 (symmetric, as QDQBERT quantizes activations).
//
//   y[i] = saturate(round_half_to_even(x[i] / scale), -128, 127), NaN → -128 (as the CPU reference, gemm_s8.c)
//
// Layout: x and y are contiguous, `count` elements. Each thread handles 4 consecutive elements with one 16-byte load
// and one 4-byte store (coalesced across the warp); a grid-stride loop covers any count, and the last partial group
// of 4 is done element by element.
//
// Why the exact division: the CPU reference divides (x / scale, as ONNX specifies) rather than multiplying by a
// reciprocal, and a quantizer is a step function, so x·(1/scale) can land on the other side of a .5 boundary and
// change an integer. `__fdiv_rn` is IEEE division rounded to nearest even whatever the compile flags; `rintf`
// rounds half to even in the default rounding mode. So this kernel and the CPU agree bit for bit.
extern "C" __global__ void quantize_i8(const float *__restrict__ x, signed char *__restrict__ y, int count, float scale) {
    int groups = count / 4;
    for (int g = blockIdx.x * blockDim.x + threadIdx.x; g < groups; g += gridDim.x * blockDim.x) {
        float4 v = reinterpret_cast<const float4 *>(x)[g];
        float r[4] = {v.x, v.y, v.z, v.w};
        char4 out;
        signed char q[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            float t = rintf(__fdiv_rn(r[k], scale));
            t = fminf(fmaxf(t, -128.0f), 127.0f);
            q[k] = (t != t) ? (signed char)-128 : (signed char)(int)t;
        }
        out.x = q[0]; out.y = q[1]; out.z = q[2]; out.w = q[3];
        reinterpret_cast<char4 *>(y)[g] = out;
    }
    // The tail (count not a multiple of 4): one thread of the first block.
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        for (int i = groups * 4; i < count; i++) {
            float t = rintf(__fdiv_rn(x[i], scale));
            t = fminf(fmaxf(t, -128.0f), 127.0f);
            y[i] = (t != t) ? (signed char)-128 : (signed char)(int)t;
        }
    }
}
