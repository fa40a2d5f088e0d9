#ifndef CWINOGRAD_SMALL_H
#define CWINOGRAD_SMALL_H
/*
 * Winograd F(2x2, 3x3) transforms for the inference forward's small and narrow images.
 *
 * Small images: planes of at most 64
 * pixels whose output has at most 16 2x2 tiles (e.g. the 8 x 8 residual blocks of xAI-CycleGAN at
 * 64 px). A whole plane fits in four AVX-512 registers and all its tiles in one vector, so each
 * tile value is picked out of registers by permutes instead of going through row buffers with
 * masked, mostly empty vectors; the products run on the tile kernel's small-N GEMM
 * (cx_f32_gemm_small_n / cx_bf16_gemm_small_n, ctile16.h). The arithmetic of the transforms and of
 * the fused instance norm is the same, operation for operation, as the big-image kernels'
 * (cbfloat16.h), so both paths give the same bits.
 *
 * Layouts (lane t of a row = tile t, tiles in raster order of (ceil(outH/2), ceil(outW/2)); lanes
 * past the last tile are 0 in V and ignored in M):
 *   V  (f32)  row c of matrix xi at v + xi * v_stride + c * 16           (ldb 16 for the products)
 *   V  (bf16) pair row c / 2 of matrix xi at v + xi * v_stride + (c / 2) * 16, pairs (c, c + 1)
 *   M         channel co's row xi at m + co * 256 + xi * 16              (ldc 256, c_stride 16)
 * The kernels need cx_avx512_supported() (bf16 input: cx_bf16_supported()).
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 if x [C, height, width] padded by pad (0 or 1) is small enough for these kernels. Plain C. */
int cx_winograd_small_fits(int height, int width, int pad);

/* V = B^T d B of channels [c_begin, c_end) of x [C, H, W] padded by `pad` (zeros, or reflection
 * without repeating the edge when `reflect` is 1). bf16: c_begin even, channel pairs together. */
void cx_f32_winograd_small_input(const float *x, int channels, int height, int width, int pad, int reflect, float *v,
                                 size_t v_stride, int c_begin, int c_end);
void cx_bf16_winograd_small_input(const float *x, int channels, int height, int width, int pad, int reflect,
                                  uint32_t *v, size_t v_stride, int c_begin, int c_end);

/* Y = A^T M A (+ bias) of channels [c_begin, c_end) into y [C, outH, outW]; with normalize, then
 * instance norm (biased variance, epsilon inside the square root; float lanes combined in double),
 * v > 0 ? v : slope * v, and + residual [C, outH, outW] if residual. */
void cx_winograd_small_output(const float *m, int channels, int out_height, int out_width, const float *bias,
                              int normalize, float slope, const float *residual, float epsilon, float *y, int c_begin,
                              int c_end);

/* Narrow images: at most 16 pixels wide with at most 8 tile columns (e.g. the 16 x 16 residual
 * blocks of CycleGAN at 64 px and xAI-CycleGAN at 128 px). One image row fits in a register and
 * two tile rows in one vector, so each of a tile pair's 16 values is one permute of two row
 * registers, where the row-buffer transform leaves half of each vector empty. V is the packed-B
 * layout of cbfloat16.h (panels of 32 columns; f32 rows = channels, bf16 rows = channel pairs),
 * matrix xi at v + xi * v_stride; M is [16][C][T] with matrix xi at m + xi * m_stride (T = tiles
 * of the chunk's tile rows [ty_begin, ty_end)). Strides are free so that the 16 matrices need not
 * sit a power of two apart. Same operations as the row-buffer kernels, so the same bits. */
int cx_winograd_narrow_fits(int height, int width, int pad);
void cx_f32_winograd_narrow_input(const float *x, int channels, int height, int width, int pad, int reflect,
                                  int ty_begin, int ty_end, float *v, size_t v_stride, int c_begin, int c_end);
/* c_begin even. */
void cx_bf16_winograd_narrow_input(const float *x, int channels, int height, int width, int pad, int reflect,
                                   int ty_begin, int ty_end, uint32_t *v, size_t v_stride, int c_begin, int c_end);
/* Y = A^T M A (+ bias) of the chunk's tile rows for channels [c_begin, c_end); with normalize
 * (only for a chunk of the whole image) then the instance norm, activation and residual sum of
 * cx_winograd_small_output. */
void cx_winograd_narrow_output(const float *m, size_t m_stride, int channels, int out_height, int out_width,
                               int ty_begin, int ty_end, const float *bias, int normalize, float slope,
                               const float *residual, float epsilon, float *y, int c_begin, int c_end);

#ifdef __cplusplus
}
#endif
#endif
