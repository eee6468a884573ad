import Foundation
import Testing
@testable import VigilCore

/// The trace and alert writer: direct writes of whole blocks, the tail through the page cache, and the page
/// cache alone where direct writes are refused; every byte in order whatever the pieces' sizes.
struct LineWriterTests {
    /// 9 MiB + a partial block in pieces of varied sizes (some above the 4 MiB buffer), as text and as bytes.
    private func written(to path: String) throws -> [UInt8] {
        var expected: [UInt8] = []
        let writer = try LineWriter(path: path)
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

    /// tmpfs refuses O_DIRECT: the same bytes through the page cache.
    @Test func everyByteInOrderWhereDirectWritesAreRefused() throws {
        guard FileManager.default.fileExists(atPath: "/dev/shm") else { return }
        let path = "/dev/shm/vigil-lines-\(UUID().uuidString).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let expected = try written(to: path)
        #expect(Array(try Data(contentsOf: URL(fileURLWithPath: path))) == expected)
    }

    @Test func aFileThatCannotBeCreatedIsAnError() {
        #expect(throws: (any Error).self) { try LineWriter(path: "/nonexistent-dir-\(UUID().uuidString)/trace.csv") }
    }
}
