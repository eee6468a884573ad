import Foundation
import VigilCore

/// JSON Lines, one alert object per line, appended; an alert counts as delivered once `fsync` returned.
final class FileSink: AlertSink {
    let name: String
    let retry: DaemonConfig.Retry
    let path: String
    private let file = FileState()

    /// The open descriptor, touched by one delivery at a time (the sink's worker) and by `reopen`.
    private actor FileState {
        var fd: Int32 = -1
        func descriptor(_ path: String) throws -> Int32 {
            if fd >= 0 { return fd }
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty { try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
            fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw SinkError("cannot open \(path): \(String(cString: strerror(errno)))") }
            return fd
        }
        func close() {
            if fd >= 0 { _ = Glibc.close(fd) }
            fd = -1
        }
        func append(_ bytes: [UInt8], path: String) throws {
            let fd = try descriptor(path)
            // A full disk or the size limit can take part of a line before failing: cut it off again, so a
            // reader never sees half an alert and the retry writes the line whole.
            let end = lseek(fd, 0, SEEK_END)
            var written = 0
            while written < bytes.count {
                let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
                if n < 0 {
                    if errno == EINTR { continue }
                    let reason = String(cString: strerror(errno))
                    if written > 0, end >= 0 { _ = ftruncate(fd, end) }
                    close()
                    throw SinkError("write to \(path): \(reason)")
                }
                written += n
            }
            guard fsync(fd) == 0 else {
                let reason = String(cString: strerror(errno))
                close()
                throw SinkError("fsync of \(path): \(reason)")
            }
        }
    }

    init(name: String, path: String, retry: DaemonConfig.Retry) {
        self.name = name
        self.path = path
        self.retry = retry
    }

    func payload(alert: Alert, json: JSON, eventID: String, time: String) -> [UInt8] {
        Array((json.serialized() + "\n").utf8)
    }

    func payload(digest: JSON, eventID: String, time: String) -> [UInt8] {
        Array((digest.serialized() + "\n").utf8)
    }

    func deliver(_ entry: OutboxEntry) async -> DeliveryOutcome {
        do {
            try await file.append(entry.payload, path: path)
            return .delivered
        } catch {
            return .retry(reason: "\(error)", after: nil)
        }
    }

    func reopen() async { await file.close() }
}

struct SinkError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
