#include "CKernels.h"
#include "Kernel.h"

// exp(x) = 2^k · exp(r): k = round(x / ln 2), r = x − k·ln 2 with ln 2 in fdlibm's two parts (|r| ≤ ln 2 / 2),
// exp(r) by its Taylor polynomial to r¹³ (the remainder is below 2⁻⁵⁷ of it), 2^k as 2^k₁·2^k₂ so that both
// factors are normal numbers over the whole range. Integers live in doubles' low bits (k + 1.5·2⁵²): no
// conversion instruction that SSE2 or AVX2 lacks, so the loops calling it vectorize.
ALWAYS_INLINE double exp_poly(double x) {
    const double shift = 0x1.8p52;
    const uint64_t shift_bits = 0x4338000000000000ULL;
    double held = x < -746 ? -746 : (x > 710 ? 710 : x);
    double k = (held * 0x1.71547652b82fep0 + shift) - shift;
    double r = (held - k * 0x1.62e42feep-1) - k * 0x1.a39ef35793c76p-33;
    double p = 0x1.6124613a86d09p-33;          // 1/13!
    p = p * r + 0x1.1eed8eff8d898p-29;          // 1/12!
    p = p * r + 0x1.ae64567f544e4p-26;          // 1/11!
    p = p * r + 0x1.27e4fb7789f5cp-22;          // 1/10!
    p = p * r + 0x1.71de3a556c734p-19;          // 1/9!
    p = p * r + 0x1.a01a01a01a01ap-16;          // 1/8!
    p = p * r + 0x1.a01a01a01a01ap-13;          // 1/7!
    p = p * r + 0x1.6c16c16c16c17p-10;          // 1/6!
    p = p * r + 0x1.1111111111111p-7;           // 1/5!
    p = p * r + 0x1.5555555555555p-5;           // 1/4!
    p = p * r + 0x1.5555555555555p-3;           // 1/3!
    p = p * r + 0.5;
    p = p * r + 1;
    p = p * r + 1;
    double k1 = (k * 0.5 + shift) - shift, k2 = k - k1;
    double s1 = double_of((bits_of(k1 + shift) - shift_bits + 1023) << 52);
    double s2 = double_of((bits_of(k2 + shift) - shift_bits + 1023) << 52);
    double result = (p * s1) * s2;
    return x != x ? x : result;
}

double vigil_exp(double x) { return exp_poly(x); }

// μ and dμ/dη of rows [0, n) for a link known when compiled (each caller passes a constant).
ALWAYS_INLINE bool means(vigil_link link, vigil_family family, long n, const double *eta, double *mu, double *d) {
    bool valid = true;
    for (long i = 0; i < n; i++) {
        double m, derivative;
        vigil_link_mean(link, eta[i], exp_poly(vigil_link_exp_argument(link, eta[i])), &m, &derivative);
        mu[i] = m;
        d[i] = derivative;
        valid &= vigil_family_valid_mean(family, m);
    }
    return valid;
}

// w and z from μ and dμ/dη (held in w on entry) for a variance function known when compiled.
ALWAYS_INLINE void working(vigil_variance variance, vigil_family family, long n, const double *eta, const double *y,
                           const double *mu, double *w, double *z) {
    family.variance = variance;
    for (long i = 0; i < n; i++) {
        double d = w[i];
        z[i] = eta[i] + (y[i] - mu[i]) / d;
        w[i] = d * d / vigil_family_variance(family, mu[i]);
    }
}

// μ and dμ/dη by the family's link.
ALWAYS_INLINE bool link_means(vigil_family family, long n, const double *eta, double *mu, double *d) {
    return family.link == VIGIL_LINK_LOG ? means(VIGIL_LINK_LOG, family, n, eta, mu, d)
                                         : means(VIGIL_LINK_LOGIT, family, n, eta, mu, d);
}

ALWAYS_INLINE bool rows(vigil_family family, long n, const double *eta, const double *y, const double *prior,
                        const double *offset, double *mu, double *w, double *z, double *scratch) {
    if (!w || !z) {
        // μ alone: dμ/dη goes to a scratch block, 512 rows at a time.
        bool valid = true;
        for (long start = 0; start < n; start += 512)
            valid &= link_means(family, n - start < 512 ? n - start : 512, eta + start, mu + start, scratch);
        return valid;
    }
    // dμ/dη goes into w, which `working` turns into the weight.
    bool valid = link_means(family, n, eta, mu, w);
    switch (family.variance) {
    case VIGIL_VARIANCE_BINOMIAL: working(VIGIL_VARIANCE_BINOMIAL, family, n, eta, y, mu, w, z); break;
    case VIGIL_VARIANCE_POISSON: working(VIGIL_VARIANCE_POISSON, family, n, eta, y, mu, w, z); break;
    default: working(VIGIL_VARIANCE_NEGATIVE_BINOMIAL, family, n, eta, y, mu, w, z); break;
    }
    if (prior)
        for (long i = 0; i < n; i++) w[i] *= prior[i];
    if (offset)
        for (long i = 0; i < n; i++) z[i] -= offset[i];
    return valid;
}

#if defined(__x86_64__)
__attribute__((target("avx2,fma")))
static bool rows_avx2(vigil_family family, long n, const double *eta, const double *y, const double *prior,
                      const double *offset, double *mu, double *w, double *z, double *scratch) {
    return rows(family, n, eta, y, prior, offset, mu, w, z, scratch);
}
#endif

static bool rows_baseline(vigil_family family, long n, const double *eta, const double *y, const double *prior,
                          const double *offset, double *mu, double *w, double *z, double *scratch) {
    return rows(family, n, eta, y, prior, offset, mu, w, z, scratch);
}

bool vigil_irls_rows(vigil_family family, long n, const double *eta, const double *y, const double *prior,
                     const double *offset, double *mu, double *w, double *z) {
    double scratch[512];
#if defined(__x86_64__)
    if (vigil_avx2_fma()) return rows_avx2(family, n, eta, y, prior, offset, mu, w, z, scratch);
#endif
    return rows_baseline(family, n, eta, y, prior, offset, mu, w, z, scratch);
}
