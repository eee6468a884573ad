import Foundation
import VigilThreads

/// Reads a record file on other threads and hands its rows over in blocks, in file order, so that parsing
/// runs beside the engine taking what was parsed before. A CSV file is cut into parts of about 2 MiB at
/// record boundaries and the parts are parsed on all cores; an NDJSON file is read by one thread. At most
/// `capacity` blocks are parsed ahead, so memory stays bounded whatever the file's size.
public final class ReadAhead: @unchecked Sendable {
    // State is shared between the reading threads and the consumer under `condition`.
    public enum Row: Sendable {
        case record(Record)
        /// Boxed: rejections are rare, and inline they made every row eight times a record's reference.
        indirect case rejected(RowError)
    }

    public static let blockSize = 4096
    private let capacity: Int
    private let partSize: Int
    private let condition = NSCondition()
    private var parsed: [Int: [Row]] = [:]
    private var issued = 0
    private var taken = 0
    private var finished = false
    private var cancelled = false
    private var failure: (any Error)?

    /// Starts reading `path` at once; a CSV file in parts of `partSize` bytes or a little more.
    public init(reader: RecordReader, path: String, capacity: Int = 8, partSize: Int = 1 << 21) {
        self.capacity = capacity
        self.partSize = partSize
        Parallel.thread(named: "vigil-read") { [self] in
            do {
                // A pivoted file is read whole, in order (its records gather rows from anywhere in it); a wide
                // one row by row, in order.
                if RecordFormat(path: path) == .csv && reader.mapping.pivot == nil && reader.mapping.wide == nil {
                    try readParts(reader, path)
                } else {
                    try readSequentially(reader, path)
                }
                finish(nil)
            } catch {
                finish(error)
            }
        }
    }

    /// The next block of rows, nil after the last; throws what stopped the file from being read.
    public func next() throws -> [Row]? {
        condition.lock()
        defer { condition.unlock() }
        while parsed[taken] == nil && !(finished && taken == issued) { condition.wait() }
        if let block = parsed.removeValue(forKey: taken) {
            taken += 1
            condition.broadcast()
            return block
        }
        if let failure { throw failure }
        return nil
    }

    /// Lets a taken block go on another thread: the engine keeps the records' numbers, not them, and freeing
    /// them would hold up the consuming thread, the bottleneck while reading.
    public static func discard(_ block: consuming [Row]) {
        Parallel.release(block)
    }

    /// Stops handing over rows (the reading threads drop the rest of the file).
    public func cancel() {
        condition.lock()
        cancelled = true
        parsed.removeAll()
        condition.broadcast()
        condition.unlock()
    }

    /// A number for the next block, once fewer than `capacity` wait; nil when cancelled.
    private func reserve() -> Int? {
        condition.lock()
        defer { condition.unlock() }
        while issued - taken >= capacity && !cancelled { condition.wait() }
        if cancelled { return nil }
        issued += 1
        return issued - 1
    }

    private func put(_ index: Int, _ block: [Row]) {
        condition.lock()
        if !cancelled { parsed[index] = block }
        condition.broadcast()
        condition.unlock()
    }

    private func finish(_ error: (any Error)?) {
        condition.lock()
        finished = true
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    private func readSequentially(_ reader: RecordReader, _ path: String) throws {
        var block: [Row] = []
        block.reserveCapacity(Self.blockSize)
        var stopped = false
        func add(_ row: Row) {
            guard !stopped else { return }
            block.append(row)
            if block.count == Self.blockSize {
                guard let index = reserve() else { stopped = true; return }
                put(index, block)
                block.removeAll(keepingCapacity: true)
            }
        }
        try reader.read(path: path, accept: { add(.record($0)) }, reject: { add(.rejected($0)) })
        if !block.isEmpty && !stopped, let index = reserve() { put(index, block) }
    }

    /// Cuts a CSV file into parts at record boundaries and parses them on all cores: the header is read
    /// here, each part then by a worker with its first line number.
    private func readParts(_ reader: RecordReader, _ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw RowError(source: path, line: 0, field: nil, reason: "cannot open the file (missing or not readable)")
        }
        defer { try? handle.close() }
        let source = (path as NSString).lastPathComponent
        var layout: Layout? = nil
        var pending: [UInt8] = []
        var line = 1
        var cutter = RecordCutter()
        let workers = WorkGroup()
        defer { workers.wait() }
        func dispatch(_ part: [UInt8], firstLine: Int, lines: Int) -> Bool {
            guard let index = reserve() else { return false }
            var csv: CSVReader
            if let layout {
                // Its own copy of the name (every record's origin holds it): `independentCopy`.
                csv = CSVReader(source: source.independentCopy, part: part, firstLine: firstLine)
                parse(index, reader, &csv, layout, lines, workers)
            } else {
                csv = CSVReader(source: source, contents: part)
                switch reader.csvLayout(reader: &csv) {
                case let .success(l):
                    layout = l
                    parse(index, reader, &csv, l, lines, workers)
                case let .failure(error):
                    put(index, [.rejected(error)])
                    return false
                }
            }
            return true
        }
        // Each part is read straight into its own array after the previous part's unfinished record: the
        // bytes are copied once (by the kernel), not through a `Data` and two more arrays.
        let fd = handle.fileDescriptor
        while true {
            let scanned = pending.count
            var got = 0
            var failure: Int32 = 0
            var part = [UInt8](unsafeUninitializedCapacity: scanned + partSize) { buffer, initialized in
                guard let base = buffer.baseAddress else { initialized = 0; return }
                pending.withUnsafeBufferPointer { if let from = $0.baseAddress { base.update(from: from, count: scanned) } }
                while got < partSize {
                    let n = read(fd, base + scanned + got, partSize - got)
                    if n > 0 { got += n } else if n == 0 { break } else if errno != EINTR { failure = errno; break }
                }
                initialized = scanned + got
            }
            if failure != 0 {
                throw RowError(source: path, line: line, field: nil, reason: "cannot read the file: \(String(cString: strerror(failure)))")
            }
            if got == 0 { break }
            guard let cut = cutter.cut(part, from: scanned) else {
                pending = part
                continue
            }
            pending = Array(part[cut.end...])
            part.removeSubrange(cut.end...)
            guard dispatch(part, firstLine: line, lines: cut.lines) else { return }
            line += cut.lines
        }
        if !pending.isEmpty || layout == nil { _ = dispatch(pending, firstLine: line, lines: 0) }
    }

    private func parse(_ index: Int, _ reader: RecordReader, _ csv: inout CSVReader, _ layout: Layout, _ lines: Int,
                       _ group: WorkGroup) {
        let start = csv
        let layout = layout.independentCopy()
        group.run { [self] in
            var csv = start
            put(index, reader.rows(&csv, layout: layout, lines: lines))
        }
    }
}

/// Finds where a CSV text can be cut between records: after a line feed that is not inside a quoted
/// field, following the same grammar as `CSVReader` (a quote opens a quoted field only at a field's start).
struct RecordCutter {
    private enum State { case fieldStart, plain, quoted, quoteInQuoted }
    private var state = State.fieldStart
    private var lines = 0
    private var lastCut: (end: Int, lines: Int)?

    /// Scans `bytes` from `start` (the bytes before were scanned by earlier calls) and returns the last
    /// cut: its end (after the line feed) and the line feeds before it; the state restarts there.
    mutating func cut(_ bytes: [UInt8], from start: Int) -> (end: Int, lines: Int)? {
        bytes.withUnsafeBufferPointer { cut($0, from: start) }
    }

    mutating func cut(_ p: UnsafeBufferPointer<UInt8>, from start: Int) -> (end: Int, lines: Int)? {
        scan(p, from: start)
        guard let cut = lastCut else { return nil }
        // What follows the cut was scanned already: keep its state and count its lines again from zero.
        lines -= cut.lines
        lastCut = nil
        return cut
    }

    private mutating func scan(_ p: UnsafeBufferPointer<UInt8>, from start: Int) {
        let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n")
        guard start < p.count, let base = p.baseAddress else { return }
        if state == .fieldStart || state == .plain, memchr(base + start, Int32(quote), p.count - start) == nil {
            // No quote in the new bytes (most feeds have none): every line feed ends a record, counted
            // eight bytes at a time instead of stepping the quote states byte by byte.
            let count = CSVColumns.lineFeeds(UnsafeBufferPointer(rebasing: p[start...]))
            lines += count
            if count > 0 {
                var last = p.count - 1
                while p[last] != lf { last -= 1 }
                lastCut = (last + 1, lines)
            }
            state = p[p.count - 1] == comma || p[p.count - 1] == lf ? .fieldStart : .plain
            return
        }
        for i in start..<p.count {
            let b = p[i]
            if b == lf { lines += 1 }
            switch state {
            case .quoted:
                if b == quote { state = .quoteInQuoted }
            case .quoteInQuoted:
                if b == quote { state = .quoted } else if b == comma { state = .fieldStart } else if b == lf { state = .fieldStart; lastCut = (i + 1, lines) } else { state = .plain }
            case .fieldStart, .plain:
                if b == comma { state = .fieldStart } else if b == lf { state = .fieldStart; lastCut = (i + 1, lines) } else if b == quote && state == .fieldStart { state = .quoted } else { state = .plain }
            }
        }
    }
}
