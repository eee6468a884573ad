import Dispatch
import Foundation

/// Every thread and parallel map of vigil lives in this module: closures that cross threads are
/// `@Sendable`, results come back as values, and the few unchecked types below state their invariant.
public enum Parallel {
    /// `body` over every item on all cores; the results in item order.
    public static func map<T: Sendable, R: Sendable>(_ items: [T], _ body: @Sendable (T) -> R) -> [R] {
        if items.count == 1 { return [body(items[0])] }
        let results = Slots<R>(count: items.count)
        DispatchQueue.concurrentPerform(iterations: items.count) { k in
            results.set(k, body(items[k]))
        }
        return results.values
    }

    /// `body(i)` for every i in 0..<count, on all cores in chunks of `chunk`; the results in order.
    public static func map<R: Sendable>(count: Int, chunk: Int, _ body: @Sendable (Int) -> R) -> [R] {
        let chunks = stride(from: 0, to: count, by: max(1, chunk)).map { $0..<min(count, $0 + max(1, chunk)) }
        return map(chunks) { $0.map(body) }.flatMap { $0 }
    }

    /// Runs `body` on a thread of its own while `meanwhile` runs on this one; returns `body`'s result once
    /// both are done. A plain thread, not a dispatch worker: `concurrentPerform` on a dispatch worker got
    /// one core of two, while from a thread of its own it gets them all.
    public static func alongside<R: Sendable>(_ body: @escaping @Sendable () -> R, meanwhile: () -> Void) -> R {
        let box = ResultBox<R>()
        let started = Thread.start(stackSize: 8 << 20) { box.value = body() }
        meanwhile()
        guard let started else { return body() }
        started.join()
        // The thread wrote the box before it ended, and join orders that write before this read.
        guard let value = box.value else { return body() }
        return value
    }

    /// Windows made and taken in order: `make(w + 1)` runs on a thread of its own (and from there on all
    /// cores) while this thread takes window w with `consume`, so memory holds two windows' results. The last
    /// window (a small job's only one) is taken here, with no thread started for it.
    public static func pipeline<R: Sendable>(windows: Int, make: @escaping @Sendable (Int) -> R, consume: (Int, R) -> Void) {
        guard windows > 0 else { return }
        var current = make(0)
        for w in 0..<windows {
            let taking = current
            guard w + 1 < windows else { consume(w, taking); break }
            current = alongside({ make(w + 1) }, meanwhile: { consume(w, taking) })
        }
    }

    /// A long-lived thread running `body` (the ingest loop, the checkpoint loop, a file's reader).
    public static func thread(named name: String, stackSize: Int = 8 << 20, _ body: @escaping @Sendable () -> Void) {
        let thread = Foundation.Thread(block: body)
        thread.name = name
        thread.stackSize = stackSize
        thread.start()
    }

    /// Frees `value` on another thread: freeing a large block of records took the consuming thread's time.
    public static func release<T: Sendable>(_ value: consuming T) {
        let kept = value
        DispatchQueue.global().async { withExtendedLifetime(kept) {} }
    }
}

/// Buffers that parallel tasks fill in place, each task its own rows (a file's parts into shared columns).
// @unchecked: no row of a buffer is written by two tasks (the caller gives each task rows of its own), and
// the buffers are read only after the `Parallel.map` running the tasks has returned.
public struct DisjointRows<T>: @unchecked Sendable {
    public let buffers: [UnsafeMutableBufferPointer<T>]
    public init(_ buffers: [UnsafeMutableBufferPointer<T>]) { self.buffers = buffers }
}

/// Tasks that run on the shared pool; `wait` returns when all of them have.
public final class WorkGroup: Sendable {
    private let group = DispatchGroup()

    public init() {}

    public func run(_ body: @escaping @Sendable () -> Void) {
        DispatchQueue.global().async(group: group, execute: body)
    }

    public func wait() { group.wait() }
}

/// One value handed from one thread to another: `take` waits until `put` has given it.
public final class Handoff<T: Sendable>: @unchecked Sendable {
    // `value` is read and written only with `condition` locked.
    private let condition = NSCondition()
    private var value: T?

    public init() {}

    public func put(_ x: T) {
        condition.lock()
        value = x
        condition.broadcast()
        condition.unlock()
    }

    public func take() -> T {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let value { return value }
            condition.wait()
        }
    }
}

/// Per-item results written once each from worker threads.
private final class Slots<T>: @unchecked Sendable {
    // `items` is touched only with `lock` held.
    private let lock = NSLock()
    private var items: [T?]

    init(count: Int) { items = Array(repeating: nil, count: count) }

    func set(_ i: Int, _ value: T) {
        lock.lock()
        items[i] = value
        lock.unlock()
    }

    /// Read after every `set` (concurrentPerform returns once all iterations have): each slot is filled.
    var values: [T] {
        lock.lock()
        defer { lock.unlock() }
        return items.compactMap { $0 }
    }
}

/// A result written by one thread before it ends and read after it was joined.
// @unchecked: written once by the thread before it ends, read only after `pthread_join`.
private final class ResultBox<T>: @unchecked Sendable {
    var value: T?
}

/// A joinable POSIX thread (Foundation's `Thread` cannot be joined).
private struct Thread {
    private let handle: pthread_t

    static func start(stackSize: Int, _ body: @escaping @Sendable () -> Void) -> Thread? {
        let context = Unmanaged.passRetained(Body(body))
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        var handle = pthread_t()
        let status = pthread_create(&handle, &attributes, { raw in
            guard let raw else { return nil }
            let body = Unmanaged<Body>.fromOpaque(raw).takeRetainedValue()
            body.run()
            return nil
        }, context.toOpaque())
        guard status == 0 else {
            context.release()
            return nil
        }
        return Thread(handle: handle)
    }

    func join() { pthread_join(handle, nil) }

    private final class Body: Sendable {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }
}
