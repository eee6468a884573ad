import VigilThreads

/// Row ranges that passes over large data sets are split into. The segments depend on the number of rows
/// only, not on the cores, and their partial sums are added in segment order, so a fit gives the same bits
/// on any machine.
struct RowSegments: Sendable {
    static let defaultSize = 1 << 16
    let ranges: [Range<Int>]

    /// Equal segments of at most `size` rows, an even number of them when there are several: with segments
    /// of `size` and a short last one, 144,000 rows kept one of two cores busy 20% longer than the other.
    init(count: Int, size: Int = RowSegments.defaultSize) {
        let pieces = max(1, (count + size - 1) / max(1, size))
        let segments = pieces > 1 && pieces % 2 == 1 ? pieces + 1 : pieces
        let length = max(1, (count + segments - 1) / segments)
        ranges = stride(from: 0, to: count, by: length).map { $0..<min(count, $0 + length) }
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
