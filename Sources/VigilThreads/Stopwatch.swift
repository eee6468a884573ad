import Foundation

/// Seconds on the monotonic clock between laps: what `--timings`, the benchmarks and the trace writer's speed
/// test measure with, written once.
public struct Stopwatch: Sendable {
    private var last = ContinuousClock.now

    public init() {}

    /// Seconds since the last lap (or the start), and a new lap from now.
    public mutating func lap() -> Double {
        let now = ContinuousClock.now
        defer { last = now }
        return Self.seconds(now - last)
    }

    /// Seconds since the last lap (or the start).
    public var elapsed: Double { Self.seconds(ContinuousClock.now - last) }

    private static func seconds(_ d: Duration) -> Double {
        Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
}
