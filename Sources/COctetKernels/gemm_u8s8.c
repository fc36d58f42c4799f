// INT8 GEMM for the fast CPU engine: u8 activations × s8 packed weights → s32, with VNNI where the CPU has it.
//
//   C[m, n] = Σ_k (A[m, k] − 128) · W[n, k]  =  Σ_k A[m, k]·W[n, k] − 128 · colsum[n]
//
// Why u8 and the 128: x86's integer dot product `vpdpbusd` multiplies unsigned by signed bytes. Octet's activations
// are symmetric int8 (QDQBERT's zero point 0); stored with 128 added (a u8 with zero point 128, the bit pattern of
// s8 ^ 0x80) they feed vpdpbusd directly, and the constant 128·Σ_k W[n, k] per column, computed when the weights are
// packed, takes the offset back out. The result is the exact s8 × s8 product: integers, no rounding, so every path
// agrees with the reference `octet_gemm_s8` bit for bit.
//
// Packing: W [N, K] (PyTorch's Linear layout) becomes panels of 16 columns; a panel holds K rounded up to 4 as groups
// of 4 k-values × 16 columns, 64 bytes a group: exactly one zmm of vpdpbusd's second operand (16 lanes × 4 bytes).
// Padding columns and k-values are zero, so they add nothing.
//
// Paths (chosen at run time, `octet_int8_path`):
//   avx512vnni: 12 rows × 32 columns per register tile (24 zmm accumulators, 2 weight vectors, 1 broadcast A group);
//               the A group of 4 bytes is broadcast with one 32-bit load. Each 12-row tile of A is first copied
//               into a per-thread buffer as [group][12 rows][4 bytes], so the tile's loop addresses all 12 rows from
//               one pointer with constant offsets: with 12 row pointers the compiler spilled most of them and
//               reloaded each from the stack every group (24 loads per 24 vpdpbusd instead of 14), and the tail
//               group's zero padding is done once in the copy rather than tested every group.
//   avxvnni:    the VEX-encoded vpdpbusd on 256-bit registers (Alder Lake and later): 6 rows × 16 columns.
//   avx2:       16-bit widening and vpmaddwd (exact; vpmaddubsw would saturate), 2 rows × 16 columns.
//   portable:   the same packed layout in plain loops the compiler vectorizes.
#include "octet_kernels.h"
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#define INLINE static inline __attribute__((always_inline))
#define PANEL 16

size_t octet_packed_s8_size(int k, int n) { return (size_t)((n + PANEL - 1) / PANEL) * (size_t)((k + 3) / 4) * 64; }

void octet_pack_s8(int k, int n, const int8_t *w, long ldw, int8_t *packed, int32_t *colsum) {
    int groups = (k + 3) / 4;
    memset(packed, 0, octet_packed_s8_size(k, n));
    for (int j = 0; j < n; j++) {
        int8_t *panel = packed + (size_t)(j / PANEL) * groups * 64;
        int32_t sum = 0;
        for (int p = 0; p < k; p++) {
            int8_t v = w[(long)j * ldw + p];
            panel[(size_t)(p / 4) * 64 + (j % PANEL) * 4 + p % 4] = v;
            sum += v;
        }
        colsum[j] = sum;
    }
}

// The 4 bytes of row a at group g (zero past k: the tail group of a K that is no multiple of 4).
INLINE int32_t group4(const uint8_t *a, int g, int k) {
    int32_t v;
    if (4 * g + 4 <= k) {
        memcpy(&v, a + 4 * g, 4);
    } else {
        uint8_t b[4] = {0, 0, 0, 0};
        for (int e = 0; 4 * g + e < k; e++) b[e] = a[4 * g + e];
        memcpy(&v, b, 4);
    }
    return v;
}

// ---------------------------------------------------------------------------------------------------------------
// Portable (and AVX2) body: one output row segment of one panel at a time.
INLINE void gemm_body(int m, int n, int k, const uint8_t *a, long lda, const int8_t *packed, const int32_t *colsum,
                      int32_t *c, long ldc) {
    int groups = (k + 3) / 4;
    for (int i = 0; i < m; i++) {
        const uint8_t *ai = a + (long)i * lda;
        for (int j0 = 0; j0 < n; j0 += PANEL) {
            const int8_t *panel = packed + (size_t)(j0 / PANEL) * groups * 64;
            int32_t acc[PANEL] = {0};
            for (int g = 0; g < groups; g++) {
                uint8_t ag[4];
                int32_t v = group4(ai, g, k);
                memcpy(ag, &v, 4);
                const int8_t *wg = panel + (size_t)g * 64;
                for (int col = 0; col < PANEL; col++)
                    for (int e = 0; e < 4; e++) acc[col] += (int32_t)ag[e] * wg[col * 4 + e];
            }
            int width = n - j0 < PANEL ? n - j0 : PANEL;
            for (int col = 0; col < width; col++) c[(long)i * ldc + j0 + col] = acc[col] - 128 * colsum[j0 + col];
        }
    }
}

static void gemm_u8s8_portable(int m, int n, int k, const uint8_t *a, long lda, const int8_t *packed, const int32_t *colsum,
                               int32_t *c, long ldc) {
    gemm_body(m, n, k, a, lda, packed, colsum, c, ldc);
}

#if defined(__x86_64__)
// ---------------------------------------------------------------------------------------------------------------
// AVX2 without VNNI: widen to 16 bits and `vpmaddwd`. (`vpmaddubsw` would take the bytes directly, but it saturates
// its 16-bit pair sums, and 255·127 + 255·127 does not fit; widened, every product and pair sum is exact.)
// Per 4-k group of a 16-column panel: the 64 weight bytes widen to four vectors of 4 columns × 4 k; the row's 4
// activation bytes widen once and broadcast as [a0 a1 a2 a3] × 4; vpmaddwd leaves each column's two pair sums in
// adjacent lanes, added at the end with one horizontal add and a lane permute per 8 columns.
#define AVX2_TILE(MR)                                                                                                \
    __attribute__((target("avx2,fma"))) static void tile2_##MR(int k, const uint8_t *a, long lda, const int8_t *p,   \
                                                            const int32_t *cs, int32_t *c, long ldc, int width) {     \
        int groups = (k + 3) / 4, full = k / 4;                                                                      \
        __m256i acc[MR][4];                                                                                          \
        for (int i = 0; i < MR; i++)                                                                                 \
            for (int q = 0; q < 4; q++) acc[i][q] = _mm256_setzero_si256();                                          \
        for (int g = 0; g < groups; g++) {                                                                           \
            __m256i w[4];                                                                                            \
            for (int q = 0; q < 4; q++) w[q] = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(p + (size_t)g * 64 + 16 * q))); \
            for (int i = 0; i < MR; i++) {                                                                           \
                int32_t v;                                                                                           \
                if (g < full) memcpy(&v, a + (long)i * lda + 4 * g, 4);                                              \
                else v = group4(a + (long)i * lda, g, k);                                                            \
                uint32_t u = (uint32_t)v;                                                                            \
                long long pattern = (long long)(u & 0xff) | (long long)((u >> 8) & 0xff) << 16 |                     \
                                    (long long)((u >> 16) & 0xff) << 32 | (long long)(u >> 24) << 48;                \
                __m256i va = _mm256_set1_epi64x(pattern);                                                            \
                for (int q = 0; q < 4; q++) acc[i][q] = _mm256_add_epi32(acc[i][q], _mm256_madd_epi16(w[q], va));    \
            }                                                                                                        \
        }                                                                                                            \
        for (int i = 0; i < MR; i++) {                                                                               \
            int32_t out[16];                                                                                         \
            __m256i lo = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][0], acc[i][1]), 0xD8);                    \
            __m256i hi = _mm256_permute4x64_epi64(_mm256_hadd_epi32(acc[i][2], acc[i][3]), 0xD8);                    \
            _mm256_storeu_si256((__m256i *)out, lo);                                                                 \
            _mm256_storeu_si256((__m256i *)(out + 8), hi);                                                           \
            for (int col = 0; col < width; col++) c[(long)i * ldc + col] = out[col] - 128 * cs[col];                 \
        }                                                                                                            \
    }
AVX2_TILE(2)
AVX2_TILE(1)

__attribute__((target("avx2,fma"))) static void gemm_u8s8_avx2(int m, int n, int k, const uint8_t *a, long lda,
                                                                const int8_t *packed, const int32_t *colsum, int32_t *c, long ldc) {
    size_t panel = (size_t)((k + 3) / 4) * 64;
    for (int j0 = 0; j0 < n; j0 += PANEL) {
        const int8_t *p = packed + (size_t)(j0 / PANEL) * panel;
        int width = n - j0 < PANEL ? n - j0 : PANEL;
        int i = 0;
        for (; i + 2 <= m; i += 2) tile2_2(k, a + (long)i * lda, lda, p, colsum + j0, c + (long)i * ldc + j0, ldc, width);
        for (; i < m; i++) tile2_1(k, a + (long)i * lda, lda, p, colsum + j0, c + (long)i * ldc + j0, ldc, width);
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Stores a tile's MR rows of 32 sums (acc0: columns 0–15, acc1: 16–31), the first `width` columns, less 128·colsum.
__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni"), always_inline)) static inline void store512(
    int mr, const __m512i *acc0, const __m512i *acc1, const int32_t *cs, int32_t *c, long ldc, int width) {
    __mmask16 m0 = width >= 16 ? 0xFFFF : (__mmask16)((1u << width) - 1);
    __mmask16 m1 = width >= 32 ? 0xFFFF : (width <= 16 ? 0 : (__mmask16)((1u << (width - 16)) - 1));
    __m512i c0 = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m0, cs), 7);
    __m512i c1 = _mm512_slli_epi32(_mm512_maskz_loadu_epi32(m1, cs + 16), 7);
    for (int i = 0; i < mr; i++) {
        _mm512_mask_storeu_epi32(c + (long)i * ldc, m0, _mm512_sub_epi32(acc0[i], c0));
        _mm512_mask_storeu_epi32(c + (long)i * ldc + 16, m1, _mm512_sub_epi32(acc1[i], c1));
    }
}

// AVX-512 VNNI: MR rows × 32 columns (two panels).
#define AVX512_TILE(MR)                                                                                              \
    __attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni"))) static void tile512_##MR(                      \
        int k, const uint8_t *a, long lda, const int8_t *p0, const int8_t *p1, const int32_t *cs, int32_t *c, long ldc,\
        int width) {                                                                                                 \
        int groups = (k + 3) / 4, full = k / 4;                                                                      \
        __m512i acc0[MR], acc1[MR];                                                                                  \
        for (int i = 0; i < MR; i++) { acc0[i] = _mm512_setzero_si512(); acc1[i] = _mm512_setzero_si512(); }        \
        for (int g = 0; g < groups; g++) {                                                                           \
            __m512i b0 = _mm512_loadu_si512(p0 + (size_t)g * 64);                                                    \
            __m512i b1 = p1 ? _mm512_loadu_si512(p1 + (size_t)g * 64) : _mm512_setzero_si512();                       \
            for (int i = 0; i < MR; i++) {                                                                           \
                int32_t v;                                                                                           \
                if (g < full) memcpy(&v, a + (long)i * lda + 4 * g, 4);                                              \
                else v = group4(a + (long)i * lda, g, k);                                                            \
                __m512i va = _mm512_set1_epi32(v);                                                                   \
                acc0[i] = _mm512_dpbusd_epi32(acc0[i], va, b0);                                                      \
                acc1[i] = _mm512_dpbusd_epi32(acc1[i], va, b1);                                                      \
            }                                                                                                        \
        }                                                                                                            \
        store512(MR, acc0, acc1, cs, c, ldc, width);                                                                  \
    }
AVX512_TILE(4)
AVX512_TILE(1)

// 12 rows × 32 columns from packed A ([group][12][4] bytes, zero-padded past k).
__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni"))) static void tile512_12_packed(
    int groups, const uint8_t *ap, const int8_t *p0, const int8_t *p1, const int32_t *cs, int32_t *c, long ldc, int width) {
    __m512i acc0[12], acc1[12];
    for (int i = 0; i < 12; i++) { acc0[i] = _mm512_setzero_si512(); acc1[i] = _mm512_setzero_si512(); }
    if (p1) {
        for (int g = 0; g < groups; g++) {
            __m512i b0 = _mm512_loadu_si512(p0 + (size_t)g * 64), b1 = _mm512_loadu_si512(p1 + (size_t)g * 64);
            const uint8_t *ag = ap + (size_t)g * 48;
            for (int i = 0; i < 12; i++) {
                int32_t v;
                memcpy(&v, ag + 4 * i, 4);
                __m512i va = _mm512_set1_epi32(v);
                acc0[i] = _mm512_dpbusd_epi32(acc0[i], va, b0);
                acc1[i] = _mm512_dpbusd_epi32(acc1[i], va, b1);
            }
        }
    } else {  // the last 16 or fewer columns
        for (int g = 0; g < groups; g++) {
            __m512i b0 = _mm512_loadu_si512(p0 + (size_t)g * 64);
            const uint8_t *ag = ap + (size_t)g * 48;
            for (int i = 0; i < 12; i++) {
                int32_t v;
                memcpy(&v, ag + 4 * i, 4);
                acc0[i] = _mm512_dpbusd_epi32(acc0[i], _mm512_set1_epi32(v), b0);
            }
        }
    }
    store512(12, acc0, acc1, cs, c, ldc, width);
}

// Copies rows a[0..12) as [group][12][4] bytes (zero past k) into a per-thread buffer that grows as needed; NULL when
// it cannot grow (the caller then runs the unpacked tiles).
static uint8_t *pack_a12(int k, const uint8_t *a, long lda, int tiles) {
    static _Thread_local uint8_t *buffer;
    static _Thread_local size_t capacity;
    int groups = (k + 3) / 4, full = k / 4;
    size_t bytes = (size_t)tiles * (size_t)groups * 48;
    if (bytes > capacity) {
        uint8_t *grown = realloc(buffer, bytes);
        if (!grown) return NULL;
        buffer = grown;
        capacity = bytes;
    }
    for (int t = 0; t < tiles; t++) {
        uint8_t *out = buffer + (size_t)t * groups * 48;
        const uint8_t *rows = a + (long)t * 12 * lda;
        for (int g = 0; g < full; g++)
            for (int i = 0; i < 12; i++) memcpy(out + (size_t)g * 48 + 4 * i, rows + (long)i * lda + 4 * g, 4);
        if (full < groups)
            for (int i = 0; i < 12; i++) {
                int32_t v = group4(rows + (long)i * lda, full, k);
                memcpy(out + (size_t)full * 48 + 4 * i, &v, 4);
            }
    }
    return buffer;
}

__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni"))) static void gemm_u8s8_avx512vnni(
    int m, int n, int k, const uint8_t *a, long lda, const int8_t *packed, const int32_t *colsum, int32_t *c, long ldc) {
    // Rows in blocks of 144 (12 tiles), so a block of A (144 × K bytes) stays in L2 while every panel pair sweeps it.
    size_t panel = (size_t)((k + 3) / 4) * 64;
    int groups = (k + 3) / 4;
    for (int i0 = 0; i0 < m; i0 += 144) {
        int i1 = m - i0 < 144 ? m : i0 + 144;
        int tiles = (i1 - i0) / 12;
        const uint8_t *ap = tiles > 0 ? pack_a12(k, a + (long)i0 * lda, lda, tiles) : NULL;
        for (int j0 = 0; j0 < n; j0 += 32) {
            const int8_t *p0 = packed + (size_t)(j0 / PANEL) * panel;
            const int8_t *p1 = j0 + PANEL < n ? p0 + panel : NULL;
            int width = n - j0 < 32 ? n - j0 : 32;
            int i = i0;
            if (ap)
                for (int t = 0; t < tiles; t++, i += 12)
                    tile512_12_packed(groups, ap + (size_t)t * groups * 48, p0, p1, colsum + j0, c + (long)i * ldc + j0, ldc, width);
            for (; i + 4 <= i1; i += 4) tile512_4(k, a + (long)i * lda, lda, p0, p1, colsum + j0, c + (long)i * ldc + j0, ldc, width);
            for (; i < i1; i++) tile512_1(k, a + (long)i * lda, lda, p0, p1, colsum + j0, c + (long)i * ldc + j0, ldc, width);
        }
    }
}

// ---------------------------------------------------------------------------------------------------------------
// AVX-VNNI (VEX, 256-bit): MR rows × 16 columns (one panel, two ymm).
#define AVXVNNI_TILE(MR)                                                                                             \
    __attribute__((target("avx2,avxvnni"))) static void tile256_##MR(int k, const uint8_t *a, long lda,             \
                                                                      const int8_t *p, const int32_t *cs, int32_t *c,   \
                                                                      long ldc, int width) {                           \
        int groups = (k + 3) / 4, full = k / 4;                                                                      \
        __m256i acc0[MR], acc1[MR];                                                                                  \
        for (int i = 0; i < MR; i++) { acc0[i] = _mm256_setzero_si256(); acc1[i] = _mm256_setzero_si256(); }        \
        for (int g = 0; g < groups; g++) {                                                                           \
            __m256i b0 = _mm256_loadu_si256((const __m256i *)(p + (size_t)g * 64));                                  \
            __m256i b1 = _mm256_loadu_si256((const __m256i *)(p + (size_t)g * 64 + 32));                             \
            for (int i = 0; i < MR; i++) {                                                                           \
                int32_t v;                                                                                           \
                if (g < full) memcpy(&v, a + (long)i * lda + 4 * g, 4);                                              \
                else v = group4(a + (long)i * lda, g, k);                                                            \
                __m256i va = _mm256_set1_epi32(v);                                                                   \
                acc0[i] = _mm256_dpbusd_avx_epi32(acc0[i], va, b0);                                                  \
                acc1[i] = _mm256_dpbusd_avx_epi32(acc1[i], va, b1);                                                  \
            }                                                                                                        \
        }                                                                                                            \
        for (int i = 0; i < MR; i++) {                                                                               \
            int32_t out[16];                                                                                         \
            _mm256_storeu_si256((__m256i *)out, acc0[i]);                                                            \
            _mm256_storeu_si256((__m256i *)(out + 8), acc1[i]);                                                      \
            for (int col = 0; col < width; col++) c[(long)i * ldc + col] = out[col] - 128 * cs[col];                 \
        }                                                                                                            \
    }
AVXVNNI_TILE(6)
AVXVNNI_TILE(1)

__attribute__((target("avx2,avxvnni"))) static void gemm_u8s8_avxvnni(int m, int n, int k, const uint8_t *a, long lda,
                                                                      const int8_t *packed, const int32_t *colsum,
                                                                      int32_t *c, long ldc) {
    size_t panel = (size_t)((k + 3) / 4) * 64;
    for (int j0 = 0; j0 < n; j0 += PANEL) {
        const int8_t *p = packed + (size_t)(j0 / PANEL) * panel;
        int width = n - j0 < PANEL ? n - j0 : PANEL;
        int i = 0;
        for (; i + 6 <= m; i += 6) tile256_6(k, a + (long)i * lda, lda, p, colsum + j0, c + (long)i * ldc + j0, ldc, width);
        for (; i < m; i++) tile256_1(k, a + (long)i * lda, lda, p, colsum + j0, c + (long)i * ldc + j0, ldc, width);
    }
}

// The integer paths this CPU runs, as a bit mask (bit p: path p). Not a ladder: AVX-512 VNNI does not imply AVX-VNNI
// (AMD Zen 4 and Intel Ice Lake have the EVEX form only; Zen 5 and Sapphire Rapids have both), so each is asked of
// CPUID on its own and a lower path is taken only where its bit is set.
static int detect_int8(void) {
    int mask = 1 << OCTET_I8_PORTABLE;
    int isa = octet_detect_isa();
    if (isa == OCTET_ISA_PORTABLE) return mask;
    mask |= 1 << OCTET_I8_AVX2;
    unsigned int a, b, c, d;
    if (__get_cpuid_count(7, 1, &a, &b, &c, &d) && ((a >> 4) & 1)) mask |= 1 << OCTET_I8_AVXVNNI;
    if (isa == OCTET_ISA_AVX512 && __get_cpuid_count(7, 0, &a, &b, &c, &d) && ((c >> 11) & 1)) mask |= 1 << OCTET_I8_AVX512VNNI;
    return mask;
}
#else
static int detect_int8(void) { return 1 << OCTET_I8_PORTABLE; }
#endif

// The mask of paths this CPU runs, detected once. Published with release/acquire, since the first GEMMs can come
// from several worker threads at once: 0 means not yet detected (bit 0, the portable path, is always set after).
static int supported_int8 = 0, active_int8 = -1;

static int int8_mask(void) {
    int mask = __atomic_load_n(&supported_int8, __ATOMIC_ACQUIRE);
    if (!mask) {
        mask = detect_int8();
        __atomic_store_n(&supported_int8, mask, __ATOMIC_RELEASE);
    }
    return mask;
}

// The best path this CPU runs that is no higher than `path`.
static int highest_supported(int path) {
    int mask = int8_mask();
    for (int p = path > OCTET_I8_AVX512VNNI ? OCTET_I8_AVX512VNNI : path; p > OCTET_I8_PORTABLE; p--)
        if ((mask >> p) & 1) return p;
    return OCTET_I8_PORTABLE;
}

int octet_int8_path(void) {
    int active = __atomic_load_n(&active_int8, __ATOMIC_ACQUIRE);
    if (active < 0) {
        // OCTET_ISA (the float path forced lower) caps the integer path too: avx2 → at most avx-vnni, portable → portable.
        int isa = octet_active_isa();
        int cap = isa == OCTET_ISA_AVX512 ? OCTET_I8_AVX512VNNI : (isa == OCTET_ISA_AVX2 ? OCTET_I8_AVXVNNI : OCTET_I8_PORTABLE);
        active = highest_supported(cap);
        __atomic_store_n(&active_int8, active, __ATOMIC_RELEASE);
    }
    return active;
}

int octet_set_int8_path(int path) {
    int active = highest_supported(path);
    __atomic_store_n(&active_int8, active, __ATOMIC_RELEASE);
    return active;
}

int octet_best_int8_path(void) { return highest_supported(OCTET_I8_AVX512VNNI); }

int octet_int8_path_supported(int path) {
    return path >= OCTET_I8_PORTABLE && path <= OCTET_I8_AVX512VNNI && ((int8_mask() >> path) & 1);
}

const char *octet_int8_path_name(int path) {
    switch (path) {
    case OCTET_I8_AVX512VNNI: return "avx512-vnni";
    case OCTET_I8_AVXVNNI: return "avx-vnni";
    case OCTET_I8_AVX2: return "avx2";
    default: return "portable";
    }
}

void octet_gemm_u8s8(int m, int n, int k, const uint8_t *a, long lda, const int8_t *packed, const int32_t *colsum,
                     int32_t *c, long ldc) {
    switch (octet_int8_path()) {
#if defined(__x86_64__)
    case OCTET_I8_AVX512VNNI: gemm_u8s8_avx512vnni(m, n, k, a, lda, packed, colsum, c, ldc); return;
    case OCTET_I8_AVXVNNI: gemm_u8s8_avxvnni(m, n, k, a, lda, packed, colsum, c, ldc); return;
    case OCTET_I8_AVX2: gemm_u8s8_avx2(m, n, k, a, lda, packed, colsum, c, ldc); return;
#endif
    default: gemm_u8s8_portable(m, n, k, a, lda, packed, colsum, c, ldc); return;
    }
}

// ---------------------------------------------------------------------------------------------------------------
// The INT8 engine's GEMM epilogues (the activation quantizers are in gemm_s8.c with the others).

void octet_dequantize_s32(const int32_t *x, long count, float scale, float *y) {
    for (long i = 0; i < count; i++) y[i] = (float)x[i] * scale;
}

void octet_dequantize_rows(int rows, int cols, const int32_t *acc, long ldacc, const float *dq, const float *bias,
                           const float *residual, long ldr, int gelu, float *out, long ldo) {
    for (int r = 0; r < rows; r++) {
        const int32_t *a = acc + (long)r * ldacc;
        float *o = out + (long)r * ldo;
        for (int j = 0; j < cols; j++) o[j] = (float)a[j] * dq[j] + bias[j];
        // GELU with the float engine's vectorized GELU (`octet_gelu`, the erfc form; libm's scalar erff cost more than the
        // INT8 GEMM itself).
        if (gelu) octet_gelu(o, cols);
        if (residual) {
            const float *res = residual + (long)r * ldr;
            for (int j = 0; j < cols; j++) o[j] += res[j];
        }
    }
}
