/* Winograd F(2x2, 3x3) transforms for small and narrow images (include/cwinograd_small.h). */
#include "cwinograd_small.h"
#include "kernel_support.h"

int cx_winograd_small_fits(int height, int width, int pad) {
    int out_h = height + 2 * pad - 2, out_w = width + 2 * pad - 2;
    return pad >= 0 && pad <= 1 && out_h >= 1 && out_w >= 1 && height * width <= 64
        && div_up(out_h, 2) * div_up(out_w, 2) <= 16;
}

int cx_winograd_narrow_fits(int height, int width, int pad) {
    int out_h = height + 2 * pad - 2, out_w = width + 2 * pad - 2;
    return pad >= 0 && pad <= 1 && out_h >= 1 && out_w >= 1 && width <= 16 && div_up(out_w, 2) <= 8;
}

#ifdef CX_X86

/* The lane indices of the 16 tile values d[r][c] (r, c = 0..3) into the unpadded plane: lane t is
 * tile (t / tile_cols, t % tile_cols); padded row 2 ty + r and column 2 tx + c map to the plane as
 * the big-image transform maps them (source_index); lanes of zero padding and past the last tile
 * are cleared by `keep`. */
static void gather_indices(int height, int width, int pad, int reflect, int32_t index[16][16], __mmask16 keep[16]) {
    int tile_cols = div_up(width + 2 * pad - 2, 2), tiles = div_up(height + 2 * pad - 2, 2) * tile_cols;
    for (int rc = 0; rc < 16; rc++) {
        int r = rc / 4, c = rc % 4;
        unsigned k = 0;
        for (int t = 0; t < 16; t++) {
            index[rc][t] = 0;
            if (t >= tiles) continue;
            int row = source_index(2 * (t / tile_cols) - pad + r, height, reflect);
            int column = source_index(2 * (t % tile_cols) - pad + c, width, reflect);
            if (row < 0 || column < 0) continue;
            index[rc][t] = row * width + column;
            k |= 1u << t;
        }
        keep[rc] = (__mmask16)k;
    }
}

/* The plane's (at most 64) values in four registers, zeros past the end. */
CX_AVX512_TARGET static inline void load_plane(const float *x, int n, __m512 p[4]) {
    for (int i = 0; i < 4; i++) p[i] = _mm512_maskz_loadu_ps(lanes(n - 16 * i), x + 16 * i);
}

/* V = B^T d B of all tiles of one plane (the same operations in the same order as the big-image
 * transform, so the same values): v[xi], lane t = tile t. */
CX_AVX512_TARGET static inline void small_input_tiles(const __m512 p[4], const int32_t index[16][16],
                                                      const __mmask16 keep[16], __m512 v[16]) {
    __m512 d[4][4];
    const __m512i high = _mm512_set1_epi32(32);
    for (int rc = 0; rc < 16; rc++) {
        __m512i idx = _mm512_loadu_si512((const void *)index[rc]);
        __m512 lo = _mm512_permutex2var_ps(p[0], idx, p[1]), hi = _mm512_permutex2var_ps(p[2], idx, p[3]);
        __m512 both = _mm512_mask_blend_ps(_mm512_test_epi32_mask(idx, high), lo, hi);
        d[rc / 4][rc % 4] = _mm512_maskz_mov_ps(keep[rc], both);
    }
    winograd_input_transform(d, v);
}

CX_AVX512_TARGET
void cx_f32_winograd_small_input(const float *x, int channels, int height, int width, int pad, int reflect, float *v,
                                 size_t v_stride, int c_begin, int c_end) {
    int32_t index[16][16];
    __mmask16 keep[16];
    gather_indices(height, width, pad, reflect, index, keep);
    int n = height * width;
    for (int c = c_begin; c < c_end; c++) {
        __m512 p[4], t[16];
        load_plane(x + (size_t)c * n, n, p);
        small_input_tiles(p, index, keep, t);
        for (int xi = 0; xi < 16; xi++) _mm512_storeu_ps(v + xi * v_stride + (size_t)c * 16, t[xi]);
    }
    (void)channels;
}

CX_BF16_TARGET
void cx_bf16_winograd_small_input(const float *x, int channels, int height, int width, int pad, int reflect,
                                  uint32_t *v, size_t v_stride, int c_begin, int c_end) {
    int32_t index[16][16];
    __mmask16 keep[16];
    gather_indices(height, width, pad, reflect, index, keep);
    int n = height * width;
    for (int c = c_begin; c < c_end; c += 2) {
        __m512 p[4], t0[16], t1[16];
        load_plane(x + (size_t)c * n, n, p);
        small_input_tiles(p, index, keep, t0);
        if (c + 1 < channels) {
            load_plane(x + (size_t)(c + 1) * n, n, p);
            small_input_tiles(p, index, keep, t1);
        } else {
            for (int xi = 0; xi < 16; xi++) t1[xi] = _mm512_setzero_ps();
        }
        for (int xi = 0; xi < 16; xi++)
            _mm512_storeu_si512((void *)(v + xi * v_stride + (size_t)(c / 2) * 16), pairs_of(t0[xi], t1[xi]));
    }
}

CX_AVX512_TARGET
void cx_winograd_small_output(const float *m, int channels, int out_height, int out_width, const float *bias,
                              int normalize, float slope, const float *residual, float epsilon, float *y, int c_begin,
                              int c_end) {
    int tile_cols = div_up(out_width, 2), tiles = div_up(out_height, 2) * tile_cols, n = out_height * out_width;
    /* Output lane q of register k is pixel 16 k + q: (row, column) -> tile (row / 2, column / 2),
     * taken from y[row % 2][column % 2]. */
    __m512i pick[4];
    __mmask16 lower[4], valid[4];
    for (int k = 0; k < 4; k++) {
        int32_t idx[16];
        unsigned bottom = 0;
        for (int q = 0; q < 16; q++) {
            int p = 16 * k + q, row = p / out_width, column = p % out_width;
            idx[q] = p < n ? (row / 2) * tile_cols + column / 2 + 16 * (column % 2) : 0;
            if (p < n && row % 2) bottom |= 1u << q;
        }
        pick[k] = _mm512_loadu_si512((const void *)idx);
        lower[k] = (__mmask16)bottom;
        valid[k] = lanes(n - 16 * k);
    }
    __mmask16 used = lanes(tiles);
    int registers = div_up(n, 16);
    for (int co = c_begin; co < c_end; co++) {
        const float *src = m + (size_t)co * 256;
        __m512 e[16];
        for (int xi = 0; xi < 16; xi++) e[xi] = _mm512_maskz_loadu_ps(used, src + 16 * xi);
        __m512 b = _mm512_set1_ps(bias ? bias[co] : 0.0f);
        /* As the big-image output transform: columns first, then rows. */
        __m512 y00, y01, y10, y11;
        winograd_output_transform(e, b, &y00, &y01, &y10, &y11);
        __m512 o[4];
        for (int k = 0; k < registers; k++) {
            __m512 top = _mm512_permutex2var_ps(y00, pick[k], y01), low = _mm512_permutex2var_ps(y10, pick[k], y11);
            o[k] = _mm512_maskz_mov_ps(valid[k], _mm512_mask_blend_ps(lower[k], top, low));
        }
        float *plane = y + (size_t)co * n;
        if (normalize) {
            /* As normalize_plane of the big-image path: 16 float lanes, combined in double. */
            __m512 s = _mm512_setzero_ps();
            for (int k = 0; k < registers; k++) s = _mm512_add_ps(s, o[k]);
            double mean = (double)_mm512_reduce_add_ps(s) / n;
            __m512 mv = _mm512_set1_ps((float)mean), q = _mm512_setzero_ps();
            for (int k = 0; k < registers; k++) {
                __m512 dv = _mm512_maskz_sub_ps(valid[k], o[k], mv);
                q = _mm512_fmadd_ps(dv, dv, q);
            }
            double variance = (double)_mm512_reduce_add_ps(q) / n;
            __m512 rs = _mm512_set1_ps((float)(1.0 / __builtin_sqrt(variance + epsilon))), a = _mm512_set1_ps(slope);
            for (int k = 0; k < registers; k++) {
                __m512 vv = _mm512_mul_ps(_mm512_sub_ps(o[k], mv), rs);
                if (slope != 1.0f) {
                    __mmask16 negative = _mm512_cmp_ps_mask(vv, _mm512_setzero_ps(), _CMP_LE_OQ);
                    vv = _mm512_mask_mul_ps(vv, negative, vv, a);
                }
                if (residual)
                    vv = _mm512_add_ps(vv, _mm512_maskz_loadu_ps(valid[k], residual + (size_t)co * n + 16 * k));
                _mm512_mask_storeu_ps(plane + 16 * k, valid[k], vv);
            }
        } else {
            for (int k = 0; k < registers; k++) _mm512_mask_storeu_ps(plane + 16 * k, valid[k], o[k]);
        }
    }
}

/* ---- Narrow images: one image row per register, two tile rows per vector. ---- */

/* Padded column 2 tx + c of lane l (tile column l % tile_cols of tile row l / tile_cols of the
 * pair; the second row's lanes pick from the second register, + 16), and which lanes are kept
 * (inside the image columns, and among the first `valid` lanes). */
static void narrow_columns(int width, int pad, int reflect, int tile_cols, int32_t index[4][16], __mmask16 keep[4]) {
    for (int c = 0; c < 4; c++) {
        unsigned k = 0;
        for (int l = 0; l < 16; l++) {
            index[c][l] = 0;
            if (l >= 2 * tile_cols) continue;
            int column = source_index(2 * (l % tile_cols) - pad + c, width, reflect);
            if (column < 0) continue;
            index[c][l] = column + 16 * (l / tile_cols);
            k |= 1u << l;
        }
        keep[c] = (__mmask16)k;
    }
}

/* V = B^T d B of the tiles of tile rows ty and ty + 1 (the second only if `second`) of one
 * channel: rows[j] holds padded row 2 ty + j (j = 0..5) of the image, zeros for zero padding. */
CX_AVX512_TARGET static inline void narrow_input_tiles(const __m512 rows[6], const int32_t index[4][16],
                                                       const __mmask16 keep[4], __mmask16 valid, __m512 v[16]) {
    __m512 d[4][4];
    for (int r = 0; r < 4; r++)
        for (int c = 0; c < 4; c++) {
            __m512i idx = _mm512_loadu_si512((const void *)index[c]);
            d[r][c] = _mm512_maskz_permutex2var_ps(keep[c] & valid, rows[r], idx, rows[r + 2]);
        }
    winograd_input_transform(d, v);
}

/* Padded rows 2 ty - pad + j (j = 0..5) of one plane, as the row-buffer transform maps them. */
CX_AVX512_TARGET static inline void narrow_rows(const float *plane, int height, int width, int pad, int reflect, int ty,
                                                __m512 rows[6]) {
    for (int j = 0; j < 6; j++) {
        int source = source_index(2 * ty - pad + j, height, reflect);
        rows[j] = source < 0 ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(lanes(width), plane + (size_t)source * width);
    }
}

/* Lane l of a pair of tile rows is tile t0 + l of the chunk; stores the lanes [0, valid) of each
 * matrix row into the packed-B layout (panels of 32 columns, `row` the K index: channel or pair,
 * `rows` the K extent), matrices v_stride apart. `word` is 4 bytes (float or bf16 pair). */
#define CX_NARROW_STORE(TYPE, STORE_VECTOR, VALUE)                                                          \
    {                                                                                                     \
        int lane = t0 % 32, panel = t0 / 32;                                                              \
        for (int xi = 0; xi < 16; xi++) {                                                                 \
            TYPE *base = v + xi * v_stride;                                                               \
            if (lane + valid <= 32) {                                                                     \
                STORE_VECTOR(base + ((size_t)panel * rows + row) * 32 + lane, lanes(valid), VALUE(xi));    \
            } else {                                                                                      \
                TYPE tmp[16];                                                                             \
                STORE_VECTOR(tmp, (__mmask16)0xffff, VALUE(xi));                                          \
                for (int l = 0; l < valid; l++) {                                                         \
                    int t = t0 + l;                                                                       \
                    base[((size_t)(t / 32) * rows + row) * 32 + t % 32] = tmp[l];                         \
                }                                                                                         \
            }                                                                                             \
        }                                                                                                 \
    }

#define CX_STORE_F32(p, k, x) _mm512_mask_storeu_ps((p), (k), (x))
#define CX_STORE_PAIRS(p, k, x) _mm512_mask_storeu_epi32((p), (k), (x))
#define CX_V_F32(xi) t[xi]
#define CX_V_PAIRS(xi) pairs_of(t[xi], u[xi])

CX_AVX512_TARGET
void cx_f32_winograd_narrow_input(const float *x, int channels, int height, int width, int pad, int reflect,
                                  int ty_begin, int ty_end, float *v, size_t v_stride, int c_begin, int c_end) {
    int tile_cols = div_up(width + 2 * pad - 2, 2), rows = channels;
    int32_t index[4][16];
    __mmask16 keep[4];
    narrow_columns(width, pad, reflect, tile_cols, index, keep);
    for (int c = c_begin; c < c_end; c++) {
        const float *plane = x + (size_t)c * height * width;
        int row = c;
        for (int ty = ty_begin; ty < ty_end; ty += 2) {
            int pair_rows = ty + 1 < ty_end ? 2 : 1, valid = pair_rows * tile_cols, t0 = (ty - ty_begin) * tile_cols;
            __m512 r6[6], t[16];
            narrow_rows(plane, height, width, pad, reflect, ty, r6);
            narrow_input_tiles(r6, index, keep, lanes(valid), t);
            CX_NARROW_STORE(float, CX_STORE_F32, CX_V_F32)
        }
    }
}

CX_BF16_TARGET
void cx_bf16_winograd_narrow_input(const float *x, int channels, int height, int width, int pad, int reflect,
                                   int ty_begin, int ty_end, uint32_t *v, size_t v_stride, int c_begin, int c_end) {
    int tile_cols = div_up(width + 2 * pad - 2, 2), rows = div_up(channels, 2);
    int32_t index[4][16];
    __mmask16 keep[4];
    narrow_columns(width, pad, reflect, tile_cols, index, keep);
    for (int c = c_begin; c < c_end; c += 2) {
        const float *plane = x + (size_t)c * height * width;
        int row = c / 2, has_second = c + 1 < channels;
        for (int ty = ty_begin; ty < ty_end; ty += 2) {
            int pair_rows = ty + 1 < ty_end ? 2 : 1, valid = pair_rows * tile_cols, t0 = (ty - ty_begin) * tile_cols;
            __m512 r6[6], t[16], u[16];
            narrow_rows(plane, height, width, pad, reflect, ty, r6);
            narrow_input_tiles(r6, index, keep, lanes(valid), t);
            if (has_second) {
                narrow_rows(plane + (size_t)height * width, height, width, pad, reflect, ty, r6);
                narrow_input_tiles(r6, index, keep, lanes(valid), u);
            } else {
                for (int xi = 0; xi < 16; xi++) u[xi] = _mm512_setzero_ps();
            }
            CX_NARROW_STORE(uint32_t, CX_STORE_PAIRS, CX_V_PAIRS)
        }
    }
}

CX_AVX512_TARGET
void cx_winograd_narrow_output(const float *m, size_t m_stride, int channels, int out_height, int out_width,
                               int ty_begin, int ty_end, const float *bias, int normalize, float slope,
                               const float *residual, float epsilon, float *y, int c_begin, int c_end) {
    int tile_cols = div_up(out_width, 2), tiles = (ty_end - ty_begin) * tile_cols, plane = out_height * out_width;
    /* Output column q of the first (second) tile row of a pair: tile q / 2 (+ tile_cols), y·(q % 2). */
    int32_t first[16], second[16];
    for (int q = 0; q < 16; q++) {
        first[q] = q < out_width ? q / 2 + 16 * (q % 2) : 0;
        second[q] = q < out_width ? tile_cols + q / 2 + 16 * (q % 2) : 0;
    }
    __m512i pick[2] = {_mm512_loadu_si512((const void *)first), _mm512_loadu_si512((const void *)second)};
    __mmask16 row_lanes = lanes(out_width);
    (void)channels;
    for (int co = c_begin; co < c_end; co++) {
        __m512 b = _mm512_set1_ps(bias ? bias[co] : 0.0f);
        float *out = y + (size_t)co * plane;
        for (int ty = ty_begin; ty < ty_end; ty += 2) {
            int pair_rows = ty + 1 < ty_end ? 2 : 1, t0 = (ty - ty_begin) * tile_cols;
            __mmask16 used = lanes(pair_rows * tile_cols);
            const float *src = m + (size_t)co * tiles + t0;
            __m512 e[16];
            for (int xi = 0; xi < 16; xi++) e[xi] = _mm512_maskz_loadu_ps(used, src + xi * m_stride);
            /* As the big-image output transform: columns first, then rows. */
            __m512 l[4], r[4];
            for (int i = 0; i < 4; i++) {
                l[i] = _mm512_add_ps(_mm512_add_ps(e[4 * i], e[4 * i + 1]), e[4 * i + 2]);
                r[i] = _mm512_sub_ps(_mm512_sub_ps(e[4 * i + 1], e[4 * i + 2]), e[4 * i + 3]);
            }
            __m512 y00 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(l[0], l[1]), l[2]), b);
            __m512 y01 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r[0], r[1]), r[2]), b);
            __m512 y10 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(l[1], l[2]), l[3]), b);
            __m512 y11 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(r[1], r[2]), r[3]), b);
            for (int p = 0; p < pair_rows; p++) {
                int top = 2 * (ty + p);
                _mm512_mask_storeu_ps(out + (size_t)top * out_width, row_lanes, _mm512_permutex2var_ps(y00, pick[p], y01));
                if (top + 1 < out_height)
                    _mm512_mask_storeu_ps(out + (size_t)(top + 1) * out_width, row_lanes,
                                          _mm512_permutex2var_ps(y10, pick[p], y11));
            }
        }
        if (normalize) normalize_plane(out, plane, slope, residual ? residual + (size_t)co * plane : NULL, epsilon);
    }
}

#else /* not x86-64: never called (cx_avx512_supported() and cx_bf16_supported() are 0) */
void cx_f32_winograd_small_input(const float *x, int channels, int height, int width, int pad, int reflect, float *v,
                                 size_t v_stride, int c_begin, int c_end) {
    (void)x; (void)channels; (void)height; (void)width; (void)pad; (void)reflect; (void)v; (void)v_stride;
    (void)c_begin; (void)c_end;
}
void cx_bf16_winograd_small_input(const float *x, int channels, int height, int width, int pad, int reflect,
                                  uint32_t *v, size_t v_stride, int c_begin, int c_end) {
    (void)x; (void)channels; (void)height; (void)width; (void)pad; (void)reflect; (void)v; (void)v_stride;
    (void)c_begin; (void)c_end;
}
void cx_winograd_small_output(const float *m, int channels, int out_height, int out_width, const float *bias,
                              int normalize, float slope, const float *residual, float epsilon, float *y, int c_begin,
                              int c_end) {
    (void)m; (void)channels; (void)out_height; (void)out_width; (void)bias; (void)normalize; (void)slope;
    (void)residual; (void)epsilon; (void)y; (void)c_begin; (void)c_end;
}
void cx_f32_winograd_narrow_input(const float *x, int channels, int height, int width, int pad, int reflect,
                                  int ty_begin, int ty_end, float *v, size_t v_stride, int c_begin, int c_end) {
    (void)x; (void)channels; (void)height; (void)width; (void)pad; (void)reflect; (void)ty_begin; (void)ty_end;
    (void)v; (void)v_stride; (void)c_begin; (void)c_end;
}
void cx_bf16_winograd_narrow_input(const float *x, int channels, int height, int width, int pad, int reflect,
                                   int ty_begin, int ty_end, uint32_t *v, size_t v_stride, int c_begin, int c_end) {
    (void)x; (void)channels; (void)height; (void)width; (void)pad; (void)reflect; (void)ty_begin; (void)ty_end;
    (void)v; (void)v_stride; (void)c_begin; (void)c_end;
}
void cx_winograd_narrow_output(const float *m, size_t m_stride, int channels, int out_height, int out_width,
                               int ty_begin, int ty_end, const float *bias, int normalize, float slope,
                               const float *residual, float epsilon, float *y, int c_begin, int c_end) {
    (void)m; (void)m_stride; (void)channels; (void)out_height; (void)out_width; (void)ty_begin; (void)ty_end;
    (void)bias; (void)normalize; (void)slope; (void)residual; (void)epsilon; (void)y; (void)c_begin; (void)c_end;
}
#endif
