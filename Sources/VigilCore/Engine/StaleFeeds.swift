import Foundation

/// Stale feeds (`alert.stale_after: N`): a facility's series whose last record is N or more periods before
/// the newest period any facility sent for the model raises a `stale` alert; a record after that last one
/// resolves it.
extension Engine {
    /// Where a series ends: its last period (ordinal and text).
    struct SeriesEnd: Equatable {
        let ordinal: Int
        let label: String
    }

    /// Notes where a freshly evaluated series of a model with `stale_after` ends.
    func noteEnd(_ job: SeriesJob, _ result: SeriesResult) {
        guard models[job.model].config.alert.staleAfter != nil, let last = result.observations.last else { return }
        let end = SeriesEnd(ordinal: last.position, label: last.label.text)
        seriesEnds[SeriesID(model: job.model, facility: result.facility)] = end
        if newestEnds[job.model].map({ end.ordinal > $0.ordinal }) ?? true { newestEnds[job.model] = end }
    }

    /// Raises the alerts of series gone stale and resolves those whose feed came back, in model and facility
    /// order.
    func staleEvents(now: Date, into events: inout [Alert]) {
        let ordered = seriesEnds.sorted { ($0.key.model, $0.key.facility) < ($1.key.model, $1.key.facility) }
        for (series, end) in ordered {
            let config = models[series.model].config
            guard let periods = config.alert.staleAfter, let newest = newestEnds[series.model] else { continue }
            let current = staleFiring[series]
            let isStale = newest.ordinal - end.ordinal >= periods
            let id = "stale:\(config.name):\(series.facility):\(end.label)"
            if var held = current, !isStale || held.id != id {
                held.status = .resolved
                events.append(held)
                staleFiring[series] = nil
            }
            if isStale && staleFiring[series] == nil {
                var alert = Alert.stale(model: config, facility: series.facility, lastPeriod: end.label,
                                        newestPeriod: newest.label, periods: periods, raisedAt: now)
                alert.facilityLabels = facilities?[series.facility]
                staleFiring[series] = alert
                events.append(alert)
            }
        }
    }
}
