// Single-precision GEMM with a pre-packed right-hand side and a fused epilogue.
//
// C[M×N] = epilogue(A[M×K] · B[K×N]). B is packed once (weights at engine build, K/V per attention head) into
// panels of 32 columns, each panel K rows of 32 contiguous floats, so the inner loop reads B sequentially.
// A stays row-major and is broadcast one element at a time, which avoids packing activations on every call.
//
// Register tiles (MR rows × 32 columns, accumulators live in registers across the whole K loop):
//   AVX-512: 12 × 32 = 24 zmm accumulators + 2 for B + 1 broadcast (of 32 registers).
//   AVX2:     6 × 16, twice per panel = 12 ymm accumulators + 2 for B + 1 broadcast (of 16).
//   portable: 4 × 32 in a plain array the compiler vectorizes.
// Rows are blocked so the block of A (MC × K floats) stays in L2 while every panel of the caller's range sweeps it.
// Accumulation order is k = 0, 1, ..., K−1 per output, with FMA: results differ from a naive dot product only by
// rounding (tests allow 1e-5 relative to the magnitude of the sum of |products|).
#include "octet_kernels.h"
#include <string.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define NR OCTET_GEMM_NR
#define INLINE static inline __attribute__((always_inline))

size_t octet_packed_size(int k, int n) { return (size_t)((n + NR - 1) / NR) * (size_t)k * NR; }

void octet_pack_b(int k, int n, const float *b, long row_stride, long col_stride, float *packed) {
    int panels = (n + NR - 1) / NR;
    for (int p = 0; p < panels; p++) {
        float *dst = packed + (size_t)p * k * NR;
        int c0 = p * NR, width = n - c0 < NR ? n - c0 : NR;
        if (col_stride == 1) {
            for (int kk = 0; kk < k; kk++) {
                const float *src = b + (long)kk * row_stride + c0;
                memcpy(dst + (size_t)kk * NR, src, (size_t)width * sizeof(float));
                for (int c = width; c < NR; c++) dst[(size_t)kk * NR + c] = 0.0f;
            }
        } else {
            // Column-strided source (a [N][K] weight): walk each source row once, scatter into the panel.
            for (int c = 0; c < NR; c++) {
                if (c < width) {
                    const float *src = b + (long)(c0 + c) * col_stride;
                    for (int kk = 0; kk < k; kk++) dst[(size_t)kk * NR + c] = src[(long)kk * row_stride];
                } else {
                    for (int kk = 0; kk < k; kk++) dst[(size_t)kk * NR + c] = 0.0f;
                }
            }
        }
    }
}

typedef struct {
    int flags;
    const float *bias;
    const float *residual;
    long ldr;
} epilogue_t;

// Applies bias and residual to a finished row segment (already stored), then GELU.
INLINE void finish_row(float *c, int row, int col0, int width, const epilogue_t *e) {
    if (e->flags & OCTET_EPI_BIAS)
        for (int j = 0; j < width; j++) c[j] += e->bias[col0 + j];
    if (e->flags & OCTET_EPI_RESIDUAL) {
        const float *r = e->residual + (long)row * e->ldr + col0;
        for (int j = 0; j < width; j++) c[j] += r[j];
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Portable tile: MR_P × 32.
#define MR_P 4
INLINE void tile_portable(const int mr, int k, const float *a, long lda, const float *bp, float *c, long ldc,
                          int width) {
    float acc[MR_P][NR];
    for (int i = 0; i < MR_P; i++)
        for (int j = 0; j < NR; j++) acc[i][j] = 0.0f;
    for (int kk = 0; kk < k; kk++) {
        const float *brow = bp + (size_t)kk * NR;
        for (int i = 0; i < mr; i++) {
            float av = a[(long)i * lda + kk];
            for (int j = 0; j < NR; j++) acc[i][j] += av * brow[j];
        }
    }
    for (int i = 0; i < mr; i++)
        for (int j = 0; j < width; j++) c[(long)i * ldc + j] = acc[i][j];
}

// ---------------------------------------------------------------------------------------------------------------
#if defined(__x86_64__)
#define MR_512 12
__attribute__((target("avx512f,avx512vl,fma"))) INLINE void tile_avx512(const int mr, int k, const float *a, long lda,
                                                                          const float *bp, float *c, long ldc,
                                                                          int width) {
    __m512 c0[MR_512], c1[MR_512];
    for (int i = 0; i < mr; i++) {
        c0[i] = _mm512_setzero_ps();
        c1[i] = _mm512_setzero_ps();
    }
    for (int kk = 0; kk < k; kk++) {
        __m512 b0 = _mm512_loadu_ps(bp + (size_t)kk * NR);
        __m512 b1 = _mm512_loadu_ps(bp + (size_t)kk * NR + 16);
        for (int i = 0; i < mr; i++) {
            __m512 av = _mm512_set1_ps(a[(long)i * lda + kk]);
            c0[i] = _mm512_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm512_fmadd_ps(av, b1, c1[i]);
        }
    }
    if (width == NR) {
        for (int i = 0; i < mr; i++) {
            _mm512_storeu_ps(c + (long)i * ldc, c0[i]);
            _mm512_storeu_ps(c + (long)i * ldc + 16, c1[i]);
        }
    } else {
        __mmask16 m0 = width >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << width) - 1);
        __mmask16 m1 = width <= 16 ? (__mmask16)0 : (__mmask16)((1u << (width - 16)) - 1);
        for (int i = 0; i < mr; i++) {
            _mm512_mask_storeu_ps(c + (long)i * ldc, m0, c0[i]);
            _mm512_mask_storeu_ps(c + (long)i * ldc + 16, m1, c1[i]);
        }
    }
}

#define MR_256 6
__attribute__((target("avx2,fma"))) INLINE void half_tile_avx2(const int mr, int k, const float *a, long lda,
                                                                const float *bp, float *c, long ldc, int width) {
    __m256 c0[MR_256], c1[MR_256];
    for (int i = 0; i < mr; i++) {
        c0[i] = _mm256_setzero_ps();
        c1[i] = _mm256_setzero_ps();
    }
    for (int kk = 0; kk < k; kk++) {
        __m256 b0 = _mm256_loadu_ps(bp + (size_t)kk * NR);
        __m256 b1 = _mm256_loadu_ps(bp + (size_t)kk * NR + 8);
        for (int i = 0; i < mr; i++) {
            __m256 av = _mm256_broadcast_ss(a + (long)i * lda + kk);
            c0[i] = _mm256_fmadd_ps(av, b0, c0[i]);
            c1[i] = _mm256_fmadd_ps(av, b1, c1[i]);
        }
    }
    if (width >= 16) {
        for (int i = 0; i < mr; i++) {
            _mm256_storeu_ps(c + (long)i * ldc, c0[i]);
            _mm256_storeu_ps(c + (long)i * ldc + 8, c1[i]);
        }
    } else {
        float tmp[16];
        for (int i = 0; i < mr; i++) {
            _mm256_storeu_ps(tmp, c0[i]);
            _mm256_storeu_ps(tmp + 8, c1[i]);
            memcpy(c + (long)i * ldc, tmp, (size_t)width * sizeof(float));
        }
    }
}

__attribute__((target("avx2,fma"))) INLINE void tile_avx2(const int mr, int k, const float *a, long lda,
                                                           const float *bp, float *c, long ldc, int width) {
    half_tile_avx2(mr, k, a, lda, bp, c, ldc, width > 16 ? 16 : width);
    if (width > 16) half_tile_avx2(mr, k, a, lda, bp + 16, c + 16, ldc, width - 16);
}
#endif

// Every tile height 1...12 as a constant (heights above a path's MR are unreachable there).
#define TILE_CASES(TILE, MR) \
    case 1: TILE((1) > (MR) ? (MR) : (1), k, ap, lda, bp, cp, ldc, width); break; \
    case 2: TILE((2) > (MR) ? (MR) : (2), k, ap, lda, bp, cp, ldc, width); break; \
    case 3: TILE((3) > (MR) ? (MR) : (3), k, ap, lda, bp, cp, ldc, width); break; \
    case 4: TILE((4) > (MR) ? (MR) : (4), k, ap, lda, bp, cp, ldc, width); break; \
    case 5: TILE((5) > (MR) ? (MR) : (5), k, ap, lda, bp, cp, ldc, width); break; \
    case 6: TILE((6) > (MR) ? (MR) : (6), k, ap, lda, bp, cp, ldc, width); break; \
    case 7: TILE((7) > (MR) ? (MR) : (7), k, ap, lda, bp, cp, ldc, width); break; \
    case 8: TILE((8) > (MR) ? (MR) : (8), k, ap, lda, bp, cp, ldc, width); break; \
    case 9: TILE((9) > (MR) ? (MR) : (9), k, ap, lda, bp, cp, ldc, width); break; \
    case 10: TILE((10) > (MR) ? (MR) : (10), k, ap, lda, bp, cp, ldc, width); break; \
    case 11: TILE((11) > (MR) ? (MR) : (11), k, ap, lda, bp, cp, ldc, width); break; \
    case 12: TILE((12) > (MR) ? (MR) : (12), k, ap, lda, bp, cp, ldc, width); break; \

// One driver per path: rows blocked by MC, every panel of [p0, p1) per row block, tiles of MR rows.
// The switch on the remainder turns `mr` into a constant so each tile's accumulators stay in registers.
#define DEFINE_DRIVER(NAME, TARGET, MR, TILE)                                                                      \
    TARGET static void sgemm_##NAME(int m, int n, int k, const float *a, long lda, const float *packed, int p0,   \
                                    int p1, const epilogue_t *e, float *c, long ldc) {                            \
        int mc = (int)(262144 / ((long)k * 4 + 1));                                                                \
        mc = mc < MR ? MR : mc - mc % MR;                                                                          \
        for (int r0 = 0; r0 < m; r0 += mc) {                                                                       \
            int rows = m - r0 < mc ? m - r0 : mc;                                                                  \
            for (int p = p0; p < p1; p++) {                                                                        \
                const float *bp = packed + (size_t)p * k * NR;                                                     \
                int col0 = p * NR, width = n - col0 < NR ? n - col0 : NR;                                          \
                for (int i = 0; i < rows; i += MR) {                                                               \
                    int mr = rows - i < MR ? rows - i : MR;                                                        \
                    const float *ap = a + (long)(r0 + i) * lda;                                                    \
                    float *cp = c + (long)(r0 + i) * ldc + col0;                                                   \
                    switch (mr) {                                                                                  \
                    TILE_CASES(TILE, MR)                                                                           \
                    }                                                                                              \
                    if (e->flags) {                                                                                \
                        for (int t = 0; t < mr; t++) {                                                             \
                            finish_row(cp + (long)t * ldc, r0 + i + t, col0, width, e);                            \
                            if (e->flags & OCTET_EPI_GELU) octet_gelu(cp + (long)t * ldc, width);                  \
                        }                                                                                          \
                    }                                                                                              \
                }                                                                                                  \
            }                                                                                                      \
        }                                                                                                          \
    }

DEFINE_DRIVER(portable, , MR_P, tile_portable)
#if defined(__x86_64__)
DEFINE_DRIVER(avx512, __attribute__((target("avx512f,avx512vl,fma"))), MR_512, tile_avx512)
DEFINE_DRIVER(avx2, __attribute__((target("avx2,fma"))), MR_256, tile_avx2)
#endif

void octet_sgemm(int m, int n, int k, const float *a, long lda, const float *packed, int panel_begin, int panel_end,
                 int epilogue, const float *bias, const float *residual, long ldr, float *c, long ldc) {
    epilogue_t e = {epilogue, bias, residual, ldr};
#if defined(__x86_64__)
    switch (octet_active_isa()) {
    case OCTET_ISA_AVX512: sgemm_avx512(m, n, k, a, lda, packed, panel_begin, panel_end, &e, c, ldc); return;
    case OCTET_ISA_AVX2: sgemm_avx2(m, n, k, a, lda, packed, panel_begin, panel_end, &e, c, ldc); return;
    default: break;
    }
#endif
    sgemm_portable(m, n, k, a, lda, packed, panel_begin, panel_end, &e, c, ldc);
}
