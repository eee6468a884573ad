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

    @Test func shortNumbersAsPrintfWritesThem() {
        // Whole numbers, one to three decimals, values just off them, and seeded random ones over many magnitudes.
        var values: [Double] = [0, -0.0, 4, 1, 0.5, 2.5, 12.5, 0.125, 0.001, 0.07, 9999, 10_000, 1234.5, 0.0001, 0.00012,
                                -3.25, 1e-5, 1e20, .infinity, -.infinity, .nan, 4.000000000000001, 0.30000000000000004]
        var generator = SplitMix(seed: 20261205)
        for _ in 0..<200_000 {
            let decimals = Double(generator.next() % 5)
            let m = Double(generator.next() % 200_001) - 100_000
            let x = m / pow(10, decimals) * pow(10, Double(generator.next() % 7) - 3)
            values += [x, x.nextUp, x.nextDown]
        }
        for x in values {
            let s = Alert.printf("%.4g", x)
            let expected = s.contains(".") || s.contains("e") ? s : s + ".0"
            #expect(Alert.short(x) == expected, "\(x)")
        }
    }

    @Test func timestampsAsFoundationWritesThem() {
        // Day, month, leap-year and century edges, times before 1970 and fractions (cut toward the past).
        var times: [Double] = [0, 0.5, 0.9999, -0.5, -1, -1.5, 951_782_400, 951_868_799.99, 4_107_542_400, -2_208_988_800,
                               -2_208_988_800.5, -2_208_988_801, 253_402_300_799.9, 253_402_300_800, -62_135_596_800,
                               1_764_881_458.7, 1_798_761_599, 1_798_761_600]
        var generator = SplitMix(seed: 20261206)
        for _ in 0..<20_000 {
            times.append(Double(generator.next() % 260_000_000_000) - 2_300_000_000 + Double(generator.next() % 1000) / 1000)
        }
        for t in times {
            let date = Date(timeIntervalSince1970: t)
            #expect(Alert.timestamp(date) == date.formatted(Alert.timestampFormat), "\(t)")
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
