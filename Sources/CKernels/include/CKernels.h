// Hand-written kernels where BLAS has no routine of the shape vigil needs. Only
// Sources/VigilStats/LinearAlgebra calls them.
#ifndef VIGIL_CKERNELS_H
#define VIGIL_CKERNELS_H

#include <stdbool.h>

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

#endif
