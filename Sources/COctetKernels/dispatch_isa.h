// Calls the variant of a kernel for the active instruction set: FN##_avx512, FN##_avx2 or FN##_portable, each
// compiled from one body with target attributes in the kernel's own file. Private to COctetKernels.
#ifndef OCTET_DISPATCH_ISA_H
#define OCTET_DISPATCH_ISA_H
#include "octet_kernels.h"

#if defined(__x86_64__)
#define DISPATCH(FN, ARGS)                                           \
    switch (octet_active_isa()) {                                    \
    case OCTET_ISA_AVX512: FN##_avx512 ARGS; return;                 \
    case OCTET_ISA_AVX2: FN##_avx2 ARGS; return;                     \
    default: FN##_portable ARGS; return;                             \
    }
#else
#define DISPATCH(FN, ARGS) FN##_portable ARGS;
#endif

/// Whether the CPU has F16C (hardware float32 ↔ fp16 conversion).
int octet_has_f16c(void);
#endif
