import CKernels
import CLAPACK
#if canImport(Glibc)
import Glibc
#endif

/// The one place vigil calls BLAS and LAPACK. Every other file works with `Matrix` and arrays.
public enum LinearAlgebra {
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public let routine: String
        public let info: Int
        public var description: String { "\(routine) failed (info = \(info))" }
    }

    // MARK: BLAS

    /// `y[0..<rows] = A[0..<rows, 0..<x.count] · x` (dgemv). `a` may have more rows and columns than are used.
    public static func multiply(_ a: Matrix, rows: Int, by x: [Double], into y: inout [Double]) {
        // Callers size a, x and y from one design: a programmer's error, never the data's.
        precondition(rows <= a.rows && x.count <= a.columns && y.count >= rows)
        guard rows > 0, !x.isEmpty else { return }
        a.elements.withUnsafeBufferPointer { ap in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    cblas_dgemv(CblasColMajor, CblasNoTrans, blas(rows), blas(x.count), 1.0,
                                ap.baseAddress, blas(max(1, a.rows)), xp.baseAddress, 1, 0.0, yp.baseAddress, 1)
                }
            }
        }
    }

    /// `y += A[0..<rows, :]ᵀ · x` (dgemv, transposed).
    public static func accumulateTransposedProduct(_ a: Matrix, rows: Int, with x: [Double], into y: inout [Double]) {
        precondition(rows <= a.rows && x.count >= rows && y.count >= a.columns)
        guard rows > 0, a.columns > 0 else { return }
        a.elements.withUnsafeBufferPointer { ap in
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    cblas_dgemv(CblasColMajor, CblasTrans, blas(rows), blas(a.columns), 1.0,
                                ap.baseAddress, blas(max(1, a.rows)), xp.baseAddress, 1, 1.0, yp.baseAddress, 1)
                }
            }
        }
    }

    /// `C += A[0..<rows, :]ᵀ · A[0..<rows, :]`, upper triangle only (dsyrk). This is XᵀWX for a block of rows
    /// already scaled by √w.
    public static func accumulateGram(_ a: Matrix, rows: Int, into c: inout Matrix) {
        precondition(rows <= a.rows && c.rows == a.columns && c.columns == a.columns)
        guard rows > 0, a.columns > 0 else { return }
        let n = c.rows
        a.elements.withUnsafeBufferPointer { ap in
            c.elements.withUnsafeMutableBufferPointer { cp in
                cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, blas(n), blas(rows), 1.0,
                            ap.baseAddress, blas(max(1, a.rows)), 1.0, cp.baseAddress, blas(n))
            }
        }
    }

    /// Whether `accumulateWeightedGram` runs on this CPU (x86-64 with AVX2 and FMA).
    public static let hasWeightedGram = vigil_weighted_gram_available()

    /// `C += A[0..<rows, :]ᵀ · diag(w) · A[0..<rows, :]`, upper triangle only, by vigil's own kernel (BLAS has
    /// no weighted rank-k update): XᵀWX, and XᵀWz in the last column when z is A's last column. Returns false,
    /// C untouched, when the CPU lacks the kernel (`hasWeightedGram`) or the sizes do not fit A, w and C.
    public static func accumulateWeightedGram(_ a: Matrix, rows: Int, weights w: [Double], into c: inout Matrix) -> Bool {
        guard rows >= 0, rows <= a.rows else { return false }
        return a.elements.withUnsafeBufferPointer { ap in
            // An A that holds no values has no columns to point at, and none are read.
            guard let base = ap.baseAddress else {
                return hasWeightedGram && c.rows == a.columns && c.columns == a.columns && w.count >= rows
            }
            return accumulateWeightedGram(columns: (0..<a.columns).map { base + $0 * a.rows }, rows: rows, weights: w, into: &c)
        }
    }

    /// The same with A given as its columns, each wherever it is held: `columns[j]` points at column j's
    /// first value, and `rows` values from it must be readable (the caller's invariant). IRLS passes the
    /// design's stored columns in place, so a block is not copied before it is summed, and the next block's
    /// columns as `ahead` (`aheadRows` readable from each), which the kernel brings into cache meanwhile.
    public static func accumulateWeightedGram(columns: [UnsafePointer<Double>], rows: Int, weights w: [Double],
                                              into c: inout Matrix, ahead: [UnsafePointer<Double>] = [],
                                              aheadRows: Int = 0) -> Bool {
        let n = columns.count
        guard hasWeightedGram, rows >= 0, rows <= Int(Int32.max), w.count >= rows, c.rows == n, c.columns == n,
              c.elements.count <= Int(Int32.max), ahead.count <= Int(Int32.max),
              (0...Int(Int32.max)).contains(aheadRows) else { return false }
        guard rows > 0, n > 0 else { return true }
        let pointers = columns.map { Optional($0) }, next = ahead.map { Optional($0) }
        w.withUnsafeBufferPointer { wp in
            c.elements.withUnsafeMutableBufferPointer { cp in
                vigil_weighted_gram(Int32(n), Int32(rows), pointers, wp.baseAddress, cp.baseAddress, Int32(n),
                                    next, Int32(next.count), Int32(aheadRows))
            }
        }
        return true
    }

    /// `A · B` (dgemm).
    public static func multiply(_ a: Matrix, _ b: Matrix) -> Matrix {
        precondition(a.columns == b.rows)
        var c = Matrix(rows: a.rows, columns: b.columns)
        guard a.rows > 0, b.columns > 0, a.columns > 0 else { return c }
        a.elements.withUnsafeBufferPointer { ap in
            b.elements.withUnsafeBufferPointer { bp in
                c.elements.withUnsafeMutableBufferPointer { cp in
                    cblas_dgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, blas(a.rows), blas(b.columns),
                                blas(a.columns), 1.0, ap.baseAddress, blas(a.rows), bp.baseAddress,
                                blas(b.rows), 0.0, cp.baseAddress, blas(c.rows))
                }
            }
        }
        return c
    }

    /// OpenBLAS's build description (version, kernel, threading), for benchmark reports.
    public static var blasConfiguration: String {
        guard let text = openblas_get_config() else { return "unknown" }
        return String(cString: text)
    }

    /// Limits OpenBLAS to `n` threads (benchmarks measure one core at a time).
    public static func setThreadCount(_ n: Int) {
        openblas_set_num_threads(Int32(n))
    }

    /// BLAS on the calling thread only: vigil spreads rows over the cores itself. Once per process, so that it
    /// never restarts a pool `stopThreadPool` stopped (`openblas_set_num_threads` would).
    public static func useCallingThreadOnly() { _ = callingThreadOnly }

    private static let callingThreadOnly: Void = openblas_set_num_threads(1)

    /// Also stops OpenBLAS's worker pool, whose idle workers spin (sched_yield) from the library's start and take
    /// a core from the work. Only at process start, before any thread calls BLAS: a call in flight would wait
    /// forever on a stopped worker. Only the pthreads build has a pool; the serial and OpenMP builds lack the symbol.
    public static func stopThreadPool() {
        useCallingThreadOnly()
        guard let process = dlopen(nil, RTLD_NOW), let stop = dlsym(process, "blas_thread_shutdown_") else { return }
        _ = unsafeBitCast(stop, to: (@convention(c) () -> Int32).self)()
    }

    // MARK: LAPACK

    /// Solves the general square system `A x = B` by LU with partial pivoting (dgesv).
    public static func solve(_ a: Matrix, _ b: Matrix) throws -> Matrix {
        precondition(a.rows == a.columns && b.rows == a.rows)
        var lu = a
        var x = b
        var pivots = [Int32](repeating: 0, count: a.rows)
        let info = lu.elements.withUnsafeMutableBufferPointer { ap in
            x.elements.withUnsafeMutableBufferPointer { xp in
                pivots.withUnsafeMutableBufferPointer { pp in
                    LAPACKE_dgesv(LAPACK_COL_MAJOR, lapack(a.rows), lapack(b.columns), ap.baseAddress,
                                  lapack(max(1, a.rows)), pp.baseAddress, xp.baseAddress, lapack(max(1, b.rows)))
                }
            }
        }
        guard info == 0 else { throw Failure(routine: "dgesv", info: Int(info)) }
        return x
    }

    public static func solve(_ a: Matrix, _ b: [Double]) throws -> [Double] {
        try solve(a, Matrix(rows: b.count, columns: 1, columnMajor: b)).elements
    }

    /// `A = LU` (dgetrf) when partial pivoting made no row interchange — a column diagonally dominant A never
    /// needs one — so that the factors' leading blocks factor A's leading blocks; nil when it pivoted. L (unit
    /// diagonal) is below the diagonal of the result, U on and above it.
    public static func unpivotedLU(_ a: Matrix) throws -> Matrix? {
        guard a.rows == a.columns else { throw Failure(routine: "dgetrf", info: -1) }
        var lu = a
        var pivots = [Int32](repeating: 0, count: a.rows)
        let info = lu.elements.withUnsafeMutableBufferPointer { ap in
            pivots.withUnsafeMutableBufferPointer { pp in
                LAPACKE_dgetrf(LAPACK_COL_MAJOR, lapack(a.rows), lapack(a.rows), ap.baseAddress, lapack(max(1, a.rows)), pp.baseAddress)
            }
        }
        guard info == 0 else { throw Failure(routine: "dgetrf", info: Int(info)) }
        for (i, p) in pivots.enumerated() where Int(p) != i + 1 { return nil }
        return lu
    }

    /// Solves `T x = b` (or `Tᵀ x = b`) for the lower (unit diagonal) or upper triangle of `t` (dtrsv).
    public static func solveTriangular(_ t: Matrix, _ b: [Double], lower: Bool, transposed: Bool) -> [Double] {
        var x = b
        let n = t.rows
        guard n > 0, t.columns == n, b.count == n else { return x }
        t.elements.withUnsafeBufferPointer { tp in
            x.withUnsafeMutableBufferPointer { xp in
                cblas_dtrsv(CblasColMajor, lower ? CblasLower : CblasUpper, transposed ? CblasTrans : CblasNoTrans,
                            lower ? CblasUnit : CblasNonUnit, blas(n), tp.baseAddress, blas(n), xp.baseAddress, 1)
            }
        }
        return x
    }

    /// Upper Cholesky factor R with `A = RᵀR` (dpotrf); the strict lower triangle is zeroed.
    public static func cholesky(_ a: Matrix) throws -> Matrix {
        precondition(a.rows == a.columns)
        var r = a
        let n = a.rows
        let info = r.elements.withUnsafeMutableBufferPointer { rp in
            LAPACKE_dpotrf(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), lapack(n), rp.baseAddress, lapack(max(1, n)))
        }
        guard info == 0 else { throw Failure(routine: "dpotrf", info: Int(info)) }
        for j in 0..<n { for i in (j + 1)..<max(n, j + 1) { r[i, j] = 0 } }
        return r
    }

    /// Solves `RᵀR x = b` given the upper Cholesky factor R (dpotrs).
    public static func solveCholesky(_ r: Matrix, _ b: [Double]) throws -> [Double] {
        let n = r.rows
        precondition(b.count == n)
        guard n > 0 else { return [] }
        var x = b
        let info = r.elements.withUnsafeBufferPointer { rp in
            x.withUnsafeMutableBufferPointer { xp in
                LAPACKE_dpotrs(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), lapack(n), 1, rp.baseAddress, lapack(n),
                               xp.baseAddress, lapack(n))
            }
        }
        guard info == 0 else { throw Failure(routine: "dpotrs", info: Int(info)) }
        return x
    }

    /// `(RᵀR)⁻¹` from the upper Cholesky factor R (dpotri), returned full and symmetric.
    public static func inverseFromCholesky(_ r: Matrix) throws -> Matrix {
        let n = r.rows
        var inv = r
        guard n > 0 else { return inv }
        let info = inv.elements.withUnsafeMutableBufferPointer { ip in
            LAPACKE_dpotri(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), lapack(n), ip.baseAddress, lapack(n))
        }
        guard info == 0 else { throw Failure(routine: "dpotri", info: Int(info)) }
        inv.symmetrizeFromUpper()
        return inv
    }

    /// Overwrites `a` with its Householder QR (dgeqrf): R in the upper triangle, the reflectors below it.
    static func householderQR(_ a: inout Matrix) throws {
        let m = a.rows, n = a.columns
        guard m > 0, n > 0 else { return }
        var tau = [Double](repeating: 0, count: min(m, n))
        let info = a.elements.withUnsafeMutableBufferPointer { ap in
            tau.withUnsafeMutableBufferPointer { tp in
                LAPACKE_dgeqrf(LAPACK_COL_MAJOR, lapack(m), lapack(n), ap.baseAddress, lapack(m), tp.baseAddress)
            }
        }
        guard info == 0 else { throw Failure(routine: "dgeqrf", info: Int(info)) }
    }

    /// Estimate of the reciprocal 1-norm condition number of an upper triangular matrix (dtrcon).
    static func reciprocalCondition(upperTriangular r: Matrix) throws -> Double {
        let n = r.rows
        guard n > 0 else { return 1 }
        var rcond = 0.0
        let info = r.elements.withUnsafeBufferPointer { rp in
            LAPACKE_dtrcon(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "1")), CChar(UInt8(ascii: "U")), CChar(UInt8(ascii: "N")),
                           lapack(n), rp.baseAddress, lapack(n), &rcond)
        }
        guard info == 0 else { throw Failure(routine: "dtrcon", info: Int(info)) }
        return rcond
    }

    /// Solves `Rᵀ v = g` for the leading k×k block of an upper triangular R (dtrtrs).
    static func solveTransposedTriangular(_ r: Matrix, order k: Int, _ g: [Double]) throws -> [Double] {
        guard k > 0 else { return [] }
        var v = g
        let info = r.elements.withUnsafeBufferPointer { rp in
            v.withUnsafeMutableBufferPointer { vp in
                LAPACKE_dtrtrs(LAPACK_COL_MAJOR, CChar(UInt8(ascii: "U")), CChar(UInt8(ascii: "T")), CChar(UInt8(ascii: "N")),
                               lapack(k), 1, rp.baseAddress, lapack(max(1, r.rows)), vp.baseAddress, lapack(k))
            }
        }
        guard info == 0 else { throw Failure(routine: "dtrtrs", info: Int(info)) }
        return v
    }

    @inline(__always) private static func blas(_ n: Int) -> blasint { blasint(truncatingIfNeeded: n) }
    @inline(__always) private static func lapack(_ n: Int) -> Int32 { Int32(truncatingIfNeeded: n) }
}
