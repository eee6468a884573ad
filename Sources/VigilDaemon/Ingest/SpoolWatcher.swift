import Foundation
import Logging
import ServiceLifecycle
import VigilCore

/// The spool directory (SPEC §4): a file renamed into it is ingested as one batch — all its good rows commit
/// together — then moved to `done/`; its rejected rows are written to `rejected/<file>.errors`. Names that
/// start with `.` or end in `.tmp`/`.part` are still being written and are left alone. Files are taken in
/// name order, one at a time, every `interval` seconds.
///
/// If the daemon dies after a file's commit but before the move, the file is ingested again at start and
/// changes nothing: its records are already stored exactly so.
final class SpoolWatcher: Service {
    let dir: String
    let ingestor: Ingestor
    let mapping: @Sendable () -> ColumnMapping
    let logger: Logger
    let interval: Double

    init(dir: String, ingestor: Ingestor, mapping: @escaping @Sendable () -> ColumnMapping, logger: Logger,
         interval: Double = 0.2) {
        self.dir = dir
        self.ingestor = ingestor
        self.mapping = mapping
        self.logger = logger
        self.interval = interval
    }

    var done: String { (dir as NSString).appendingPathComponent("done") }
    var rejected: String { (dir as NSString).appendingPathComponent("rejected") }

    func prepare() throws {
        for d in [dir, done, rejected] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
    }

    func run() async throws {
        // Files whose last attempt failed for a transient cause: logged once, not at every retry.
        var retrying: Set<String> = []
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            for name in waitingFiles() {
                if Task.isShuttingDownGracefully { break }
                await ingest(name, retrying: &retrying)
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(Int64(self.interval * 1000))) }
        }
    }

    /// Regular files ready to ingest, in name order.
    func waitingFiles() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { name in
            guard !name.hasPrefix("."), !name.hasSuffix(".tmp"), !name.hasSuffix(".part") else { return false }
            var isDir: ObjCBool = false
            return FileManager.default.fileExists(atPath: (dir as NSString).appendingPathComponent(name), isDirectory: &isDir)
                && !isDir.boolValue
        }.sorted()
    }

    private func ingest(_ name: String, retrying: inout Set<String>) async {
        let path = (dir as NSString).appendingPathComponent(name)
        guard let format = RecordFormat(path: name) else {
            refuse(name, reason: "unknown format: name the file .csv, .ndjson or .jsonl")
            return
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            // Permissions or I/O: the file stays and is tried again.
            if retrying.insert(name).inserted {
                logger.error("spool file cannot be read; will retry", metadata: ["file": "\(name)", "error": "\(String(cString: strerror(errno)))"])
            }
            return
        }
        let started = DispatchTime.now()
        let batch = IngestBatch(source: name, bytes: [UInt8](data), format: format, mapping: mapping())
        logger.debug("spool file parsed", metadata: [
            "file": "\(name)", "records": "\(batch.records.count)",
            "ms": "\(String(format: "%.1f", Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e6))",
        ])
        let result: IngestResult
        do {
            result = try await ingestor.submit(batch)
        } catch let failure as IngestFailure where !failure.isTransient {
            // The same file would fail again: quarantined with the cause, so it cannot stop the spool.
            retrying.remove(name)
            refuse(name, reason: "not applied: \(failure.description)")
            return
        } catch {
            // Not committed: the file stays and is tried again on the next scan.
            if retrying.insert(name).inserted {
                logger.error("spool file not ingested; will retry", metadata: ["file": "\(name)", "error": "\(error)"])
            }
            return
        }
        if retrying.remove(name) != nil { logger.notice("spool file ingested after retrying", metadata: ["file": "\(name)"]) }
        do {
            let errorsPath = (rejected as NSString).appendingPathComponent(name + ".errors")
            let listed = result.rejected + result.suppressed
            if !listed.isEmpty {
                try Self.writeAtomically(listed.map(\.description).joined(separator: "\n") + "\n", to: errorsPath)
            }
            try Self.move(path, into: done, name: name)
            logger.info("spool file ingested", metadata: [
                "file": "\(name)", "accepted": "\(result.accepted)", "unchanged": "\(result.unchanged)",
                "rejected": "\(result.rejected.count)", "suppressed": "\(result.suppressed.count)", "events": "\(result.events.count)",
            ])
        } catch {
            logger.error("spool file committed but not moved", metadata: ["file": "\(name)", "error": "\(error)"])
        }
    }

    /// A file that cannot be read as records at all: moved to `rejected/` with its `.errors`.
    private func refuse(_ name: String, reason: String) {
        let path = (dir as NSString).appendingPathComponent(name)
        do {
            try Self.writeAtomically("\(name):0: \(reason)\n", to: (rejected as NSString).appendingPathComponent(name + ".errors"))
            try Self.move(path, into: rejected, name: name)
        } catch {
            logger.error("spool file refused but not moved", metadata: ["file": "\(name)", "error": "\(error)"])
        }
        logger.warning("spool file refused", metadata: ["file": "\(name)", "reason": "\(reason)"])
    }

    /// Renames a file into `dir`; a name already there gets a numbered suffix rather than being overwritten.
    static func move(_ path: String, into dir: String, name: String) throws {
        var target = (dir as NSString).appendingPathComponent(name)
        var n = 1
        while FileManager.default.fileExists(atPath: target) {
            n += 1
            target = (dir as NSString).appendingPathComponent("\(name).\(n)")
        }
        guard rename(path, target) == 0 else {
            throw SinkError("rename \(path) → \(target): \(String(cString: strerror(errno)))")
        }
    }

    static func writeAtomically(_ text: String, to path: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
