// Row-wise and element-wise kernels: LayerNorm, masked softmax, exact GELU, and the erf/exp approximations they use.
//
// Each body is written once as plain C over short fixed-width blocks (so the compiler vectorizes it without
// -ffast-math: lanes are independent, reductions keep one partial sum per lane) and compiled three times with
// target attributes; the dispatcher calls the variant for the active instruction set.
//
// Accuracy (checked by tests against libm): erf within 5e-7 absolute (the rational approximation used by Eigen
// and XLA); GELU within 3.3e-7 absolute of exact-erf GELU (the normal tail's erfc form, `gelu_approx`); exp within
// 2e-7 relative (Cephes expf's polynomial after a two-constant ln 2 reduction).
#include "octet_kernels.h"
#include "dispatch_isa.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define W 16  // lanes per block: one zmm, two ymm, four xmm

#define INLINE static inline __attribute__((always_inline))

INLINE float erf_approx(float x) {
    x = x > 4.0f ? 4.0f : (x < -4.0f ? -4.0f : x);
    float x2 = x * x;
    float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
    p = x2 * p + -2.10102402082508e-06f;
    p = x2 * p + -5.69250639462346e-05f;
    p = x2 * p + -7.34990630326855e-04f;
    p = x2 * p + -2.95459980854025e-03f;
    p = x2 * p + -1.60960333262415e-02f;
    p = x * p;
    float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
    q = x2 * q + -1.68282697438203e-03f;
    q = x2 * q + -7.37332916720468e-03f;
    q = x2 * q + -1.42647390514189e-02f;
    return p / q;
}

INLINE float exp_approx(float x) {
    x = x > 88.3762626647949f ? 88.3762626647949f : x;
    x = x < -87.3365447504f ? -87.3365447504f : x;  // below this, 2^n would be subnormal: clamp to ~1.2e-38
    float fx = x * 1.44269504088896341f + 0.5f;
    float fl = (float)(int)fx;
    fl = fl > fx ? fl - 1.0f : fl;  // floor
    float r = x - fl * 0.693359375f - fl * -2.12194440e-4f;
    float y = 1.9875691500e-4f;
    y = y * r + 1.3981999507e-3f;
    y = y * r + 8.3334519073e-3f;
    y = y * r + 4.1665795894e-2f;
    y = y * r + 1.6666665459e-1f;
    y = y * r + 5.0000001201e-1f;
    y = y * r * r + r + 1.0f;
    int n = (int)fl + 127;
    float scale;
    int bits = n << 23;
    memcpy(&scale, &bits, sizeof scale);
    return y * scale;
}

// Exact-erf GELU, gelu(z) = z·Φ(z), through the normal tail: z·Φ(z) = max(z, 0) − |z|·Φ(−|z|), with
// Φ(−|z|) = erfc(|z|/√2)/2 from Abramowitz and Stegun 7.1.26 (erfc(x) = t·P(t)·e^(−x²), t = 1/(1 + 0.3275911·x),
// |error| ≤ 1.5e-7; here P's coefficients are halved and 0.3275911/√2 = 0.2316419). Within 3.3e-7 of exact GELU over
// |z| ≤ 12 in float32 (Eigen's rational erf, the form before, was within 1.09e-6). The CUDA epilogues
// (Kernels/common.cuh, `gelu_scaled`) compute the same t and P(t) with the same coefficients in the same order; the
// Gaussian factor is e^(−z²/2) by Cephes here and 2^(−z²·log₂e/2) by `ex2.approx` there, and their 1/x is the
// special-function unit's (within 2⁻²² relative), so the two differ only by rounding (about 1 ulp): an INT8 network
// amplifies a GELU mismatch wherever a value lands near an int8 rounding boundary, and the GPU's self-test compares
// whole models against this code. Past |z| ≈ 13 the tail is below float's normal range: gelu(z) is then within 1e-37
// of max(z, 0) (`exp_approx` clamps at the smallest normal float rather than flushing to 0).
INLINE float gelu_approx(float z) {
    const float a = z < 0.0f ? -z : z;
    const float t = 1.0f / (1.0f + 0.2316419f * a);
    float p = t * 0.5307027145f + -0.7265760135f;
    p = t * p + 0.7107068705f;
    p = t * p + -0.142248368f;
    p = t * p + 0.127414796f;
    const float tail = (p * t) * exp_approx(z * (z * -0.5f));
    return (z > 0.0f ? z : 0.0f) - a * tail;
}

INLINE void gelu_body(float *x, long count) {
    long i = 0;
    for (; i + W <= count; i += W)
        for (int j = 0; j < W; j++) x[i + j] = gelu_approx(x[i + j]);
    for (; i < count; i++) x[i] = gelu_approx(x[i]);
}

INLINE void erf_body(const float *x, float *y, long count) {
    for (long i = 0; i < count; i++) y[i] = erf_approx(x[i]);
}

INLINE void exp_body(const float *x, float *y, long count) {
    for (long i = 0; i < count; i++) y[i] = exp_approx(x[i]);
}

// Two-pass LayerNorm per row (mean, then variance of the centred values), as PyTorch computes it in float32.
INLINE void layernorm_body(int rows, int n, const float *x, long ldx, const float *gamma, const float *beta, float eps,
                           float *y, long ldy) {
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (long)r * ldx;
        float *yr = y + (long)r * ldy;
        float part[W] = {0};
        int i = 0;
        for (; i + W <= n; i += W)
            for (int j = 0; j < W; j++) part[j] += xr[i + j];
        float sum = 0;
        for (int j = 0; j < W; j++) sum += part[j];
        for (; i < n; i++) sum += xr[i];
        float mean = sum / (float)n;
        float sq[W] = {0};
        i = 0;
        for (; i + W <= n; i += W)
            for (int j = 0; j < W; j++) {
                float d = xr[i + j] - mean;
                sq[j] += d * d;
            }
        float var = 0;
        for (int j = 0; j < W; j++) var += sq[j];
        for (; i < n; i++) {
            float d = xr[i] - mean;
            var += d * d;
        }
        float inv = 1.0f / sqrtf(var / (float)n + eps);
        for (i = 0; i < n; i++) yr[i] = (xr[i] - mean) * inv * gamma[i] + beta[i];
    }
}

INLINE void softmax_body(int rows, int n, int valid, float *x, long ldx, float scale) {
    for (int r = 0; r < rows; r++) {
        float *xr = x + (long)r * ldx;
        float mx[W];
        for (int j = 0; j < W; j++) mx[j] = -INFINITY;
        int i = 0;
        for (; i + W <= valid; i += W)
            for (int j = 0; j < W; j++) mx[j] = xr[i + j] > mx[j] ? xr[i + j] : mx[j];
        float m = -INFINITY;
        for (int j = 0; j < W; j++) m = mx[j] > m ? mx[j] : m;
        for (; i < valid; i++) m = xr[i] > m ? xr[i] : m;
        float part[W] = {0};
        i = 0;
        for (; i + W <= valid; i += W)
            for (int j = 0; j < W; j++) {
                float e = exp_approx((xr[i + j] - m) * scale);
                xr[i + j] = e;
                part[j] += e;
            }
        float sum = 0;
        for (int j = 0; j < W; j++) sum += part[j];
        for (; i < valid; i++) {
            float e = exp_approx((xr[i] - m) * scale);
            xr[i] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (i = 0; i < valid; i++) xr[i] *= inv;
        for (; i < n; i++) xr[i] = 0.0f;
    }
}

#if defined(__x86_64__)
#define VARIANTS(X) X(avx512, "avx512f,avx512vl,fma") X(avx2, "avx2,fma")
#else
#define VARIANTS(X)
#endif

#define DEFINE_VARIANT(NAME, TARGET)                                                                          \
    __attribute__((target(TARGET))) static void gelu_##NAME(float *x, long count) { gelu_body(x, count); }   \
    __attribute__((target(TARGET))) static void erf_##NAME(const float *x, float *y, long c) { erf_body(x, y, c); } \
    __attribute__((target(TARGET))) static void exp_##NAME(const float *x, float *y, long c) { exp_body(x, y, c); } \
    __attribute__((target(TARGET))) static void layernorm_##NAME(int rows, int n, const float *x, long ldx,  \
        const float *g, const float *b, float eps, float *y, long ldy) { layernorm_body(rows, n, x, ldx, g, b, eps, y, ldy); } \
    __attribute__((target(TARGET))) static void softmax_##NAME(int rows, int n, int valid, float *x, long ldx, \
        float scale) { softmax_body(rows, n, valid, x, ldx, scale); }
VARIANTS(DEFINE_VARIANT)

static void gelu_portable(float *x, long count) { gelu_body(x, count); }
static void erf_portable(const float *x, float *y, long c) { erf_body(x, y, c); }
static void exp_portable(const float *x, float *y, long c) { exp_body(x, y, c); }
static void layernorm_portable(int rows, int n, const float *x, long ldx, const float *g, const float *b, float eps,
                               float *y, long ldy) { layernorm_body(rows, n, x, ldx, g, b, eps, y, ldy); }
static void softmax_portable(int rows, int n, int valid, float *x, long ldx, float scale) {
    softmax_body(rows, n, valid, x, ldx, scale);
}


void octet_gelu(float *x, long count) { DISPATCH(gelu, (x, count)) }
void octet_erf_array(const float *x, float *y, long count) { DISPATCH(erf, (x, y, count)) }
void octet_exp_array(const float *x, float *y, long count) { DISPATCH(exp, (x, y, count)) }
void octet_layernorm(int rows, int n, const float *x, long ldx, const float *gamma, const float *beta, float eps,
                     float *y, long ldy) { DISPATCH(layernorm, (rows, n, x, ldx, gamma, beta, eps, y, ldy)) }
void octet_softmax(int rows, int n, int valid, float *x, long ldx, float scale) {
    DISPATCH(softmax, (rows, n, valid, x, ldx, scale))
}

// fp16 rounding (octet_round_to_half). Why not Swift's Float16: on x86 without a Float16 ISA its conversions are
// library calls per value, which made the Cast pairs of an fp16-stream Q/DQ model a fifth of Octet's ONNX run time.
static float round_to_half_scalar(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    const uint32_t sign = u & 0x80000000u, a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) return f;                               // ±infinity, NaN
    if (a >= 0x477ff000u) { u = sign | 0x7f800000u; memcpy(&f, &u, 4); return f; }  // ≥ 65520: beyond fp16's range
    if (a < 0x38800000u) {                                        // below 2⁻¹⁴: fp16 subnormals, multiples of 2⁻²⁴
        const float r = rintf(fabsf(f) * 16777216.0f) * 0x1p-24f;  // exact scaling; rintf rounds half to even
        return sign ? -r : r;
    }
    const uint32_t odd = (a >> 13) & 1;                           // keep 10 of the 23 fraction bits, ties to even
    u = sign | ((a + 0xfffu + odd) & ~0x1fffu);
    memcpy(&f, &u, 4);
    return f;
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2,f16c"))) static void round_to_half_f16c(const float *x, long count, float *y) {
    long i = 0;
    for (; i + 8 <= count; i += 8) {
        const __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(h));
    }
    for (; i < count; i++) y[i] = round_to_half_scalar(x[i]);
}
#endif

void octet_round_to_half(const float *x, long count, float *y) {
#if defined(__x86_64__)
    if (octet_active_isa() >= OCTET_ISA_AVX2 && octet_has_f16c()) {
        round_to_half_f16c(x, count, y);
        return;
    }
#endif
    for (long i = 0; i < count; i++) y[i] = round_to_half_scalar(x[i]);
}
