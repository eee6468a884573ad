import Foundation
import Testing
@testable import VigilCore

/// The alert's text as people and programs read it: numbers with printf's digits, strings escaped as JSON.
struct AlertTextTests {
    @Test func twoDecimalsAsPrintfWritesThem() {
        // Ties in decimal that are not ties in binary (2.675 is 2.67499…), exact binary ties (0.125 rounds to
        // even), signed zeros, large and non-finite values, and seeded random ones over many magnitudes.
        var values: [Double] = [0, -0.0, 0.125, 0.375, -0.125, 2.675, 1.005, 1.015, 0.005, 0.995, 9.995, 99.995, 1e9, 1e12,
                                -1e12, 123456789.125, .infinity, -.infinity, .nan, .leastNonzeroMagnitude, -0.004, 0.5, 1.5]
        var generator = SplitMix(seed: 20261204)
        for _ in 0..<200_000 {
            let magnitude = pow(10, Double(generator.next() % 14) - 4)
            let x = (Double(generator.next() % 2_000_001) / 1_000_000 - 1) * magnitude
            values.append(x)
            values.append((x * 100).rounded() / 100 + 0.005)   // near a cent's tie
        }
        for x in values {
            #expect(Alert.fixed2(x) == Alert.printf("%.2f", x), "\(x)")
        }
    }

    @Test func stringsEscapedAsJSON() {
        let text = "plain, \"quoted\" \\ back\nline\r\ttab \u{1} é 病院"
        let written = JSON.string(text).serialized()
        #expect(written == "\"plain, \\\"quoted\\\" \\\\ back\\nline\\r\\ttab \\u0001 é 病院\"")
        let read = try? JSONSerialization.jsonObject(with: Data(written.utf8), options: .fragmentsAllowed) as? String
        #expect(read == text)
        #expect(JSON.string("").serialized() == "\"\"")
        #expect(JSON.object([("k\"", .string("\u{1F}"))]).serialized() == "{\"k\\\"\":\"\\u001f\"}")
    }
}

/// SplitMix64: a seeded generator for test inputs.
private struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
