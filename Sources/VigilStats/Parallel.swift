import Dispatch
import Foundation

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

public enum Parallel {
    /// `body` over every item on all cores; the results in item order.
    public static func map<T: Sendable, R: Sendable>(_ items: [T], _ body: @Sendable (T) -> R) -> [R] {
        if items.count == 1 { return [body(items[0])] }
        let results = Results<R>(count: items.count)
        DispatchQueue.concurrentPerform(iterations: items.count) { k in
            results.set(k, body(items[k]))
        }
        return results.values
    }

    /// `body(i)` for every i in 0..<count, on all cores in chunks of `chunk` (RowSegments); results in order.
    public static func map<R: Sendable>(count: Int, chunk: Int, _ body: @Sendable (Int) -> R) -> [R] {
        RowSegments(count: count, size: chunk).map { _, rows in rows.map(body) }.flatMap { $0 }
    }
}

extension Parallel {
    /// Runs `body` on a thread of its own while `meanwhile` runs on this one; returns when both have.
    /// A plain thread, not a dispatch worker: `concurrentPerform` called from a dispatch worker got one core
    /// of two, so parallel work goes in `meanwhile`.
    public static func alongside(_ body: () -> Void, meanwhile: () -> Void) {
        withoutActuallyEscaping(body) { body in
            let box = Unmanaged.passRetained(ThreadBody(body))
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setstacksize(&attributes, 8 << 20)
            var thread = pthread_t()
            let started = pthread_create(&thread, &attributes, { context in
                Unmanaged<ThreadBody>.fromOpaque(context!).takeUnretainedValue().body()
                return nil
            }, box.toOpaque()) == 0
            pthread_attr_destroy(&attributes)
            if started {
                meanwhile()
                pthread_join(thread, nil)
            } else {
                body()
                meanwhile()
            }
            // The closure is released before `withoutActuallyEscaping` returns, as it requires.
            box.release()
        }
    }
}

private final class ThreadBody {
    let body: () -> Void
    init(_ body: @escaping () -> Void) { self.body = body }
}

/// Per-item results written once each from worker threads.
private final class Results<T>: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [T?]
    init(count: Int) { items = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) {
        lock.lock()
        items[i] = value
        lock.unlock()
    }
    var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items.map { $0! }
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
