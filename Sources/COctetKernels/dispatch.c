// Run-time choice of the kernel path: CPUID for the instruction sets, XGETBV for the OS saving their registers.
#include "octet_kernels.h"
#include <stdlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static unsigned long long read_xcr0(void) {
    unsigned int eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((unsigned long long)edx << 32) | eax;
}

static int detect(void) {
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return OCTET_ISA_PORTABLE;
    int osxsave = (c >> 27) & 1, avx = (c >> 28) & 1, fma = (c >> 12) & 1;
    if (!osxsave || !avx) return OCTET_ISA_PORTABLE;
    unsigned long long xcr0 = read_xcr0();
    if ((xcr0 & 0x6) != 0x6) return OCTET_ISA_PORTABLE;  // XMM and YMM state
    if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return OCTET_ISA_PORTABLE;
    int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1, avx512vl = (b >> 31) & 1;
    if (avx512f && avx512vl && fma && (xcr0 & 0xE6) == 0xE6) return OCTET_ISA_AVX512;  // + opmask, ZMM state
    if (avx2 && fma) return OCTET_ISA_AVX2;
    return OCTET_ISA_PORTABLE;
}
#else
static int detect(void) { return OCTET_ISA_PORTABLE; }
#endif

/// Whether the CPU converts between float32 and fp16 in hardware (F16C: CPUID leaf 1, ECX bit 29; its VEX encoding
/// needs the OS to save YMM state).
static int detect_f16c(void) {
#if defined(__x86_64__) || defined(__i386__)
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
    if (!((c >> 27) & 1) || !((c >> 28) & 1) || !((c >> 29) & 1)) return 0;  // OSXSAVE, AVX, F16C
    return (read_xcr0() & 0x6) == 0x6;
#else
    return 0;
#endif
}

int octet_has_f16c(void) {
    static int f16c = -1;
    if (f16c < 0) f16c = detect_f16c();
    return f16c;
}

static int detected_isa = -1;
static int active_isa = -1;

int octet_detect_isa(void) {
    if (detected_isa < 0) detected_isa = detect();
    return detected_isa;
}

int octet_active_isa(void) {
    if (active_isa < 0) {
        active_isa = octet_detect_isa();
        // OCTET_ISA=portable|avx2|avx512 lowers the path for a whole process (benchmarks of the fallbacks).
        const char *forced = getenv("OCTET_ISA");
        if (forced) {
            for (int isa = OCTET_ISA_PORTABLE; isa <= OCTET_ISA_AVX512; isa++) {
                const char *name = octet_isa_name(isa);
                const char *p = forced, *q = name;
                while (*p && *p == *q) { p++; q++; }
                if (!*p && !*q && isa < active_isa) active_isa = isa;
            }
        }
    }
    return active_isa;
}

int octet_set_isa(int isa) {
    int best = octet_detect_isa();
    active_isa = isa < OCTET_ISA_PORTABLE ? OCTET_ISA_PORTABLE : (isa > best ? best : isa);
    return active_isa;
}

const char *octet_isa_name(int isa) {
    switch (isa) {
    case OCTET_ISA_AVX512: return "avx512";
    case OCTET_ISA_AVX2: return "avx2";
    default: return "portable";
    }
}

float *octet_alloc_floats(size_t count) {
    void *p = NULL;
    if (count == 0) count = 1;
    if (posix_memalign(&p, 64, count * sizeof(float)) != 0) return NULL;
    return (float *)p;
}

void octet_free(void *p) { free(p); }
