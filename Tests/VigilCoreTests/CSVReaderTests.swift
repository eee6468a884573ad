import Foundation
import Testing
@testable import VigilCore

struct CSVReaderTests {
    private func records(_ text: String) throws -> [CSVRecord] {
        var reader = CSVReader(source: "t.csv", text: text)
        var out: [CSVRecord] = []
        while let r = try reader.next() { out.append(r) }
        return out
    }

    @Test func rfc4180QuotingCRLFAndBOM() throws {
        let r = try records("\u{FEFF}a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n2,\"two\nlines\",z\r\n3,,\r\n")
        #expect(r.map(\.fields) == [["a", "b", "c"], ["1", "x, y", "say \"hi\""], ["2", "two\nlines", "z"], ["3", "", ""]])
        #expect(r.map(\.line) == [1, 2, 3, 5])
    }

    @Test func malformedRecordNamesItsLineAndReadingGoesOn() throws {
        var reader = CSVReader(source: "t.csv", contents: Array("a,b\n1,\"open\n".utf8) )
        _ = try reader.next()
        #expect(throws: CSVError(source: "t.csv", line: 2, reason: "unterminated quoted field")) { try reader.next() }

        var bad = CSVReader(source: "u.csv", contents: Array("a,b\n".utf8) + [0x31, 0x2C, 0xFF, 0x0A] + Array("2,3\n".utf8))
        _ = try bad.next()
        #expect(throws: CSVError(source: "u.csv", line: 2, reason: "field 2 is not valid UTF-8")) { try bad.next() }
        #expect(try bad.next()?.fields == ["2", "3"])
    }

    @Test func noTrailingNewline() throws {
        #expect(try records("a\n1").map(\.fields) == [["a"], ["1"]])
    }

    /// Records split across read chunks (down to 1 byte) come out the same as from memory, quoted newlines
    /// and CRLF included, with the same line numbers.
    @Test func chunkBoundaries() throws {
        let text = "\u{FEFF}id,note,n\r\nF1,\"a, \"\"b\"\"\nc\",1\r\nF2,plain,2\nF3,\"\",3\r\n\nF4,last,4"
        let expected = try records(text)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-chunks-\(UUID().uuidString).csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        for chunk in [1, 2, 3, 5, 7, 64] {
            var reader = try CSVReader(path: path, source: "t.csv", chunkSize: chunk)
            var got: [CSVRecord] = []
            while let r = try reader.next() { got.append(r) }
            #expect(got == expected, "chunk size \(chunk)")
        }
        #expect(expected.map(\.line) == [1, 2, 4, 5, 6, 7])
        #expect(expected[1].fields == ["F1", "a, \"b\"\nc", "1"])
    }

    /// The fast decimal reader gives strtod's value whenever it answers.
    @Test func fastDecimalsAreStrtods() {
        for i in 1...100_000 {
            // Digits and a point position from a multiplicative hash of i: the same cases every run.
            let hash = UInt64(i) &* 0x9E37_79B9_7F4A_7C15
            let digits = Int(hash % 15) + 1
            var text = String(String(hash >> 8).suffix(digits))
            let point = Int((hash >> 4) % UInt64(digits + 1))
            if point < text.count { text.insert(".", at: text.index(text.startIndex, offsetBy: point)) }
            let fast = Array(text.utf8).withUnsafeBufferPointer(Layout.decimal)
            #expect(fast == Double(text), "\(text)")
        }
        #expect(Array("1e5".utf8).withUnsafeBufferPointer(Layout.decimal) == nil)
        #expect(Array("-2".utf8).withUnsafeBufferPointer(Layout.decimal) == nil)
        #expect(Array("1234567890123456".utf8).withUnsafeBufferPointer(Layout.decimal) == nil)
        #expect(Array(".".utf8).withUnsafeBufferPointer(Layout.decimal) == nil)
    }
}
