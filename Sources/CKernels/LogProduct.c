#include "CKernels.h"
#include "Kernel.h"

// Binary exponents summed apart and significands in [1, 2) multiplied: 256 factors stay below 2²⁵⁶, so a
// chunk is renormalized once. Arguments that are no positive normal number count as 1 here and are
// reported, for the caller to take their logarithms.
ALWAYS_INLINE long log_product(long n, const double *x, double *significand, long *exponent) {
    long others = 0;
    double total = 1;
    long total_exponent = 0;
    for (long start = 0; start < n; start += 256) {
        long count = n - start < 256 ? n - start : 256;
        const double *c = x + start;
        double product = 1;
        int64_t exponents = 0, abnormal = 0;
        {
#pragma clang fp reassociate(on)
            for (long i = 0; i < count; i++) {
                uint64_t bits = bits_of(c[i]);
                bool normal = vigil_positive_normal(bits);
                product *= normal ? vigil_significand(bits) : 1.0;
                exponents += normal ? vigil_unbiased_exponent(bits) : 0;
                abnormal += !normal;
            }
        }
        uint64_t bits = bits_of(product);
        total_exponent += exponents + vigil_unbiased_exponent(bits);
        total *= vigil_significand(bits);
        if (total >= 2) {
            total *= 0.5;
            total_exponent += 1;
        }
        others += abnormal;
    }
    *significand = total;
    *exponent = total_exponent;
    return others;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static long log_product_avx2(long n, const double *x, double *significand, long *exponent) {
    return log_product(n, x, significand, exponent);
}
#endif

static long log_product_baseline(long n, const double *x, double *significand, long *exponent) {
    return log_product(n, x, significand, exponent);
}

long vigil_log_product(long n, const double *x, double *significand, long *exponent) {
#if defined(__x86_64__)
    if (vigil_avx2_fma()) return log_product_avx2(n, x, significand, exponent);
#endif
    return log_product_baseline(n, x, significand, exponent);
}
