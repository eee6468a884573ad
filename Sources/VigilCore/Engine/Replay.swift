import Foundation

/// `vigil replay`: the daemon's engine over historical files, in memory. Each input file is one batch, in
/// the order given, so revisions in later files re-evaluate and may resolve earlier alerts.
public struct Replay {
    public struct Summary: Sendable {
        public var files = 0
        public var accepted = 0
        public var rejected: [RowError] = []
        public var unmatched = 0
        public var events: [Alert] = []
        public var traceRows = 0
        public var modelProblems: [String] = []
    }

    public let engine: Engine
    public let reader: RecordReader

    public init(models: [ModelConfig], mapping: ColumnMapping = ColumnMapping()) {
        self.engine = Engine(models: models)
        self.reader = RecordReader(mapping: mapping)
    }

    /// Reads and applies each file; `rejected` sees every bad row as it is found.
    public func run(inputs: [String], now: Date = Date(), rejected: (RowError) -> Void = { _ in }) throws -> Summary {
        var summary = Summary()
        let measures = Set(engine.models.map(\.config.measure))
        for path in inputs {
            var batch: [Record] = []
            try reader.read(path: path, accept: { record in
                if measures.contains(record.measure) { batch.append(record) } else { summary.unmatched += 1 }
            }, reject: { error in
                summary.rejected.append(error)
                rejected(error)
            })
            let outcome = engine.apply(batch, now: now)
            for error in outcome.rejected { rejected(error) }
            summary.files += 1
            summary.accepted += outcome.accepted
            summary.rejected += outcome.rejected
            summary.events += outcome.events
        }
        summary.modelProblems = engine.models.compactMap(\.problem)
        return summary
    }

    /// Writes the trace CSV of SPEC §5 for the final state.
    public func writeTrace(to path: String) throws -> Int {
        let writer = try LineWriter(path: path)
        writer.write("model,detector,facility_id,measure,period,observed,expected,statistic,threshold,signal\n")
        var rows = 0
        engine.trace { row in
            rows += 1
            writer.write("\(CSVField.quote(row.model)),\(CSVField.quote(row.detector)),\(CSVField.quote(row.facility)),"
                + "\(CSVField.quote(row.measure)),\(CSVField.quote(row.period)),\(row.observed),\(row.expected),"
                + "\(row.statistic),\(row.threshold),\(row.signal ? 1 : 0)\n")
        }
        try writer.close()
        return rows
    }
}

/// CSV quoting for fields that hold a comma, quote or line break (RFC 4180).
public enum CSVField {
    public static func quote(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

/// Buffered writing of text lines to a new file (or `-` for standard output).
public final class LineWriter {
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let ownsHandle: Bool

    public init(path: String) throws {
        if path == "-" {
            handle = FileHandle.standardOutput
            ownsHandle = false
        } else {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
            }
            handle = h
            ownsHandle = true
        }
        buffer.reserveCapacity(1 << 20)
    }

    public func write(_ text: String) {
        buffer.append(contentsOf: text.utf8)
        if buffer.count >= 1 << 20 { flush() }
    }

    private func flush() {
        handle.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }

    public func close() throws {
        flush()
        if ownsHandle { try handle.close() }
    }
}
