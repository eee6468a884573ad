import VigilThreads

/// Row ranges of a fixed size that passes over large data sets are split into. The segments do not
/// depend on the number of cores, and their partial sums are added in segment order, so a fit gives the
/// same bits on any machine.
struct RowSegments: Sendable {
    static let defaultSize = 1 << 16
    let ranges: [Range<Int>]

    init(count: Int, size: Int = RowSegments.defaultSize) {
        ranges = stride(from: 0, to: count, by: size).map { $0..<min(count, $0 + size) }
    }

    /// `body(segment index, rows)` for every segment, on all cores; the results in segment order.
    func map<T: Sendable>(_ body: @Sendable (Int, Range<Int>) -> T) -> [T] {
        let ranges = self.ranges
        return Parallel.map(Array(ranges.indices)) { body($0, ranges[$0]) }
    }

    /// Σ of `body(segment, rows)` over segments, computed in parallel and added in segment order.
    func sum(_ body: @Sendable (Int, Range<Int>) -> Double) -> Double {
        map(body).reduce(0, +)
    }
}

/// A vector of per-row values held as one array per segment, so threads fill their own parts.
public struct SegmentedVector: Sendable {
    public internal(set) var parts: [[Double]]

    public var flattened: [Double] { parts.flatMap { $0 } }

    public func contains(where predicate: (Double) -> Bool) -> Bool {
        parts.contains { $0.contains(where: predicate) }
    }
}
