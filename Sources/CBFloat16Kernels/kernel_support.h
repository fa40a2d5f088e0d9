/* Helpers shared by the C files of CBFloat16Kernels (not part of its public header). */
#ifndef CX_KERNEL_SUPPORT_H
#define CX_KERNEL_SUPPORT_H
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define CX_X86 1
#endif

static inline int div_up(int a, int b) { return (a + b - 1) / b; }

/* float -> bf16 bits, round to nearest even; NaN stays a (quiet) NaN. */
static inline uint32_t bf16_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u;
    u += 0x7fffu + ((u >> 16) & 1u);
    return u >> 16;
}

/* Source index of padded position i (in unpadded coordinates): reflection without repeating the
 * edge (PyTorch ReflectionPad2d) when reflect, else -1 for a zero. */
static inline int source_index(int i, int size, int reflect) {
    if (i >= 0 && i < size) return i;
    if (!reflect) return -1;
    if (size == 1) return 0;
    int period = 2 * (size - 1), r = i % period;
    if (r < 0) r += period;
    return r < size ? r : period - r;
}

#ifdef CX_X86
#define CX_BF16_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
#define CX_AVX512_TARGET __attribute__((target("avx512f,avx512bw,avx512vl")))

/* 16 pairs from two 16-float vectors: pair j = (lo[j], hi[j]), each rounded to bf16. */
CX_BF16_TARGET static inline __m512i pairs_of(__m512 lo, __m512 hi) {
    const __m512i interleave = _mm512_set_epi16(
        31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
        23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    __m512i both = (__m512i)_mm512_cvtne2ps_pbh(hi, lo);   /* words 0..15 = lo, 16..31 = hi */
    return _mm512_permutexvar_epi16(interleave, both);
}

/* Mask of the first `valid` of 16 lanes. */
static inline __mmask16 lanes(int valid) {
    return valid >= 16 ? (__mmask16)0xffff : valid <= 0 ? (__mmask16)0 : (__mmask16)((1u << valid) - 1);
}

/* Winograd F(2x2, 3x3) input transform V = B^T d B of sixteen tiles at once (lane t = tile t):
 * d[r][c] holds the tiles' values at row r, column c; v[4 i + j] receives V[i][j]. Columns of
 * each row first, then rows: every transform of these kernels does these operations in this
 * order, so they give the same bits. */
CX_AVX512_TARGET static inline void winograd_input_transform(__m512 d[4][4], __m512 v[16]) {
    __m512 s[4][4];
    for (int j = 0; j < 4; j++) {
        s[0][j] = _mm512_sub_ps(d[0][j], d[2][j]);
        s[1][j] = _mm512_add_ps(d[1][j], d[2][j]);
        s[2][j] = _mm512_sub_ps(d[2][j], d[1][j]);
        s[3][j] = _mm512_sub_ps(d[1][j], d[3][j]);
    }
    for (int i = 0; i < 4; i++) {
        v[4 * i + 0] = _mm512_sub_ps(s[i][0], s[i][2]);
        v[4 * i + 1] = _mm512_add_ps(s[i][1], s[i][2]);
        v[4 * i + 2] = _mm512_sub_ps(s[i][2], s[i][1]);
        v[4 * i + 3] = _mm512_sub_ps(s[i][1], s[i][3]);
    }
}

/* Winograd F(2x2, 3x3) output transform Y = A^T m A + bias of sixteen tiles at once: e[4 i + j]
 * holds m[i][j]; y00, y01, y10, y11 receive the 2x2 outputs. Columns first (per row i:
 * m0 + m1 + m2 and m1 - m2 - m3), then rows the same way, so every caller gets the same bits. */
CX_AVX512_TARGET static inline void winograd_output_transform(const __m512 e[16], __m512 bias, __m512 *y00,
                                                              __m512 *y01, __m512 *y10, __m512 *y11) {
    __m512 l[4], r[4];
    for (int i = 0; i < 4; i++) {
        l[i] = _mm512_add_ps(_mm512_add_ps(e[4 * i], e[4 * i + 1]), e[4 * i + 2]);
        r[i] = _mm512_sub_ps(_mm512_sub_ps(e[4 * i + 1], e[4 * i + 2]), e[4 * i + 3]);
    }
    *y00 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(l[0], l[1]), l[2]), bias);
    *y01 = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r[0], r[1]), r[2]), bias);
    *y10 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(l[1], l[2]), l[3]), bias);
    *y11 = _mm512_add_ps(_mm512_sub_ps(_mm512_sub_ps(r[1], r[2]), r[3]), bias);
}

/* Instance norm of one plane of n floats in place (mean and biased variance from 16 float lanes
 * combined in double, epsilon inside the square root, as PyTorch's InstanceNorm2d), then
 * f(v) = v > 0 ? v : slope * v (slope 1: identity), then + residual[i] if residual. */
CX_AVX512_TARGET static inline void normalize_plane(float *x, int n, float slope, const float *residual, float epsilon) {
    __m512 s = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(lanes(n - i), x + i));
    double mean = (double)_mm512_reduce_add_ps(s) / n;
    __m512 m = _mm512_set1_ps((float)mean), q = _mm512_setzero_ps();
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 d = _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, x + i), m);
        q = _mm512_fmadd_ps(d, d, q);
    }
    double variance = (double)_mm512_reduce_add_ps(q) / n;
    __m512 r = _mm512_set1_ps((float)(1.0 / __builtin_sqrt(variance + epsilon))), a = _mm512_set1_ps(slope);
    for (int i = 0; i < n; i += 16) {
        __mmask16 k = lanes(n - i);
        __m512 v = _mm512_mul_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, x + i), m), r);
        if (slope != 1.0f) {
            __mmask16 negative = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LE_OQ);
            v = _mm512_mask_mul_ps(v, negative, v, a);
        }
        if (residual) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, residual + i));
        _mm512_mask_storeu_ps(x + i, k, v);
    }
}
#endif
#endif
