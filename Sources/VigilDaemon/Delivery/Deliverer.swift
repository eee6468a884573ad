import Foundation
import Logging
import Metrics
import ServiceLifecycle
import VigilCore
import VigilThreads

/// Delivers the outbox (SPEC §3): one worker per sink takes that sink's oldest pending event, tries it, and
/// records the outcome before it takes the next, so each sink sees its events in commit order. A failed try
/// waits an exponential backoff with jitter (or the receiver's Retry-After) and is tried again; after the
/// sink's retry budget, or a refusal, the event is parked as dead — counted, logged, and listed and
/// redelivered by `vigil deliveries`.
final class Deliverer: Service {
    let store: StateStore
    let sinks: [any AlertSink]
    let logger: Logger
    private let wakeups: [String: Wakeup]

    init(store: StateStore, sinks: [any AlertSink], logger: Logger) {
        self.store = store
        self.sinks = sinks
        self.logger = logger
        var wakeups: [String: Wakeup] = [:]
        for sink in sinks { wakeups[sink.name] = Wakeup() }
        self.wakeups = wakeups
    }

    /// New events were committed.
    func wake() { for w in wakeups.values { w.signal() } }

    func reopen() async { for sink in sinks { await sink.reopen() } }

    func run() async throws {
        // Graceful shutdown lets the attempts under way finish; cancellation (another service failed) too.
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withTaskGroup(of: Void.self) { group in
                    for sink in sinks {
                        group.addTask { await self.work(sink, wakeup: self.wakeups[sink.name]!) }
                    }
                }
            } onGracefulShutdown: {
                for w in self.wakeups.values { w.stop() }
            }
        } onCancel: {
            for w in self.wakeups.values { w.stop() }
        }
    }

    /// The delay before try `attempt + 1` (attempt ≥ 1): initial · 2^(attempt−1), at most the maximum, with
    /// "equal jitter" (half fixed, half random) so that many sinks failing together do not retry in step.
    static func backoff(attempt: Int, retry: DaemonConfig.Retry, random: Double = Double.random(in: 0..<1)) -> Double {
        let exponential = min(retry.maxBackoff, retry.initialBackoff * pow(2, Double(min(attempt - 1, 60))))
        return exponential / 2 + exponential / 2 * random
    }

    private func work(_ sink: any AlertSink, wakeup: Wakeup) async {
        let outcomes = ["delivered", "retry", "dead"].reduce(into: [String: Counter]()) {
            $0[$1] = Counter(label: "vigil_deliveries_total", dimensions: [("sink", sink.name), ("outcome", $1)])
        }
        let depth = Gauge(label: "vigil_outbox_depth", dimensions: [("sink", sink.name)])
        var depthRead = Date.distantPast
        while !wakeup.stopped {
            let entry: OutboxEntry?
            do {
                entry = try store.nextPending(sink: sink.name)
                // A count query per delivery would double the reads of a busy sink: the gauge is read at
                // most once a second, and at once when the queue runs empty.
                if entry == nil || Date().timeIntervalSince(depthRead) >= 1 {
                    depth.record(entry == nil ? 0 : try store.pendingCount(sink: sink.name))
                    depthRead = Date()
                }
            } catch {
                logger.error("outbox read failed", metadata: ["sink": "\(sink.name)", "error": "\(error)"])
                await wakeup.wait(seconds: 1)
                continue
            }
            guard let entry else {
                // Idle: a commit wakes the worker; the poll picks up `vigil deliveries --redeliver` from outside.
                await wakeup.wait(seconds: 1)
                continue
            }
            let due = entry.nextAt.timeIntervalSinceNow
            if due > 0 {
                await wakeup.wait(seconds: min(due, 1))
                continue
            }
            let outcome = await sink.deliver(entry)
            let attempts = entry.attempts + 1
            do {
                switch outcome {
                case .delivered:
                    try store.markDelivered(entry.seq, attempts: attempts, now: Date())
                    outcomes["delivered"]!.increment()
                    logger.info("delivered", metadata: ["sink": "\(sink.name)", "event": "\(entry.eventID)", "attempts": "\(attempts)"])
                case let .retry(reason, after) where attempts < sink.retry.maxAttempts:
                    let delay = max(after ?? 0, Self.backoff(attempt: attempts, retry: sink.retry))
                    try store.markRetry(entry.seq, attempts: attempts, nextAt: Date().addingTimeInterval(delay), error: reason)
                    outcomes["retry"]!.increment()
                    logger.warning("delivery failed, will retry", metadata: [
                        "sink": "\(sink.name)", "event": "\(entry.eventID)", "attempt": "\(attempts)",
                        "retry_in_s": "\(String(format: "%.1f", delay))", "reason": "\(reason)",
                    ])
                case let .retry(reason, _), let .refused(reason):
                    try store.markDead(entry.seq, attempts: attempts, error: reason)
                    outcomes["dead"]!.increment()
                    logger.error("delivery dead", metadata: [
                        "sink": "\(sink.name)", "event": "\(entry.eventID)", "attempts": "\(attempts)", "reason": "\(reason)",
                    ])
                }
            } catch {
                logger.error("outbox write failed", metadata: ["sink": "\(sink.name)", "error": "\(error)"])
                await wakeup.wait(seconds: 1)
            }
        }
    }
}

/// Wakes one waiting task: `signal` before `wait` is remembered, `wait` returns at the latest after its
/// timeout, and `stop` wakes it for good.
final class Wakeup: Sendable {
    private struct State {
        var signalled = false
        var stopped = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Locked(State())

    var stopped: Bool { state.withLock { $0.stopped } }

    func signal() {
        let waiter = state.withLock { s -> CheckedContinuation<Void, Never>? in
            defer { s.waiter = nil }
            if s.waiter == nil { s.signalled = true }
            return s.waiter
        }
        waiter?.resume()
    }

    func stop() {
        state.withLock { $0.stopped = true }
        signal()
    }

    func wait(seconds: Double) async {
        let timer = Task { [weak self] in
            try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            if !Task.isCancelled { self?.signal() }
        }
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let now = state.withLock { s -> Bool in
                if s.signalled || s.stopped { s.signalled = false; return true }
                s.waiter = c
                return false
            }
            if now { c.resume() }
        }
        timer.cancel()
    }
}
