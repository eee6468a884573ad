#include "CKernels.h"
#include "Kernel.h"

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

// ±10^k: a cell's value is its mantissa divided by one of these, chosen by its sign and fraction digits without
// a branch (the signs of a column's cells do not follow a pattern a predictor learns). Dividing by ±1 is exact.
static const double divisors[2][16] = {
    {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15},
    {-1e0, -1e1, -1e2, -1e3, -1e4, -1e5, -1e6, -1e7, -1e8, -1e9, -1e10, -1e11, -1e12, -1e13, -1e14, -1e15}};

// Bit i of *delimiters is set when p[base + i] is a comma or line feed, of *odd when it is a quote, carriage
// return or byte above ASCII, for the 64 bytes from base (bytes at or past end read as zero). Finding every
// delimiter first leaves each cell's parse independent of the previous one's length.
static inline void masks(const unsigned char *p, long base, long end, uint64_t *delimiters, uint64_t *odd) {
    unsigned char padded[64];
    const unsigned char *q = p + base;
    if (end - base < 64) {
        memset(padded, 0, sizeof padded);
        memcpy(padded, q, (size_t)(end - base));
        q = padded;
    }
#if defined(__SSE2__)
    uint64_t d = 0, o = 0;
    for (int k = 0; k < 4; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(q + 16 * k));
        __m128i delimiter = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
        __m128i other = _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\r')));
        d |= (uint64_t)(uint16_t)_mm_movemask_epi8(delimiter) << (16 * k);
        o |= (uint64_t)(uint16_t)(_mm_movemask_epi8(other) | _mm_movemask_epi8(v)) << (16 * k);
    }
    *delimiters = d;
    *odd = o;
#else
    uint64_t d = 0, o = 0;
    for (int k = 0; k < 64; k++) {
        unsigned char b = q[k];
        d |= (uint64_t)(b == ',' || b == '\n') << k;
        o |= (uint64_t)(b == '"' || b == '\r' || b >= 0x80) << k;
    }
    *delimiters = d;
    *odd = o;
#endif
    if (end - base < 64) {
        uint64_t inside = (1ULL << (end - base)) - 1;
        *delimiters &= inside;
        *odd &= inside;
    }
}

// The cell p[s..<k] (k at its delimiter or the end) when it is an optional minus then 1 to 15 digits with at most
// one point: its value, Double(mantissa) / 10^fraction, exact by Clinger's fast path (the double `strtod`
// gives). Returns 0 for any other cell. (Reading the cell as one word and combining its digits by
// multiplications was slower; gathering them with one SSE shuffle and multiply-adds was no faster: BENCHMARKS.md.)
ALWAYS_INLINE int number(const unsigned char *p, long s, long k, double *value) {
    int negative = s < k && p[s] == '-';
    uint64_t m = 0;
    long digits = 0, fraction = 0, point = 0;
    for (long j = s + negative; j < k; j++) {
        unsigned d = (unsigned)(p[j] - '0');
        if (d < 10) {
            m = m * 10 + d;
            digits += 1;
            fraction += point;
        } else if (p[j] == '.' && !point) {
            point = 1;
        } else {
            return 0;
        }
    }
    if (digits == 0 || digits > 15) return 0;
    *value = (double)m / divisors[negative][fraction];
    return 1;
}

bool vigil_csv_decimal(const unsigned char *p, long n, double *value) { return number(p, 0, n, value); }

// Cell f of a row, p[cell..<k]: a number into its column, a text's bounds into its list, or passed over.
// 0 when it is a number column's cell that is not a plain decimal.
static inline int take(const unsigned char *p, long cell, long k, int slot, double *const *columns,
                       long *const *texts, long row, long text_row) {
    if (slot >= 0) return number(p, cell, k, &columns[slot][row]);
    if (slot < -1) {
        texts[-2 - slot][2 * text_row] = cell;
        texts[-2 - slot][2 * text_row + 1] = k;
    }
    return 1;
}

vigil_csv_progress vigil_csv_plain_rows(const unsigned char *p, long begin, long end, int field_count, const int *slots,
                                        double *const *columns, long *const *texts, long first_row, long row_limit) {
    long rows = 0, row = begin, cell = begin, limit = end;   // limit: the first odd byte
    int f = 0;
    if (field_count < 1 || row_limit < 1) return (vigil_csv_progress){begin, 0};
    for (long base = begin; base < end; base += 64) {
        uint64_t delimiters, odd;
        masks(p, base, end, &delimiters, &odd);
        if (odd && limit == end) limit = base + __builtin_ctzll(odd);
        for (; delimiters; delimiters &= delimiters - 1) {
            long k = base + __builtin_ctzll(delimiters);
            int feed = p[k] == '\n';
            if (k > limit) goto stop;
            if (feed && f == 0 && k == cell) goto stop;   // a blank line
            if (!take(p, cell, k, slots[f], columns, texts, first_row + rows, rows)) goto stop;
            cell = k + 1;
            if (!feed) {
                if (++f == field_count) goto stop;   // too many fields
                continue;
            }
            if (f != field_count - 1) goto stop;   // too few fields
            f = 0;
            row = cell;
            if (++rows == row_limit) goto stop;
        }
        if (limit < end) goto stop;
    }
    // The last line, without a line feed.
    if (cell < end && f == field_count - 1 && limit == end && take(p, cell, end, slots[f], columns, texts, first_row + rows, rows)) {
        rows += 1;
        row = end;
    }
stop:
    return (vigil_csv_progress){row, rows};
}

long vigil_count_byte(const unsigned char *p, long n, unsigned char byte) {
    long count = 0, i = 0;
#if defined(__SSE2__)
    __m128i target = _mm_set1_epi8((char)byte);
    for (; i + 64 <= n; i += 64) {
        uint64_t bits = 0;
        for (int k = 0; k < 4; k++) {
            __m128i v = _mm_loadu_si128((const __m128i *)(p + i + 16 * k));
            bits |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, target)) << (16 * k);
        }
        count += __builtin_popcountll(bits);
    }
#endif
    for (; i < n; i++) count += p[i] == byte;
    return count;
}
