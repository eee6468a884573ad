import CKernels
import Foundation
import VigilThreads

/// The columns a command asks for from a whole CSV file, read on all cores: the file is cut into parts at
/// record boundaries (`Input`) and each part is parsed on its own thread — in one pass when it has no quote,
/// carriage return or non-ASCII byte (`readPlain`), by `CSVReader` otherwise. Number columns are read
/// straight from the bytes into doubles, so a million-row design makes no string per cell; text columns
/// keep each cell without its surrounding spaces.
public struct CSVColumns: Sendable {
    public enum Kind: Sendable { case number, text }

    /// A column read as numbers: NaN where a cell is not a finite number, and the first of those cells'
    /// texts (as written) with their rows, for messages and for telling a categorical column.
    public struct Numbers: Sendable {
        public internal(set) var values: [Double] = []
        public internal(set) var exceptions: [(row: Int, text: String)] = []
        public internal(set) var exceptionCount = 0
    }

    public let source: String
    public let header: [String]
    /// The physical line each row starts on.
    public let lines: [Int]
    public let numbers: [String: Numbers]
    public let texts: [String: [String]]

    public var rowCount: Int { lines.count }

    /// Reads `columns` (each must be in the header) from `path`. Every malformed record or wrong field count
    /// is an error naming its line (up to `limit` of them, in file order): `CSVTableError`.
    /// `exceptionLimit`: how many non-number cells of a number column keep their text. Parts are cut at
    /// about `partSize` bytes, so the cuts do not depend on the number of cores.
    public init(path: String, columns: [String: Kind], commentByte: UInt8? = nil, limit: Int = 20,
                exceptionLimit: Int = 20, partSize: Int = 1 << 21) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw CSVTableError(problems: [CSVError(source: path, line: 0, reason: "cannot open the file (missing or not readable)")])
        }
        defer { close(fd) }
        let input = try Input(fd, path: path, commentByte: commentByte, partSize: max(1, partSize))
        let header = input.header
        let wanted = columns.keys.sorted()
        var indices: [Int] = []
        for name in wanted {
            guard let index = header.firstIndex(of: name) else {
                throw CSVTableError(problems: [CSVError(source: path, line: 1, reason: "no column \"\(name)\"")])
            }
            indices.append(index)
        }
        let plan = Plan(source: path, fieldCount: header.count, indices: indices,
                        kinds: wanted.map { columns[$0] ?? .text }, commentByte: commentByte, exceptionLimit: exceptionLimit)
        let parts = input.parts
        // Number columns are parsed straight into their arrays: part p's rows from bases[p] on. A part holds
        // at most one record per line feed (the last part one more, for a last line without one).
        let capacities = parts.indices.map { parts[$0].lineCount + ($0 == parts.count - 1 ? 1 : 0) }
        let ends = capacities.reduce(into: [Int]()) { $0.append(($0.last ?? 0) + $1) }
        let bases = [0] + ends.dropLast(), total = ends.last ?? 0
        var read: [Plan.Result] = []
        let columnValues = Self.columns(plan.kinds.map { $0 == .number ? total : 0 }) { buffers in
            let rows = DisjointRows(buffers)
            _ = Parallel.map(Array(buffers.indices)) { c in prefault(UnsafeMutableRawBufferPointer(rows.buffers[c])) }
            read = Parallel.map(Array(parts.indices)) { p in
                input.withPart(p) { bytes, part in plan.read(bytes, part, into: rows, base: bases[p], capacity: capacities[p]) }
                    ?? Plan.Result(failed: CSVError(source: path, line: parts[p].firstLine,
                                                    reason: "cannot read all of the file (a read failed or came back short)"), columns: plan.indices.count)
            }
            // Parts with fewer records than lines (blank or refused lines) leave gaps, closed here.
            var kept = 0
            for (p, part) in read.enumerated() {
                let count = part.lines.count
                if bases[p] != kept {
                    for buffer in buffers where buffer.count > 0 {
                        guard let base = buffer.baseAddress else { continue }
                        (base + kept).moveInitialize(from: base + bases[p], count: count)   // regions may overlap
                    }
                }
                kept += count
            }
            return kept
        }

        var problems: [CSVError] = []
        for part in read {
            problems += part.problems.prefix(limit - problems.count)
            if problems.count >= limit { break }
        }
        if !problems.isEmpty { throw CSVTableError(problems: problems) }
        var lines: [Int] = []
        lines.reserveCapacity(read.reduce(0) { $0 + $1.lines.count })
        for part in read { lines += part.lines }
        var numbers: [String: Numbers] = [:], texts: [String: [String]] = [:]
        for (c, name) in wanted.enumerated() {
            switch plan.kinds[c] {
            case .number:
                var column = Numbers()
                column.values = columnValues[c]
                var rows = 0
                for part in read {
                    for e in part.exceptions[c] where column.exceptions.count < exceptionLimit {
                        column.exceptions.append((rows + e.row, e.text))
                    }
                    column.exceptionCount += part.exceptionCounts[c]
                    rows += part.lines.count
                }
                numbers[name] = column
            case .text:
                texts[name] = read.flatMap { $0.texts[c] }
            }
        }
        self.source = path
        self.header = header
        self.lines = lines
        self.numbers = numbers
        self.texts = texts
    }

    /// Arrays of `capacities[c]` doubles, given uninitialized to `fill`, which writes them and returns how many
    /// leading values each array keeps.
    private static func columns(_ capacities: [Int], _ fill: ([UnsafeMutableBufferPointer<Double>]) -> Int) -> [[Double]] {
        func build(_ buffers: [UnsafeMutableBufferPointer<Double>]) -> (columns: [[Double]], count: Int) {
            guard buffers.count < capacities.count else { return ([], fill(buffers)) }
            var rest: [[Double]] = [], count = 0
            let column = [Double](filling: capacities[buffers.count]) { buffer, initialized in
                (rest, count) = build(buffers + [buffer])
                initialized = min(count, buffer.count)
            }
            return ([column] + rest, count)
        }
        return build([]).columns
    }

    /// Where the parts' bytes come from. A file with no quote after its header (and no comments) is read twice
    /// by `pread`, in pieces of the part size: once to count its line feeds and cut it, once to parse each part;
    /// no array of the whole file is made (its fresh pages cost more than reading the page cache twice). Any
    /// other file is read whole into one array and cut by `cut`; so is a file whose pieces came back short.
    private struct Input: Sendable {
        let header: [String]
        let parts: [Part]
        private let whole: [UInt8]?
        private let file: Int32

        /// `fd` stays open, and is the caller's, while the parts are read (up to the file's size at the start).
        init(_ fd: Int32, path: String, commentByte: UInt8?, partSize: Int) throws {
            file = fd
            if commentByte == nil, let (header, parts) = try Self.plainParts(fd, path: path, partSize: partSize) {
                (self.header, self.parts, whole) = (header, parts, nil)
                return
            }
            let bytes = try CSVColumns.contents(fd, path: path)
            var reader = CSVReader(source: path, contents: bytes, commentByte: commentByte)
            header = try Self.header(&reader, path: path)
            // A comment line can hold anything, so a file with comments is read as one part.
            parts = commentByte == nil
                ? CSVColumns.cut(bytes, from: reader.consumedBytes, firstLine: reader.nextLine, partSize: partSize)
                : [Part(range: reader.consumedBytes..<bytes.count, firstLine: reader.nextLine,
                        lineCount: bytes.withUnsafeBufferPointer { lineFeeds(UnsafeBufferPointer(rebasing: $0[reader.consumedBytes...])) })]
            whole = bytes
        }

        /// `body` on part p's bytes and the part within them; nil when its bytes could not all be read.
        func withPart<R>(_ p: Int, _ body: ([UInt8], Part) -> R) -> R? {
            let part = parts[p]
            if let whole { return body(whole, part) }
            guard let bytes = Self.read(file, part.range) else { return nil }
            return body(bytes, Part(range: 0..<bytes.count, firstLine: part.firstLine, lineCount: part.lineCount))
        }

        /// The header's names (surrounding spaces trimmed).
        static func header(_ reader: inout CSVReader, path: String) throws -> [String] {
            let head: CSVRecord?
            do { head = try reader.next() } catch let error as CSVError { throw CSVTableError(problems: [error]) }
            guard let head else {
                throw CSVTableError(problems: [CSVError(source: path, line: 1, reason: "the file is empty (no header row)")])
            }
            return head.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        }

        /// The header and the parts of a regular file with no quote after its header, cut after the first line
        /// feed of each piece of `partSize` bytes; nil when the file is not a regular file or has a quote, its
        /// header does not end in its first 64 KiB, or a piece came back short.
        private static func plainParts(_ fd: Int32, path: String, partSize: Int) throws -> ([String], [Part])? {
            // A pipe or device has no size to cut by (and no offsets to read at): it is read whole, to its end.
            var status = stat()
            guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFREG else { return nil }
            let size = max(0, Int(status.st_size))
            guard let head = read(fd, 0..<min(size, 1 << 16)) else { return nil }
            var reader = CSVReader(source: path, contents: head)
            // A header cut off by the 64 KiB fails here but not in the whole file: that file is read whole.
            let header: [String]
            do { header = try Self.header(&reader, path: path) } catch { if head.count == size { throw error } else { return nil } }
            let start = reader.consumedBytes
            guard start < head.count || head.count == size else { return nil }
            struct Piece: Sendable { var feeds = 0, firstFeed: Int? = nil, quoted = false, complete = true }
            let pieces = Parallel.map(Array(stride(from: start, to: size, by: partSize))) { at -> Piece in
                guard let bytes = read(fd, at..<min(size, at + partSize)) else { return Piece(complete: false) }
                return bytes.withUnsafeBufferPointer { p in
                    guard let base = p.baseAddress else { return Piece() }
                    let feed = memchr(base, 10, p.count).map { base.distance(to: $0.assumingMemoryBound(to: UInt8.self)) }
                    return Piece(feeds: lineFeeds(p), firstFeed: feed.map { at + $0 },
                                 quoted: memchr(base, Int32(UInt8(ascii: "\"")), p.count) != nil)
                }
            }
            guard pieces.allSatisfy({ $0.complete && !$0.quoted }) else { return nil }
            // A part ends after the first line feed of each piece but the first (never before the previous part's
            // end, which is inside the piece before); `before` counts the feeds of the pieces ahead.
            var parts: [Part] = []
            let first = reader.nextLine
            var begin = start, line = first, before = 0
            for (j, piece) in pieces.enumerated() {
                if j > 0, let feed = piece.firstFeed {
                    let lines = before + 1 - (line - first)
                    parts.append(Part(range: begin..<(feed + 1), firstLine: line, lineCount: lines))
                    begin = feed + 1
                    line += lines
                }
                before += piece.feeds
            }
            if begin < size || parts.isEmpty {
                parts.append(Part(range: begin..<size, firstLine: line, lineCount: before - (line - first)))
            }
            return (header, parts)
        }

        /// The bytes of `range` of the file; nil when they could not all be read.
        private static func read(_ fd: Int32, _ range: Range<Int>) -> [UInt8]? {
            var complete = false
            let bytes = [UInt8](filling: range.count) { buffer, count in
                complete = buffer.baseAddress.map { readFully(fd, into: $0, range) } ?? range.isEmpty
                count = complete ? range.count : 0
            }
            return complete ? bytes : nil
        }
    }

    /// The file's bytes, read once into one array.
    static func contents(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else {
            throw CSVTableError(problems: [CSVError(source: path, line: 0, reason: "cannot open the file (missing or not readable)")])
        }
        defer { close(fd) }
        return try contents(fd, path: path)
    }

    /// The bytes of the open file `fd` from its start (a pipe's from where it is) to its end, in one array.
    static func contents(_ fd: Int32, path: String) throws -> [UInt8] {
        var status = stat()
        let size = fstat(fd, &status) == 0 ? max(0, Int(status.st_size)) : 0
        var failure: Int32 = 0
        /// Reads into `buffer` until it is full or the file ends; how many bytes it took.
        func fill(_ buffer: UnsafeMutableBufferPointer<UInt8>) -> Int {
            guard let base = buffer.baseAddress else { return 0 }
            var got = 0
            while got < buffer.count {
                let n = read(fd, base + got, buffer.count - got)
                if n > 0 { got += n } else if n == 0 { break } else if errno != EINTR { failure = errno; break }
            }
            return got
        }
        var bytes: [UInt8], grew: Bool
        if size >= 1 << 24, let whole = readInParallel(fd, size: size), lseek(fd, off_t(size), SEEK_SET) == off_t(size) {
            (bytes, grew) = (whole, true)   // whether it grew is found by reading on
        } else {
            bytes = [UInt8](unsafeUninitializedCapacity: size + 1) { buffer, count in count = fill(buffer) }
            grew = bytes.count > size
        }
        // A file that grew after fstat is read on to its end.
        while failure == 0 && grew {
            let more = [UInt8](unsafeUninitializedCapacity: 1 << 20) { buffer, count in count = fill(buffer) }
            if more.isEmpty { break }
            bytes += more
        }
        if failure != 0 {
            throw CSVTableError(problems: [CSVError(source: path, line: 0, reason: "cannot read the file: \(String(cString: strerror(failure)))")])
        }
        return bytes
    }

    /// The first `size` bytes of `fd` read in 8 MiB pieces on all cores (copying a large file out of the page
    /// cache and faulting in its array were a core's work); nil when a piece came back short or failed.
    private static func readInParallel(_ fd: Int32, size: Int) -> [UInt8]? {
        let piece = 1 << 23
        var complete = false
        let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
            let target = DisjointRows([buffer])
            let read = Parallel.map(Array(stride(from: 0, to: size, by: piece))) { start -> Bool in
                guard let base = target.buffers[0].baseAddress else { return false }
                return readFully(fd, into: base + start, start..<min(size, start + piece))
            }
            complete = read.allSatisfy { $0 }
            count = complete ? size : 0
        }
        return complete ? bytes : nil
    }

    /// Reads `range` of the file into `target` by `pread`; false when it came back short or failed.
    private static func readFully(_ fd: Int32, into target: UnsafeMutablePointer<UInt8>, _ range: Range<Int>) -> Bool {
        var done = 0
        while done < range.count {
            let n = pread(fd, target + done, range.count - done, off_t(range.lowerBound + done))
            if n > 0 { done += n } else if n < 0 && errno == EINTR { continue } else { return false }
        }
        return true
    }

    struct Part: Sendable {
        let range: Range<Int>
        let firstLine: Int
        /// Line feeds in the part (outside quotes).
        var lineCount = 0
    }

    /// Parts of about `partSize` bytes from `start`, cut after line feeds outside quoted fields.
    static func cut(_ bytes: [UInt8], from start: Int, firstLine: Int, partSize: Int) -> [Part] {
        let quoted = bytes.withUnsafeBufferPointer { p in
            guard start < p.count, let base = p.baseAddress else { return false }
            return memchr(base + start, Int32(UInt8(ascii: "\"")), p.count - start) != nil
        }
        return quoted ? cutQuoted(bytes, from: start, firstLine: firstLine, partSize: partSize)
            : cutPlain(bytes, from: start, firstLine: firstLine, partSize: partSize)
    }

    /// Without a quote every line feed ends a record: parts end at the first line feed past each `partSize`,
    /// and their line feeds are counted on all cores.
    static func cutPlain(_ bytes: [UInt8], from start: Int, firstLine: Int, partSize: Int) -> [Part] {
        var ranges: [Range<Int>] = []
        bytes.withUnsafeBufferPointer { p in
            var begin = start
            while begin < p.count {
                var end = min(p.count, begin + partSize)
                if end < p.count, let base = p.baseAddress,
                   let feed = memchr(base + end - 1, 10, p.count - end + 1) {
                    end = base.distance(to: feed.assumingMemoryBound(to: UInt8.self)) + 1
                } else {
                    end = p.count
                }
                ranges.append(begin..<end)
                begin = end
            }
        }
        if ranges.isEmpty { ranges = [start..<max(start, bytes.count)] }
        let feeds = Parallel.map(ranges) { range in
            bytes.withUnsafeBufferPointer { p in lineFeeds(UnsafeBufferPointer(rebasing: p[range])) }
        }
        var line = firstLine
        return zip(ranges, feeds).map { range, count in
            defer { line += count }
            return Part(range: range, firstLine: line, lineCount: count)
        }
    }

    /// The line feeds in `p`.
    static func lineFeeds(_ p: UnsafeBufferPointer<UInt8>) -> Int {
        guard let base = p.baseAddress else { return 0 }
        return vigil_count_byte(base, p.count, 10)
    }

    /// Cuts by `RecordCutter`, which follows quoted fields across line feeds.
    static func cutQuoted(_ bytes: [UInt8], from start: Int, firstLine: Int, partSize: Int) -> [Part] {
        var parts: [Part] = []
        var cutter = RecordCutter()
        var begin = start, line = firstLine, scanned = start
        bytes.withUnsafeBufferPointer { p in
            while scanned < p.count {
                let end = min(p.count, scanned + partSize)
                let found = cutter.cut(UnsafeBufferPointer(rebasing: p[..<end]), from: scanned)
                scanned = end
                // The cut closest to the end of the bytes is the part's end unless it ends the file anyway.
                guard let found, found.end < p.count else { continue }
                parts.append(Part(range: begin..<found.end, firstLine: line, lineCount: found.lines))
                begin = found.end
                line += found.lines
            }
        }
        if begin < bytes.count || parts.isEmpty {
            // The last part's line feeds are counted here: the cutter reports only the cuts it made.
            let feeds = bytes.withUnsafeBufferPointer { p in lineFeeds(UnsafeBufferPointer(rebasing: p[begin...])) }
            parts.append(Part(range: begin..<bytes.count, firstLine: line, lineCount: feeds))
        }
        return parts
    }

    /// What each part's reader takes from its rows.
    private struct Plan: Sendable {
        let source: String
        let fieldCount: Int
        let indices: [Int]
        let kinds: [Kind]
        let commentByte: UInt8?
        let exceptionLimit: Int

        /// A part's rows (their number cells are in the shared columns): texts, exceptions and problems.
        struct Result: Sendable {
            var lines: [Int] = []
            var exceptions: [[(row: Int, text: String)]]
            var exceptionCounts: [Int]
            var texts: [[String]]
            var problems: [CSVError] = []

            init(columns k: Int) {
                exceptions = Array(repeating: [], count: k)
                exceptionCounts = Array(repeating: 0, count: k)
                texts = Array(repeating: [], count: k)
            }

            /// A part whose bytes could not be read: no rows, one problem.
            init(failed problem: CSVError, columns k: Int) {
                self.init(columns: k)
                problems = [problem]
            }

            /// Keeps a cell of number column c that is not a finite number.
            mutating func exception(_ c: Int, row: Int, _ cell: Bytes, limit: Int) {
                exceptionCounts[c] += 1
                if exceptions[c].count < limit { exceptions[c].append((row, String(decoding: cell, as: UTF8.self))) }
            }
        }

        /// Reads `part`, writing number column c's value of its row r at `rows.buffers[c][base + r]`; at most
        /// `capacity` rows (the part's records cannot outnumber them).
        func read(_ bytes: [UInt8], _ part: Part, into rows: DisjointRows<Double>, base: Int, capacity: Int) -> Result {
            let out = Destination(buffers: rows.buffers, base: base, capacity: capacity)
            if commentByte == nil, let plain = bytes.withUnsafeBufferPointer({ readPlain($0, part, out) }) { return plain }
            return readGeneral(bytes, part, out)
        }

        /// Where a part's number cells go.
        struct Destination {
            let buffers: [UnsafeMutableBufferPointer<Double>]
            let base: Int
            let capacity: Int
            @inline(__always) func set(_ c: Int, _ row: Int, _ value: Double) { buffers[c][base + row] = value }
        }

        /// A part read by `CSVReader`: quotes, carriage returns, comments and any UTF-8.
        func readGeneral(_ bytes: [UInt8], _ part: Part, _ out: Destination) -> Result {
            let k = indices.count
            var result = Result(columns: k)
            var csv = CSVReader(source: source, part: Array(bytes[part.range]), firstLine: part.firstLine)
            csv.commentByte = commentByte
            var row = CSVRow()
            while true {
                do {
                    guard try csv.next(into: &row) else { break }
                } catch let error as CSVError {
                    result.problems.append(error)
                    continue
                } catch {
                    break
                }
                if row.isBlank { continue }
                guard row.count == fieldCount else {
                    result.problems.append(CSVError(source: source, line: row.line, reason: "\(row.count) fields, the header has \(fieldCount)"))
                    continue
                }
                let r = result.lines.count
                guard r < out.capacity else {
                    result.problems.append(CSVError(source: source, line: row.line, reason: "more records than lines in the part read"))
                    break
                }
                result.lines.append(row.line)
                row.withFields { fields in
                    for c in 0..<k {
                        let cell = fields.field(indices[c])
                        switch kinds[c] {
                        case .number:
                            if let v = Self.number(Layout.trimmed(cell)) {
                                out.set(c, r, v)
                            } else {
                                out.set(c, r, .nan)
                                result.exception(c, row: r, cell, limit: exceptionLimit)
                            }
                        case .text:
                            result.texts[c].append(String(decoding: Layout.trimmed(cell), as: UTF8.self))
                        }
                    }
                }
            }
            return result
        }

        /// A part with no quote, carriage return or byte above ASCII, in one pass over its bytes: each line
        /// split at commas, number cells read by `number` as they are found. nil when the part holds one of
        /// those bytes, for `readGeneral`: the two give the same rows, values and problems.
        func readPlain(_ p: UnsafeBufferPointer<UInt8>, _ part: Part, _ out: Destination) -> Result? {
            let k = indices.count
            let comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), quote = UInt8(ascii: "\""), cr = UInt8(ascii: "\r")
            var slots = [Int](repeating: -1, count: fieldCount)
            for (c, index) in indices.enumerated() { slots[index] = c }
            let isNumber = kinds.map { $0 == .number }
            // Runs of plain rows are read by `vigil_csv_plain_rows`: number cells into their columns, text cells
            // as offsets, made into strings here. Each row it stops at is read below, then it goes on.
            let scanSlots = zip(isNumber, out.buffers).allSatisfy({ !$0 || $1.baseAddress != nil })
                ? slots.map { c in Int32(c < 0 ? -1 : (isNumber[c] ? c : -2 - c)) } : nil
            let numberColumns = out.buffers.map { $0.baseAddress.map { $0 + out.base } }
            let textColumns = (0..<k).filter { !isNumber[$0] }
            let bounds = UnsafeMutablePointer<Int>.allocate(capacity: max(1, textColumns.count * 2 * out.capacity))
            defer { bounds.deallocate() }
            var textBounds = [UnsafeMutablePointer<Int>?](repeating: nil, count: k)
            for (t, c) in textColumns.enumerated() { textBounds[c] = bounds + t * 2 * out.capacity }
            var pause = 0
            var result = Result(columns: k)
            result.lines.reserveCapacity(out.capacity)
            var plain = true
            var excepted: [Int] = []   // number columns with an exception in the current row
            do {
                let end = part.range.upperBound
                var i = part.range.lowerBound, line = part.firstLine, r = 0
                /// The end of the field from j: the next comma or line feed; false for a byte `readGeneral` must see.
                func fieldEnd(_ j: inout Int) -> Bool {
                    while j < end {
                        let b = p[j]
                        if b == comma || b == lf { return true }
                        if b == quote || b == cr || b >= 0x80 { return false }
                        j += 1
                    }
                    return true
                }
                rows: while i < end {
                    if let scanSlots, let base = p.baseAddress, pause == 0 {
                        let taken = vigil_csv_plain_rows(base, i, end, Int32(fieldCount), scanSlots, numberColumns, textBounds,
                                                         r, out.capacity - r)
                        for c in textColumns {
                            guard let cells = textBounds[c] else { continue }
                            for row in 0..<taken.rows {
                                let cell = Bytes(rebasing: p[cells[2 * row]..<cells[2 * row + 1]])
                                result.texts[c].append(String(decoding: Layout.trimmed(cell), as: UTF8.self))
                            }
                        }
                        result.lines.append(contentsOf: line..<(line + taken.rows))
                        (i, r, line) = (taken.next, r + taken.rows, line + taken.rows)
                        // Rows it stops at at once (a column in another notation) are left to this loop for a while.
                        if taken.rows == 0 { pause = 16 }
                        guard i < end else { break rows }
                    } else if pause > 0 {
                        pause -= 1
                    }
                    if p[i] == lf { i += 1; line += 1; continue }   // a blank line
                    guard r < out.capacity else { plain = false; break rows }
                    var f = 0
                    excepted.removeAll(keepingCapacity: true)
                    while true {
                        let c = f < fieldCount ? slots[f] : -1
                        var j = i
                        guard fieldEnd(&j) else { plain = false; break rows }
                        if c >= 0 {
                            let cell = Bytes(rebasing: p[i..<j])
                            if !isNumber[c] {
                                result.texts[c].append(String(decoding: Layout.trimmed(cell), as: UTF8.self))
                            } else if let v = Self.number(Layout.trimmed(cell)) {
                                out.set(c, r, v)
                            } else {
                                out.set(c, r, .nan)
                                result.exception(c, row: r, cell, limit: exceptionLimit)
                                excepted.append(c)
                            }
                        }
                        f += 1
                        i = j
                        if i < end && p[i] == comma { i += 1; continue }
                        break
                    }
                    if i < end { i += 1 }   // the line feed
                    if f == fieldCount {
                        result.lines.append(line)
                        r += 1
                    } else {
                        // The row is not kept: the texts and exceptions of its first f fields go with it.
                        for c in 0..<k where !isNumber[c] && indices[c] < f { result.texts[c].removeLast() }
                        for c in excepted {
                            result.exceptionCounts[c] -= 1
                            result.exceptions[c].removeAll { $0.row == r }
                        }
                        result.problems.append(CSVError(source: source, line: line, reason: "\(f) fields, the header has \(fieldCount)"))
                    }
                    line += 1
                }
            }
            guard plain else { return nil }
            return result
        }

        /// A finite number: plain decimals (signed or not) by the rule `vigil_csv_plain_rows` reads them by
        /// (`vigil_csv_decimal`), anything else as `Double(String)`.
        static func number(_ bytes: Bytes) -> Double? {
            var v = 0.0
            if let base = bytes.baseAddress, vigil_csv_decimal(base, bytes.count, &v) { return v }
            guard !bytes.isEmpty, let v = Double(String(decoding: bytes, as: UTF8.self)), v.isFinite else { return nil }
            return v
        }
    }
}

/// Maps the pages of `buffer` before it is written (Linux's MADV_POPULATE_WRITE, from 5.14; elsewhere nothing):
/// one call maps a column of a million doubles, where writing it would fault 2,000 times, each a trip through
/// the kernel. Only advice: when refused, the writes fault the pages in as before.
func prefault(_ buffer: UnsafeMutableRawBufferPointer) {
    #if os(Linux)
    let page = max(1, sysconf(Int32(_SC_PAGESIZE)))
    guard let base = buffer.baseAddress else { return }
    let start = (Int(bitPattern: base) + page - 1) & ~(page - 1), end = (Int(bitPattern: base) + buffer.count) & ~(page - 1)
    guard end > start, let first = UnsafeMutableRawPointer(bitPattern: start) else { return }
    _ = madvise(first, end - start, 23)   // MADV_POPULATE_WRITE
    #endif
}
