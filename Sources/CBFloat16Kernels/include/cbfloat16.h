#ifndef CBFLOAT16_H
#define CBFLOAT16_H
/*
 * bfloat16 matrix products for cyclex's reduced-precision translation (`--precision bf16`).
 *
 * Debian's OpenBLAS 0.3.21 is built without `cblas_sbgemm`, so cyclex carries its own kernel:
 * AVX512_BF16's VDPBF16PS multiplies pairs of bf16 values and accumulates them into float32,
 * 32 products per instruction. Operands are converted once (weights) or once per layer
 * (activations) into packed layouts of bf16 PAIRS along the reduction dimension K:
 *
 *   packed A (weights):  [ceil(M/8)][KP][8] pairs   (KP = ceil(K/2); rows and K padded with 0)
 *   packed B (columns):  [ceil(N/32)][KP][32] pairs  ("panels" of 32 columns, padded with 0)
 *
 * A pair is one uint32: the bf16 of row/column element 2p in the low half, 2p+1 in the high half.
 * Every float → bf16 conversion rounds to nearest even. Products accumulate in float32.
 *
 * The kernels run only where `cx_bf16_supported()` returns 1 (CPUID reports AVX512F, AVX512BW,
 * AVX512VL and AVX512_BF16, and the OS saves the AVX-512 registers); everything else is plain C.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if this CPU and OS can run the AVX512_BF16 kernels, else 0. */
int cx_bf16_supported(void);

/* A short space-separated list of the CPU's vector extensions relevant here, e.g.
 * "avx2 fma avx512f avx512bw avx512vl" (for the refusal message). Static storage. */
const char *cx_cpu_vector_features(void);

/* Elements (uint32 pairs) of a packed A of M rows and K columns, and of a packed B of K rows, N columns. */
size_t cx_bf16_packed_a_count(int m, int k);
size_t cx_bf16_packed_b_count(int k, int n);

/* Packs row-major A [M x K] (row stride lda floats) into the packed-A layout. Plain C. */
void cx_bf16_pack_a(const float *a, int m, int k, int lda, uint32_t *out);

/* The same for A with element (i, j) at a[i * row_stride + j * column_stride]: column_stride > 1
 * packs a transposed view, e.g. Wᵀ of a row-major W [K x M] with row_stride 1, column_stride M. */
void cx_bf16_pack_a_strided(const float *a, int m, int k, size_t row_stride, size_t column_stride, uint32_t *out);

/* Packs panels [panel_begin, panel_end) of row-major B [K x N] (row stride ldb floats).
 * Needs cx_bf16_supported(). */
void cx_bf16_pack_b(const float *b, int k, int n, int ldb, uint32_t *out, int panel_begin, int panel_end);

/* C[M x N] (row stride ldc) = A · B (+ bias[row] if bias) (+ C if accumulate), for the columns of
 * panels [panel_begin, panel_end). Needs cx_bf16_supported(). */
void cx_bf16_gemm(int m, int n, int k, const uint32_t *a_packed, const uint32_t *b_packed, float *c, int ldc,
                  const float *bias, int accumulate, int panel_begin, int panel_end);

/* Winograd F(2x2, 3x3) input transform V = B^T d B of channels [c_begin, c_end) of x [C, H, W]
 * padded by `pad` (zeros, or reflection without repeating the edge when `reflect` is 1, as
 * PyTorch's ReflectionPad2d; output (H + 2 pad - 2) x (W + 2 pad - 2), i.e. ceil(outH/2) rows of
 * ceil(outW/2) 2x2 tiles), for the tile rows [ty_begin, ty_end) only, written straight into 16
 * packed-B matrices of C rows and T = (ty_end - ty_begin) * tile columns: matrix xi starts at
 * out + xi * cx_bf16_packed_b_count(C, T). Channel pairs are written together, so c_begin must be
 * even. Needs cx_bf16_supported(). */
void cx_inference_winograd_input_bf16(const float *x, int channels, int height, int width, int pad, int reflect,
                            int ty_begin, int ty_end, uint32_t *out, int c_begin, int c_end);

/* Winograd F(2x2, 3x3) output transform Y = A^T M A (+ bias) of the tile rows [ty_begin, ty_end)
 * for channels [c_begin, c_end), from M laid out [16][C][T] (T = tiles of those rows), into
 * y [C, outH, outW]. Needs cx_avx512_supported(). */
void cx_inference_winograd_output(const float *m, int channels, int out_height, int out_width, int ty_begin, int ty_end,
                        const float *bias, float *y, int c_begin, int c_end);

/* The output transform of a whole image (one chunk: all ceil(outH/2) tile rows) fused with what
 * follows the convolution in the generators: each channel's plane is transformed (no bias: the
 * norm removes it), instance-normalised (biased variance, epsilon inside the square root; sums in
 * float lanes combined in double), passed through v > 0 ? v : slope * v (slope 1: none, 0: ReLU)
 * and, if residual, added to residual [C, outH, outW]; channels [c_begin, c_end). One pass over
 * each plane while it is in cache. Needs cx_avx512_supported(). */
void cx_inference_winograd_output_normalized(const float *m, int channels, int out_height, int out_width,
                                             float *y, float slope, const float *residual, float epsilon,
                                             int c_begin, int c_end);

/* ---- float32 versions of the same kernels (AVX-512F FMA), for the float32 inference forward on
 * CPUs with AVX-512; same layouts with floats instead of pairs: packed A [ceil(M/8)][K][8],
 * packed B [ceil(N/32)][K][32]. */

/* 1 if the CPU reports AVX512F, AVX512BW and AVX512VL and the OS saves the AVX-512 registers. */
int cx_avx512_supported(void);
size_t cx_f32_packed_a_count(int m, int k);
size_t cx_f32_packed_b_count(int k, int n);
/* Plain C. */
void cx_f32_pack_a(const float *a, int m, int k, int lda, float *out);
/* Winograd F(2x2, 3x3) weights of w [Cout, Cin, 3, 3], each of the 16 matrices U_xi [Cout x Cin] in
 * the cx_f32_pack_a layout at out + xi * cx_f32_packed_a_count(Cout, Cin); output-channel blocks of 8
 * [block_begin, block_end). The same values as CConvKernels' transform followed by cx_f32_pack_a. */
void cx_f32_winograd_pack_a(const float *w, int cout, int cin, int block_begin, int block_end, float *out);
/* Needs cx_avx512_supported(). */
void cx_f32_pack_b(const float *b, int k, int n, int ldb, float *out, int panel_begin, int panel_end);
/* Needs cx_avx512_supported(). */
void cx_f32_gemm(int m, int n, int k, const float *a_packed, const float *b_packed, float *c, int ldc,
                 const float *bias, int accumulate, int panel_begin, int panel_end);
/* Stride-1 unpadded k x k convolution without a column matrix ("implicit GEMM"): output rows
 * [row_begin, row_end) of y [Cout, H-k+1, W-k+1] = w * x (+ bias), x [Cin, H, W]; the weights
 * [Cout, Cin, k, k] packed by cx_f32_pack_a(w, Cout, Cin*k*k, Cin*k*k). Each 8-channel x 32-pixel
 * register tile reads its input rows straight from x. Needs cx_avx512_supported(). */
void cx_f32_direct_conv(const float *x, int channels, int height, int width, int kernel, const float *w_packed,
                        int out_channels, const float *bias, float *y, int row_begin, int row_end);
/* As cx_inference_winograd_input_bf16, into 16 float32 packed-B matrices (matrix xi at out + xi * cx_f32_packed_b_count(C, T)).
 * Any c_begin. Needs cx_avx512_supported(). */
void cx_inference_winograd_input_f32(const float *x, int channels, int height, int width, int pad, int reflect,
                           int ty_begin, int ty_end, float *out, int c_begin, int c_end);

/* bf16 version of cx_f32_direct_conv. The input is first turned into "shifted pairs":
 * cx_bf16_shift_pairs writes, for rows [row_begin, row_end) of x [rows, W], out[r][t] = the pair
 * (bf16 x[r][t], bf16 x[r][t + 1]) (0 past the row), so the pair of taps (2q, 2q + 1) of 32 output
 * columns is one contiguous load. cx_bf16_pack_direct_weights packs w [Cout, Cin, k, k] as
 * [ceil(Cout/8)][Cin * k * ceil(k/2)][8] pairs (taps 2q, 2q + 1 of a kernel row; 0 for the odd last).
 * cx_bf16_direct_conv: output rows [row_begin, row_end) of y [Cout, H-k+1, W-k+1] (+ bias).
 * The two kernels need cx_bf16_supported(); the packing is plain C (x86-64 only). */
void cx_bf16_shift_pairs(const float *x, int rows, int width, uint32_t *out, int row_begin, int row_end);
void cx_bf16_pack_direct_weights(const float *w, int out_channels, int channels, int kernel, uint32_t *out);
void cx_bf16_direct_conv(const uint32_t *pairs, int channels, int height, int width, int kernel, const uint32_t *w_packed,
                         int out_channels, const float *bias, float *y, int row_begin, int row_end);

/* Rounds every float of x to bf16 and back (round to nearest even), in place: what a bf16
 * operand holds. For tests. */
void cx_bf16_round_floats(float *x, size_t count);

#ifdef __cplusplus
}
#endif
#endif
