import Foundation

/// From a series' fresh evaluation to alert events: what is new, held or withdrawn.
extension Engine {
    /// Folds a series' fresh alerts into those firing: new ones are events, held ones keep when they were
    /// raised and take the revised numbers (no event), missing ones are `resolved` events.
    func diff(_ job: SeriesJob, _ result: SeriesResult, into events: inout [Alert]) {
        let fresh = result.alerts
        let id = SeriesID(model: job.model, facility: result.facility)
        if fresh.isEmpty && firing[id] == nil { return }
        // Taken out of `firing` while it changes, so it is changed in place rather than copied.
        var current = firing.removeValue(forKey: id) ?? [:]
        let freshIDs = Set(fresh.map(\.id))
        for alert in fresh {
            if let held = current[alert.id] {
                var updated = alert
                updated.raisedAt = held.raisedAt
                current[alert.id] = updated
            } else {
                current[alert.id] = alert
                events.append(alert)
            }
        }
        // Every fresh id is in `current` now: more keys means some were withdrawn.
        if current.count > freshIDs.count {
            for (key, alert) in current.sorted(by: { $0.key < $1.key }) where !freshIDs.contains(key) {
                var resolved = alert
                resolved.status = .resolved
                current[key] = nil
                events.append(resolved)
            }
        }
        firing[id] = current.isEmpty ? nil : current
    }

    /// Counts the suppressed signals of a series not seen before (a series is evaluated again on every batch
    /// that touches it).
    func countSuppressed(_ job: SeriesJob, _ result: SeriesResult, into counts: inout [String: Int]) {
        let ids = result.suppressed
        let id = SeriesID(model: job.model, facility: result.facility)
        var seen = suppressedSeen[id] ?? []
        for alert in ids where seen.insert(alert).inserted { counts[models[job.model].config.name, default: 0] += 1 }
        suppressedSeen[id] = seen
    }
}
