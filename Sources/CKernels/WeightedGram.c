#include "CKernels.h"
#include "Kernel.h"

bool vigil_weighted_gram_available(void) { return vigil_avx2_fma(); }

#if defined(__x86_64__)
#include <immintrin.h>

// Tiles of 3 columns j by 4 columns k, four rows at a time: 12 accumulators, 3 weighted columns and one
// streamed column fill the 16 AVX2 registers, and each loaded vector feeds 3 or 4 FMAs. dsyrk on the
// √w-scaled block, with OpenBLAS's packing for 31 columns, did half the work per second.
__attribute__((target("avx2,fma")))
static void tile(int n, int rows, const double *const *a, const double *w, double *c, int ldc, int j0, int k0,
                 const double *ahead, int ahead_rows) {
    // Columns past the last are read as the last (finite whenever A is) and their sums dropped below:
    // every tile keeps the one code path.
    const double *x[3], *y[4];
    for (int t = 0; t < 3; t++) x[t] = a[j0 + t < n ? j0 + t : n - 1];
    for (int t = 0; t < 4; t++) y[t] = a[k0 + t < n ? k0 + t : n - 1];
    __m256d s[3][4];
    for (int r = 0; r < 3; r++)
        for (int t = 0; t < 4; t++) s[r][t] = _mm256_setzero_pd();
    int i = 0;
    for (; i + 4 <= rows; i += 4) {
        // One cache line of the next block's column every 8 rows: the column is in cache when it is read.
        if (ahead && (i & 7) == 0 && i < ahead_rows) _mm_prefetch((const char *)(ahead + i), _MM_HINT_T1);
        __m256d wv = _mm256_loadu_pd(w + i);
        __m256d u0 = _mm256_mul_pd(wv, _mm256_loadu_pd(x[0] + i));
        __m256d u1 = _mm256_mul_pd(wv, _mm256_loadu_pd(x[1] + i));
        __m256d u2 = _mm256_mul_pd(wv, _mm256_loadu_pd(x[2] + i));
        for (int t = 0; t < 4; t++) {
            __m256d v = _mm256_loadu_pd(y[t] + i);
            s[0][t] = _mm256_fmadd_pd(u0, v, s[0][t]);
            s[1][t] = _mm256_fmadd_pd(u1, v, s[1][t]);
            s[2][t] = _mm256_fmadd_pd(u2, v, s[2][t]);
        }
    }
    double sum[3][4];
    for (int r = 0; r < 3; r++) {
        for (int t = 0; t < 4; t++) {
            double lane[4];
            _mm256_storeu_pd(lane, s[r][t]);
            sum[r][t] = (lane[0] + lane[1]) + (lane[2] + lane[3]);
        }
    }
    for (; i < rows; i++)
        for (int r = 0; r < 3; r++)
            for (int t = 0; t < 4; t++) sum[r][t] += w[i] * x[r][i] * y[t][i];
    for (int r = 0; r < 3; r++)
        for (int t = 0; t < 4; t++) {
            int j = j0 + r, k = k0 + t;
            if (j <= k && k < n) c[j + (long)k * ldc] += sum[r][t];
        }
}

void vigil_weighted_gram(int n, int rows, const double *const *a, const double *w, double *c, int ldc,
                         const double *const *ahead, int ahead_columns, int ahead_rows) {
    if (n <= 0 || rows <= 0) return;
    // Tile t fetches the next block's column t: there are more tiles than columns once n > 2.
    int t = 0;
    for (int j0 = 0; j0 < n; j0 += 3)
        for (int k0 = j0; k0 < n; k0 += 4, t++)
            tile(n, rows, a, w, c, ldc, j0, k0, ahead && t < ahead_columns ? ahead[t] : 0, ahead_rows);
}

#else

void vigil_weighted_gram(int n, int rows, const double *const *a, const double *w, double *c, int ldc,
                         const double *const *ahead, int ahead_columns, int ahead_rows) {
    (void)ahead; (void)ahead_columns; (void)ahead_rows; (void)n; (void)rows; (void)a; (void)w; (void)c; (void)ldc;
}

#endif
