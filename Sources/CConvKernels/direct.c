/* Direct stride-1 unpadded convolutions for thin layers and large kernels (Kernels/DirectConvolution.swift
 * describes when and why). One output row is computed 32 columns at a time with the accumulators
 * of a group of up to 4 output channels in registers, so each loaded input vector feeds up to 4
 * fused multiply-adds; wider layers run group after group. */
#include "dispatch.h"
#include <stdlib.h>
#include <string.h>

/* The sums of output row r, columns [j, j + 32), for output channels o < OC: acc[o][0..1]. */
CX_INLINE void cx_correlate_block(const float *x, long xc, long xh, long xw, const float *w, const int OC, long kh,
                                  long kw, long r, long j, cx_v16 acc[4][2]) {
    const long taps = kh * kw;
    for (int o = 0; o < OC; o++) acc[o][0] = acc[o][1] = cx_splat(0);
    for (long i = 0; i < xc; i++) {
        for (long ki = 0; ki < kh; ki++) {
            const float *row = x + (i * xh + r + ki) * xw + j;
            const float *wt = w + (i * kh + ki) * kw;
            for (long kj = 0; kj < kw; kj++) {
                cx_v16 a = cx_load(row + kj), b = cx_load(row + kj + 16);
                for (int o = 0; o < OC; o++) {
                    cx_v16 s = cx_splat(wt[o * xc * taps + kj]);
                    acc[o][0] += s * a;
                    acc[o][1] += s * b;
                }
            }
        }
    }
}

/* y[o, r, :] += sum over (i, ki, kj) of w[o, i, ki, kj] * x[i, r + ki, kj + :] for o < OC (<= 4)
 * and rows [r0, r1); x [xc, xh, xw], w [OC, xc, kh, kw], y [OC, xh - kh + 1, xw - kw + 1].
 * A row whose width is not a multiple of 32 ends with one block shifted left to end at the row's
 * end, of which only the columns not yet done are added (scalar code for the rest would cost as
 * much as the vector blocks, e.g. 6 of 134 columns). */
CX_INLINE void cx_correlate_rows(const float *x, long xc, long xh, long xw, const float *w, const int OC, long kh,
                                 long kw, float *y, long r0, long r1) {
    const long outH = xh - kh + 1, outW = xw - kw + 1, plane = outH * outW;
    for (long r = r0; r < r1; r++) {
        long j = 0;
        cx_v16 acc[4][2];
        for (; j + 32 <= outW; j += 32) {
            cx_correlate_block(x, xc, xh, xw, w, OC, kh, kw, r, j, acc);
            for (int o = 0; o < OC; o++) {
                float *dst = y + o * plane + r * outW + j;
                cx_store(dst, cx_load(dst) + acc[o][0]);
                cx_store(dst + 16, cx_load(dst + 16) + acc[o][1]);
            }
        }
        if (j < outW && outW >= 32) {
            const long shifted = outW - 32;
            cx_correlate_block(x, xc, xh, xw, w, OC, kh, kw, r, shifted, acc);
            for (int o = 0; o < OC; o++) {
                float sums[32];
                cx_store(sums, acc[o][0]);
                cx_store(sums + 16, acc[o][1]);
                float *dst = y + o * plane + r * outW;
                for (long c = j; c < outW; c++) dst[c] += sums[c - shifted];
            }
            j = outW;
        }
        for (; j < outW; j++) {
            float sum[4] = {0, 0, 0, 0};
            for (long i = 0; i < xc; i++)
                for (long ki = 0; ki < kh; ki++)
                    for (long kj = 0; kj < kw; kj++) {
                        float a = x[(i * xh + r + ki) * xw + j + kj];
                        for (int o = 0; o < OC; o++) sum[o] += w[((o * xc + i) * kh + ki) * kw + kj] * a;
                    }
            for (int o = 0; o < OC; o++) y[o * plane + r * outW + j] += sum[o];
        }
    }
}

/* The output-channel count as a compile-time constant, so the accumulators stay in registers. */
CX_INLINE void cx_correlate_rows_any(const float *x, long xc, long xh, long xw, const float *w, long oc, long kh,
                                     long kw, float *y, long r0, long r1) {
    switch (oc) {
    case 1: cx_correlate_rows(x, xc, xh, xw, w, 1, kh, kw, y, r0, r1); break;
    case 2: cx_correlate_rows(x, xc, xh, xw, w, 2, kh, kw, y, r0, r1); break;
    case 3: cx_correlate_rows(x, xc, xh, xw, w, 3, kh, kw, y, r0, r1); break;
    default: cx_correlate_rows(x, xc, xh, xw, w, 4, kh, kw, y, r0, r1); break;
    }
}

CX_INLINE void cx_direct_forward_body(const float *x, const float *w, float *y, long cin, long cout, long height,
                                      long width, long kh, long kw, long r0, long r1) {
    if (cout < 1) abort();
    const long plane = (height - kh + 1) * (width - kw + 1), group = cin * kh * kw;
    for (long o = 0; o < cout; o += 4) {
        long n = cout - o < 4 ? cout - o : 4;
        cx_correlate_rows_any(x, cin, height, width, w + o * group, n, kh, kw, y + o * plane, r0, r1);
    }
}
CX_DISPATCHED(cx_direct_forward,
              (const float *x, const float *w, float *y, long cin, long cout, long height, long width, long kh,
               long kw, long r0, long r1),
              (x, w, y, cin, cout, height, width, kh, kw, r0, r1))

/* gx[ci] += full correlation of gy with the kernel rotated by 180 degrees: gy is copied into a
 * buffer zero-padded by kh-1 rows and kw-1 columns on each side, and the rotated, transposed
 * weights of 4 input channels at a time run through the same row kernel as the forward pass. */
CX_INLINE void cx_direct_backward_input_body(const float *gy, const float *w, float *gx, long cin, long cout,
                                             long height, long width, long kh, long kw, long c0, long c1) {
    const long outH = height - kh + 1, outW = width - kw + 1;
    const long ph = outH + 2 * (kh - 1), pw = outW + 2 * (kw - 1), taps = kh * kw;
    float *padded = calloc((size_t)(cout * ph * pw), sizeof(float));
    float *rotated = malloc(sizeof(float) * (size_t)(4 * cout * taps));
    if (padded == NULL || rotated == NULL) abort();
    for (long co = 0; co < cout; co++)
        for (long r = 0; r < outH; r++)
            memcpy(padded + (co * ph + r + kh - 1) * pw + kw - 1, gy + (co * outH + r) * outW,
                   sizeof(float) * (size_t)outW);
    for (long ci = c0; ci < c1; ci += 4) {
        long n = c1 - ci < 4 ? c1 - ci : 4;
        /* rotated[o, co, a, b] = w[co, ci + o, kh-1-a, kw-1-b] */
        for (long o = 0; o < n; o++)
            for (long co = 0; co < cout; co++)
                for (long t = 0; t < taps; t++)
                    rotated[(o * cout + co) * taps + t] = w[(co * cin + ci + o) * taps + (taps - 1 - t)];
        cx_correlate_rows_any(padded, cout, ph, pw, rotated, n, kh, kw, gx + ci * height * width, 0, height);
    }
    free(rotated);
    free(padded);
}
CX_DISPATCHED(cx_direct_backward_input,
              (const float *gy, const float *w, float *gx, long cin, long cout, long height, long width, long kh,
               long kw, long c0, long c1),
              (gy, w, gx, cin, cout, height, width, kh, kw, c0, c1))

/* gw[o, ci, ki, kj] = sum over (r, c) of gy[o, r, c] * x[ci, r + ki, c + kj], for OC output channels. */
CX_INLINE void cx_weight_taps(const float *gy, const float *x, float *gw, int accumulate, long cin, const int OC,
                              long height, long width, long kh, long kw, long ci) {
    const long outH = height - kh + 1, outW = width - kw + 1, plane = outH * outW;
    for (long ki = 0; ki < kh; ki++) {
        for (long kj = 0; kj < kw; kj++) {
            cx_v16 acc[4][2] = {{0}};
            float tail[4] = {0, 0, 0, 0};
            for (long r = 0; r < outH; r++) {
                const float *xr = x + (ci * height + r + ki) * width + kj;
                long c = 0;
                for (; c + 32 <= outW; c += 32) {
                    cx_v16 a = cx_load(xr + c), b = cx_load(xr + c + 16);
                    for (int o = 0; o < OC; o++) {
                        const float *g = gy + o * plane + r * outW + c;
                        acc[o][0] += cx_load(g) * a;
                        acc[o][1] += cx_load(g + 16) * b;
                    }
                }
                for (; c < outW; c++)
                    for (int o = 0; o < OC; o++) tail[o] += gy[o * plane + r * outW + c] * xr[c];
            }
            for (int o = 0; o < OC; o++) {
                float s = cx_sum(acc[o][0] + acc[o][1]) + tail[o];
                float *dst = gw + ((o * cin + ci) * kh + ki) * kw + kj;
                *dst = accumulate ? *dst + s : s;
            }
        }
    }
}

/* gw[o, ci, ki, 0..KW) for OC output channels and one kernel row ki: one pass over the rows with
 * the KW taps of the kernel row in registers, so each loaded gy vector feeds KW multiply-adds and
 * each loaded x vector OC (cx_weight_taps makes a pass per tap). */
CX_INLINE void cx_weight_row_taps(const float *gy, const float *x, float *gw, int accumulate, long cin, const int OC,
                                  const int KW, long height, long width, long kh, long ci, long ki) {
    const long outH = height - kh + 1, outW = width - KW + 1, plane = outH * outW;
    cx_v16 acc[4][7];
    float tail[4][7];
    for (int o = 0; o < OC; o++)
        for (int kj = 0; kj < KW; kj++) {
            acc[o][kj] = cx_splat(0);
            tail[o][kj] = 0;
        }
    for (long r = 0; r < outH; r++) {
        const float *xr = x + (ci * height + r + ki) * width, *g = gy + r * outW;
        long c = 0;
        for (; c + 16 <= outW; c += 16) {
            cx_v16 gv[4];
            for (int o = 0; o < OC; o++) gv[o] = cx_load(g + o * plane + c);
            for (int kj = 0; kj < KW; kj++) {
                cx_v16 xv = cx_load(xr + c + kj);
                for (int o = 0; o < OC; o++) acc[o][kj] += gv[o] * xv;
            }
        }
        for (; c < outW; c++)
            for (int o = 0; o < OC; o++)
                for (int kj = 0; kj < KW; kj++) tail[o][kj] += g[o * plane + c] * xr[c + kj];
    }
    for (int o = 0; o < OC; o++)
        for (int kj = 0; kj < KW; kj++) {
            float s = cx_sum(acc[o][kj]) + tail[o][kj];
            float *dst = gw + ((o * cin + ci) * kh + ki) * KW + kj;
            *dst = accumulate ? *dst + s : s;
        }
}

/* The 7-wide kernels (the generators' 7x7 convolutions) take the row kernel: groups of 4 output
 * channels where AVX-512 has 32 vector registers for the 28 accumulators, single channels where
 * AVX2 has 16. Other widths keep one pass per tap. */
CX_INLINE void cx_direct_backward_weight_body(const float *gy, const float *x, float *gw, int accumulate, long cin,
                                              long cout, long height, long width, long kh, long kw, long c0, long c1) {
    if (cout < 1) abort();
    const long plane = (height - kh + 1) * (width - kw + 1), group = cin * kh * kw;
    const long rowGroup = kw == 7 ? (cx_kernel_isa() == 2 ? 4 : 1) : 0;
    for (long ci = c0; ci < c1; ci++) {
        long o = 0;
        if (rowGroup == 4)
            for (; o + 4 <= cout; o += 4)
                for (long ki = 0; ki < kh; ki++)
                    cx_weight_row_taps(gy + o * plane, x, gw + o * group, accumulate, cin, 4, 7, height, width, kh, ci, ki);
        if (rowGroup > 0)
            for (; o < cout; o++)
                for (long ki = 0; ki < kh; ki++)
                    cx_weight_row_taps(gy + o * plane, x, gw + o * group, accumulate, cin, 1, 7, height, width, kh, ci, ki);
        for (; o < cout; o += 4) {
            const float *g = gy + o * plane;
            float *dw = gw + o * group;
            switch (cout - o < 4 ? cout - o : 4) {
            case 1: cx_weight_taps(g, x, dw, accumulate, cin, 1, height, width, kh, kw, ci); break;
            case 2: cx_weight_taps(g, x, dw, accumulate, cin, 2, height, width, kh, kw, ci); break;
            case 3: cx_weight_taps(g, x, dw, accumulate, cin, 3, height, width, kh, kw, ci); break;
            default: cx_weight_taps(g, x, dw, accumulate, cin, 4, height, width, kh, kw, ci); break;
            }
        }
    }
}
CX_DISPATCHED(cx_direct_backward_weight,
              (const float *gy, const float *x, float *gw, int accumulate, long cin, long cout, long height,
               long width, long kh, long kw, long c0, long c1),
              (gy, x, gw, accumulate, cin, cout, height, width, kh, kw, c0, c1))
