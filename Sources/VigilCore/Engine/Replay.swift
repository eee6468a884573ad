import Foundation

/// `vigil replay`: the daemon's engine over historical files, in memory. Each input file is one batch, in
/// the order given, so revisions in later files re-evaluate and may resolve earlier alerts.
public struct Replay {
    public struct Summary: Sendable {
        public var files = 0
        public var accepted = 0
        public var rejected: [RowError] = []
        /// Rows with a withheld value (a mapping's `missing:` tokens): not taken, not rejected.
        public var suppressed = 0
        public var unmatched = 0
        public var events: [Alert] = []
        public var traceRows = 0
        /// Each model's fit warnings, or why it is unfitted (`ModelRuntime.statusMessages`).
        public var modelProblems: [String] = []
    }

    public let engine: Engine
    public let reader: RecordReader

    public init(models: [ModelConfig], mapping: ColumnMapping = ColumnMapping()) {
        self.engine = Engine(models: models)
        self.reader = RecordReader(mapping: mapping)
    }

    /// Reads each file straight into the engine, parsed ahead on other threads (`ReadAhead`); `rejected`
    /// sees every bad or suppressed row as it is found. With `trace`, the last file's evaluation covers every series and
    /// writes the trace CSV of SPEC §5 for the final state there, so no series is evaluated twice.
    public func run(inputs: [String], now: Date = Date(), trace: String? = nil,
                    rejected: (RowError) -> Void = { _ in }) throws -> Summary {
        var summary = Summary()
        let writer = try trace.map { try LineWriter(path: $0) }
        writer?.write(Self.traceHeader)
        for (i, path) in inputs.enumerated() {
            let outcome = try engine.apply(now: now, trace: i == inputs.count - 1 ? writer : nil) { take in
                let rows = ReadAhead(reader: reader, path: path)
                defer { rows.cancel() }
                while let block = try rows.next() {
                    for row in block {
                        switch row {
                        case let .record(record): take(record)
                        case let .rejected(error):
                            if error.suppressed { summary.suppressed += 1 } else { summary.rejected.append(error) }
                            rejected(error)
                        }
                    }
                    ReadAhead.discard(block)
                }
            }
            for error in outcome.rejected { rejected(error) }
            summary.files += 1
            summary.accepted += outcome.accepted
            summary.unmatched += outcome.unmatched
            summary.rejected += outcome.rejected
            // The first batch's events are taken whole (appending would copy each alert).
            if summary.events.isEmpty { summary.events = outcome.events } else { summary.events += outcome.events }
            summary.traceRows += outcome.traceRows
        }
        if let writer {
            try writer.close()
        }
        summary.modelProblems = engine.models.flatMap(\.statusMessages)
        return summary
    }

    static let traceHeader = "model,detector,facility_id,measure,period,observed,expected,statistic,threshold,signal\n"
}

/// Trace rows of SPEC §5 as CSV text, written straight into bytes (numbers in Swift's shortest round-trip
/// form, the same digits as `description`).
struct TraceFormat: Sendable {
    /// A row's prefix around its facility, made once per model: "model,detector," per detector and ",measure,".
    private struct Model: Sendable {
        let heads: [[UInt8]]
        let tail: [UInt8]
    }
    private let models: [Model]

    init(models: [ModelRuntime]) {
        func field(_ text: String) -> [UInt8] { Array(CSVField.quote(text).utf8) }
        let comma = UInt8(ascii: ",")
        self.models = models.map { m in
            Model(heads: m.config.detectors.map { field(m.config.name) + [comma] + field($0.id) + [comma] },
                  tail: [comma] + field(m.config.measure) + [comma])
        }
    }

    func text(_ m: Int, facility: String, _ result: Engine.SeriesResult) -> [UInt8] {
        let model = models[m]
        let facility = Array(CSVField.quote(facility).utf8)
        // What repeats across a series' detectors is written once: each observation's
        // "period,observed,expected," (one buffer, `ends` marking each) and each detector's
        // "model,detector,facility,measure,".
        var columns = ByteText()
        // Room for typical rows (a month, a count, a number of up to 24 characters) at once: grown by doubling,
        // the columns were copied several times a series.
        columns.bytes.reserveCapacity(result.observations.count * 48)
        var ends: [Int] = []
        ends.reserveCapacity(result.observations.count)
        result.observations.withUnsafeBufferPointer { observations in
            for k in observations.indices {
                columns.append(observations[k].label)
                columns.comma()
                columns.append(observations[k].observed)
                columns.comma()
                observations[k].input.expected.write(to: &columns)
                columns.comma()
                ends.append(columns.bytes.count)
            }
        }
        // Every row is bounded (its prefix, its observation's columns, two numbers of at most 32 characters
        // each, the signal and the line feed), so the rows go through a pointer into one array sized once:
        // appending them to a growing array checked capacity and uniqueness for every piece.
        let rows = result.observations.count
        let prefixes = result.steps.indices.map { d in model.heads[d] + facility + model.tail }
        let capacity = prefixes.reduce(0) { $0 + rows * ($1.count + 2 * 33 + 2) + columns.bytes.count }
        return [UInt8](filling: capacity) { buffer, initialized in
            guard let base = buffer.baseAddress else { initialized = 0; return }
            var out = RawText(base: base, capacity: capacity)
            columns.bytes.withUnsafeBufferPointer { columns in
                for (d, steps) in result.steps.enumerated() {
                    var threshold = Double.nan
                    var thresholdText = RawText.Span(start: 0, count: 0)
                    prefixes[d].withUnsafeBufferPointer { prefix in
                        steps.withUnsafeBufferPointer { steps in
                            for k in steps.indices {
                                let step = steps[k]
                                out.put(prefix)
                                out.put(UnsafeBufferPointer(rebasing: columns[(k == 0 ? 0 : ends[k - 1])..<ends[k]]))
                                if step.statistic == 0 && step.statistic.sign == .plus { out.zero() } else { step.statistic.write(to: &out) }
                                out.byte(UInt8(ascii: ","))
                                if step.threshold != threshold {
                                    // Written out again only when it changes; otherwise copied from its last row.
                                    threshold = step.threshold
                                    let start = out.count
                                    threshold.write(to: &out)
                                    out.byte(UInt8(ascii: ","))
                                    thresholdText = RawText.Span(start: start, count: out.count - start)
                                } else {
                                    out.repeatSpan(thresholdText)
                                }
                                out.byte(step.signal ? UInt8(ascii: "1") : UInt8(ascii: "0"))
                                out.byte(UInt8(ascii: "\n"))
                            }
                        }
                    }
                }
            }
            // The bound above holds for every row; were it wrong, rows would be cut short, never overrun.
            assert(!out.overflowed)
            initialized = out.count
        }
    }
}

/// Text written through a pointer into memory of `capacity` bytes: every write is checked against it before
/// it happens (what would not fit is dropped and `overflowed` set).
struct RawText: TextOutputStream {
    struct Span {
        let start: Int
        let count: Int
    }

    private let base: UnsafeMutablePointer<UInt8>
    private let capacity: Int
    private(set) var count = 0
    private(set) var overflowed = false

    init(base: UnsafeMutablePointer<UInt8>, capacity: Int) {
        self.base = base
        self.capacity = capacity
    }

    mutating func write(_ string: String) {
        var string = string
        string.withUTF8 { put($0) }
    }

    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { put(buffer) }

    @inline(__always) private mutating func fits(_ n: Int) -> Bool {
        if count + n <= capacity { return true }
        overflowed = true
        return false
    }

    @inline(__always) mutating func put(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let from = bytes.baseAddress, fits(bytes.count) else { return }
        (base + count).update(from: from, count: bytes.count)
        count += bytes.count
    }

    @inline(__always) mutating func byte(_ b: UInt8) {
        guard fits(1) else { return }
        base[count] = b
        count += 1
    }

    /// Bytes written earlier, again.
    mutating func repeatSpan(_ span: Span) {
        guard span.start >= 0, span.start + span.count <= count, fits(span.count) else { return }
        (base + count).update(from: base + span.start, count: span.count)
        count += span.count
    }

    /// `0.0`, as `description` writes a positive zero.
    mutating func zero() {
        byte(UInt8(ascii: "0"))
        byte(UInt8(ascii: "."))
        byte(UInt8(ascii: "0"))
    }
}

/// A byte buffer that numbers print into without making strings: the standard library hands a
/// `TextOutputStream` the ASCII digits of an integer or a floating-point value through `_writeASCII`.
struct ByteText: TextOutputStream {
    var bytes: [UInt8] = []

    mutating func write(_ string: String) { bytes.append(contentsOf: string.utf8) }
    mutating func _writeASCII(_ buffer: UnsafeBufferPointer<UInt8>) { bytes.append(contentsOf: buffer) }
    mutating func comma() { bytes.append(UInt8(ascii: ",")) }

    mutating func append(_ value: Int) {
        guard value >= 0 && value < 10 else { return write(String(value)) }
        bytes.append(UInt8(48 + value))
    }

    /// An observation's label, quoted for CSV when it needs it (a patient's episode id may hold a comma).
    mutating func append(_ label: SeriesView.Label) {
        switch label {
        case let .period(p): p.withText { bytes.append(contentsOf: $0) }   // digits, '-', 'Q', 'W': never quoted
        case .patient: write(CSVField.quote(label.text))
        }
    }
}

/// CSV quoting for fields that hold a comma, quote or line break (RFC 4180).
public enum CSVField {
    public static func quote(_ s: String) -> String {
        guard s.utf8.contains(where: { $0 == 44 || $0 == 34 || $0 == 10 || $0 == 13 }) else { return s }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
