#ifndef CTILE16_H
#define CTILE16_H
/*
 * Direct convolution with a register tile of 16 output channels x 16 output pixels, for the
 * inference forward's stride-2, transposed (as four sub-pixel convolutions) and small-image
 * convolutions. The vector runs along the output channels: each multiply-add step loads the 16
 * weights of one (input channel, tap) once and broadcasts one input value per pixel, so there is
 * no column matrix, any stride costs the same, and an 8 x 8 image still fills whole tiles (a tile
 * covers two segments of 8 pixels, e.g. two rows of an 8-pixel-wide image). The tile is
 * transposed in registers at the end and stored as planes (pixel stride 1 or 2: the sub-pixel
 * phases of a transposed convolution write every other column).
 *
 * Layouts:
 *   input    x [C, H, W] already padded (cx_f32_pad_planes); the buffer must hold
 *            CX_TILE16_SLACK more elements after the last plane (partial tiles read past rows).
 *   weights  w [Cout, C, kh, kw] packed by cx_f32_tile16_pack_weights as [ceil(Cout/16)][C][kh][kw][16].
 *   output   y: output channel co, row i, column j at y[co * y_plane + i * y_row_stride + j * y_pixel_stride].
 * bf16 variants: the input as channel pairs [ceil(C/2)][H][W] (uint32: bf16 of channel 2p low,
 * 2p + 1 high; cx_bf16_pad_pairs), weights [ceil(Cout/16)][ceil(C/2)][kh][kw][16] pairs; products
 * accumulate in float32 (VDPBF16PS).
 *
 * Work is split into items: item = tile * ceil(Cout/16) + output-channel block, tiles in raster
 * order of 8-pixel segments (cx_tile16_items). Kernels need cx_avx512_supported() (f32) or
 * cx_bf16_supported() (bf16); packing and padding are plain C, except cx_bf16_pad_pairs.
 */
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CX_TILE16_SLACK 32

/* Work items of a convolution with this output (see above). */
int cx_tile16_items(int out_channels, int out_height, int out_width);

/* Elements (floats, or uint32 pairs with bf16 = 1) of packed weights. */
size_t cx_tile16_packed_count(int out_channels, int channels, int kernel_height, int kernel_width, int bf16);
void cx_f32_tile16_pack_weights(const float *w, int out_channels, int channels, int kernel_height, int kernel_width,
                                float *out);
void cx_bf16_tile16_pack_weights(const float *w, int out_channels, int channels, int kernel_height, int kernel_width,
                                 uint32_t *out);

/* Channels [c_begin, c_end) of x [C, H, W] padded by top/bottom/left/right (zeros, or reflection
 * without repeating the edge when reflect = 1, as PyTorch's ReflectionPad2d) into
 * out [C, H + top + bottom, W + left + right]. */
void cx_f32_pad_planes(const float *x, int channels, int height, int width, int top, int bottom, int left, int right,
                       int reflect, float *out, int c_begin, int c_end);
/* The same into channel pairs [ceil(C/2)][H'][W'] (bf16, round to nearest even; a missing odd
 * channel is 0), for pairs [pair_begin, pair_end). Needs cx_bf16_supported(). */
void cx_bf16_pad_pairs(const float *x, int channels, int height, int width, int top, int bottom, int left, int right,
                       int reflect, uint32_t *out, int pair_begin, int pair_end);

/* y (+ bias) = w * x with stride `stride` (1 or 2; unpadded: out_height = (H - kh) / stride + 1, at least),
 * for items [item_begin, item_end). */
void cx_f32_tile16_conv(const float *x, int channels, int height, int width, int kernel_height, int kernel_width,
                        int stride, const float *w_packed, int out_channels, const float *bias, float *y,
                        int out_height, int out_width, size_t y_plane, int y_row_stride, int y_pixel_stride,
                        int item_begin, int item_end);
void cx_bf16_tile16_conv(const uint32_t *pairs, int channels, int height, int width, int kernel_height,
                         int kernel_width, int stride, const uint32_t *w_packed, int out_channels, const float *bias,
                         float *y, int out_height, int out_width, size_t y_plane, int y_row_stride,
                         int y_pixel_stride, int item_begin, int item_end);

/* Products with few columns (Winograd's 16 tiles of an 8 x 8 image), the same register tile:
 * C_i [M x N] (row stride ldc) = A_i · B_i for the matrices i of a batch (A_i at a_packed + i * a_stride,
 * packed by cx_f32_tile16_pack_weights(A, M, K, 1, 1), or the bf16 packing; B_i row-major [K x N]
 * at b + i * b_stride with row stride ldb, bf16: [ceil(K/2) x N] pairs; C_i at c + i * c_stride),
 * for items [item_begin, item_end) of batch * ceil(M/16) * ceil(N/16). Every row of B must hold
 * ceil(N/16) * 16 readable entries (e.g. one packed-B panel of 32 columns). */
void cx_f32_gemm_small_n(int m, int n, int k, const float *a_packed, size_t a_stride, const float *b, int ldb,
                         size_t b_stride, float *c, int ldc, size_t c_stride, int item_begin, int item_end);
void cx_bf16_gemm_small_n(int m, int n, int k, const uint32_t *a_packed, size_t a_stride, const uint32_t *b, int ldb,
                          size_t b_stride, float *c, int ldc, size_t c_stride, int item_begin, int item_end);

/* Training: the Winograd F(2x2, 3x3) weight gradient dw [Cout, Cin, 3, 3] (overwritten) from the 16
 * products dU_xi = A_xi B_xi (A_xi at a_packed + xi * a_stride, packed [ceil(Cout/16)][k][16] like
 * cx_f32_gemm_small_n's A, i.e. dM_xi; B_xi row-major [k x Cin] at b + xi * b_stride, i.e. V_xi
 * transposed, every row readable for ceil(Cin/16) * 16 entries) and dw = G^T dU G, for items
 * [item_begin, item_end) of ceil(Cout/16) * ceil(Cin/16) (one 16 x 16 block of channel pairs each). */
void cx_f32_winograd_weight_gradient(int cout, int cin, int k, const float *a_packed, size_t a_stride,
                                     const float *b, size_t b_stride, float *dw, int item_begin, int item_end);

/* Training, AVX-512 only: dst[c * ldd + r] = src[r * lds + c] for src [rows][columns] (row stride lds). */
void cx_f32_transpose(const float *src, int rows, int columns, size_t lds, float *dst, size_t ldd);

/* Training: cx_f32_gemm_small_n with the same bits, computing only the valid columns of a last
 * column block narrower than 16 (B is then never read past column n). */
void cx_f32_gemm_small_n_columns(int m, int n, int k, const float *a_packed, size_t a_stride, const float *b, int ldb,
                                 size_t b_stride, float *c, int ldc, size_t c_stride, int item_begin, int item_end);

#ifdef __cplusplus
}
#endif
#endif
