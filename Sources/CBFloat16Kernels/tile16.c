/* 16 output channels x 16 output pixels direct convolution (include/ctile16.h). */
#include "ctile16.h"
#include "kernel_support.h"

#include <stdlib.h>

#define CO 16   /* output channels per tile (one vector) */
#define SEG 8   /* pixels per segment; a tile is two segments */

int cx_tile16_items(int out_channels, int out_height, int out_width) {
    int segments = out_height * div_up(out_width, SEG);
    return div_up(segments, 2) * div_up(out_channels, CO);
}

size_t cx_tile16_packed_count(int out_channels, int channels, int kernel_height, int kernel_width, int bf16) {
    int c = bf16 ? div_up(channels, 2) : channels;
    return (size_t)div_up(out_channels, CO) * c * kernel_height * kernel_width * CO;
}

void cx_f32_tile16_pack_weights(const float *w, int out_channels, int channels, int kh, int kw, float *out) {
    int blocks = div_up(out_channels, CO);
    for (int cb = 0; cb < blocks; cb++)
        for (int ci = 0; ci < channels; ci++)
            for (int t = 0; t < kh * kw; t++, out += CO)
                for (int l = 0; l < CO; l++) {
                    int co = cb * CO + l;
                    out[l] = co < out_channels ? w[((size_t)co * channels + ci) * kh * kw + t] : 0.0f;
                }
}

void cx_bf16_tile16_pack_weights(const float *w, int out_channels, int channels, int kh, int kw, uint32_t *out) {
    int blocks = div_up(out_channels, CO), pairs = div_up(channels, 2);
    for (int cb = 0; cb < blocks; cb++)
        for (int cp = 0; cp < pairs; cp++)
            for (int t = 0; t < kh * kw; t++, out += CO)
                for (int l = 0; l < CO; l++) {
                    int co = cb * CO + l;
                    uint32_t lo = 0, hi = 0;
                    if (co < out_channels) {
                        lo = bf16_bits(w[((size_t)co * channels + 2 * cp) * kh * kw + t]);
                        if (2 * cp + 1 < channels) hi = bf16_bits(w[((size_t)co * channels + 2 * cp + 1) * kh * kw + t]);
                    }
                    out[l] = lo | (hi << 16);
                }
}

/* One padded row: out[0 .. left + width + right) from the source row src (NULL: zeros). */
static void pad_row(const float *src, int width, int left, int right, int reflect, float *out) {
    int padded = left + width + right;
    if (!src) { memset(out, 0, sizeof(float) * (size_t)padded); return; }
    for (int c = 0; c < left; c++) {
        int s = source_index(c - left, width, reflect);
        out[c] = s < 0 ? 0.0f : src[s];
    }
    memcpy(out + left, src, sizeof(float) * (size_t)width);
    for (int c = left + width; c < padded; c++) {
        int s = source_index(c - left, width, reflect);
        out[c] = s < 0 ? 0.0f : src[s];
    }
}

void cx_f32_pad_planes(const float *x, int channels, int height, int width, int top, int bottom, int left, int right,
                       int reflect, float *out, int c_begin, int c_end) {
    int ph = height + top + bottom, pw = width + left + right;
    for (int c = c_begin; c < c_end; c++) {
        const float *plane = x + (size_t)c * height * width;
        for (int r = 0; r < ph; r++) {
            int s = source_index(r - top, height, reflect);
            pad_row(s < 0 ? NULL : plane + (size_t)s * width, width, left, right, reflect,
                    out + ((size_t)c * ph + r) * pw);
        }
    }
}

#ifdef CX_X86

CX_BF16_TARGET
void cx_bf16_pad_pairs(const float *x, int channels, int height, int width, int top, int bottom, int left, int right,
                       int reflect, uint32_t *out, int pair_begin, int pair_end) {
    int ph = height + top + bottom, pw = width + left + right;
    float *rows = malloc(sizeof(float) * 2 * (size_t)(pw + 16));
    if (!rows) abort();
    float *r0 = rows, *r1 = rows + pw + 16;
    for (int p = pair_begin; p < pair_end; p++) {
        int c0 = 2 * p, c1 = 2 * p + 1;
        for (int r = 0; r < ph; r++) {
            int s = source_index(r - top, height, reflect);
            const float *a = s < 0 ? NULL : x + ((size_t)c0 * height + s) * width;
            const float *b = s < 0 || c1 >= channels ? NULL : x + ((size_t)c1 * height + s) * width;
            pad_row(a, width, left, right, reflect, r0);
            pad_row(b, width, left, right, reflect, r1);
            uint32_t *dst = out + ((size_t)p * ph + r) * pw;
            for (int t = 0; t < pw; t += 16) {
                __mmask16 m = lanes(pw - t);
                __m512i v = pairs_of(_mm512_maskz_loadu_ps(m, r0 + t), _mm512_maskz_loadu_ps(m, r1 + t));
                _mm512_mask_storeu_epi32(dst + t, m, v);
            }
        }
    }
    free(rows);
}

#define CX_P8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)

/* 16 x 16 transpose: r[p] (pixel p, lanes = output channels) -> r[co] (lanes = pixels). */
CX_AVX512_TARGET static inline void transpose16(__m512 r[16]) {
    __m512 a[16], b[16];
    for (int i = 0; i < 8; i++) {
        a[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        a[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int j = 0; j < 4; j++) {
        __m512d a0 = _mm512_castps_pd(a[4 * j]), a1 = _mm512_castps_pd(a[4 * j + 1]);
        __m512d a2 = _mm512_castps_pd(a[4 * j + 2]), a3 = _mm512_castps_pd(a[4 * j + 3]);
        b[4 * j + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
        b[4 * j + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
        b[4 * j + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
        b[4 * j + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
    }
    /* b[4j + m], 128-bit lane L: rows 4j..4j+3 of column 4L + m. */
    for (int m = 0; m < 4; m++) {
        __m512 e = _mm512_shuffle_f32x4(b[m], b[4 + m], 0x88), f = _mm512_shuffle_f32x4(b[m], b[4 + m], 0xdd);
        __m512 g = _mm512_shuffle_f32x4(b[8 + m], b[12 + m], 0x88), h = _mm512_shuffle_f32x4(b[8 + m], b[12 + m], 0xdd);
        r[m] = _mm512_shuffle_f32x4(e, g, 0x88);
        r[8 + m] = _mm512_shuffle_f32x4(e, g, 0xdd);
        r[4 + m] = _mm512_shuffle_f32x4(f, h, 0x88);
        r[12 + m] = _mm512_shuffle_f32x4(f, h, 0xdd);
    }
}

/* Where one tile's two segments are. */
typedef struct {
    int row0, col0, valid0, row1, col1, valid1;
} tile_place;

static inline tile_place place_tile(int tile, int out_height, int out_width) {
    int per_row = div_up(out_width, SEG), segments = out_height * per_row;
    tile_place t;
    int s0 = 2 * tile, s1 = 2 * tile + 1;
    t.row0 = s0 / per_row;
    t.col0 = (s0 % per_row) * SEG;
    t.valid0 = out_width - t.col0 < SEG ? out_width - t.col0 : SEG;
    if (s1 < segments) {
        t.row1 = s1 / per_row;
        t.col1 = (s1 % per_row) * SEG;
        t.valid1 = out_width - t.col1 < SEG ? out_width - t.col1 : SEG;
    } else {
        t.row1 = t.row0;   /* reads stay inside the first segment's rows; nothing is stored */
        t.col1 = t.col0;
        t.valid1 = 0;
    }
    return t;
}

/* Transposes the tile and stores output channels [0, rows) of it (+ bias). */
CX_AVX512_TARGET static inline void store_tile16(__m512 r[16], int rows, const float *bias, float *y, size_t plane,
                                                 int row_stride, int pixel_stride, tile_place t) {
    transpose16(r);
    float *y0 = y + (size_t)t.row0 * row_stride + (size_t)t.col0 * pixel_stride;
    float *y1 = y + (size_t)t.row1 * row_stride + (size_t)t.col1 * pixel_stride;
    __mmask8 m0 = (__mmask8)((1u << t.valid0) - 1), m1 = (__mmask8)((1u << t.valid1) - 1);
    /* Pixel stride 2: pixel n of a segment goes to lane 2n. */
    const __m512i spread_lo = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    const __m512i spread_hi = _mm512_set_epi32(15, 15, 14, 14, 13, 13, 12, 12, 11, 11, 10, 10, 9, 9, 8, 8);
    __mmask16 s0 = (__mmask16)(0x5555u & ((1u << (2 * t.valid0)) - 1));
    __mmask16 s1 = (__mmask16)(0x5555u & ((1u << (2 * t.valid1)) - 1));
    for (int co = 0; co < rows; co++) {
        __m512 v = r[co];
        if (bias) v = _mm512_add_ps(v, _mm512_set1_ps(bias[co]));
        float *d0 = y0 + (size_t)co * plane, *d1 = y1 + (size_t)co * plane;
        if (pixel_stride == 1) {
            _mm256_mask_storeu_ps(d0, m0, _mm512_castps512_ps256(v));
            _mm256_mask_storeu_ps(d1, m1, _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
        } else {
            _mm512_mask_storeu_ps(d0, s0, _mm512_permutexvar_ps(spread_lo, v));
            _mm512_mask_storeu_ps(d1, s1, _mm512_permutexvar_ps(spread_hi, v));
        }
    }
}

/* The multiply-add loop of one tile: c<p> += w[.., tap] * x(pixel p), pixels 0-7 at a + p * S,
 * 8-15 at b + p * S. S is a compile-time constant in each caller (1 or 2), so the broadcasts use
 * immediate offsets. */
#define CX_F32_TILE_LOOP(S)                                                                                        \
    for (int ci = 0; ci < channels; ci++) {                                                                        \
        const float *xc = x + (size_t)ci * plane_in;                                                               \
        for (int ki = 0; ki < kh; ki++) {                                                                          \
            const float *ra = xc + (size_t)ki * width + offset0, *rb = xc + (size_t)ki * width + offset1;          \
            for (int kj = 0; kj < kw; kj++, w += CO) {                                                             \
                __m512 wv = _mm512_loadu_ps(w);                                                                    \
                const float *a = ra + kj, *b = rb + kj;                                                            \
                CX_P8(CX_T16_FMA_A##S)                                                                             \
                CX_P8(CX_T16_FMA_B##S)                                                                             \
            }                                                                                                      \
        }                                                                                                          \
    }
#define CX_T16_FMA_A1(p) c##p = _mm512_fmadd_ps(_mm512_set1_ps(a[p]), wv, c##p);
#define CX_T16_FMA_B1(p) d##p = _mm512_fmadd_ps(_mm512_set1_ps(b[p]), wv, d##p);
#define CX_T16_FMA_A2(p) c##p = _mm512_fmadd_ps(_mm512_set1_ps(a[2 * p]), wv, c##p);
#define CX_T16_FMA_B2(p) d##p = _mm512_fmadd_ps(_mm512_set1_ps(b[2 * p]), wv, d##p);
#define CX_T16_ZERO(p) __m512 c##p = _mm512_setzero_ps(), d##p = _mm512_setzero_ps();
#define CX_T16_GATHER(p) r[p] = c##p; r[8 + p] = d##p;

CX_AVX512_TARGET
void cx_f32_tile16_conv(const float *x, int channels, int height, int width, int kh, int kw, int stride,
                        const float *w_packed, int out_channels, const float *bias, float *y, int out_height,
                        int out_width, size_t y_plane, int y_row_stride, int y_pixel_stride, int item_begin,
                        int item_end) {
    int blocks = div_up(out_channels, CO);
    size_t plane_in = (size_t)height * width, block_weights = (size_t)channels * kh * kw * CO;
    for (int item = item_begin; item < item_end; item++) {
        int tile = item / blocks, cb = item % blocks;
        tile_place t = place_tile(tile, out_height, out_width);
        size_t offset0 = (size_t)t.row0 * stride * width + (size_t)t.col0 * stride;
        size_t offset1 = (size_t)t.row1 * stride * width + (size_t)t.col1 * stride;
        const float *w = w_packed + cb * block_weights;
        CX_P8(CX_T16_ZERO)
        if (stride == 1) {
            CX_F32_TILE_LOOP(1)
        } else {
            CX_F32_TILE_LOOP(2)
        }
        __m512 r[16];
        CX_P8(CX_T16_GATHER)
        int rows = out_channels - cb * CO < CO ? out_channels - cb * CO : CO;
        store_tile16(r, rows, bias ? bias + cb * CO : NULL, y + (size_t)cb * CO * y_plane, y_plane, y_row_stride,
                     y_pixel_stride, t);
    }
}

#define CX_BF16_TILE_LOOP(S)                                                                                       \
    for (int cp = 0; cp < channel_pairs; cp++) {                                                                   \
        const uint32_t *xc = pairs + (size_t)cp * plane_in;                                                        \
        for (int ki = 0; ki < kh; ki++) {                                                                          \
            const uint32_t *ra = xc + (size_t)ki * width + offset0, *rb = xc + (size_t)ki * width + offset1;       \
            for (int kj = 0; kj < kw; kj++, w += CO) {                                                             \
                __m512bh wv = (__m512bh)_mm512_loadu_si512((const void *)w);                                       \
                const uint32_t *a = ra + kj, *b = rb + kj;                                                         \
                CX_P8(CX_T16_DP_A##S)                                                                              \
                CX_P8(CX_T16_DP_B##S)                                                                              \
            }                                                                                                      \
        }                                                                                                          \
    }
#define CX_T16_DP_A1(p) c##p = _mm512_dpbf16_ps(c##p, wv, (__m512bh)_mm512_set1_epi32((int)a[p]));
#define CX_T16_DP_B1(p) d##p = _mm512_dpbf16_ps(d##p, wv, (__m512bh)_mm512_set1_epi32((int)b[p]));
#define CX_T16_DP_A2(p) c##p = _mm512_dpbf16_ps(c##p, wv, (__m512bh)_mm512_set1_epi32((int)a[2 * p]));
#define CX_T16_DP_B2(p) d##p = _mm512_dpbf16_ps(d##p, wv, (__m512bh)_mm512_set1_epi32((int)b[2 * p]));

CX_BF16_TARGET
void cx_bf16_tile16_conv(const uint32_t *pairs, int channels, int height, int width, int kh, int kw, int stride,
                         const uint32_t *w_packed, int out_channels, const float *bias, float *y, int out_height,
                         int out_width, size_t y_plane, int y_row_stride, int y_pixel_stride, int item_begin,
                         int item_end) {
    int blocks = div_up(out_channels, CO), channel_pairs = div_up(channels, 2);
    size_t plane_in = (size_t)height * width, block_weights = (size_t)channel_pairs * kh * kw * CO;
    for (int item = item_begin; item < item_end; item++) {
        int tile = item / blocks, cb = item % blocks;
        tile_place t = place_tile(tile, out_height, out_width);
        size_t offset0 = (size_t)t.row0 * stride * width + (size_t)t.col0 * stride;
        size_t offset1 = (size_t)t.row1 * stride * width + (size_t)t.col1 * stride;
        const uint32_t *w = w_packed + cb * block_weights;
        CX_P8(CX_T16_ZERO)
        if (stride == 1) {
            CX_BF16_TILE_LOOP(1)
        } else {
            CX_BF16_TILE_LOOP(2)
        }
        __m512 r[16];
        CX_P8(CX_T16_GATHER)
        int rows = out_channels - cb * CO < CO ? out_channels - cb * CO : CO;
        store_tile16(r, rows, bias ? bias + cb * CO : NULL, y + (size_t)cb * CO * y_plane, y_plane, y_row_stride,
                     y_pixel_stride, t);
    }
}

/* C_i = A_i · B_i for matrices i of a batch, with the vector along A's rows (16 per block) and B's
 * entries broadcast: item = (i * blocks + row block) * column blocks + column block. */
#define CX_SMALL_N_BODY(LOAD_A, STEP, BROADCAST_FMA)                                                              \
    int blocks = div_up(m, CO), column_blocks = div_up(n, CO);                                                   \
    for (int item = item_begin; item < item_end; item++) {                                                       \
        int jb = item % column_blocks, cb = (item / column_blocks) % blocks, i = item / (column_blocks * blocks);  \
        int j0 = jb * CO;                                                                                        \
        const A_TYPE *w = a_packed + (size_t)i * a_stride + (size_t)cb * STEP * CO;                              \
        const B_TYPE *row = b + (size_t)i * b_stride + j0;                                                       \
        CX_P8(CX_T16_ZERO)                                                                                       \
        for (int p = 0; p < STEP; p++, w += CO, row += ldb) {                                                    \
            LOAD_A                                                                                               \
            const B_TYPE *a = row, *bb = row + 8;                                                                \
            CX_P8(BROADCAST_FMA##_A1)                                                                            \
            CX_P8(BROADCAST_FMA##_B1)                                                                            \
        }                                                                                                        \
        __m512 r[16];                                                                                            \
        CX_P8(CX_T16_GATHER)                                                                                     \
        transpose16(r);                                                                                          \
        int rows = m - cb * CO < CO ? m - cb * CO : CO;                                                          \
        __mmask16 mask = lanes(n - j0);                                                                          \
        float *dst = c + (size_t)i * c_stride + (size_t)cb * CO * ldc + j0;                                      \
        for (int co = 0; co < rows; co++) _mm512_mask_storeu_ps(dst + (size_t)co * ldc, mask, r[co]);            \
    }

#define CX_SN_F32_A1(p) c##p = _mm512_fmadd_ps(_mm512_set1_ps(a[p]), wv, c##p);
#define CX_SN_F32_B1(p) d##p = _mm512_fmadd_ps(_mm512_set1_ps(bb[p]), wv, d##p);
#define CX_SN_BF16_A1(p) c##p = _mm512_dpbf16_ps(c##p, wv, (__m512bh)_mm512_set1_epi32((int)a[p]));
#define CX_SN_BF16_B1(p) d##p = _mm512_dpbf16_ps(d##p, wv, (__m512bh)_mm512_set1_epi32((int)bb[p]));

CX_AVX512_TARGET
void cx_f32_gemm_small_n(int m, int n, int k, const float *a_packed, size_t a_stride, const float *b, int ldb,
                         size_t b_stride, float *c, int ldc, size_t c_stride, int item_begin, int item_end) {
#define A_TYPE float
#define B_TYPE float
    CX_SMALL_N_BODY(__m512 wv = _mm512_loadu_ps(w);, k, CX_SN_F32)
#undef A_TYPE
#undef B_TYPE
}

/* Training's cx_f32_gemm_small_n: the same products with the same multiply-adds in the same order
 * (so the same bits), but a column block with fewer than 16 valid columns runs only those columns'
 * accumulators instead of 16 (the input gradient of a reflect-padded 8 x 8 convolution has 25
 * tiles: 16 + 9, of 128 px 81: 5 x 16 + 1). NC is a constant in each instance of the switch below. */
CX_AVX512_TARGET static inline __attribute__((always_inline)) void small_n_columns(const float *w, const float *row,
                                                                                   int k, int ldb, const int NC,
                                                                                   __m512 r[16]) {
    __m512 acc[16];
    for (int p = 0; p < NC; p++) acc[p] = _mm512_setzero_ps();
    for (int q = 0; q < k; q++, w += CO, row += ldb) {
        __m512 wv = _mm512_loadu_ps(w);
        for (int p = 0; p < NC; p++) acc[p] = _mm512_fmadd_ps(_mm512_set1_ps(row[p]), wv, acc[p]);
    }
    for (int p = 0; p < 16; p++) r[p] = p < NC ? acc[p] : _mm512_setzero_ps();
}

#define CX_SN_CASE(N) case N: small_n_columns(w, row, k, ldb, N, r); break;

CX_AVX512_TARGET
void cx_f32_gemm_small_n_columns(int m, int n, int k, const float *a_packed, size_t a_stride, const float *b, int ldb,
                                 size_t b_stride, float *c, int ldc, size_t c_stride, int item_begin, int item_end) {
    int blocks = div_up(m, CO), column_blocks = div_up(n, CO);
    for (int item = item_begin; item < item_end; item++) {
        int jb = item % column_blocks, cb = (item / column_blocks) % blocks, i = item / (column_blocks * blocks);
        int j0 = jb * CO, valid = n - j0 < CO ? n - j0 : CO;
        const float *w = a_packed + (size_t)i * a_stride + (size_t)cb * k * CO;
        const float *row = b + (size_t)i * b_stride + j0;
        __m512 r[16];
        if (valid == CO) {
            CX_P8(CX_T16_ZERO)
            for (int p = 0; p < k; p++, w += CO, row += ldb) {
                __m512 wv = _mm512_loadu_ps(w);
                const float *a = row, *bb = row + 8;
                CX_P8(CX_SN_F32_A1)
                CX_P8(CX_SN_F32_B1)
            }
            CX_P8(CX_T16_GATHER)
        } else {
            switch (valid) {
                CX_SN_CASE(1) CX_SN_CASE(2) CX_SN_CASE(3) CX_SN_CASE(4) CX_SN_CASE(5) CX_SN_CASE(6) CX_SN_CASE(7)
                CX_SN_CASE(8) CX_SN_CASE(9) CX_SN_CASE(10) CX_SN_CASE(11) CX_SN_CASE(12) CX_SN_CASE(13) CX_SN_CASE(14)
                default: small_n_columns(w, row, k, ldb, 15, r); break;
            }
        }
        transpose16(r);
        int rows = m - cb * CO < CO ? m - cb * CO : CO;
        __mmask16 mask = lanes(valid);
        float *dst = c + (size_t)i * c_stride + (size_t)cb * CO * ldc + j0;
        for (int co = 0; co < rows; co++) _mm512_mask_storeu_ps(dst + (size_t)co * ldc, mask, r[co]);
    }
}
#undef CX_SN_CASE

CX_BF16_TARGET
void cx_bf16_gemm_small_n(int m, int n, int k, const uint32_t *a_packed, size_t a_stride, const uint32_t *b, int ldb,
                          size_t b_stride, float *c, int ldc, size_t c_stride, int item_begin, int item_end) {
    int kp = div_up(k, 2);
#define A_TYPE uint32_t
#define B_TYPE uint32_t
    CX_SMALL_N_BODY(__m512bh wv = (__m512bh)_mm512_loadu_si512((const void *)w);, kp, CX_SN_BF16)
#undef A_TYPE
#undef B_TYPE
}


/* Winograd F(2x2, 3x3) weight gradient of one 16 x 16 block of (output, input) channel pairs:
 * for each of the 16 element positions xi, dU_xi = A_xi B_xi over k (vector along the output
 * channels, B's entries broadcast, as cx_f32_gemm_small_n), kept in `u` (16 KB, stays in L1);
 * then dw = G^T dU G for the block, with G^T x = (x0 + x1/2 + x2/2, x1/2 - x2/2, x1/2 + x2/2 + x3)
 * across each row of dU first, then down its columns; and the block's 16 x 144 floats of
 * dw [Cout, Cin, 3, 3] (144 = 16 input channels x 9 taps, contiguous per output channel) written
 * by nine 16 x 16 transposes. Nothing is written twice or zeroed first. */
#define CX_WG_FMA(p) c##p = _mm512_fmadd_ps(_mm512_set1_ps(row[p]), wv, c##p); \
                     d##p = _mm512_fmadd_ps(_mm512_set1_ps(row[8 + p]), wv, d##p);
#define CX_WG_STORE(p) _mm512_store_ps(u[xi][p], c##p); _mm512_store_ps(u[xi][8 + p], d##p);

CX_AVX512_TARGET
void cx_f32_winograd_weight_gradient(int cout, int cin, int k, const float *a_packed, size_t a_stride,
                                     const float *b, size_t b_stride, float *dw, int item_begin, int item_end) {
    int column_blocks = div_up(cin, CO);
    __attribute__((aligned(64))) float u[16][16][16];   /* [xi][input lane p][output lane] */
    __attribute__((aligned(64))) float o[144][16];      /* [p * 9 + tap][output lane] */
    for (int item = item_begin; item < item_end; item++) {
        int cb = item / column_blocks, jb = item % column_blocks, j0 = jb * CO;
        for (int xi = 0; xi < 16; xi++) {
            const float *w = a_packed + (size_t)xi * a_stride + (size_t)cb * k * CO;
            const float *row = b + (size_t)xi * b_stride + j0;
            CX_P8(CX_T16_ZERO)
            for (int p = 0; p < k; p++, w += CO, row += cin) {
                __m512 wv = _mm512_loadu_ps(w);
                CX_P8(CX_WG_FMA)
            }
            CX_P8(CX_WG_STORE)
        }
        const __m512 half = _mm512_set1_ps(0.5f);
        for (int p = 0; p < CO; p++) {
            __m512 r[4][3];
            for (int i = 0; i < 4; i++) {
                __m512 x0 = _mm512_load_ps(u[4 * i][p]), x1 = _mm512_load_ps(u[4 * i + 1][p]);
                __m512 x2 = _mm512_load_ps(u[4 * i + 2][p]), x3 = _mm512_load_ps(u[4 * i + 3][p]);
                __m512 h1 = _mm512_mul_ps(half, x1), h2 = _mm512_mul_ps(half, x2);
                r[i][0] = _mm512_add_ps(_mm512_add_ps(x0, h1), h2);
                r[i][1] = _mm512_sub_ps(h1, h2);
                r[i][2] = _mm512_add_ps(_mm512_add_ps(h1, h2), x3);
            }
            for (int j = 0; j < 3; j++) {
                __m512 h1 = _mm512_mul_ps(half, r[1][j]), h2 = _mm512_mul_ps(half, r[2][j]);
                _mm512_store_ps(o[p * 9 + j], _mm512_add_ps(_mm512_add_ps(r[0][j], h1), h2));
                _mm512_store_ps(o[p * 9 + 3 + j], _mm512_sub_ps(h1, h2));
                _mm512_store_ps(o[p * 9 + 6 + j], _mm512_add_ps(_mm512_add_ps(h1, h2), r[3][j]));
            }
        }
        int rows = cout - cb * CO < CO ? cout - cb * CO : CO;
        int valid = 9 * (cin - j0 < CO ? cin - j0 : CO);
        float *dst = dw + (size_t)cb * CO * cin * 9 + (size_t)j0 * 9;
        for (int g = 0; g * 16 < valid; g++) {
            __m512 t[16];
            for (int i = 0; i < 16; i++) t[i] = _mm512_load_ps(o[16 * g + i]);
            transpose16(t);
            __mmask16 mask = lanes(valid - 16 * g);
            for (int co = 0; co < rows; co++) _mm512_mask_storeu_ps(dst + (size_t)co * cin * 9 + 16 * g, mask, t[co]);
        }
    }
}


/* dst[c * ldd + r] = src[r * lds + c] for r < rows, c < columns: whole 16 x 16 blocks through
 * registers (transpose16), the edges element by element. Training's layout changes around the
 * small-N products (Kernels/WinogradConvolution.swift). */
CX_AVX512_TARGET
void cx_f32_transpose(const float *src, int rows, int columns, size_t lds, float *dst, size_t ldd) {
    int full_rows = rows / 16 * 16, full_columns = columns / 16 * 16;
    for (int r0 = 0; r0 < full_rows; r0 += 16)
        for (int c0 = 0; c0 < full_columns; c0 += 16) {
            __m512 t[16];
            for (int i = 0; i < 16; i++) t[i] = _mm512_loadu_ps(src + (size_t)(r0 + i) * lds + c0);
            transpose16(t);
            for (int i = 0; i < 16; i++) _mm512_storeu_ps(dst + (size_t)(c0 + i) * ldd + r0, t[i]);
        }
    for (int r = 0; r < rows; r++) {
        int c = r < full_rows ? full_columns : 0;
        for (; c < columns; c++) dst[(size_t)c * ldd + r] = src[(size_t)r * lds + c];
    }
}

#else /* not x86-64: never called (cx_avx512_supported() and cx_bf16_supported() are 0) */
void cx_bf16_pad_pairs(const float *x, int channels, int height, int width, int top, int bottom, int left, int right,
                       int reflect, uint32_t *out, int pair_begin, int pair_end) {
    (void)x; (void)channels; (void)height; (void)width; (void)top; (void)bottom; (void)left; (void)right;
    (void)reflect; (void)out; (void)pair_begin; (void)pair_end;
}
void cx_f32_tile16_conv(const float *x, int channels, int height, int width, int kh, int kw, int stride,
                        const float *w_packed, int out_channels, const float *bias, float *y, int out_height,
                        int out_width, size_t y_plane, int y_row_stride, int y_pixel_stride, int item_begin,
                        int item_end) {
    (void)x; (void)channels; (void)height; (void)width; (void)kh; (void)kw; (void)stride; (void)w_packed;
    (void)out_channels; (void)bias; (void)y; (void)out_height; (void)out_width; (void)y_plane; (void)y_row_stride;
    (void)y_pixel_stride; (void)item_begin; (void)item_end;
}
void cx_bf16_tile16_conv(const uint32_t *pairs, int channels, int height, int width, int kh, int kw, int stride,
                         const uint32_t *w_packed, int out_channels, const float *bias, float *y, int out_height,
                         int out_width, size_t y_plane, int y_row_stride, int y_pixel_stride, int item_begin,
                         int item_end) {
    (void)pairs; (void)channels; (void)height; (void)width; (void)kh; (void)kw; (void)stride; (void)w_packed;
    (void)out_channels; (void)bias; (void)y; (void)out_height; (void)out_width; (void)y_plane; (void)y_row_stride;
    (void)y_pixel_stride; (void)item_begin; (void)item_end;
}
void cx_f32_gemm_small_n(int m, int n, int k, const float *a_packed, size_t a_stride, const float *b, int ldb,
                         size_t b_stride, float *c, int ldc, size_t c_stride, int item_begin, int item_end) {
    (void)m; (void)n; (void)k; (void)a_packed; (void)a_stride; (void)b; (void)ldb; (void)b_stride; (void)c; (void)ldc;
    (void)c_stride; (void)item_begin; (void)item_end;
}
void cx_bf16_gemm_small_n(int m, int n, int k, const uint32_t *a_packed, size_t a_stride, const uint32_t *b, int ldb,
                          size_t b_stride, float *c, int ldc, size_t c_stride, int item_begin, int item_end) {
    (void)m; (void)n; (void)k; (void)a_packed; (void)a_stride; (void)b; (void)ldb; (void)b_stride; (void)c; (void)ldc;
    (void)c_stride; (void)item_begin; (void)item_end;
}
void cx_f32_winograd_weight_gradient(int cout, int cin, int k, const float *a_packed, size_t a_stride,
                                     const float *b, size_t b_stride, float *dw, int item_begin, int item_end) {
    (void)cout; (void)cin; (void)k; (void)a_packed; (void)a_stride; (void)b; (void)b_stride; (void)dw;
    (void)item_begin; (void)item_end;
}
void cx_f32_transpose(const float *src, int rows, int columns, size_t lds, float *dst, size_t ldd) {
    (void)src; (void)rows; (void)columns; (void)lds; (void)dst; (void)ldd;
}
void cx_f32_gemm_small_n_columns(int m, int n, int k, const float *a_packed, size_t a_stride, const float *b, int ldb,
                                 size_t b_stride, float *c, int ldc, size_t c_stride, int item_begin, int item_end) {
    (void)m; (void)n; (void)k; (void)a_packed; (void)a_stride; (void)b; (void)ldb; (void)b_stride; (void)c; (void)ldc;
    (void)c_stride; (void)item_begin; (void)item_end;
}
#endif
