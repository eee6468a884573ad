import Foundation
import Testing
import VigilStats

/// The funnel plot's limits and overdispersion against R (`Funnel/make-funnel.R` writes the references).
struct FunnelTests {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Funnel")

    static func rows(_ name: String) throws -> [[String]] {
        try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8).split(separator: "\n")
            .filter { !$0.hasPrefix("#") }.dropFirst()
            .map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    /// By hand at E = 4, p = 0.975: F(7) = 0.9488663842, F(8) = 0.9786365655, so r = 8,
    /// α = (0.9786365655 − 0.975) / (0.9786365655 − 0.9488663842) = 0.122154631, limit (8 − α)/4 = 1.969461342.
    @Test func poissonLimitsMatchR() throws {
        #expect(abs((Funnel.poissonLimit(expected: 4, p: 0.975) ?? 0) - 1.969461342) < 1e-9)
        let rows = try Self.rows("funnel-limits.csv")
        #expect(rows.count == 36)
        for row in rows {
            let (e, p, limit) = (Double(row[0]) ?? .nan, Double(row[1]) ?? .nan, Double(row[2]) ?? .nan)
            let mine = try #require(Funnel.poissonLimit(expected: e, p: p))
            #expect(abs(mine - limit) <= 1e-9 * max(1, limit), "E = \(e), p = \(p): \(mine) vs R \(limit)")
        }
        #expect(Funnel.poissonLimit(expected: 0, p: 0.975) == nil)
        #expect(Funnel.poissonLimit(expected: .nan, p: 0.975) == nil)
    }

    @Test func winsorizedOverdispersionMatchesR() throws {
        let text = try String(contentsOf: Self.dir.appendingPathComponent("funnel-phi.csv"), encoding: .utf8)
        let phiR = try #require(text.split(separator: "\n").first.flatMap { Double($0.dropFirst("# phi=".count).split(separator: " ")[0]) })
        let points = try Self.rows("funnel-phi.csv").map { (observed: Double($0[0]) ?? .nan, expected: Double($0[1]) ?? .nan) }
        #expect(points.count == 40)
        let phi = try #require(Funnel.overdispersion(points))
        #expect(abs(phi - phiR) <= 1e-12 * phiR, "\(phi) vs R \(phiR)")
        // φ > 1: the limits are 1 ± z·√(φ/E).
        let limits = try #require(Funnel.limits(expected: 16, level: Funnel.levels[0], phi: phi))
        #expect(abs(limits.upper - (1 + 1.959963984540054 * (phi / 16).squareRoot())) < 1e-15)
        #expect(Funnel.overdispersion([(1, 2)]) == nil)
    }
}
