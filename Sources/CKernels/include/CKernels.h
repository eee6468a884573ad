// Hand-written kernels: where BLAS has no routine of the shape vigil needs (called only by
// Sources/VigilStats/LinearAlgebra), IRLS's per-row formulas and the product under its deviance's logarithms
// (Sources/VigilStats/GLM, Distributions/LogSum), and scans of CSV bytes: its line feeds, and the number cells of
// a plain part (called only by Sources/VigilCore/Records).
#ifndef VIGIL_CKERNELS_H
#define VIGIL_CKERNELS_H

#include <stdbool.h>
#include <stdint.h>

/// Whether this CPU runs `vigil_weighted_gram` (x86-64 with AVX2 and FMA); when not, callers use BLAS.
bool vigil_weighted_gram_available(void);

/// C += Aᵀ · diag(w) · A on the upper triangle: c[j + k·ldc] += Σᵢ w[i]·a[j][i]·a[k][i] for 0 ≤ j ≤ k < n
/// over rows 0 ≤ i < rows; column j of A is the `rows` doubles at a[j], wherever each is held (IRLS passes
/// the design's own columns). The lower triangle of C is not touched. `ahead` (NULL, or `ahead_columns`
/// pointers to `ahead_rows` doubles each) is the next block's columns, brought into cache while this one is
/// summed. Call it only when `vigil_weighted_gram_available()` is true (the CPU would not run its
/// instructions); LinearAlgebra asks once per process.
void vigil_weighted_gram(int n, int rows, const double *const *a, const double *w, double *c, int ldc,
                         const double *const *ahead, int ahead_columns, int ahead_rows);

/// How far `vigil_csv_plain_rows` read: the offset of the first row it did not take, and how many it took.
typedef struct {
    long next;
    long rows;
} vigil_csv_progress;

/// Reads rows from p[begin] on, up to `end` and at most `row_limit` of them, while each row is exactly
/// `field_count` cells ended by commas and a line feed (or the end), with no quote, carriage return or byte
/// above ASCII, and each number cell is a plain decimal (`vigil_csv_decimal`). Cell i of the r-th row taken:
/// slots[i] ≥ 0, a number, goes to columns[slots[i]][first_row + r]; slots[i] ≤ −2, a text, has its offsets
/// (start, end) written to texts[−2 − slots[i]][2r], [2r + 1]; slots[i] = −1 is passed over. Stops before
/// the first row that is anything else, which the caller reads its own way; values of that row may already
/// be written.
vigil_csv_progress vigil_csv_plain_rows(const unsigned char *p, long begin, long end, int field_count, const int *slots,
                                        double *const *columns, long *const *texts, long first_row, long row_limit);

/// Whether the n bytes at p are a plain decimal — an optional minus, then 1 to 15 digits with at most one point —
/// and then its value, Double(mantissa) / 10^fraction (exact by Clinger's fast path). The one rule for number
/// cells of `CSVColumns`: `vigil_csv_plain_rows` reads its cells by it too.
bool vigil_csv_decimal(const unsigned char *p, long n, double *value);

/// How many of the n bytes at p are `byte`, 64 at a time.
long vigil_count_byte(const unsigned char *p, long n, unsigned char byte);

// ---- The per-row formulas of IRLS: links (R's `make.link`, `binomial()`'s C code) and variance functions,
// written once here so that the row kernel below vectorizes them and Swift's `Link` and `Family` call the same.

/// The link functions (R's `make.link`).
typedef enum { VIGIL_LINK_LOG = 0, VIGIL_LINK_LOGIT = 1 } vigil_link;
/// The variance functions: binomial μ(1 − μ), Poisson μ, negative binomial μ + μ²/θ.
typedef enum { VIGIL_VARIANCE_BINOMIAL = 0, VIGIL_VARIANCE_POISSON = 1, VIGIL_VARIANCE_NEGATIVE_BINOMIAL = 2 } vigil_variance;

/// A family as the row kernel needs it: its link, variance function and θ (negative binomial only).
typedef struct {
    vigil_link link;
    vigil_variance variance;
    double theta;
} vigil_family;

/// R's bound on the logit's η: beyond ±30, μ is taken from ε or 1/ε and dμ/dη is ε.
#define VIGIL_LOGIT_THRESHOLD 30.0
#define VIGIL_EPSILON 0x1p-52

/// The argument whose exponential the link's mean needs: η for log, η held to ±30 for logit (beyond, the
/// exponential is not used). NaN stays NaN.
static inline double vigil_link_exp_argument(vigil_link link, double eta) {
    if (link == VIGIL_LINK_LOG) return eta;
    return eta < -VIGIL_LOGIT_THRESHOLD ? -VIGIL_LOGIT_THRESHOLD : (eta > VIGIL_LOGIT_THRESHOLD ? VIGIL_LOGIT_THRESHOLD : eta);
}

/// μ = g⁻¹(η) and dμ/dη, from η and e = exp(vigil_link_exp_argument(link, η)).
static inline void vigil_link_mean(vigil_link link, double eta, double e, double *mean, double *derivative) {
    if (link == VIGIL_LINK_LOG) {
        // R's pmax(exp(η), ε), NaN kept.
        double m = e < VIGIL_EPSILON ? VIGIL_EPSILON : e;
        *mean = m;
        *derivative = m;
        return;
    }
    int beyond = eta < -VIGIL_LOGIT_THRESHOLD || eta > VIGIL_LOGIT_THRESHOLD;
    double t = eta < -VIGIL_LOGIT_THRESHOLD ? VIGIL_EPSILON : (eta > VIGIL_LOGIT_THRESHOLD ? 1 / VIGIL_EPSILON : e);
    double onePlus = 1 + e;
    *mean = t / (1 + t);
    *derivative = beyond ? VIGIL_EPSILON : e / (onePlus * onePlus);
}

/// The variance function V(μ).
static inline double vigil_family_variance(vigil_family family, double mu) {
    switch (family.variance) {
    case VIGIL_VARIANCE_BINOMIAL: return mu * (1 - mu);
    case VIGIL_VARIANCE_POISSON: return mu;
    default: return mu + mu * mu / family.theta;
    }
}

/// Whether μ is in the family's range: (0, 1) for binomial, (0, ∞) otherwise; NaN is not.
static inline bool vigil_family_valid_mean(vigil_family family, double mu) {
    return mu > 0 && (family.variance == VIGIL_VARIANCE_BINOMIAL ? mu < 1 : mu < __builtin_inf());
}

/// exp(x) within 2 units in the last place, NaN and ±∞ as `exp`; written for the row kernel, whose loop
/// the compiler vectorizes (no call, no branch, no table).
double vigil_exp(double x);

/// One block of IRLS rows (R's `glm.fit` loop body): μ and dμ/dη from the linear predictor η, and, when w and
/// z are not NULL, the working weight w = prior·(dμ/dη)²/V(μ) and working response z = η − offset + (y − μ)/(dμ/dη).
/// prior and offset may be NULL (1 and 0); every other array holds n values (the caller's invariant; IRLS passes
/// one block of rows). Returns whether every μ is in the family's range.
bool vigil_irls_rows(vigil_family family, long n, const double *eta, const double *y, const double *prior,
                     const double *offset, double *mu, double *w, double *z);

// ---- A double's parts, as `LogSum` multiplies them: its Swift code and `vigil_log_product` both take these.

/// Whether `bits` are a positive normal number's: sign 0 and an exponent field of 1 ... 0x7FE.
static inline bool vigil_positive_normal(uint64_t bits) { return (bits >> 52) - 1 < 0x7FE; }

/// The binary exponent of a positive normal number's bits.
static inline int64_t vigil_unbiased_exponent(uint64_t bits) { return (int64_t)(bits >> 52) - 1023; }

/// The significand of a positive normal number's bits, in [1, 2).
static inline double vigil_significand(uint64_t bits) {
    uint64_t b = (bits & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL;
    double x;
    __builtin_memcpy(&x, &b, sizeof x);
    return x;
}

/// Π x over the positive normal numbers among the n values at x, as *significand ∈ [1, 2) times 2^*exponent
/// (the product neither overflows nor underflows; `LogSum` takes its logarithm). Returns how many values were
/// no positive normal number (0, subnormal, negative, ∞, NaN): those are left out, for the caller.
long vigil_log_product(long n, const double *x, double *significand, long *exponent);

#endif
