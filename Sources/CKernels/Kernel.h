// What the kernels share: which of their compiled forms this CPU runs, and doubles' bits.
#ifndef VIGIL_KERNEL_H
#define VIGIL_KERNEL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#define ALWAYS_INLINE static inline __attribute__((always_inline))

/// Whether the CPU has AVX2 and FMA (x86-64 only), asked once per process.
bool vigil_avx2_fma(void);

ALWAYS_INLINE uint64_t bits_of(double x) {
    uint64_t b;
    memcpy(&b, &x, sizeof b);
    return b;
}

ALWAYS_INLINE double double_of(uint64_t b) {
    double x;
    memcpy(&x, &b, sizeof x);
    return x;
}

#endif
