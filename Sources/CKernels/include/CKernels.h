// Hand-written kernels: where BLAS has no routine of the shape vigil needs (called only by
// Sources/VigilStats/LinearAlgebra), and scans of CSV bytes: its line feeds, and the number cells of a plain
// part (called only by Sources/VigilCore/Records).
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

#endif
