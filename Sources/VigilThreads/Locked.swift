import Foundation

/// A value shared between threads, read and written only inside `withLock`. A pthread mutex (`NSLock`), not
/// the standard library's `Mutex`: on Linux that one waits on a raw futex, whose ordering ThreadSanitizer
/// cannot see, so correctly locked writes were reported as races.
// @unchecked: `value` is touched only with `lock` held.
public final class Locked<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    public init(_ value: Value) { self.value = value }

    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
