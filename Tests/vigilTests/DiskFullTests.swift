import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// A full disk under the real daemon (RELIABILITY.md, "Full disk"): its state directory on a 16 MiB tmpfs that
/// the test fills. Needs permission to mount (root, or a container that allows it); skipped otherwise — the
/// SQLITE_FULL test of IngestFailureTests always runs.
extension DaemonTests {
/// Nested in `DaemonTests` (serialized): one daemon at a time, so none waits for a busy machine to start.
@Suite struct DiskFullTests {
    /// Whether this machine lets the tests mount a tmpfs.
    static let canMount: Bool = {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-mount-probe-\(UUID().uuidString.prefix(8))").path
        guard (try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)) != nil else { return false }
        defer { try? FileManager.default.removeItem(atPath: dir) }
        guard run("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir]) == 0 else { return false }
        return run("/bin/umount", [dir]) == 0
    }()

    @discardableResult
    static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Writes zeros into `path` until the filesystem refuses (ENOSPC); returns the bytes written.
    static func fill(_ path: String) -> Int {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        let block = [UInt8](repeating: 0, count: 64 << 10)
        var total = 0
        while true {
            let n = block.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            total += n
        }
        return total
    }

    @Test(.enabled(if: DaemonTests.DiskFullTests.canMount, "mounting a tmpfs is not permitted here"))
    func fullDiskRefusesWithRetryAfterAndResumesByItself() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil))
        let state = daemon.dir.appendingPathComponent("state").path
        try FileManager.default.createDirectory(atPath: state, withIntermediateDirectories: true)
        try #require(Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=16m", "tmpfs", state]) == 0)
        defer {
            _ = daemon.stop()
            Self.run("/bin/umount", [state])
        }
        try await daemon.start()
        // One record first: the write-ahead log stays small, so no later batch fits in space it already holds
        // (a log the checkpoints reset is written again from its start, without taking new space).
        let clabsi = try ReplayFiles.input("1-clabsi.csv")
        let firstRow = String(decoding: clabsi, as: UTF8.self).split(separator: "\n").prefix(2).joined(separator: "\n") + "\n"
        #expect(try await daemon.request("POST", "/v1/records", body: Data(firstRow.utf8), token: daemon.token).status == 202)

        let filler = (state as NSString).appendingPathComponent("filler")
        #expect(Self.fill(filler) > 0)
        let ssi = try ReplayFiles.input("1-ssi.csv")
        // Refused while the disk is full: 503 with Retry-After and the reason, every time.
        for _ in 0..<3 {
            var request = URLRequest(url: URL(string: "http://127.0.0.1:\(daemon.port)/v1/records")!)
            request.httpMethod = "POST"
            request.httpBody = ssi
            request.setValue("text/csv", forHTTPHeaderField: "Content-Type")
            request.setValue("Bearer \(daemon.token)", forHTTPHeaderField: "Authorization")
            let (body, response) = try await URLSession.shared.data(for: request)
            let http = try #require(response as? HTTPURLResponse)
            #expect(http.statusCode == 503)
            #expect(http.value(forHTTPHeaderField: "Retry-After") != nil)
            #expect(String(decoding: body, as: UTF8.self).contains("full"), "\(String(decoding: body, as: UTF8.self))")
        }
        let ready = try await daemon.request("GET", "/readyz")
        #expect(ready.status == 503 && String(decoding: ready.body, as: UTF8.self).contains("cannot be written"))
        // A spool file waits in place, whole.
        try daemon.drop("1-clabsi.csv", contents: clabsi)
        try await waitFor("the spool file's failed attempt in the log", seconds: 60) { daemon.log.contains("1-clabsi.csv") }
        let waiting = try? Data(contentsOf: daemon.spool.appendingPathComponent("1-clabsi.csv"))
        #expect(waiting == clabsi, "the spool file moved while the disk was full: \(daemon.log)")
        #expect(daemon.log.components(separatedBy: "cannot be written").count - 1 == 1, "logged once, not per retry")
        #expect(try await daemon.json("GET", "/healthz")["records"] as? Int == 1)

        // Space returns: the spool file goes through by itself, then the refused batch and the revisions.
        try FileManager.default.removeItem(atPath: filler)
        try await waitFor("the waiting spool file ingested", seconds: 120) {
            FileManager.default.fileExists(atPath: daemon.spool.appendingPathComponent("done/1-clabsi.csv").path)
        }
        #expect(try await daemon.request("GET", "/readyz").status == 200)
        #expect(try await daemon.request("POST", "/v1/records", body: ssi, token: daemon.token).status == 202)
        for name in ["2-clabsi-revisions.csv", "2-ssi-revisions.csv"] {
            try daemon.drop(name, contents: try ReplayFiles.input(name))
            try await waitFor("\(name) ingested", seconds: 120) {
                FileManager.default.fileExists(atPath: daemon.spool.appendingPathComponent("done/\(name)").path)
            }
        }
        // Nothing lost: the firing alerts are R's for all four files.
        #expect(try await daemon.firingIDs() == ReplayFiles.alertIDs("alerts-final.csv"))
        #expect(daemon.log.contains("writable again"))
    }
}
}

extension DaemonTests.DiskFullTests {
    /// The file sink at the process's file-size limit (`RLIMIT_FSIZE`, set on the running daemon with
    /// prlimit): the write fails like a full disk (SIGXFSZ is ignored), the event is retried, the part of a
    /// line that fitted is cut off again, and once the limit is lifted every event arrives whole, once.
    @Test func fileSinkAtItsSizeLimitRetriesAndLeavesNoPartLine() async throws {
        let sinks = """
              - name: alerts-file
                type: file
                path: alerts.jsonl
                retry: { max_attempts: 1000, initial_backoff_seconds: 0.05, max_backoff_seconds: 0.2 }

            """
        let daemon = try DaemonProcess(sinks: sinks)
        defer { _ = daemon.stop() }
        // An alert file with history: larger than the state database will grow in this test, so the limit
        // stops only the sink's appends.
        let earlier = String(repeating: "{\"earlier\":\"\(String(repeating: "x", count: 1000))\"}\n", count: 4096)
        try Data(earlier.utf8).write(to: daemon.alertsFile)
        let size = earlier.utf8.count
        try await daemon.start()
        let pid = try #require(daemon.process?.processIdentifier)
        try #require(Self.run("/usr/bin/prlimit", ["--pid", "\(pid)", "--fsize=\(size + 200):unlimited"]) == 0)

        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("1-clabsi.csv"), token: daemon.token).status == 202)
        let firing = try await daemon.firingIDs()
        try #require(!firing.isEmpty)
        try await waitFor("the sink's write refused at the limit", seconds: 60) { daemon.log.contains("File too large") }
        #expect(try Data(contentsOf: daemon.alertsFile).count == size, "a part line was left at the limit")
        #expect(try await daemon.request("GET", "/healthz").status == 200)

        try #require(Self.run("/usr/bin/prlimit", ["--pid", "\(pid)", "--fsize=unlimited"]) == 0)
        try await waitFor("every event in the file", seconds: 60) { daemon.fileSinkLines().count == 4096 + firing.count }
        let text = try String(contentsOf: daemon.alertsFile, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(text.hasSuffix("\n") && lines.count == 4096 + firing.count, "every line whole")
        let delivered = daemon.fileSinkLines().dropFirst(4096).compactMap { $0["id"] as? String }
        #expect(Set(delivered) == firing && delivered.count == firing.count)
    }
}
