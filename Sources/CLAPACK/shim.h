// BLAS and LAPACK as Debian ships them: libopenblas-dev (cblas.h) and liblapacke-dev (lapacke.h).
// Only Sources/VigilStats/LinearAlgebra includes this module.
#define LAPACK_COMPLEX_STRUCTURE 1
#include <cblas.h>
#include <lapacke.h>
