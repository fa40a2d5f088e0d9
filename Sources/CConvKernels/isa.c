#include "cconvkernels.h"
#include <stdlib.h>
#include <string.h>

/* -1 until first use; then the level chosen (benign race: every thread computes the same). */
static int chosen = -1;

static int cpu_level(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512bw"))
        return 2;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return 1;
#endif
    return 0;
}

static int capped(int level, const char *cap) {
    if (cap == NULL) return level;
    if (strcmp(cap, "baseline") == 0) return 0;
    if (strcmp(cap, "avx2") == 0) return level < 1 ? level : 1;
    return level;
}

int cx_kernel_isa(void) {
    int level = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (level >= 0) return level;
    level = capped(cpu_level(), getenv("CYCLEX_ISA"));
    __atomic_store_n(&chosen, level, __ATOMIC_RELAXED);
    return level;
}

void cx_set_kernel_isa(int isa) {
    int level = cpu_level();
    __atomic_store_n(&chosen, isa < level ? (isa < 0 ? 0 : isa) : level, __ATOMIC_RELAXED);
}

const char *cx_kernel_isa_name(void) {
    switch (cx_kernel_isa()) {
    case 2: return "avx512";
    case 1: return "avx2";
    default: return "baseline";
    }
}
