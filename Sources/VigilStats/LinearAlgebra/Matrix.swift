/// A dense matrix of `Double`s stored column by column, the layout BLAS and LAPACK expect.
public struct Matrix: Sendable, Equatable {
    public let rows: Int
    public let columns: Int
    /// Column-major: element (i, j) is `elements[i + j * rows]`.
    public var elements: [Double]

    public init(rows: Int, columns: Int, repeating value: Double = 0) {
        precondition(rows >= 0 && columns >= 0, "matrix dimensions must be >= 0")
        self.rows = rows
        self.columns = columns
        self.elements = Array(repeating: value, count: rows * columns)
    }

    public init(rows: Int, columns: Int, columnMajor elements: [Double]) {
        precondition(elements.count == rows * columns, "element count must be rows × columns")
        self.rows = rows
        self.columns = columns
        self.elements = elements
    }

    /// Builds a matrix from rows written as they read on paper.
    public init(_ rowArrays: [[Double]]) {
        let r = rowArrays.count
        let c = rowArrays.first?.count ?? 0
        self.init(rows: r, columns: c)
        for i in 0..<r {
            precondition(rowArrays[i].count == c, "all rows must have the same length")
            for j in 0..<c { self[i, j] = rowArrays[i][j] }
        }
    }

    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m[i, i] = 1 }
        return m
    }

    public subscript(row: Int, column: Int) -> Double {
        get { elements[row + column * rows] }
        set { elements[row + column * rows] = newValue }
    }

    /// The diagonal of a square matrix.
    public var diagonal: [Double] {
        (0..<min(rows, columns)).map { self[$0, $0] }
    }

    /// Copies the upper triangle into the lower one (BLAS `dsyrk` and LAPACK `dpotri` fill one half).
    public mutating func symmetrizeFromUpper() {
        precondition(rows == columns)
        for j in 0..<columns {
            for i in (j + 1)..<max(rows, j + 1) { self[i, j] = self[j, i] }
        }
    }

    /// The square submatrix on the given row/column indices.
    public func submatrix(_ indices: [Int]) -> Matrix {
        var s = Matrix(rows: indices.count, columns: indices.count)
        for (b, j) in indices.enumerated() {
            for (a, i) in indices.enumerated() { s[a, b] = self[i, j] }
        }
        return s
    }
}
