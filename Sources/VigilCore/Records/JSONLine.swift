/// One NDJSON line parsed as a flat JSON object: string, number, boolean and null values, and one level of
/// nested objects (SPEC §1 allows covariates under `covariates`). Numbers keep their text, as a CSV field
/// would, so that `"events": 3` and `events,3` read the same.
enum JSONLine {
    enum Value {
        case text(String)
        case null
        case object([(String, Value)])
    }

    struct Failure: Error { let reason: String }

    static func parseObject(_ bytes: ArraySlice<UInt8>) throws -> [(String, Value)] {
        var p = Parser(bytes: Array(bytes))
        p.skipSpace()
        guard case let .object(members) = try p.value(depth: 0) else { throw Failure(reason: "not a JSON object") }
        p.skipSpace()
        guard p.i == p.bytes.count else { throw Failure(reason: "text after the JSON object") }
        return members
    }

    private struct Parser {
        let bytes: [UInt8]
        var i = 0

        mutating func skipSpace() {
            while i < bytes.count, [0x20, 0x09, 0x0D, 0x0A].contains(bytes[i]) { i += 1 }
        }

        mutating func expect(_ c: UInt8) throws {
            skipSpace()
            guard i < bytes.count, bytes[i] == c else {
                throw Failure(reason: "expected '\(Character(Unicode.Scalar(c)))' at column \(i + 1)")
            }
            i += 1
        }

        mutating func value(depth: Int) throws -> Value {
            skipSpace()
            guard i < bytes.count else { throw Failure(reason: "unexpected end of line") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                guard depth < 2 else { throw Failure(reason: "objects nested more than one level") }
                i += 1
                var members: [(String, Value)] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                while true {
                    skipSpace()
                    let key = try string()
                    try expect(UInt8(ascii: ":"))
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < bytes.count else { throw Failure(reason: "unterminated object") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                    throw Failure(reason: "expected ',' or '}' at column \(i + 1)")
                }
            case UInt8(ascii: "\""):
                return .text(try string())
            case UInt8(ascii: "["):
                throw Failure(reason: "arrays are not record values (column \(i + 1))")
            default:
                let start = i
                while i < bytes.count, !([UInt8(ascii: ","), UInt8(ascii: "}"), 0x20, 0x09, 0x0D, 0x0A].contains(bytes[i])) { i += 1 }
                let word = String(decoding: bytes[start..<i], as: UTF8.self)
                switch word {
                case "null": return .null
                case "true", "false": return .text(word)
                default:
                    guard Double(word) != nil, word.first != "+", !word.hasPrefix("0") || word.count == 1 || word.hasPrefix("0.")
                    else { throw Failure(reason: "\"\(word)\" is not a JSON value (column \(start + 1))") }
                    return .text(word)
                }
            }
        }

        mutating func string() throws -> String {
            guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else {
                throw Failure(reason: "expected a string at column \(i + 1)")
            }
            i += 1
            var out: [UInt8] = []
            while i < bytes.count {
                let b = bytes[i]
                i += 1
                switch b {
                case UInt8(ascii: "\""):
                    guard let s = String(validating: out, as: UTF8.self) else { throw Failure(reason: "invalid UTF-8") }
                    return s
                case UInt8(ascii: "\\"):
                    guard i < bytes.count else { break }
                    let e = bytes[i]
                    i += 1
                    switch e {
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800..<0xDC00).contains(scalar), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                           bytes[i + 1] == UInt8(ascii: "u") {
                            i += 2
                            let low = try hex4()
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        guard let u = Unicode.Scalar(scalar) else { throw Failure(reason: "invalid \\u escape") }
                        out.append(contentsOf: Array(String(Character(u)).utf8))
                    default: out.append(e)
                    }
                default:
                    guard b >= 0x20 else { throw Failure(reason: "control character in a string") }
                    out.append(b)
                }
            }
            throw Failure(reason: "unterminated string")
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16)
            else { throw Failure(reason: "invalid \\u escape") }
            i += 4
            return v
        }
    }
}
