import Foundation
import Logging
import ServiceLifecycle
import VigilCore

/// The spool directory (SPEC §4): a file renamed into it is ingested as one batch — all its good rows commit
/// together — then moved to `done/`; its rejected rows are written to `rejected/<file>.errors`. Names that
/// start with `.` or end in `.tmp`/`.part` are still being written and are left alone. Files are taken in
/// name order, one at a time, every `interval` seconds. Only regular files are read, never through a
/// symbolic link: a link, a FIFO, a socket or a device is moved (itself, not what it points to) to
/// `rejected/` with the reason.
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

    /// Entries ready to ingest (anything but directories), in name order.
    func waitingFiles() -> [String] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: dir) else { return [] }
        return names.filter { name in
            guard !name.hasPrefix("."), !name.hasSuffix(".tmp"), !name.hasSuffix(".part") else { return false }
            var info = stat()
            // lstat: a link is judged as itself, not as what it points to.
            guard lstat((dir as NSString).appendingPathComponent(name), &info) == 0 else { return false }
            return info.st_mode & S_IFMT != S_IFDIR
        }.sorted()
    }

    enum SpoolRead {
        case bytes([UInt8])
        /// Not a regular file: what it is.
        case notRegular(String)
        /// Could not be read (permissions, I/O): errno's text.
        case failed(String)
    }

    /// The bytes of a regular file, opened without following a link and without blocking on a FIFO, and
    /// checked as regular on the descriptor itself (it may have been replaced since it was listed).
    static func readRegularFile(_ path: String) -> SpoolRead {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            return errno == ELOOP ? .notRegular("a symbolic link") : .failed(String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return .failed(String(cString: strerror(errno))) }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFIFO: return .notRegular("a FIFO")
        case S_IFSOCK: return .notRegular("a socket")
        case S_IFCHR, S_IFBLK: return .notRegular("a device")
        default: return .notRegular("not a regular file")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(max(0, info.st_size)))
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n > 0 { bytes.append(contentsOf: chunk[0..<n]) } else if n == 0 { return .bytes(bytes) }
            else if errno != EINTR && errno != EAGAIN { return .failed(String(cString: strerror(errno))) }
        }
    }

    private func ingest(_ name: String, retrying: inout Set<String>) async {
        let path = (dir as NSString).appendingPathComponent(name)
        guard let format = RecordFormat(path: name) else {
            refuse(name, reason: "unknown format: name the file .csv, .ndjson or .jsonl")
            return
        }
        let data: [UInt8]
        switch Self.readRegularFile(path) {
        case let .bytes(bytes): data = bytes
        case let .notRegular(what):
            refuse(name, reason: "\(what), not a regular file: not read (move the file itself into the spool)")
            return
        case let .failed(error):
            // Permissions or I/O: the file stays and is tried again.
            if retrying.insert(name).inserted {
                logger.error("spool file cannot be read; will retry", metadata: ["file": "\(name)", "error": "\(error)"])
            }
            return
        }
        let started = DispatchTime.now()
        let batch = IngestBatch(source: name, bytes: data, format: format, mapping: mapping())
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
