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

/// Streaming RFC 4180 reader: quoted fields with embedded commas, quotes ("") and newlines, CRLF or LF
/// line ends, an optional UTF-8 byte-order mark. Reads 64 KiB at a time, so memory does not grow with the
/// file. A record that is not valid UTF-8 or has an unterminated quote is an error naming its line; the
/// reader goes on with the next record.
public struct CSVReader: Sendable {
    public let source: String
    private var bytes: ByteSource
    private var line = 1
    private var atStart = true
    /// Lines starting with this byte are skipped (not RFC 4180; used by vigil's own reference files).
    public var commentByte: UInt8?

    /// `source` names the file in messages (default: the path).
    public init(path: String, source: String? = nil, commentByte: UInt8? = nil) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CSVError(source: path, line: 0, reason: "cannot open the file (missing or not readable)")
        }
        self.source = source ?? path
        self.bytes = ByteSource(handle: handle)
        self.commentByte = commentByte
    }

    public init(source: String, contents: [UInt8], commentByte: UInt8? = nil) {
        self.source = source
        self.bytes = ByteSource(buffer: contents)
        self.commentByte = commentByte
    }

    public init(source: String, text: String, commentByte: UInt8? = nil) {
        self.init(source: source, contents: Array(text.utf8), commentByte: commentByte)
    }

    /// The next record, nil at the end; throws `CSVError` for a malformed record (and skips past it).
    public mutating func next() throws -> CSVRecord? {
        if atStart {
            atStart = false
            if bytes.peek() == 0xEF, bytes.peek(1) == 0xBB, bytes.peek(2) == 0xBF {
                _ = bytes.next(); _ = bytes.next(); _ = bytes.next()
            }
        }
        while let c = bytes.peek(), let comment = commentByte, c == comment {
            while let b = bytes.next(), b != UInt8(ascii: "\n") {}
            line += 1
        }
        guard bytes.peek() != nil else { return nil }
        let startLine = line
        var fields: [String] = []
        var field: [UInt8] = []
        var inQuotes = false
        var quotedField = false
        var malformed: String? = nil
        func finishField() -> Bool {
            guard let s = String(validating: field, as: UTF8.self) else { return false }
            fields.append(s)
            field.removeAll(keepingCapacity: true)
            quotedField = false
            return true
        }
        while true {
            guard let b = bytes.next() else {
                if inQuotes { malformed = "unterminated quoted field" }
                break
            }
            if inQuotes {
                if b == UInt8(ascii: "\"") {
                    if bytes.peek() == UInt8(ascii: "\"") { _ = bytes.next(); field.append(b) } else { inQuotes = false }
                } else {
                    if b == UInt8(ascii: "\n") { line += 1 }
                    field.append(b)
                }
                continue
            }
            switch b {
            case UInt8(ascii: ","):
                if !finishField() {
                    malformed = malformed ?? "field \(fields.count + 1) is not valid UTF-8"
                    fields.append("")
                    field.removeAll()
                }
            case UInt8(ascii: "\""):
                if field.isEmpty && !quotedField { inQuotes = true; quotedField = true } else {
                    malformed = malformed ?? "a quote inside an unquoted field (quote the whole field and double the quote)"
                    field.append(b)
                }
            case UInt8(ascii: "\r") where bytes.peek() == UInt8(ascii: "\n"):
                continue
            case UInt8(ascii: "\n"):
                line += 1
                if !finishField() { malformed = malformed ?? "field \(fields.count + 1) is not valid UTF-8" }
                return try record(startLine, fields, malformed)
            default:
                field.append(b)
            }
        }
        if !finishField() { malformed = malformed ?? "field \(fields.count + 1) is not valid UTF-8" }
        return try record(startLine, fields, malformed)
    }

    private func record(_ startLine: Int, _ fields: [String], _ problem: String?) throws -> CSVRecord {
        if let problem { throw CSVError(source: source, line: startLine, reason: problem) }
        return CSVRecord(line: startLine, fields: fields)
    }
}

/// Bytes from a file read in 64 KiB chunks, or from memory.
private struct ByteSource: @unchecked Sendable {
    // FileHandle is only touched by the one reader that owns it.
    private let handle: FileHandle?
    private var buffer: [UInt8]
    private var position = 0

    init(handle: FileHandle) {
        self.handle = handle
        self.buffer = []
    }

    init(buffer: [UInt8]) {
        self.handle = nil
        self.buffer = buffer
    }

    private mutating func refill() -> Bool {
        guard let handle else { return false }
        let chunk = handle.readData(ofLength: 1 << 16)
        guard !chunk.isEmpty else { return false }
        buffer.removeFirst(position)
        position = 0
        buffer.append(contentsOf: chunk)
        return true
    }

    mutating func peek(_ offset: Int = 0) -> UInt8? {
        while position + offset >= buffer.count {
            if !refill() { return nil }
        }
        return buffer[position + offset]
    }

    mutating func next() -> UInt8? {
        guard let b = peek() else { return nil }
        position += 1
        return b
    }
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
