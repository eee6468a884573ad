import Foundation

/// Reads a record file on its own thread and hands its rows over in blocks, so that parsing one part of a
/// file runs beside the engine taking the part before it. At most `capacity` blocks wait, so memory stays
/// bounded whatever the file's size; rows come out in file order.
public final class ReadAhead: @unchecked Sendable {
    // State is shared between the reading thread and the consumer under `condition`.
    public enum Row: Sendable {
        case record(Record)
        case rejected(RowError)
    }

    public static let blockSize = 4096
    private let capacity: Int
    private let condition = NSCondition()
    private var blocks: [[Row]] = []
    private var finished = false
    private var cancelled = false
    private var failure: (any Error)?

    /// Starts reading `path` at once.
    public init(reader: RecordReader, path: String, capacity: Int = 8) {
        self.capacity = capacity
        let thread = Thread { [self] in
            var block: [Row] = []
            block.reserveCapacity(Self.blockSize)
            func add(_ row: Row) {
                block.append(row)
                if block.count == Self.blockSize {
                    hand(block)
                    block.removeAll(keepingCapacity: true)
                }
            }
            do {
                try reader.read(path: path, accept: { add(.record($0)) }, reject: { add(.rejected($0)) })
                if !block.isEmpty { hand(block) }
                finish(nil)
            } catch {
                finish(error)
            }
        }
        thread.name = "vigil-read"
        thread.start()
    }

    /// The next block of rows, nil after the last; throws what stopped the file from being read.
    public func next() throws -> [Row]? {
        condition.lock()
        defer { condition.unlock() }
        while blocks.isEmpty && !finished { condition.wait() }
        if !blocks.isEmpty {
            condition.broadcast()
            return blocks.removeFirst()
        }
        if let failure { throw failure }
        return nil
    }

    /// Stops handing over rows (the reading thread drops the rest of the file).
    public func cancel() {
        condition.lock()
        cancelled = true
        blocks.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    private func hand(_ block: [Row]) {
        condition.lock()
        defer { condition.unlock() }
        while blocks.count >= capacity && !cancelled { condition.wait() }
        if cancelled { return }
        blocks.append(block)
        condition.broadcast()
    }

    private func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }
}
