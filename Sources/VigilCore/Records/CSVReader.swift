import Foundation

/// A problem in a CSV source, located by its line number.
public struct CSVError: Error, Equatable, CustomStringConvertible {
    public let source: String
    public let line: Int
    public let reason: String
    public var description: String { "\(source):\(line): \(reason)" }
}

/// One record of a CSV file: its fields and the physical line it starts on (1-based, the header is line 1
/// of a file without comments).
public struct CSVRecord: Sendable, Equatable {
    public let line: Int
    public let fields: [String]
}

/// One record's fields as bytes, unquoted, in one buffer that the reader reuses from row to row, so reading
/// a row allocates nothing. Every field is valid UTF-8 (the reader rejects a row where one is not).
public struct CSVRow: Sendable {
    /// The physical line the record starts on.
    public internal(set) var line = 0
    var bytes: [UInt8] = []
    var starts: [Int] = []
    var ends: [Int] = []

    public init() {}

    public var count: Int { ends.count }

    /// Field `i`'s bytes.
    public func field(_ i: Int) -> ArraySlice<UInt8> {
        bytes[starts[i]..<ends[i]]
    }

    public func string(_ i: Int) -> String { String(decoding: field(i), as: UTF8.self) }

    /// The fields without copying or reference counting, for the body's duration.
    struct Fields {
        let bytes: UnsafeBufferPointer<UInt8>
        let starts: UnsafeBufferPointer<Int>
        let ends: UnsafeBufferPointer<Int>

        func field(_ i: Int) -> UnsafeBufferPointer<UInt8> { UnsafeBufferPointer(rebasing: bytes[starts[i]..<ends[i]]) }
    }

    func withFields<T>(_ body: (Fields) -> T) -> T {
        bytes.withUnsafeBufferPointer { b in
            starts.withUnsafeBufferPointer { s in
                ends.withUnsafeBufferPointer { e in body(Fields(bytes: b, starts: s, ends: e)) }
            }
        }
    }

    /// A line with nothing on it (read as one empty field).
    public var isBlank: Bool { ends.count == 1 && ends[0] == starts[0] }

    mutating func removeAll() {
        bytes.removeAll(keepingCapacity: true)
        starts.removeAll(keepingCapacity: true)
        ends.removeAll(keepingCapacity: true)
    }

    mutating func append<S: Sequence<UInt8>>(field: S) {
        starts.append(bytes.count)
        bytes.append(contentsOf: field)
        ends.append(bytes.count)
    }
}

/// Streaming RFC 4180 reader: quoted fields with embedded commas, quotes ("") and newlines, CRLF or LF
/// line ends, an optional UTF-8 byte-order mark. Reads the file in 4 MiB chunks, so memory does not grow
/// with the file, and scans each chunk in place. A record that is not valid UTF-8 or has an unterminated
/// quote is an error naming its line; the reader goes on with the next record.
public struct CSVReader: Sendable {
    public let source: String
    private var input: ChunkedInput
    private var line = 1
    private var atStart = true
    /// Lines starting with this byte are skipped (not RFC 4180; used by vigil's own reference files).
    public var commentByte: UInt8?

    /// `source` names the file in messages (default: the path); `chunkSize` is the read size.
    public init(path: String, source: String? = nil, commentByte: UInt8? = nil, chunkSize: Int = 1 << 22) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CSVError(source: path, line: 0, reason: "cannot open the file (missing or not readable)")
        }
        self.source = source ?? path
        self.input = ChunkedInput(handle: handle, chunkSize: chunkSize)
        self.commentByte = commentByte
    }

    public init(source: String, contents: [UInt8], commentByte: UInt8? = nil) {
        self.source = source
        self.input = ChunkedInput(contents: contents)
        self.commentByte = commentByte
    }

    /// A part of a file that starts at a record boundary on line `firstLine` (no byte-order mark there).
    init(source: String, part: [UInt8], firstLine: Int) {
        self.init(source: source, contents: part)
        self.line = firstLine
        self.atStart = false
    }

    public init(source: String, text: String, commentByte: UInt8? = nil) {
        self.init(source: source, contents: Array(text.utf8), commentByte: commentByte)
    }

    /// Bytes read so far from a reader over `contents` (where the next record starts).
    var consumedBytes: Int { input.consumed }
    /// The line the next record starts on.
    var nextLine: Int { line }

    /// The next record as strings, nil at the end; throws `CSVError` for a malformed record (and skips it).
    public mutating func next() throws -> CSVRecord? {
        var row = CSVRow()
        guard try next(into: &row) else { return nil }
        return CSVRecord(line: row.line, fields: (0..<row.count).map(row.string))
    }

    /// Reads the next record into `row`; false at the end. Throws `CSVError` for a malformed record (and
    /// skips past it, so the next call reads the record after it).
    public mutating func next(into row: inout CSVRow) throws -> Bool {
        while true {
            guard input.available || input.fill() else { return false }
            if atStart {
                guard input.ensure(3) || input.exhausted else { continue }
                atStart = false
                input.skipByteOrderMark()
            }
            if let comment = commentByte, input.first == comment {
                guard input.skipLine() else {
                    _ = input.fill()
                    continue
                }
                line += 1
                continue
            }
            let exhausted = input.exhausted
            var scan = Scan()
            let end = input.withUnread { Self.scan($0, final: exhausted, into: &row, state: &scan) }
            guard let end else {
                _ = input.fill()   // at the end, the record is scanned again as the last one
                continue
            }
            input.consume(end)
            row.line = line
            line += scan.newlines
            if let problem = scan.malformed ?? (scan.high ? Self.invalidUTF8(row) : nil) {
                throw CSVError(source: source, line: row.line, reason: problem)
            }
            return true
        }
    }

    /// Hands `body` each plain record from here on — `columns` fields, no quote, carriage return or byte
    /// ≥ 0x80, not blank — with its line, its fields read in place in the input (`starts` and `ends` are
    /// reused). Stops before the first record that is not plain, or at the end of what is buffered: the
    /// caller reads that one with `next(into:)`, which also handles the file's start and comments.
    mutating func readPlain(columns: Int, starts: inout [Int], ends: inout [Int], _ body: (CSVRow.Fields, _ line: Int) -> Void) {
        guard !atStart, commentByte == nil, columns > 0 else { return }
        if starts.count < columns {
            starts = [Int](repeating: 0, count: columns)
            ends = starts
        }
        let comma = UInt8(ascii: ","), lf = UInt8(ascii: "\n"), quote = UInt8(ascii: "\""), cr = UInt8(ascii: "\r")
        var line = self.line
        let taken = input.withUnread { p in
            starts.withUnsafeMutableBufferPointer { s in
                ends.withUnsafeMutableBufferPointer { e in
                    var k = 0   // where the current record starts
                    records: while k < p.count {
                        var field = 0, i = k
                        s[0] = 0
                        while i < p.count {
                            let b = p[i]
                            if b == comma {
                                guard field + 1 < columns else { break records }   // another width
                                e[field] = i - k
                                field += 1
                                s[field] = i + 1 - k
                            } else if b == lf {
                                break
                            } else if b == quote || b == cr || b >= 0x80 {
                                break records
                            }
                            i += 1
                        }
                        guard i < p.count, field + 1 == columns, i > k else { break }
                        e[field] = i - k
                        body(CSVRow.Fields(bytes: UnsafeBufferPointer(rebasing: p[k..<i]), starts: UnsafeBufferPointer(rebasing: s[..<columns]),
                                           ends: UnsafeBufferPointer(rebasing: e[..<columns])), line)
                        line += 1
                        k = i + 1
                    }
                    return k
                }
            }
        }
        input.consume(taken)
        self.line = line
    }

    private struct Scan {
        var newlines = 0
        var malformed: String?
        var high = false
    }

    private static func invalidUTF8(_ row: CSVRow) -> String? {
        for i in 0..<row.count where String(validating: row.field(i), as: UTF8.self) == nil {
            return "field \(i + 1) is not valid UTF-8"
        }
        return nil
    }

    /// Parses one record from the start of `p` into `row`; returns the count of bytes it took (through its
    /// line end), or nil when `p` ends inside the record and more input may follow (`final` false).
    private static func scan(_ p: UnsafeBufferPointer<UInt8>, final: Bool, into row: inout CSVRow, state: inout Scan) -> Int? {
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        row.removeAll()
        let n = p.count
        // The usual line — no quotes, no carriage return — is copied at once, its fields found between commas.
        var high: UInt8 = 0
        var k = 0
        row.starts.append(0)
        while k < n {
            let b = p[k]
            if b == comma {
                row.ends.append(k)
                row.starts.append(k + 1)
            } else if b == lf {
                row.ends.append(k)
                row.bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(p)[0..<k]))
                state.newlines = 1
                state.high = high >= 0x80
                return k + 1
            } else if b == quote || b == cr {
                break
            }
            high |= b
            k += 1
        }
        if k == n && final {
            row.ends.append(k)
            row.bytes.append(contentsOf: UnsafeRawBufferPointer(p))
            state.high = high >= 0x80
            return n
        }
        if k == n { return nil }
        row.removeAll()
        return scanQuoted(p, final: final, into: &row, state: &state)
    }

    /// `scan` for a record with quotes or carriage returns: field by field, unquoting.
    private static func scanQuoted(_ p: UnsafeBufferPointer<UInt8>, final: Bool, into row: inout CSVRow, state: inout Scan) -> Int? {
        let comma = UInt8(ascii: ","), quote = UInt8(ascii: "\""), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")
        let n = p.count
        var i = 0
        var inQuotes = false
        var quoted = false
        var fieldStart = 0
        var high: UInt8 = 0
        row.starts.append(0)
        func endField() {
            row.ends.append(row.bytes.count)
            row.starts.append(row.bytes.count)
            fieldStart = row.bytes.count
            quoted = false
        }
        while i < n {
            let b = p[i]
            if inQuotes {
                if b == quote {
                    guard i + 1 < n else {
                        if !final { return nil }
                        inQuotes = false
                        i += 1
                        continue
                    }
                    if p[i + 1] == quote { row.bytes.append(quote); i += 2 } else { inQuotes = false; i += 1 }
                    continue
                }
                if b == lf { state.newlines += 1 }
                high |= b
                row.bytes.append(b)
                i += 1
                continue
            }
            switch b {
            case comma:
                endField()
                i += 1
            case quote:
                if row.bytes.count == fieldStart && !quoted {
                    inQuotes = true
                    quoted = true
                } else {
                    state.malformed = state.malformed ?? "a quote inside an unquoted field (quote the whole field and double the quote)"
                    row.bytes.append(b)
                }
                i += 1
            case lf:
                state.newlines += 1
                endField()
                row.starts.removeLast()
                state.high = high >= 0x80
                return i + 1
            case cr:
                guard i + 1 < n else {
                    if !final { return nil }
                    row.bytes.append(b)
                    i += 1
                    continue
                }
                if p[i + 1] != lf { row.bytes.append(b) }
                i += 1
            default:
                // A run of plain bytes, copied at once.
                var j = i + 1
                while j < n {
                    let c = p[j]
                    if c == comma || c == quote || c == cr || c == lf { break }
                    j += 1
                }
                for k in i..<j { high |= p[k] }
                row.bytes.append(contentsOf: UnsafeBufferPointer(rebasing: p[i..<j]))
                i = j
            }
        }
        guard final else { return nil }
        if inQuotes { state.malformed = state.malformed ?? "unterminated quoted field" }
        endField()
        row.starts.removeLast()
        state.high = high >= 0x80
        return n
    }
}

/// Bytes from a file read in chunks (or from memory), consumed from the front.
private struct ChunkedInput: @unchecked Sendable {
    // FileHandle is only touched by the one reader that owns it.
    private let handle: FileHandle?
    private let chunkSize: Int
    private var buffer: [UInt8]
    private var position = 0
    /// No more bytes will come: what is buffered is the rest of the input.
    var exhausted: Bool

    init(handle: FileHandle, chunkSize: Int) {
        self.handle = handle
        self.chunkSize = chunkSize
        self.buffer = []
        self.exhausted = false
    }

    init(contents: [UInt8]) {
        self.handle = nil
        self.chunkSize = 0
        self.buffer = contents
        self.exhausted = true
    }

    var available: Bool { position < buffer.count }
    /// Bytes consumed; from the start of the input when it was given whole (`contents`).
    var consumed: Int { position }
    var first: UInt8? { available ? buffer[position] : nil }

    /// Appends the next chunk after dropping what was consumed; false (and `exhausted`) at the end.
    mutating func fill() -> Bool {
        guard !exhausted, let handle, let chunk = try? handle.read(upToCount: chunkSize), !chunk.isEmpty else {
            exhausted = true
            return false
        }
        buffer.removeFirst(position)
        position = 0
        buffer.append(contentsOf: chunk)
        return true
    }

    /// Whether `count` bytes are buffered, reading once if they are not.
    mutating func ensure(_ count: Int) -> Bool {
        buffer.count - position >= count || (fill() && buffer.count - position >= count)
    }

    mutating func skipByteOrderMark() {
        if buffer.count - position >= 3, buffer[position] == 0xEF, buffer[position + 1] == 0xBB, buffer[position + 2] == 0xBF {
            position += 3
        }
    }

    /// Skips through the next line feed; false when it is not buffered yet (and input remains).
    mutating func skipLine() -> Bool {
        if let lf = buffer[position...].firstIndex(of: UInt8(ascii: "\n")) {
            position = lf + 1
            return true
        }
        if exhausted { position = buffer.count; return true }
        return false
    }

    func withUnread<T>(_ body: (UnsafeBufferPointer<UInt8>) -> T) -> T {
        buffer.withUnsafeBufferPointer { body(UnsafeBufferPointer(rebasing: $0[position...])) }
    }

    mutating func consume(_ count: Int) { position += count }
}

/// A whole CSV file as named columns of strings, with each row's line number, for commands that need all
/// rows at once (`vigil fit`).
public struct CSVTable: Sendable {
    public let source: String
    public let header: [String]
    public let lines: [Int]
    public let columns: [[String]]

    public var rowCount: Int { lines.count }

    /// Every malformed record or wrong field count is an error naming its line (all of them, up to `limit`).
    public init(path: String, commentByte: UInt8? = nil, limit: Int = 20) throws {
        var reader = try CSVReader(path: path, commentByte: commentByte)
        try self.init(reader: &reader, limit: limit)
    }

    public init(reader: inout CSVReader, limit: Int = 20) throws {
        source = reader.source
        guard let head = try reader.next() else {
            throw CSVTableError(problems: [CSVError(source: reader.source, line: 1, reason: "the file is empty (no header row)")])
        }
        header = head.fields.map { $0.trimmingCharacters(in: .whitespaces) }
        var columns = [[String]](repeating: [], count: header.count)
        var lines: [Int] = []
        var problems: [CSVError] = []
        while true {
            do {
                guard let record = try reader.next() else { break }
                if record.fields.count == 1 && record.fields[0].isEmpty { continue }   // blank line
                guard record.fields.count == header.count else {
                    problems.append(CSVError(source: source, line: record.line,
                                             reason: "\(record.fields.count) fields, the header has \(header.count)"))
                    if problems.count >= limit { break }
                    continue
                }
                for (j, value) in record.fields.enumerated() { columns[j].append(value) }
                lines.append(record.line)
            } catch let error as CSVError {
                problems.append(error)
                if problems.count >= limit { break }
            }
        }
        if !problems.isEmpty { throw CSVTableError(problems: problems) }
        self.columns = columns
        self.lines = lines
    }

    public func column(_ name: String) -> [String]? {
        header.firstIndex(of: name).map { columns[$0] }
    }
}

public struct CSVTableError: Error, CustomStringConvertible {
    public let problems: [CSVError]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
