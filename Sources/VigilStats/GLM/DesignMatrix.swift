/// A model matrix held as its columns (numbers and factor codes), never as n × p doubles: IRLS asks it
/// for one block of rows at a time, so memory stays at block size × p whatever n is.
public struct DesignMatrix: Sendable {
    public enum Column: Sendable {
        case intercept
        case numeric([Double])
        /// 1 where `codes[i] == level`, else 0 (dummy coding against a reference level).
        case indicator(codes: [Int32], level: Int32)
    }

    /// A covariate as read: numbers, or the levels of a categorical variable.
    public enum Covariate: Sendable {
        case numeric(name: String, values: [Double])
        /// `reference` defaults to the first level in byte order.
        case categorical(name: String, values: [String], reference: String?)
    }

    public enum BuildError: Error, Equatable, CustomStringConvertible {
        case singleLevel(covariate: String, level: String)
        case unknownReference(covariate: String, reference: String, levels: [String])
        case lengthMismatch(covariate: String, expected: Int, found: Int)

        public var description: String {
            switch self {
            case let .singleLevel(c, level):
                return "covariate \(c) has one level only (\"\(level)\"): it cannot be estimated; drop it"
            case let .unknownReference(c, r, levels):
                return "covariate \(c): reference level \"\(r)\" is not among its levels \(levels)"
            case let .lengthMismatch(c, e, f):
                return "covariate \(c) has \(f) values, expected \(e)"
            }
        }
    }

    public let names: [String]
    public let columns: [Column]
    public let rowCount: Int

    public var columnCount: Int { columns.count }
    public var hasIntercept: Bool {
        if case .intercept = columns.first { return true }
        return false
    }

    public init(rowCount: Int, names: [String], columns: [Column]) {
        precondition(names.count == columns.count)
        self.rowCount = rowCount
        self.names = names
        self.columns = columns
    }

    /// Intercept first, then each covariate: numeric as is, categorical as one indicator per non-reference
    /// level named `column[level]` (SPEC §2), levels in byte order.
    public init(rowCount: Int, intercept: Bool = true, covariates: [Covariate]) throws {
        var names: [String] = []
        var columns: [Column] = []
        if intercept {
            names.append("intercept")
            columns.append(.intercept)
        }
        for covariate in covariates {
            switch covariate {
            case let .numeric(name, values):
                guard values.count == rowCount else {
                    throw BuildError.lengthMismatch(covariate: name, expected: rowCount, found: values.count)
                }
                names.append(name)
                columns.append(.numeric(values))
            case let .categorical(name, values, reference):
                guard values.count == rowCount else {
                    throw BuildError.lengthMismatch(covariate: name, expected: rowCount, found: values.count)
                }
                let coding = try CategoricalCoding(name: name, values: values, reference: reference)
                if coding.levels.count == 1 {
                    throw BuildError.singleLevel(covariate: name, level: coding.levels[0])
                }
                for (index, level) in coding.levels.enumerated() where index != coding.referenceIndex {
                    names.append("\(name)[\(level)]")
                    columns.append(.indicator(codes: coding.codes, level: Int32(index)))
                }
            }
        }
        self.init(rowCount: rowCount, names: names, columns: columns)
    }

    /// The same design restricted to its intercept column (for the null deviance with an offset).
    public func interceptOnly() -> DesignMatrix {
        DesignMatrix(rowCount: rowCount, names: ["intercept"], columns: [.intercept])
    }

    /// `body` with a pointer to each numeric column's stored values (nil for the intercept and the indicator
    /// columns, which are not stored as doubles): a kernel reads those rows in place, without a copy.
    public func withStoredColumns<R>(_ body: ([UnsafePointer<Double>?]) throws -> R) rethrows -> R {
        func nest(_ j: Int, _ pointers: [UnsafePointer<Double>?]) throws -> R {
            guard j < columns.count else { return try body(pointers) }
            guard case let .numeric(values) = columns[j] else { return try nest(j + 1, pointers + [nil]) }
            return try values.withUnsafeBufferPointer { v in
                try nest(j + 1, pointers + [values.count == rowCount ? v.baseAddress : nil])
            }
        }
        return try nest(0, [])
    }

    /// Writes rows `range` into the first `range.count` rows and first `columnCount` columns of `block`
    /// (column-major, `block.rows` ≥ count), each row multiplied by `scale[i]` when given (√w for IRLS: the
    /// copy and the weighting in one pass over the block). Columns with a pointer in `stored` (from
    /// `withStoredColumns`) are not written: a kernel reads them in place.
    public func fill(_ block: inout Matrix, rows range: Range<Int>, scaledBy scale: [Double]? = nil,
                     except stored: [UnsafePointer<Double>?] = []) {
        let ld = block.rows
        // IRLS sizes the block and the scale from this design, so these bounds never cut anything.
        let count = max(0, min(range.count, ld, scale?.count ?? ld, rowCount - range.lowerBound))
        let start = range.lowerBound
        let width = min(block.columns, columns.count)
        guard count > 0 else { return }
        // Loops over raw pointers, which the compiler vectorizes (indexing the arrays checks every element).
        block.elements.withUnsafeMutableBufferPointer { out in
            guard let base = out.baseAddress else { return }
            Self.withScale(scale) { s in
                for j in 0..<width where j >= stored.count || stored[j] == nil {
                    let o = base + j * ld
                    switch columns[j] {
                    case .intercept:
                        if let s { for i in 0..<count { o[i] = s[i] } } else { for i in 0..<count { o[i] = 1 } }
                    case let .numeric(values):
                        values.withUnsafeBufferPointer { v in
                            guard let v = v.baseAddress.map({ $0 + start }) else { return }
                            let count = max(0, min(count, values.count - start))
                            if let s { for i in 0..<count { o[i] = v[i] * s[i] } } else { for i in 0..<count { o[i] = v[i] } }
                        }
                    case let .indicator(codes, level):
                        codes.withUnsafeBufferPointer { c in
                            guard let c = c.baseAddress.map({ $0 + start }) else { return }
                            let count = max(0, min(count, codes.count - start))
                            if let s {
                                for i in 0..<count { o[i] = c[i] == level ? s[i] : 0 }
                            } else {
                                for i in 0..<count { o[i] = c[i] == level ? 1 : 0 }
                            }
                        }
                    }
                }
            }
        }
    }

    /// η = Xβ for rows `range` into `eta[0..<range.count]`, straight from the stored columns. Numeric columns
    /// with a pointer in `stored` (from `withStoredColumns`) are summed four to a pass over η: one load and
    /// store of η per four products instead of per one.
    public func linearPredictor(rows range: Range<Int>, coefficients beta: [Double], into eta: inout [Double],
                                stored: [UnsafePointer<Double>?]) {
        // IRLS sizes eta and β from this design, so these bounds never cut anything.
        let count = max(0, min(range.count, eta.count, rowCount - range.lowerBound))
        let start = range.lowerBound
        eta.withUnsafeMutableBufferPointer { out in
            guard let o = out.baseAddress, count > 0 else { return }
            for i in 0..<count { o[i] = 0 }
            var terms: [(values: UnsafePointer<Double>, b: Double)] = []
            for (j, b) in beta.enumerated() where j < stored.count && j < columns.count {
                if let values = stored[j] { terms.append((values + start, b)) }
            }
            var t = 0
            while t + 4 <= terms.count {
                let (v0, b0) = terms[t], (v1, b1) = terms[t + 1], (v2, b2) = terms[t + 2], (v3, b3) = terms[t + 3]
                for i in 0..<count { o[i] += (v0[i] * b0 + v1[i] * b1) + (v2[i] * b2 + v3[i] * b3) }
                t += 4
            }
            for (v, b) in terms[t...] {
                for i in 0..<count { o[i] += v[i] * b }
            }
            for (j, (column, b)) in zip(columns, beta).enumerated() where j >= stored.count || stored[j] == nil {
                switch column {
                case .intercept:
                    for i in 0..<count { o[i] += b }
                case let .numeric(values):
                    values.withUnsafeBufferPointer { v in
                        guard let v = v.baseAddress.map({ $0 + start }) else { return }
                        for i in 0..<max(0, min(count, values.count - start)) { o[i] += v[i] * b }
                    }
                case let .indicator(codes, level):
                    codes.withUnsafeBufferPointer { c in
                        guard let c = c.baseAddress.map({ $0 + start }) else { return }
                        for i in 0..<max(0, min(count, codes.count - start)) { o[i] += c[i] == level ? b : 0 }
                    }
                }
            }
        }
    }

    private static func withScale(_ scale: [Double]?, _ body: (UnsafePointer<Double>?) -> Void) {
        guard let scale else { return body(nil) }
        scale.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}

/// Integer codes of a categorical variable, levels sorted by their UTF-8 bytes.
public struct CategoricalCoding: Sendable {
    public let levels: [String]
    public let codes: [Int32]
    public let referenceIndex: Int

    public init(name: String, values: [String], reference: String?) throws {
        // Codes in order of first appearance (a run of equal values — a facility's months — looked up once),
        // then renumbered by the levels' sorted order.
        var index: [String: Int32] = [:]
        var seen: [String] = []
        var provisional: [Int32] = []
        provisional.reserveCapacity(values.count)
        var last = "", lastCode: Int32 = -1
        for v in values {
            if lastCode < 0 || v != last {
                if let code = index[v] {
                    lastCode = code
                } else {
                    lastCode = Int32(seen.count)
                    index[v] = lastCode
                    seen.append(v)
                }
                last = v
            }
            provisional.append(lastCode)
        }
        let order = seen.indices.sorted { seen[$0].utf8.lexicographicallyPrecedes(seen[$1].utf8) }
        var rank = [Int32](repeating: 0, count: seen.count)
        for (sorted, first) in order.enumerated() { rank[first] = Int32(sorted) }
        let levels = order.map { seen[$0] }
        self.levels = levels
        self.codes = provisional.map { rank[Int($0)] }
        if let reference {
            guard let r = levels.firstIndex(of: reference) else {
                throw DesignMatrix.BuildError.unknownReference(covariate: name, reference: reference, levels: levels)
            }
            self.referenceIndex = r
        } else {
            self.referenceIndex = 0
        }
    }
}
