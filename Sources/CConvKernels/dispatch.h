/* Run-time instruction-set dispatch shared by the kernel files (not part of the public header).
 *
 * A kernel is a `static inline` body written once; CX_DISPATCHED(name, params, args) compiles it
 * three times (AVX-512F, AVX2 + FMA, baseline) by inlining it into functions with per-function
 * target attributes, and defines the public `name` that calls the variant cx_kernel_isa() picks.
 * The target is built without -march flags, so the baseline variant runs on any x86-64 CPU. */
#ifndef CX_DISPATCH_H
#define CX_DISPATCH_H

#include "cconvkernels.h"

#define CX_INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__) || defined(__i386__)
#define CX_TARGET_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")))
#define CX_TARGET_AVX2 __attribute__((target("avx2,fma")))
#define CX_DISPATCHED(name, params, args)                                        \
    static CX_TARGET_AVX512 void name##_avx512 params { name##_body args; }      \
    static CX_TARGET_AVX2 void name##_avx2 params { name##_body args; }          \
    static void name##_baseline params { name##_body args; }                     \
    void name params {                                                           \
        switch (cx_kernel_isa()) {                                               \
        case 2: name##_avx512 args; break;                                       \
        case 1: name##_avx2 args; break;                                         \
        default: name##_baseline args; break;                                    \
        }                                                                        \
    }
#else
#define CX_DISPATCHED(name, params, args) \
    void name params { name##_body args; }
#endif

/* 16 floats: one AVX-512 register, two AVX2 registers, four SSE registers. Unaligned access
 * goes through cx_load / cx_store. */
typedef float cx_v16 __attribute__((vector_size(64)));

CX_INLINE cx_v16 cx_load(const float *p) {
    cx_v16 v;
    __builtin_memcpy(&v, p, sizeof v);
    return v;
}

CX_INLINE void cx_store(float *p, cx_v16 v) { __builtin_memcpy(p, &v, sizeof v); }

CX_INLINE cx_v16 cx_splat(float x) { return (cx_v16){x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x}; }

CX_INLINE float cx_sum(cx_v16 v) {
    float s = 0;
    for (int i = 0; i < 16; i++) s += v[i];
    return s;
}

#endif
