// Octet's CPU kernels: the C shim behind the OctetCPU module.
//
// Why C: Swift has no per-function target attributes, so one binary cannot hold an AVX-512 kernel, an AVX2 kernel
// and a portable one side by side and pick at run time. These kernels are compiled once per instruction set
// (target attributes) and chosen by CPUID when the process starts; `octet_set_isa` forces a lower path for tests.
// Everything here is pure computation on caller-owned memory: no allocation per call, no threads (the Swift side
// splits work into independent ranges and runs them on `octet_pool_run`), no errors (callers validate shapes).
#ifndef OCTET_KERNELS_H
#define OCTET_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set paths, best last.
enum {
    OCTET_ISA_PORTABLE = 0,  // plain C, auto-vectorized for the build's baseline (SSE2 on x86-64, NEON on arm64)
    OCTET_ISA_AVX2 = 1,      // AVX2 + FMA
    OCTET_ISA_AVX512 = 2,    // AVX-512 F/VL
};

/// The best path this CPU and OS support.
int octet_detect_isa(void);
/// The path in use (the detected one unless forced).
int octet_active_isa(void);
/// Forces a path; a path the CPU lacks is clamped to the detected one. Returns the path now active.
int octet_set_isa(int isa);

/// Makes stdout line-buffered even when it is a file or a pipe, so a long run's log shows each line as it is printed.
void octet_line_buffer_stdout(void);
/// "avx512", "avx2" or "portable".
const char *octet_isa_name(int isa);

/// Columns per packed panel of the GEMM's right-hand side.
#define OCTET_GEMM_NR 32

/// Floats needed to pack a K×N right-hand side: ceil(N/32) panels of K×32, zero-padded.
size_t octet_packed_size(int k, int n);

/// Packs B (K×N, element (k, n) at `b[k*row_stride + n*col_stride]`) into panels of 32 columns.
/// A PyTorch Linear weight W[out=N][in=K] is B = Wᵀ: row_stride 1, col_stride K.
void octet_pack_b(int k, int n, const float *b, long row_stride, long col_stride, float *packed);

/// Epilogue steps applied to each output element, in this order.
enum {
    OCTET_EPI_BIAS = 1,      // + bias[n]
    OCTET_EPI_RESIDUAL = 2,  // + residual[m*ldr + n]
    OCTET_EPI_GELU = 4,      // exact GELU: 0.5·x·(1 + erf(x/√2))
};

/// C[m, n] = epilogue(Σ_k A[m*lda + k] · B[k, n]) for rows [0, M) and the columns of panels [panel_begin, panel_end).
/// `packed` comes from `octet_pack_b` with the same K and N. `residual` may alias C (same ld).
void octet_sgemm(int m, int n, int k, const float *a, long lda, const float *packed, int panel_begin, int panel_end,
                 int epilogue, const float *bias, const float *residual, long ldr, float *c, long ldc);

/// y[r] = (x[r] − mean) / sqrt(var + eps) · gamma + beta for `rows` rows of `n`; y may alias x.
void octet_layernorm(int rows, int n, const float *x, long ldx, const float *gamma, const float *beta, float eps,
                     float *y, long ldy);

/// In place: x[r, 0..<valid] = softmax(scale · x[r, 0..<valid]); x[r, valid..<n] = 0.
void octet_softmax(int rows, int n, int valid, float *x, long ldx, float scale);

/// In place exact GELU over `count` floats.
void octet_gelu(float *x, long count);

/// Vectorized erf and exp over arrays (for tests of the approximations: erf within 5e-7 absolute of the libm value,
/// exp within 2e-7 relative).
void octet_erf_array(const float *x, float *y, long count);
void octet_exp_array(const float *x, float *y, long count);

/// ONNX QuantizeLinear to int8 with zero point 0: y = saturate(round_half_to_even(x / scale)); NaN → -128.
void octet_quantize_s8(const float *x, long count, float scale, int8_t *y);

/// Symmetric int8 quantize-dequantize in float: y = saturate(round_half_to_even(x / scale), -128, 127) · scale; y may
/// alias x.
void octet_fake_quantize_s8(const float *x, long count, float scale, float *y);
/// Each value rounded to IEEE fp16 and widened back (round to nearest even; beyond 65504 to ±infinity; below 2⁻¹⁴ to
/// fp16's subnormal grid of 2⁻²⁴; NaN stays NaN): the fp16 residual stream's rounding and ONNX's Cast to float16.
/// F16C's conversions where the CPU has them (and the active path is AVX2 or better), else bit arithmetic; exact
/// either way. y may alias x.
void octet_round_to_half(const float *x, long count, float *y);
/// Uint8 quantize → dequantize with zero point 0 (for non-negative values): y = clamp(round_half_even(x / scale), 0, 255) · scale.
void octet_fake_quantize_u8(const float *x, long count, float scale, float *y);

/// C[m, n] = Σ_k A[m*lda + k] · B[k*ldb + n], int8 × int8 → int32, exact.
void octet_gemm_s8(int m, int n, int k, const int8_t *a, long lda, const int8_t *b, long ldb, int32_t *c, long ldc);

/// Integer GEMM paths (gemm_u8s8.c), best last; chosen from CPUID within the active instruction set.
enum {
    OCTET_I8_PORTABLE = 0,    // plain C on the packed layout
    OCTET_I8_AVX2 = 1,        // 16-bit widening and vpmaddwd
    OCTET_I8_AVXVNNI = 2,     // VEX vpdpbusd, 256-bit
    OCTET_I8_AVX512VNNI = 3,  // EVEX vpdpbusd, 512-bit
};
/// The integer path in use; `octet_set_int8_path` forces a lower one: the best this CPU runs at or below the one asked
/// for (the paths are not a ladder: AVX-512 VNNI without AVX-VNNI is common).
int octet_int8_path(void);
int octet_best_int8_path(void);
int octet_set_int8_path(int path);
/// Whether this CPU runs integer path `path` (1) or not (0).
int octet_int8_path_supported(int path);
/// "avx512-vnni", "avx-vnni", "avx2" or "portable".
const char *octet_int8_path_name(int path);

/// Bytes to pack an int8 weight of N output rows × K inputs: ceil(N/16) panels of ceil(K/4) groups of 64 bytes.
size_t octet_packed_s8_size(int k, int n);
/// Packs W [N, K] (row stride ldw) for `octet_gemm_u8s8` and writes colsum[n] = Σ_k W[n, k].
void octet_pack_s8(int k, int n, const int8_t *w, long ldw, int8_t *packed, int32_t *colsum);
/// C[m, n] = Σ_k (A[m*lda + k] − 128) · W[n, k], exact int32: A holds int8 activations stored with 128 added (u8,
/// the bit pattern s8 ^ 0x80), so C equals the s8 × s8 product `octet_gemm_s8` computes.
void octet_gemm_u8s8(int m, int n, int k, const uint8_t *a, long lda, const int8_t *packed, const int32_t *colsum,
                     int32_t *c, long ldc);

/// Activations for `octet_gemm_u8s8`: y = saturate(round_half_to_even(x / step), -128, 127) + 128 (NaN → 0).
void octet_quantize_u8_shifted(const float *x, long count, float step, uint8_t *y);
/// Non-negative values (probabilities) to uint8 with zero point 0: y = clamp(round_half_to_even(x / step), 0, top).
void octet_quantize_u8(const float *x, long count, float step, float top, uint8_t *y);
/// y = x · scale, int32 → float.
void octet_dequantize_s32(const int32_t *x, long count, float scale, float *y);
/// The INT8 GEMM's epilogue: out[r, j] = gelu?(acc[r, j] · dq[j] + bias[j]) (+ residual[r, j] when given).
void octet_dequantize_rows(int rows, int cols, const int32_t *acc, long ldacc, const float *dq, const float *bias,
                           const float *residual, long ldr, int gelu, float *out, long ldo);

/// A fork-join task: `worker` runs from 0 to the region's worker count − 1.
typedef void (*octet_task_fn)(void *context, int worker);

/// Runs fn(context, w) for w in [0, workers) on the persistent pool (the caller is worker 0) and returns when all
/// are done. Regions run one at a time; a region started from inside another runs serially on the calling thread.
int octet_pool_run(int workers, octet_task_fn fn, void *context);

/// 64-byte aligned allocation for packed weights and activations; NULL on failure.
float *octet_alloc_floats(size_t count);
void octet_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
