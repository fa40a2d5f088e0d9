#ifndef CCONVKERNELS_H
#define CCONVKERNELS_H

/*
 * Convolution kernels in C whose instruction set is chosen at run time: AVX-512 where the CPU
 * has it, AVX2 + FMA otherwise, plain x86-64 (or the host's baseline) as the fallback. Each
 * kernel is written once and compiled three times with per-function target attributes, so
 * cyclex uses AVX-512 even where OpenBLAS is pinned to older kernels (OPENBLAS_CORETYPE).
 *
 * All kernels work on one range of channels (or rows) so that the caller splits work over
 * cores; they never start threads themselves. Layouts are row-major float32, documented per
 * function. The engine's Swift wrappers (Kernels/WinogradConvolution.swift,
 * Kernels/DirectConvolution.swift) describe the algorithms.
 */

#ifdef __cplusplus
extern "C" {
#endif

/* The instruction set the kernels use: 2 = AVX-512F, 1 = AVX2 + FMA, 0 = baseline.
 * CYCLEX_ISA=avx512|avx2|baseline caps it (A/B timing and tests); read once. */
int cx_kernel_isa(void);
/* Forces the instruction set for the rest of the process (tests); it is still capped by the CPU. */
void cx_set_kernel_isa(int isa);
/* "avx512", "avx2" or "baseline". */
const char *cx_kernel_isa_name(void);

/* Winograd F(2x2, 3x3) input transform V = B^T d B of channels [c0, c1) of one image
 * x [channels, height, width] with zero padding `padding`; v is laid out [16][channels][T],
 * T = tileRows * tileColumns. */
void cx_winograd_input(const float *x, long channels, long height, long width, long padding,
                       long tileRows, long tileColumns, long c0, long c1, float *v);

/* Output transform Y = A^T M A (+ bias) of channels [c0, c1): m [16][channels][T] ->
 * y [channels, outH, outW] (overwritten); bias may be NULL. */
void cx_winograd_output(const float *m, long channels, const float *bias, long outH, long outW,
                        long c0, long c1, float *y);

/* Adjoint of the output transform, dM = A dY A^T for channels [c0, c1):
 * gy [channels, outH, outW] -> dm [16][channels][T]. */
void cx_winograd_output_gradient(const float *gy, long channels, long outH, long outW,
                                 long c0, long c1, float *dm);

/* Weight transform U = G g G^T. Without `flipped`: w [cout, cin, 3, 3] -> u [16][cout][cin] for
 * output channels [begin, end). With `flipped` (the input gradient's kernel: channels swapped,
 * window rotated by 180 degrees): u [16][cin][cout] for input channels [begin, end). */
void cx_winograd_weights(const float *w, long cout, long cin, int flipped, long begin, long end, float *u);

/* Weight gradient back-transform dw = G^T dU G: du [16][cout][cin] -> dw [cout, cin, 3, 3]
 * (overwritten) for output channels [begin, end). */
void cx_winograd_weight_gradient(const float *du, long cout, long cin, long begin, long end, float *dw);

/* The small-N kernel's packed Winograd weights of w [cout, cin, 3, 3] in one pass per form (see
 * winograd.c): forward products from wt [cin * 9][coutPadded] (w transposed, zero past cout), input
 * channels [begin, end), into packed [16][coutPadded / 16][cin][16]; input-gradient products from w
 * itself, output channels [begin, end), into packed [16][ceil(cin / 16)][cout][16]; products
 * `stride` apart. */
void cx_winograd_pack_forward(const float *wt, long cin, long coutPadded, long begin, long end, float *packed,
                              long stride);
void cx_winograd_pack_rotated(const float *w, long cout, long cin, long begin, long end, float *packed,
                              long stride);

/* dst[(rb * depth + offset + c) * 16 + l] = src[(16 * rb + l) * columns + c] for the rows of
 * src [rows][columns] in blocks of 16 (zeros past `rows`): one product's A as the small-N kernel
 * reads it ([ceil(rows/16)][depth][16]), columns placed at K offset `offset`. */
void cx_pack_row_blocks16(const float *src, long rows, long columns, float *dst, long depth, long offset);

/* dst[c * ldd + r] = src[r * columns + c] for src [rows][columns]. */
void cx_transpose_into(const float *src, long rows, long columns, float *dst, long ldd);

/* Direct stride-1 unpadded convolution for at most 4 output channels, output rows [r0, r1):
 * x [cin, height, width], w [cout, cin, kh, kw]; y [cout, height-kh+1, width-kw+1] += conv. */
void cx_direct_forward(const float *x, const float *w, float *y, long cin, long cout, long height, long width,
                       long kh, long kw, long r0, long r1);

/* Its input gradient for input channels [c0, c1): gx [cin, height, width] += conv^T(gy, w),
 * gy [cout, height-kh+1, width-kw+1]. */
void cx_direct_backward_input(const float *gy, const float *w, float *gx, long cin, long cout, long height,
                              long width, long kh, long kw, long c0, long c1);

/* Its weight gradient for input channels [c0, c1): gw[co, ci, ., .] = (accumulate ? gw : 0) +
 * sum over positions of gy[co] * x[ci] shifted. */
void cx_direct_backward_weight(const float *gy, const float *x, float *gw, int accumulate, long cin, long cout,
                               long height, long width, long kh, long kw, long c0, long c1);

#ifdef __cplusplus
}
#endif
#endif
