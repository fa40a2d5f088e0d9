/* Winograd F(2x2, 3x3) transforms (Lavin & Gray 2016); the matrices and layouts are described in
 * Kernels/WinogradConvolution.swift. Loops run along the tiles of a row so that the compiler
 * vectorises them (stride-2 reads of the row buffers, contiguous writes per element position). */
#include "dispatch.h"
#include <stdlib.h>
#include <string.h>

/* V = B^T d B, B^T = [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]]. */
CX_INLINE void cx_winograd_input_body(const float *x, long channels, long height, long width, long p,
                                      long tileRows, long tileColumns, long c0, long c1, float *v) {
    const long bw = 2 * tileColumns + 2, tiles = tileRows * tileColumns, stride = channels * tiles;
    float *buffer = malloc(sizeof(float) * 8 * (size_t)bw);
    if (buffer == NULL) abort();
    float *rows[4] = {buffer, buffer + bw, buffer + 2 * bw, buffer + 3 * bw};
    float *t[4] = {buffer + 4 * bw, buffer + 5 * bw, buffer + 6 * bw, buffer + 7 * bw};
    /* Buffer column c holds image column c - p. */
    long first = p < bw ? p : bw, last = p + width < bw ? p + width : bw;
    for (long ci = c0; ci < c1; ci++) {
        const float *image = x + ci * height * width;
        for (long ty = 0; ty < tileRows; ty++) {
            for (int r = 0; r < 4; r++) {
                float *row = rows[r];
                long ih = 2 * ty - p + r;
                if (ih < 0 || ih >= height || last <= first) {
                    memset(row, 0, sizeof(float) * (size_t)bw);
                    continue;
                }
                if (first > 0) memset(row, 0, sizeof(float) * (size_t)first);
                memcpy(row + first, image + ih * width + (first - p), sizeof(float) * (size_t)(last - first));
                if (last < bw) memset(row + last, 0, sizeof(float) * (size_t)(bw - last));
            }
            const float *r0 = rows[0], *r1 = rows[1], *r2 = rows[2], *r3 = rows[3];
            float *t0 = t[0], *t1 = t[1], *t2 = t[2], *t3 = t[3];
            for (long c = 0; c < bw; c++) {
                t0[c] = r0[c] - r2[c];
                t1[c] = r1[c] + r2[c];
                t2[c] = r2[c] - r1[c];
                t3[c] = r1[c] - r3[c];
            }
            float *base = v + ci * tiles + ty * tileColumns;
            for (int i = 0; i < 4; i++) {
                const float *a = t[i];
                float *o0 = base + (4 * i) * stride, *o1 = base + (4 * i + 1) * stride;
                float *o2 = base + (4 * i + 2) * stride, *o3 = base + (4 * i + 3) * stride;
                for (long tx = 0; tx < tileColumns; tx++) {
                    float a0 = a[2 * tx], a1 = a[2 * tx + 1], a2 = a[2 * tx + 2], a3 = a[2 * tx + 3];
                    o0[tx] = a0 - a2;
                    o1[tx] = a1 + a2;
                    o2[tx] = a2 - a1;
                    o3[tx] = a1 - a3;
                }
            }
        }
    }
    free(buffer);
}
CX_DISPATCHED(cx_winograd_input,
              (const float *x, long channels, long height, long width, long padding, long tileRows, long tileColumns,
               long c0, long c1, float *v),
              (x, channels, height, width, padding, tileRows, tileColumns, c0, c1, v))

/* Y = A^T M A (+ b), A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]; one tile row of one channel into
 * `top` and `bottom` (2 * tileColumns wide each). The 16 inputs are planes `stride` floats apart,
 * often a power of two (channels x tiles): reading all 16 in one loop makes them evict each other
 * from the L1 cache, so each row i of M is first reduced across its 4 planes into l_i and r_i
 * (`work`, 8 rows of tileColumns), and the rows are combined after. */
CX_INLINE void cx_winograd_output_row(const float *e, long stride, long tileColumns, float b, float *restrict top,
                                      float *restrict bottom, float *restrict work) {
    for (int i = 0; i < 4; i++) {
        const float *restrict m0 = e + (4 * i) * stride, *restrict m1 = e + (4 * i + 1) * stride;
        const float *restrict m2 = e + (4 * i + 2) * stride, *restrict m3 = e + (4 * i + 3) * stride;
        float *restrict l = work + (2 * i) * tileColumns, *restrict r = work + (2 * i + 1) * tileColumns;
        for (long tx = 0; tx < tileColumns; tx++) {
            l[tx] = m0[tx] + m1[tx] + m2[tx];
            r[tx] = m1[tx] - m2[tx] - m3[tx];
        }
    }
    const float *l0 = work, *r0 = work + tileColumns, *l1 = work + 2 * tileColumns, *r1 = work + 3 * tileColumns;
    const float *l2 = work + 4 * tileColumns, *r2 = work + 5 * tileColumns, *l3 = work + 6 * tileColumns;
    const float *r3 = work + 7 * tileColumns;
    for (long tx = 0; tx < tileColumns; tx++) {
        top[2 * tx] = l0[tx] + l1[tx] + l2[tx] + b;
        top[2 * tx + 1] = r0[tx] + r1[tx] + r2[tx] + b;
        bottom[2 * tx] = l1[tx] - l2[tx] - l3[tx] + b;
        bottom[2 * tx + 1] = r1[tx] - r2[tx] - r3[tx] + b;
    }
}

CX_INLINE void cx_winograd_output_body(const float *m, long channels, const float *bias, long outH, long outW,
                                       long c0, long c1, float *y) {
    const long tileRows = (outH + 1) / 2, tileColumns = (outW + 1) / 2, tiles = tileRows * tileColumns;
    const long stride = channels * tiles;
    /* 8 rows of work for the row reduction, then 4 rows of scratch for odd sizes. */
    float *work = malloc(sizeof(float) * 12 * (size_t)tileColumns);
    if (work == NULL) abort();
    float *scratch = work + 8 * tileColumns;
    for (long co = c0; co < c1; co++) {
        float b = bias ? bias[co] : 0;
        float *plane = y + co * outH * outW;
        for (long ty = 0; ty < tileRows; ty++) {
            const float *e = m + co * tiles + ty * tileColumns;
            float *top = plane + 2 * ty * outW;
            int hasBottom = 2 * ty + 1 < outH;
            if (!(outW & 1) && hasBottom) {
                cx_winograd_output_row(e, stride, tileColumns, b, top, top + outW, work);
                continue;
            }
            cx_winograd_output_row(e, stride, tileColumns, b, scratch, scratch + 2 * tileColumns, work);
            memcpy(top, scratch, sizeof(float) * (size_t)outW);
            if (hasBottom) memcpy(top + outW, scratch + 2 * tileColumns, sizeof(float) * (size_t)outW);
        }
    }
    free(work);
}
CX_DISPATCHED(cx_winograd_output,
              (const float *m, long channels, const float *bias, long outH, long outW, long c0, long c1, float *y),
              (m, channels, bias, outH, outW, c0, c1, y))

/* dM = A dY A^T, A = [[1, 0], [1, 1], [1, -1], [0, -1]]; one tile row from `top` and `bottom`.
 * Down the rows first, p = (top, top + bottom, top - bottom, -bottom) (`work`: the two middle rows,
 * 2 * tileColumns each), then across each row p_i into its 4 planes. One loop writes 4 planes
 * `stride` floats apart: writing all 16 at once made them evict each other from the L1 cache
 * (stride is often a power of two) and cost several times the other transforms. */
CX_INLINE void cx_winograd_output_gradient_row(const float *restrict top, const float *restrict bottom, long stride,
                                               long tileColumns, float *e, float *restrict work) {
    const long w2 = 2 * tileColumns;
    float *restrict sum = work, *restrict difference = work + w2;
    for (long c = 0; c < w2; c++) {
        sum[c] = top[c] + bottom[c];
        difference[c] = top[c] - bottom[c];
    }
    const float *rows[4] = {top, sum, difference, bottom};
    for (int i = 0; i < 4; i++) {
        const float *restrict a = rows[i];
        const float sign = i == 3 ? -1.0f : 1.0f;
        float *restrict o0 = e + (4 * i) * stride, *restrict o1 = e + (4 * i + 1) * stride;
        float *restrict o2 = e + (4 * i + 2) * stride, *restrict o3 = e + (4 * i + 3) * stride;
        for (long tx = 0; tx < tileColumns; tx++) {
            float a0 = sign * a[2 * tx], a1 = sign * a[2 * tx + 1];
            o0[tx] = a0;
            o1[tx] = a0 + a1;
            o2[tx] = a0 - a1;
            o3[tx] = -a1;
        }
    }
}

CX_INLINE void cx_winograd_output_gradient_body(const float *gy, long channels, long outH, long outW, long c0,
                                                long c1, float *dm) {
    const long tileRows = (outH + 1) / 2, tileColumns = (outW + 1) / 2, tiles = tileRows * tileColumns;
    const long stride = channels * tiles;
    /* 4 rows of work for the row sums, then 4 rows of zero-tailed scratch for odd sizes. */
    float *work = calloc(8 * (size_t)tileColumns, sizeof(float));
    if (work == NULL) abort();
    float *scratch = work + 4 * tileColumns;
    for (long co = c0; co < c1; co++) {
        const float *plane = gy + co * outH * outW;
        for (long ty = 0; ty < tileRows; ty++) {
            const float *top = plane + 2 * ty * outW;
            int hasBottom = 2 * ty + 1 < outH;
            float *e = dm + co * tiles + ty * tileColumns;
            if (!(outW & 1) && hasBottom) {
                cx_winograd_output_gradient_row(top, top + outW, stride, tileColumns, e, work);
                continue;
            }
            /* Past the output (odd sizes) reads as zero: the scratch rows' tails stay zero. */
            float *t = scratch, *bo = scratch + 2 * tileColumns;
            memset(scratch, 0, sizeof(float) * 4 * (size_t)tileColumns);
            memcpy(t, top, sizeof(float) * (size_t)outW);
            if (hasBottom) memcpy(bo, top + outW, sizeof(float) * (size_t)outW);
            cx_winograd_output_gradient_row(t, bo, stride, tileColumns, e, work);
        }
    }
    free(work);
}
CX_DISPATCHED(cx_winograd_output_gradient,
              (const float *gy, long channels, long outH, long outW, long c0, long c1, float *dm),
              (gy, channels, outH, outW, c0, c1, dm))

/* U = G g G^T, G = [[1, 0, 0], [1/2, 1/2, 1/2], [1/2, -1/2, 1/2], [0, 0, 1]], for the pairs
 * (outer, inner) with outer in [begin, end): (co, ci) without `flipped`, (ci, co) with it; the
 * inner index is the contiguous one of u. */
/* One pair's 16 values of U from its 3x3 kernel g (rows g[0..2], already rotated if needed). */
#define CX_WEIGHT_TRANSFORM(T, g, emit)                                            \
    do {                                                                           \
        T t_[4][3];                                                                \
        for (int j = 0; j < 3; j++) {                                              \
            t_[0][j] = g[0][j];                                                    \
            t_[1][j] = 0.5f * (g[0][j] + g[1][j] + g[2][j]);                       \
            t_[2][j] = 0.5f * (g[0][j] - g[1][j] + g[2][j]);                       \
            t_[3][j] = g[2][j];                                                    \
        }                                                                          \
        for (int i = 0; i < 4; i++) {                                              \
            emit(4 * i, t_[i][0]);                                                 \
            emit(4 * i + 1, 0.5f * (t_[i][0] + t_[i][1] + t_[i][2]));              \
            emit(4 * i + 2, 0.5f * (t_[i][0] - t_[i][1] + t_[i][2]));              \
            emit(4 * i + 3, t_[i][2]);                                             \
        }                                                                          \
    } while (0)

/* Pairs k = 0..<inner whose kernels start `sourceStride` floats apart; U element xi of pair k goes
 * to out[xi * plane + k]. 16 pairs at a time in vectors (a gather of each tap, contiguous stores). */
CX_INLINE void cx_winograd_weight_pairs(const float *w, long plane, long inner, long sourceStride, int flipped,
                                        float *out) {
    long k = 0;
    for (; k + 16 <= inner; k += 16) {
        cx_v16 g[3][3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) {
                const long tap = flipped ? 8 - 3 * i - j : 3 * i + j;
                for (int l = 0; l < 16; l++) g[i][j][l] = w[(k + l) * sourceStride + tap];
            }
#define CX_EMIT_V(xi, value) cx_store(out + (xi) * plane + k, (value))
        CX_WEIGHT_TRANSFORM(cx_v16, g, CX_EMIT_V);
#undef CX_EMIT_V
    }
    for (; k < inner; k++) {
        const float *s = w + k * sourceStride;
        float g[3][3];
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 3; j++) g[i][j] = flipped ? s[8 - 3 * i - j] : s[3 * i + j];
#define CX_EMIT_S(xi, value) (out[(xi) * plane + k] = (value))
        CX_WEIGHT_TRANSFORM(float, g, CX_EMIT_S);
#undef CX_EMIT_S
    }
}

CX_INLINE void cx_winograd_weights_body(const float *w, long cout, long cin, int flipped, long begin, long end,
                                        float *u) {
    const long plane = cout * cin;
    for (long outer = begin; outer < end; outer++) {
        if (flipped)  /* pairs (ci = outer, co = k): source w[k, outer] */
            cx_winograd_weight_pairs(w + outer * 9, plane, cout, cin * 9, 1, u + outer * cout);
        else          /* pairs (co = outer, ci = k): source w[outer, k] */
            cx_winograd_weight_pairs(w + outer * cin * 9, plane, cin, 9, 0, u + outer * cin);
    }
}
CX_DISPATCHED(cx_winograd_weights,
              (const float *w, long cout, long cin, int flipped, long begin, long end, float *u),
              (w, cout, cin, flipped, begin, end, u))

/* dw = G^T dU G; G^T x = (x0 + x1/2 + x2/2, x1/2 - x2/2, x1/2 + x2/2 + x3). */
CX_INLINE void cx_winograd_weight_gradient_body(const float *du, long cout, long cin, long begin, long end,
                                                float *dw) {
    const long plane = cout * cin;
    for (long co = begin; co < end; co++) {
        for (long ci = 0; ci < cin; ci++) {
            const long offset = co * cin + ci;
            float r[4][3];
            for (int i = 0; i < 4; i++) {
                float x0 = du[(4 * i) * plane + offset], x1 = du[(4 * i + 1) * plane + offset];
                float x2 = du[(4 * i + 2) * plane + offset], x3 = du[(4 * i + 3) * plane + offset];
                r[i][0] = x0 + 0.5f * x1 + 0.5f * x2;
                r[i][1] = 0.5f * x1 - 0.5f * x2;
                r[i][2] = 0.5f * x1 + 0.5f * x2 + x3;
            }
            float *out = dw + offset * 9;
            for (int j = 0; j < 3; j++) {
                out[j] = r[0][j] + 0.5f * r[1][j] + 0.5f * r[2][j];
                out[3 + j] = 0.5f * r[1][j] - 0.5f * r[2][j];
                out[6 + j] = 0.5f * r[1][j] + 0.5f * r[2][j] + r[3][j];
            }
        }
    }
}
CX_DISPATCHED(cx_winograd_weight_gradient,
              (const float *du, long cout, long cin, long begin, long end, float *dw),
              (du, cout, cin, begin, end, dw))

/* The weight gradient's small-N products (Kernels/WinogradConvolution.swift, `smallNWeightGradient`)
 * read dM in 16-row blocks along K and V transposed. Both are plain copies (memory-bound, no
 * arithmetic), so they need no per-ISA variants. */
void cx_pack_row_blocks16(const float *src, long rows, long columns, float *dst, long depth, long offset) {
    for (long rb = 0; rb * 16 < rows; rb++) {
        const long lanes = rows - 16 * rb < 16 ? rows - 16 * rb : 16;
        float *block = dst + (rb * depth + offset) * 16;
        for (long c = 0; c < columns; c++) {
            float *to = block + c * 16;
            long l = 0;
            for (; l < lanes; l++) to[l] = src[(16 * rb + l) * columns + c];
            for (; l < 16; l++) to[l] = 0;
        }
    }
}

void cx_transpose_into(const float *src, long rows, long columns, float *dst, long ldd) {
    /* 16 x 16 blocks so that both sides stay in few cache lines. */
    for (long r0 = 0; r0 < rows; r0 += 16)
        for (long c0 = 0; c0 < columns; c0 += 16) {
            const long r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < columns ? c0 + 16 : columns;
            for (long c = c0; c < c1; c++)
                for (long r = r0; r < r1; r++) dst[c * ldd + r] = src[r * columns + c];
        }
}

/* The small-N kernel's packed Winograd weights straight from w (Kernels/WinogradConvolution.swift,
 * `packSmallN`), 16 channels per vector from a transposed, zero-padded copy of w, so every tap is
 * one contiguous load. Each value is CX_WEIGHT_TRANSFORM of the same taps as cx_winograd_weights
 * computes it (the same operations in the same order, so the same bits), stored into product
 * perm(xi) = 4 p(a) + p(b) for xi = 4 a + b, p = (3, 1, 2, 0), at 16-float block `offset`. */
static const int cx_rotated_product[16] = {15, 13, 14, 12, 7, 5, 6, 4, 11, 9, 10, 8, 3, 1, 2, 0};

/* Forward products (lanes = output channels): wt [cin * 9][coutPadded] (wt[(ci * 9 + tap) * coutPadded + co]
 * = w[co, ci, tap], zero for co >= cout); block (mb, ci) of product xi at packed + xi * stride +
 * (mb * cin + ci) * 16 holds the rotated transform (cx_winograd_weights' `flipped`) of the 16 pairs
 * (ci, co = 16 mb + lane), for input channels [begin, end). */
CX_INLINE void cx_winograd_pack_forward_body(const float *wt, long cin, long coutPadded, long begin, long end,
                                             float *packed, long stride) {
    for (long ci = begin; ci < end; ci++)
        for (long mb = 0; mb * 16 < coutPadded; mb++) {
            cx_v16 g[3][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) g[i][j] = cx_load(wt + (ci * 9 + 8 - 3 * i - j) * coutPadded + 16 * mb);
            float *block = packed + (mb * cin + ci) * 16;
#define CX_EMIT_F(xi, value) cx_store(block + cx_rotated_product[xi] * stride, (value))
            CX_WEIGHT_TRANSFORM(cx_v16, g, CX_EMIT_F);
#undef CX_EMIT_F
        }
}
CX_DISPATCHED(cx_winograd_pack_forward,
              (const float *wt, long cin, long coutPadded, long begin, long end, float *packed, long stride),
              (wt, cin, coutPadded, begin, end, packed, stride))

/* Input-gradient products (lanes = input channels), read straight from w [cout, cin, 3, 3] (each
 * block's 16 kernels are 144 contiguous floats; lanes past cin are zero); block (mb, co) of product
 * xi at packed + xi * stride + (mb * cout + co) * 16 holds the forward transform of the 16 pairs
 * (co, ci = 16 mb + lane), for output channels [begin, end). */
CX_INLINE void cx_winograd_pack_rotated_body(const float *w, long cout, long cin, long begin, long end,
                                             float *packed, long stride) {
    for (long co = begin; co < end; co++)
        for (long mb = 0; mb * 16 < cin; mb++) {
            const long lanes = cin - 16 * mb < 16 ? cin - 16 * mb : 16;
            const float *source = w + (co * cin + 16 * mb) * 9;
            cx_v16 g[3][3];
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < 3; j++) {
                    for (long l = 0; l < lanes; l++) g[i][j][l] = source[l * 9 + 3 * i + j];
                    for (long l = lanes; l < 16; l++) g[i][j][l] = 0;
                }
            float *block = packed + (mb * cout + co) * 16;
#define CX_EMIT_R(xi, value) cx_store(block + cx_rotated_product[xi] * stride, (value))
            CX_WEIGHT_TRANSFORM(cx_v16, g, CX_EMIT_R);
#undef CX_EMIT_R
        }
}
CX_DISPATCHED(cx_winograd_pack_rotated,
              (const float *w, long cout, long cin, long begin, long end, float *packed, long stride),
              (w, cout, cin, begin, end, packed, stride))
