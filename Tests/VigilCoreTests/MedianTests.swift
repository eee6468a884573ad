import Testing
@testable import VigilCore

/// The median by selection against the median of the sorted values, on odd and even counts, runs of equal
/// values and already ordered input.
struct MedianTests {
    @Test func selectionGivesTheSortedMedian() {
        var state: UInt64 = 20261205
        func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 33
        }
        for count in Array(1...64) + [99, 100, 1_000, 1_001] {
            for shape in 0..<4 {
                let values: [Double] = (0..<count).map { i in
                    switch shape {
                    case 0: return Double(next() % 1_000_000) / 997
                    case 1: return Double(next() % 3)             // few distinct values
                    case 2: return Double(i)                       // ascending
                    default: return Double(count - i) * 0.5        // descending
                    }
                }
                let sorted = values.sorted()
                let expected = count % 2 == 1 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2
                #expect(median(values) == expected, "count \(count), shape \(shape)")
                var copy = values
                for k in [0, count / 3, count - 1] {
                    #expect(nthSmallest(&copy, k) == sorted[k], "count \(count), shape \(shape), k \(k)")
                }
            }
        }
        #expect(median([]) == nil)
    }
}
