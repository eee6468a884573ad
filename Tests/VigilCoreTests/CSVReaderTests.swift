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
}
