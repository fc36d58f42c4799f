// INT8 kernels of the quantized graph ops: quantization of activations and the int8 × int8 → int32 product; also
// the activation quantizers of the INT8 engine's u8 × s8 GEMM (gemm_u8s8.c).
//
// These are the reference INT8 path of `QDense` (the fused MatMul with Q/DQ operands): exact integer arithmetic,
// so the result depends on the quantized values only, never on summation order. They are plain loops written so the
// compiler vectorizes them (the k loop broadcasts one A element over a row of B), compiled per instruction set like
// elementwise.c. The VNNI kernels of the fast CPU engine (vpdpbusd) are a separate step.
#include "octet_kernels.h"
#include "dispatch_isa.h"
#include <math.h>

#define INLINE static inline __attribute__((always_inline))

INLINE void quantize_body(const float *x, long count, float q_scale, int8_t *y) {
    // ONNX QuantizeLinear with zero point 0: saturate(round_half_to_even(x / scale)). `q_scale` is 1/scale only
    // when that is exact; callers pass the scale itself and divide, as ONNX does.
    for (long i = 0; i < count; i++) {
        float r = nearbyintf(x[i] / q_scale);  // default rounding mode: half to even
        r = r < -128.0f ? -128.0f : (r > 127.0f ? 127.0f : r);
        y[i] = (int8_t)(r != r ? -128 : (int)r);
    }
}

INLINE void fake_quantize_body(const float *x, long count, float scale, float *y) {
    // QuantizeLinear then DequantizeLinear, symmetric int8: the int8 grid point as a float. NaN → -128 (ONNX
    // Runtime's x86 conversion does the same).
    for (long i = 0; i < count; i++) {
        float r = nearbyintf(x[i] / scale);
        r = r < -128.0f ? -128.0f : (r > 127.0f ? 127.0f : r);
        y[i] = (r != r ? -128.0f : r) * scale;
    }
}

INLINE void fake_quantize_u8_body(const float *x, long count, float scale, float *y) {
    // The same with uint8, zero point 0: the grid 0, scale, …, 255·scale for non-negative values (softmax
    // probabilities), twice as fine as int8's for the same range. NaN → 0.
    for (long i = 0; i < count; i++) {
        float r = nearbyintf(x[i] / scale);
        r = r < 0.0f ? 0.0f : (r > 255.0f ? 255.0f : r);
        y[i] = (r != r ? 0.0f : r) * scale;
    }
}

INLINE void quantize_u8_shifted_body(const float *x, long count, float step, uint8_t *y) {
    // The int8 quantizer above with 128 added: the activations of the u8 × s8 GEMM (gemm_u8s8.c). NaN → -128 + 128.
    for (long i = 0; i < count; i++) {
        float r = nearbyintf(x[i] / step);
        r = r < -128.0f ? -128.0f : (r > 127.0f ? 127.0f : r);
        y[i] = (uint8_t)((r != r ? -128 : (int)r) + 128);
    }
}

INLINE void quantize_u8_body(const float *x, long count, float step, float top, uint8_t *y) {
    // Non-negative values (probabilities) to uint8 with zero point 0, saturated at `top` (255, or 127 for int8). NaN → 0.
    for (long i = 0; i < count; i++) {
        float r = nearbyintf(x[i] / step);
        r = r < 0.0f ? 0.0f : (r > top ? top : r);
        y[i] = (uint8_t)(r != r ? 0 : (int)r);
    }
}

INLINE void gemm_s8_body(int m, int n, int k, const int8_t *a, long lda, const int8_t *b, long ldb, int32_t *c, long ldc) {
    for (int i = 0; i < m; i++) {
        int32_t *ci = c + (long)i * ldc;
        for (int j = 0; j < n; j++) ci[j] = 0;
        const int8_t *ai = a + (long)i * lda;
        for (int p = 0; p < k; p++) {
            int32_t av = ai[p];
            if (av == 0) continue;
            const int8_t *bp = b + (long)p * ldb;
            for (int j = 0; j < n; j++) ci[j] += av * (int32_t)bp[j];
        }
    }
}

#if defined(__x86_64__)
#define VARIANTS(X) X(avx512, "avx512f,avx512vl,avx512bw") X(avx2, "avx2,fma")
#else
#define VARIANTS(X)
#endif

#define DEFINE_VARIANT(NAME, TARGET)                                                                                 \
    __attribute__((target(TARGET))) static void quantize_##NAME(const float *x, long count, float s, int8_t *y) { \
        quantize_body(x, count, s, y);                                                                           \
    }                                                                                                            \
    __attribute__((target(TARGET))) static void fake_quantize_##NAME(const float *x, long count, float s, float *y) { \
        fake_quantize_body(x, count, s, y);                                                                      \
    }                                                                                                            \
    __attribute__((target(TARGET))) static void fake_quantize_u8_##NAME(const float *x, long count, float s, float *y) { \
        fake_quantize_u8_body(x, count, s, y);                                                                   \
    }                                                                                                            \
    __attribute__((target(TARGET))) static void quantize_u8_shifted_##NAME(const float *x, long count, float s, uint8_t *y) { \
        quantize_u8_shifted_body(x, count, s, y);                                                                \
    }                                                                                                            \
    __attribute__((target(TARGET))) static void quantize_u8_##NAME(const float *x, long count, float s, float top, uint8_t *y) { \
        quantize_u8_body(x, count, s, top, y);                                                                   \
    }                                                                                                            \
    __attribute__((target(TARGET))) static void gemm_s8_##NAME(int m, int n, int k, const int8_t *a, long lda,    \
        const int8_t *b, long ldb, int32_t *c, long ldc) { gemm_s8_body(m, n, k, a, lda, b, ldb, c, ldc); }
VARIANTS(DEFINE_VARIANT)

static void quantize_portable(const float *x, long count, float s, int8_t *y) { quantize_body(x, count, s, y); }
static void fake_quantize_portable(const float *x, long count, float s, float *y) { fake_quantize_body(x, count, s, y); }
static void fake_quantize_u8_portable(const float *x, long count, float s, float *y) { fake_quantize_u8_body(x, count, s, y); }
static void quantize_u8_shifted_portable(const float *x, long count, float s, uint8_t *y) { quantize_u8_shifted_body(x, count, s, y); }
static void quantize_u8_portable(const float *x, long count, float s, float top, uint8_t *y) { quantize_u8_body(x, count, s, top, y); }
static void gemm_s8_portable(int m, int n, int k, const int8_t *a, long lda, const int8_t *b, long ldb, int32_t *c, long ldc) {
    gemm_s8_body(m, n, k, a, lda, b, ldb, c, ldc);
}


void octet_quantize_s8(const float *x, long count, float scale, int8_t *y) { DISPATCH(quantize, (x, count, scale, y)) }
void octet_fake_quantize_s8(const float *x, long count, float scale, float *y) { DISPATCH(fake_quantize, (x, count, scale, y)) }
void octet_fake_quantize_u8(const float *x, long count, float scale, float *y) { DISPATCH(fake_quantize_u8, (x, count, scale, y)) }
void octet_gemm_s8(int m, int n, int k, const int8_t *a, long lda, const int8_t *b, long ldb, int32_t *c, long ldc) {
    DISPATCH(gemm_s8, (m, n, k, a, lda, b, ldb, c, ldc))
}
void octet_quantize_u8_shifted(const float *x, long count, float step, uint8_t *y) { DISPATCH(quantize_u8_shifted, (x, count, step, y)) }
void octet_quantize_u8(const float *x, long count, float step, float top, uint8_t *y) { DISPATCH(quantize_u8, (x, count, step, top, y)) }
