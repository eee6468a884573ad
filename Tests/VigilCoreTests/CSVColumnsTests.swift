import Foundation
import Testing
@testable import VigilCore

/// The parallel column reader against the streaming reader: every cut of the file into parts gives the
/// same rows, lines, numbers and texts.
struct CSVColumnsTests {
    private func write(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-columns-\(UUID().uuidString).csv").path
        try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test func everyCutReadsLikeTheStreamingReader() throws {
        var text = "\u{FEFF}id,note,x,y\r\n"
        for i in 0..<60 {
            let note = i % 7 == 0 ? "\"multi\nline, \"\"quoted\"\"\"" : (i % 5 == 0 ? "\"a,b\"" : "plain\(i)")
            let x = i % 11 == 0 ? "-\(i).25" : (i % 13 == 0 ? "1e-3" : " \(i) ")
            text += "F\(i),\(note),\(x),\(i % 3 == 0 ? "n/a" : "\(i * 2)")\(i % 2 == 0 ? "\r\n" : "\n")"
            if i == 30 { text += "\n" }   // a blank line is skipped
        }
        let path = try write(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let table = try CSVTable(path: path)
        for partSize in [1, 7, 64, 200, 1 << 21] {
            let columns = try CSVColumns(path: path, columns: ["note": .text, "x": .number, "y": .number, "id": .text],
                                         exceptionLimit: 100, partSize: partSize)
            #expect(columns.lines == table.lines, "part size \(partSize)")
            #expect(columns.texts["note"] == table.column("note"))
            #expect(columns.texts["id"] == table.column("id"))
            let x = try #require(columns.numbers["x"])
            #expect(x.values == table.column("x")?.map { Double($0.trimmingSpaces) ?? .nan })
            #expect(x.exceptionCount == 0)
            let y = try #require(columns.numbers["y"])
            #expect(y.exceptionCount == 20)
            #expect(y.exceptions.map(\.row) == Array(stride(from: 0, to: 60, by: 3)))
            #expect(y.exceptions.allSatisfy { $0.text == "n/a" })
            #expect(zip(y.values, table.column("y") ?? []).allSatisfy { v, t in Double(t).map { $0 == v } ?? v.isNaN })
        }
    }

    /// A file of `header` then `count` rows: row i is `short(i)` (a short row, reported, on lines `short`) when i is
    /// a multiple of `shortEvery`, else `row(i)`, with a blank line before it when i is a multiple of `blankEvery`;
    /// then `last` without a line feed. `kept` is the same file without the short rows.
    private func table(header: String, count: Int, shortEvery: Int, blankEvery: Int, last: String,
                       row: (Int) -> String, short: (Int) -> String) throws -> (path: String, kept: String, short: [Int]) {
        var text = header, keptText = header
        var shortLines: [Int] = [], line = 1
        for i in 0..<count {
            if i % shortEvery == 0 { text += short(i); line += 1; shortLines.append(line); continue }
            if i % blankEvery == 0 { text += "\n"; keptText += "\n"; line += 1 }
            text += row(i)
            keptText += row(i)
            line += 1
        }
        return (try write(text + last), try write(keptText + last), shortLines)
    }

    /// A number column read as the streaming reader's texts say: each value (NaN where the text is no finite
    /// number, signs kept) and the texts of the exceptions.
    private func expectNumbers(_ read: CSVColumns.Numbers, as written: [String], _ name: String) {
        #expect(read.values.count == written.count, "\(name)")
        for (v, t) in zip(read.values, written) {
            let reference = Double(t.trimmingSpaces).flatMap { $0.isFinite ? $0 : nil }
            #expect(reference.map { $0 == v && $0.sign == v.sign } ?? v.isNaN, "\(name): \(t) read as \(v)")
        }
        #expect(read.exceptions.map(\.text) == written.filter { Double($0.trimmingSpaces) == nil }, "\(name)")
    }

    /// Parts without quotes or carriage returns take the one-pass reader: the same rows, values, exceptions
    /// and problems as the streaming reader, a part with a quote, a carriage return or UTF-8 among them read the
    /// general way. With a quote the file is read whole and cut by the quote-following cutter; without one it
    /// is read in pieces, cut after their first line feeds (lines longer than a piece included).
    @Test(arguments: [true, false]) func plainPartsReadLikeTheStreamingReader(quoted: Bool) throws {
        func x(_ i: Int) -> String { ["\(i)", "-\(i).5", " \(i) ", "1e-\(i % 5)", "", "+3", "12345678901234567", "0.1", "-0", "7."][i % 10] }
        let files = try table(header: quoted ? "id,x,y,z\n" : "\u{FEFF}id,x,y,z\r\n", count: 400, shortEvery: 53, blankEvery: 41,
                              last: "F400,4,5,6", row: { i in
            let y = i % 17 == 0 ? "n/a" : "\(Double(i) / 8)"
            let id = i == 250 ? (quoted ? "\"F,\(i)\"" : "F·\(i)") : (i == 300 ? String(repeating: "L", count: 1500) : "F\(i)")
            return "\(id),\(x(i)),\(y),\(i % 3)\(!quoted && i % 29 == 0 ? "\r" : "")\n"
        }, short: { i in "F\(i),\(x(i))\n" })
        defer { try? FileManager.default.removeItem(atPath: files.path); try? FileManager.default.removeItem(atPath: files.kept) }
        let table = try CSVTable(path: files.kept)
        for partSize in [1, 9, 100, 1000, 1 << 21] {
            do {
                _ = try CSVColumns(path: files.path, columns: ["x": .number], limit: 100, partSize: partSize)
                Issue.record("short rows were not reported")
            } catch let error as CSVTableError {
                #expect(error.problems.map(\.line) == files.short, "part size \(partSize)")
            }
            let columns = try CSVColumns(path: files.kept, columns: ["x": .number, "y": .number, "id": .text, "z": .text],
                                         exceptionLimit: 1000, partSize: partSize)
            #expect(columns.lines == table.lines, "part size \(partSize)")
            #expect(columns.texts["id"] == table.column("id"))
            #expect(columns.texts["z"] == table.column("z"))
            expectNumbers(try #require(columns.numbers["x"]), as: table.column("x") ?? [], "x")
            let y = try #require(columns.numbers["y"])
            #expect(y.exceptionCount == (table.column("y") ?? []).filter { $0 == "n/a" }.count)
            #expect(y.exceptions.map(\.row) == (table.column("y") ?? []).indices.filter { table.column("y")?[$0] == "n/a" })
        }
    }

    /// A table's runs of plain rows are read by `vigil_csv_plain_rows` and each row it stops at by the one-pass
    /// reader: every kind of number cell, blank line, short row, skipped text, a part with UTF-8 and a last line
    /// without a line feed give the streaming reader's rows, values and problems.
    @Test func numberOnlyReadsLikeTheStreamingReader() throws {
        let cells = ["0", "-7.5", " 3 ", "1e-3", "", "+3", "12345678901234567", "0.1", "-0", "7.", ".5", "-.25", "-", ".",
                     "1.2.3", "--1", "123456789012345", "1234567890123456", "0.000000000000001", "n/a", "-98765.4321",
                     "00012", "4\t", "99999999", "-0.0"]
        let files = try table(header: "id,x,note,y\n", count: 600, shortEvery: 97, blankEvery: 43, last: "F600,5,last,-1.5",
                              row: { i in
            let y = i % 19 == 0 ? "NA" : "\(Double(i) / 8)"
            let note = i == 333 ? "caf\u{E9}" : (i % 7 == 0 ? "" : "note \(i)")
            return "F\(i),\(cells[i % cells.count]),\(note),\(y)\n"
        }, short: { i in "F\(i),\(cells[i % cells.count])\n" })
        defer { try? FileManager.default.removeItem(atPath: files.path); try? FileManager.default.removeItem(atPath: files.kept) }
        let table = try CSVTable(path: files.kept)
        for partSize in [1, 9, 100, 1000, 1 << 21] {
            do {
                _ = try CSVColumns(path: files.path, columns: ["x": .number, "y": .number], limit: 100, partSize: partSize)
                Issue.record("short rows were not reported")
            } catch let error as CSVTableError {
                #expect(error.problems.map(\.line) == files.short, "part size \(partSize)")
            }
            let columns = try CSVColumns(path: files.kept, columns: ["x": .number, "y": .number], exceptionLimit: 1000, partSize: partSize)
            #expect(columns.lines == table.lines, "part size \(partSize)")
            for name in ["x", "y"] { expectNumbers(try #require(columns.numbers[name]), as: table.column(name) ?? [], name) }
        }
    }

    @Test func problemsNameTheirLinesInFileOrder() throws {
        let path = try write("a,b\n1,2\n3\n4,\"open\n5,6\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        for partSize in [1, 1 << 21] {
            #expect(throws: CSVTableError.self) {
                try CSVColumns(path: path, columns: ["a": .number], partSize: partSize)
            }
            do {
                _ = try CSVColumns(path: path, columns: ["a": .number], partSize: partSize)
            } catch let error as CSVTableError {
                #expect(error.problems.map(\.line) == [3, 4], "part size \(partSize)")
                #expect(error.problems.first?.reason == "1 fields, the header has 2")
            }
        }
        #expect(throws: CSVTableError.self) { try CSVColumns(path: path, columns: ["z": .number]) }
        #expect(throws: CSVTableError.self) { try CSVColumns(path: path + ".missing", columns: ["a": .number]) }
    }

    @Test func commentedFilesAndEmptyFiles() throws {
        let path = try write("# made by a script\na,b\n# note\n1,2\n3,4\n")
        defer { try? FileManager.default.removeItem(atPath: path) }
        let columns = try CSVColumns(path: path, columns: ["b": .number], commentByte: UInt8(ascii: "#"))
        #expect(columns.numbers["b"]?.values == [2, 4])
        #expect(columns.lines == [4, 5])
        let empty = try write("")
        defer { try? FileManager.default.removeItem(atPath: empty) }
        #expect(throws: CSVTableError.self) { try CSVColumns(path: empty, columns: [:]) }
        let headerOnly = try write("a,b\n")
        defer { try? FileManager.default.removeItem(atPath: headerOnly) }
        #expect(try CSVColumns(path: headerOnly, columns: ["a": .number]).rowCount == 0)
    }

    /// A pipe has no size and no offsets: it is read to its end, as a file that grows.
    @Test func aPipeIsReadToItsEnd() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-columns-\(UUID().uuidString).fifo").path
        #expect(mkfifo(path, 0o600) == 0)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let text = "a,b\n1,2\n3,4\n"
        let writer = Thread {
            let fd = open(path, O_WRONLY)
            guard fd >= 0 else { return }
            _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(fd, $0.baseAddress, text.utf8.count) }
            close(fd)
        }
        writer.start()
        let columns = try CSVColumns(path: path, columns: ["b": .number])
        #expect(columns.numbers["b"]?.values == [2, 4])
        #expect(columns.lines == [2, 3])
    }

    @Test func largeFilesReadInPiecesWhole() throws {
        // Above 16 MiB the bytes are read in pieces on all cores, and every part's rows go straight to their place.
        var text = "a,b\n"
        var i = 0
        while text.utf8.count < (1 << 24) + 12_345 {
            text += "\(i),\(i % 9 == 0 ? "" : "\(Double(i) / 8)")\n"
            if i % 50_000 == 7 { text += "\n" }   // blank lines leave gaps the parts close
            i += 1
        }
        let path = try write(text)
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try CSVColumns.contents(path) == Array(text.utf8))
        let columns = try CSVColumns(path: path, columns: ["a": .number, "b": .number], partSize: 1 << 20)
        #expect(columns.numbers["a"]?.values == (0..<i).map(Double.init))
        #expect(columns.numbers["b"]?.exceptionCount == (i + 8) / 9)
        #expect(columns.numbers["b"]?.values[8] == 1)
    }
}
