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
#endif
#endif
