import Foundation
import Testing
@testable import VigilCore

/// The trace and alert writer: direct writes of whole blocks, the tail through the page cache, and the page
/// cache alone where direct writes are refused; every byte in order whatever the pieces' sizes.
struct LineWriterTests {
    /// 9 MiB + a partial block in pieces of varied sizes (some above the 4 MiB buffer), as text and as bytes.
    private func written(to path: String, _ configure: (LineWriter) -> Void = { _ in }) throws -> [UInt8] {
        var expected: [UInt8] = []
        let writer = try LineWriter(path: path)
        configure(writer)
        let source = [UInt8](unsafeUninitializedCapacity: 6 << 20) { bytes, count in
            var x: UInt64 = 20261204
            for k in bytes.indices {
                x = x &* 6364136223846793005 &+ 1442695040888963407
                bytes[k] = UInt8(32 + (x >> 33) % 95)
            }
            count = bytes.count
        }
        var i = 0
        while expected.count < 9 << 20 {
            let size = [1, 17, 4095, 4096, 70_000, 5 << 20][i % 6]
            let from = (i * 7919) % (source.count - size)
            let piece = Array(source[from..<(from + size)])
            if i % 2 == 0 { writer.write(bytes: piece) } else { writer.write(String(decoding: piece, as: UTF8.self)) }
            expected += piece
            i += 1
        }
        writer.write("last line\n")
        expected += Array("last line\n".utf8)
        try writer.close()
        return expected
    }

    @Test func everyByteInOrderOnDisk() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-lines-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let expected = try written(to: path)
        #expect(expected.count % 4096 != 0)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == expected)
    }

    /// A block through the page cache, then one direct (as a measured choice may go back to direct writes),
    /// then the tail through the page cache: every byte in order.
    @Test func everyByteInOrderWhenTheWaySwitches() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-lines-\(UUID().uuidString).txt").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        var used: LineWriter?
        var blocks = 0
        let expected = try written(to: path) { writer in
            used = writer
            writer.choosesDirect = { _, _ in
                blocks += 1
                return blocks % 2 == 0
            }
        }
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == expected)
        let writer = try #require(used)
        #expect(blocks == (writer.openedDirect ? 2 : 0))
        #expect(writer.cachedWrites.bytes >= (writer.openedDirect ? 4 << 20 : expected.count))
        #expect(writer.directWrites.bytes == (writer.openedDirect ? 4 << 20 : 0))
    }

    /// Direct until direct writes are measured slower than 1 GB/s; then the page cache until it is measured,
    /// and from then on the faster way.
    @Test func theFasterWayIsChosen() {
        typealias T = LineWriter.Throughput
        let measured = LineWriter.measuredBytes
        let fast = T(bytes: measured, seconds: Double(measured) / 2e9), slow = T(bytes: measured, seconds: Double(measured) / 5e8)
        #expect(LineWriter.prefersDirect(direct: T(), cached: T()))
        #expect(LineWriter.prefersDirect(direct: T(bytes: measured - 1, seconds: 10), cached: T()))
        #expect(LineWriter.prefersDirect(direct: fast, cached: T()))
        #expect(!LineWriter.prefersDirect(direct: slow, cached: T()))
        #expect(LineWriter.prefersDirect(direct: slow, cached: T(bytes: measured, seconds: Double(measured) / 2e8)))
        #expect(!LineWriter.prefersDirect(direct: slow, cached: T(bytes: measured, seconds: Double(measured) / 3e9)))
    }

    /// tmpfs refuses O_DIRECT: the same bytes through the page cache.
    @Test func everyByteInOrderWhereDirectWritesAreRefused() throws {
        guard FileManager.default.fileExists(atPath: "/dev/shm") else { return }
        let path = "/dev/shm/vigil-lines-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let expected = try written(to: path)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == expected)
    }

    /// A large previous file (sparse here) is replaced by the new text with its permission bits; a hard-linked
    /// one is truncated in place, so its other name sees the new text too; a symbolic link is written through.
    @Test func aLargePreviousFileIsReplaced() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-replace-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        func large(_ path: String, mode: mode_t) {
            let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
            #expect(fd >= 0 && ftruncate(fd, off_t(LineWriter.backgroundRemovalSize)) == 0)
            close(fd)
            chmod(path, mode)
        }
        func write(_ text: String, to path: String) throws {
            let writer = try LineWriter(path: path)
            writer.write(text)
            try writer.close()
        }
        func text(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
        func status(_ path: String) -> stat {
            var info = stat()
            stat(path, &info)
            return info
        }

        let trace = directory + "/trace.csv"
        large(trace, mode: 0o640)
        // Held open here, the old file's inode cannot be freed and numbered again for the new file.
        let previous = open(trace, O_RDONLY)
        defer { close(previous) }
        try write("new trace\n", to: trace)
        #expect(try text(trace) == "new trace\n")
        #expect(status(trace).st_mode & 0o7777 == 0o640)
        var old = stat()
        #expect(fstat(previous, &old) == 0)
        // A new file; the old one unlinked whole, not truncated.
        #expect(status(trace).st_ino != old.st_ino && old.st_nlink == 0 && old.st_size == off_t(LineWriter.backgroundRemovalSize))

        let linked = directory + "/linked.csv", other = directory + "/other-name.csv"
        large(linked, mode: 0o644)
        #expect(link(linked, other) == 0)
        let linkedInode = status(linked).st_ino
        try write("through both names\n", to: linked)
        #expect(try text(other) == "through both names\n")
        #expect(status(linked).st_ino == linkedInode)

        let target = directory + "/target.csv", symbolic = directory + "/symbolic.csv"
        large(target, mode: 0o644)
        #expect(symlink(target, symbolic) == 0)
        try write("into the target\n", to: symbolic)
        #expect(try text(target) == "into the target\n")
    }

    @Test func aFileThatCannotBeCreatedIsAnError() {
        #expect(throws: (any Error).self) { try LineWriter(path: "/nonexistent-dir-\(UUID().uuidString)/trace.csv") }
    }
}
