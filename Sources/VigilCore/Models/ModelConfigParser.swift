import Crypto
import Foundation
import VigilStats

/// Reads and validates model files, reporting every problem with its file, line and column.
public enum ModelConfigParser {
    static let topKeys = ["model", "measure", "unit", "description", "select", "expected", "detectors", "alert"]

    /// Loads every `*.yaml`/`*.yml` of a directory (sorted by name), or one file; model names must be
    /// unique across them.
    public static func load(path: String) throws -> [ModelConfig] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw ConfigErrors(problems: [ConfigProblem(file: path, line: 0, column: 0, message: "no such file or directory")])
        }
        var files = [path]
        if isDirectory.boolValue {
            let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
            files = names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted().map { "\(path)/\($0)" }
            guard !files.isEmpty else {
                throw ConfigErrors(problems: [ConfigProblem(file: path, line: 0, column: 0, message: "no model files (*.yaml) here")])
            }
        }
        return try load(files: files)
    }

    public static func load(files: [String]) throws -> [ModelConfig] {
        var models: [ModelConfig] = []
        var problems: [ConfigProblem] = []
        var seen: [String: String] = [:]
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                problems.append(ConfigProblem(file: file, line: 0, column: 0, message: "cannot read the file"))
                continue
            }
            switch parse(data: [UInt8](data), file: file) {
            case let .success(model):
                if let other = seen[model.name] {
                    problems.append(ConfigProblem(file: file, line: 1, column: 1,
                                                  message: "model: \"\(model.name)\" is also the name of \(other)"))
                }
                seen[model.name] = file
                models.append(model)
            case let .failure(errors):
                problems += errors.problems
            }
        }
        if !problems.isEmpty { throw ConfigErrors(problems: problems) }
        return models
    }

    public static func version(of bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).prefix(6).map { String(format: "%02x", $0) }.joined()
    }

    public static func parse(data: [UInt8], file: String) -> Result<ModelConfig, ConfigErrors> {
        let diagnostics = Diagnostics(file: file)
        guard let text = String(validating: data, as: UTF8.self) else {
            return .failure(ConfigErrors(problems: [ConfigProblem(file: file, line: 1, column: 1, message: "not valid UTF-8")]))
        }
        guard let root = YAMLValue.root(text, file: file, diagnostics: diagnostics),
              let top = root.mapping(allowed: topKeys) else {
            return .failure(ConfigErrors(problems: diagnostics.problems))
        }
        let name = top["model"]?.identifier()
        if top["model"] == nil { root.missing("model") }
        let measure = top["measure"].flatMap { v -> String? in
            guard let s = v.string(), !s.isEmpty else { v.report("must be a non-empty text"); return nil }
            return s
        }
        if top["measure"] == nil { root.missing("measure") }
        let unit = top["unit"].map { $0.choice(PeriodUnit.self, among: PeriodUnit.allCases) } ?? ModelDefaults.unit
        // With a bad unit, the rest is still checked (as monthly), so one run shows every problem.
        let checkUnit = unit ?? ModelDefaults.unit
        let description = top["description"]?.string()
        var select: [PublishedModel.Condition] = []
        if let v = top["select"], let entries = v.entries {
            for (covariate, test) in entries {
                if let t = parseTest(test) { select.append(PublishedModel.Condition(covariate: covariate, test: t)) }
            }
        }
        var expected: ExpectedSpec? = nil
        if let e = top["expected"] {
            expected = parseExpected(e, unit: checkUnit)
        } else {
            root.missing("expected")
        }
        let alert = parseAlert(top["alert"])
        let budget = alert?.falseAlarmsPerYear != nil
        if budget, let expected, expected.baseline == nil {
            top["alert"]?.report("false_alarms_per_year counts the series with baseline rows: the model needs expected.baseline")
        }
        if budget && checkUnit == .release {
            top["alert"]?.report("false_alarms_per_year budgets sequential detectors; unit: release compares each window once")
        }
        if alert?.staleAfter != nil && (checkUnit == .patient || checkUnit == .release) {
            top["alert"]?.report("stale_after counts periods of a facility's series: not for unit: \(checkUnit.rawValue)")
        }
        var detectors: [DetectorSpec] = []
        if let d = top["detectors"], let items = d.items {
            if items.isEmpty { d.report("must list at least one detector") }
            var ids: Set<String> = []
            for item in items {
                guard let spec = parseDetector(item, unit: checkUnit, expected: expected, budget: budget) else { continue }
                if !ids.insert(spec.id).inserted { item.report("id \"\(spec.id)\" is used twice in this model") }
                detectors.append(spec)
            }
        } else if top["detectors"] == nil {
            if checkUnit == .release {
                // Each published window compared once: the interval check is the only detector that fits.
                var spec = DetectorSpec(id: "sir", type: SIRInterval.self, parameters: DetectorParameters(["level": 0.95]),
                                        line: root.line, column: root.column)
                spec.threshold = SIRInterval.definition.fixedThreshold
                detectors = [spec]
            } else {
                root.missing("detectors")
            }
        }
        for rule in alert?.inhibit ?? [] {
            let known = Set(detectors.map(\.id))
            for id in rule.whileFiring.union(rule.hold).sorted() where !known.contains(id) {
                diagnostics.report(line: rule.line, column: rule.column,
                                   "alert.inhibit: no detector \"\(id)\" in this model (its detectors: \(detectors.map(\.id).joined(separator: ", ")))")
            }
        }
        if let expected {
            for spec in detectors where spec.arl0 != nil && expected.baseline == nil {
                if spec.watchesPatients {
                    diagnostics.report(line: spec.line, column: spec.column,
                                       "detectors.\(spec.id).arl0: a \(spec.typeName) is calibrated over the baseline's patients; give expected.baseline or \(spec.thresholdKey)")
                } else if spec.definition.takesARLExpected && spec.arlExpected == nil {
                    diagnostics.report(line: spec.line, column: spec.column,
                                       "detectors.\(spec.id).arl0: a \(spec.typeName) is calibrated at an expected count; give arl_expected or expected.baseline")
                }
            }
        }
        guard diagnostics.problems.isEmpty, let name, let measure, let unit, let expected, let alert else {
            return .failure(ConfigErrors(problems: diagnostics.problems.sorted { ($0.line, $0.column) < ($1.line, $1.column) }))
        }
        return .success(ModelConfig(name: name, measure: measure, unit: unit, description: description, select: select,
                                    expected: expected, detectors: detectors, alert: alert,
                                    version: version(of: data), path: file))
    }

    // MARK: expected

    static func parseExpected(_ value: YAMLValue, unit: PeriodUnit) -> ExpectedSpec? {
        guard let m = value.mapping(allowed: ["kind", "mean", "rate", "covariates", "offset", "baseline", "reference",
                                              "link", "intercept", "terms", "seasonal", "column"]) else { return nil }
        guard let kindValue = m["kind"] else { value.missing("kind"); return nil }
        let kinds = ["mean", "rate", "poisson", "negative_binomial", "logistic", "coefficients", "supplied", "binomial", "beta_binomial"]
        guard let kindName = kindValue.scalarText, kinds.contains(kindName) else {
            kindValue.report("must be one of \(kinds.joined(separator: ", "))"); return nil
        }
        let patient = unit == .patient
        func needs(_ key: String) -> YAMLValue? {
            if let v = m[key] { return v }
            value.missing(key)
            return nil
        }
        func refuse(_ keys: [String]) {
            for key in keys { if let v = m[key] { v.report("does not apply to kind \(kindName)") } }
        }
        func positive(_ key: String) -> Double? {
            guard let v = needs(key), let x = v.number() else { return nil }
            guard x > 0 else { v.report("must be a number > 0"); return nil }
            return x
        }
        var kind: ExpectedSpec.Kind? = nil
        switch kindName {
        case "mean":
            refuse(["rate", "covariates", "baseline", "reference", "link", "intercept", "terms", "offset"])
            kind = positive("mean").map { .mean($0) }
        case "rate":
            refuse(["mean", "covariates", "baseline", "reference", "link", "intercept", "terms", "offset"])
            kind = positive("rate").map { .rate($0) }
        case "supplied":
            refuse(["mean", "rate", "covariates", "baseline", "reference", "link", "intercept", "terms", "offset"])
            if let c = needs("column"), let name = c.string() {
                if name.isEmpty { c.report("must name the feed's column of expected counts") } else { kind = .supplied(column: name) }
            }
        case "poisson", "negative_binomial", "logistic":
            refuse(["mean", "rate", "link", "intercept", "terms"])
            kind = kindName == "poisson" ? .poisson : kindName == "logistic" ? .logistic : .negativeBinomial
            if m["baseline"] == nil { value.missing("baseline") }
        case "binomial", "beta_binomial":
            refuse(["mean", "rate", "link", "intercept", "terms"])
            if let o = m["offset"] { o.report("does not apply to kind \(kindName): events are out of trials, not per exposure") }
            kind = kindName == "binomial" ? .binomial : .betaBinomial
            if m["baseline"] == nil { value.missing("baseline") }
        default:
            refuse(["mean", "rate", "covariates", "reference"])
            kind = parsePublished(m, value, unit: unit).map { .coefficients($0) }
        }
        if unit == .release && ["poisson", "negative_binomial", "logistic", "binomial", "beta_binomial"].contains(kindName) {
            kindValue.report("unit: release takes E from the feed (supplied) or states it (mean, rate, coefficients): there is no baseline of overlapping windows to fit")
        }
        if kindName == "logistic" && !patient {
            kindValue.report("logistic models are patient-level: set unit: patient")
        }
        if kindName != "supplied", let c = m["column"] { c.report("does not apply to kind \(kindName)") }
        if ["mean", "rate", "poisson", "negative_binomial", "supplied", "binomial", "beta_binomial"].contains(kindName) && patient {
            kindValue.report("\(kindName) is for aggregate counts; unit: patient needs logistic or coefficients with link: logit")
        }
        if case let .coefficients(published)? = kind {
            if published.link == .logit && !patient { m["link"]?.report("logit is for patient-level models (unit: patient)") }
            if published.link == .log && patient { m["link"]?.report("log is for aggregate counts; patient-level models use logit") }
        }
        let covariates = m["covariates"]?.strings() ?? []
        var offset = !patient && ModelDefaults.countOffset
        if let o = m["offset"] {
            switch o.scalarText {
            case "exposure" where !patient: offset = true
            case "none": offset = false
            default: o.report(patient ? "must be none (patient-level models have no exposure)" : "must be exposure or none")
            }
        }
        if case .rate = kind { offset = true }
        if case .supplied = kind { offset = false }
        if kind?.isProportion == true { offset = false }
        var baseline: BaselineWindow? = nil
        if let b = m["baseline"] {
            if unit == .release { b.report("does not apply to unit: release (nothing is fitted)") } else { baseline = parseBaseline(b, unit: unit) }
        }
        var references: [String: String] = [:]
        if let r = m["reference"], let entries = r.entries {
            for (key, level) in entries {
                if !covariates.contains(key) { level.report("\(key) is not among covariates") }
                if let s = level.string() { references[key] = s }
            }
        }
        var harmonics = 0
        if let v = m["seasonal"] {
            if !["poisson", "negative_binomial", "logistic", "binomial", "beta_binomial"].contains(kindName) {
                v.report("seasonal terms are fitted: kind poisson, negative_binomial, binomial, beta_binomial or logistic (coefficients models use sin1, cos1, … in linear terms)")
            } else if let sm = v.mapping(allowed: ["harmonics"]) {
                if let hv = sm["harmonics"] {
                    if let k = Int(hv.scalarText ?? ""), k >= 1 {
                        if let p = Seasonal.periodsPerYear(unit) {
                            if Double(k) >= p / 2 { hv.report("must be < \(p / 2) (half the \(unit.rawValue)s in a year)") } else { harmonics = k }
                        } else {
                            v.report("a yearly model has no season")
                        }
                    } else { hv.report("must be a whole number >= 1") }
                } else { v.missing("harmonics") }
            }
        }
        for name in covariates where Seasonal.term(name) != nil {
            m["covariates"]?.report("\(name) is reserved for seasonal terms (expected.seasonal)")
        }
        guard let kind else { return nil }
        var spec = ExpectedSpec(kind: kind, covariates: covariates, offset: offset, baseline: baseline, references: references)
        spec.harmonics = harmonics
        return spec
    }

    static func parseBaseline(_ value: YAMLValue, unit: PeriodUnit) -> BaselineWindow? {
        guard let m = value.mapping(allowed: ["from", "to"]) else { return nil }
        func period(_ key: String, end: Bool) -> Period? {
            guard let v = m[key] else { value.missing(key); return nil }
            guard let text = v.scalarText, let p = Period.parse(Substring(text)) else {
                v.report("must be a period such as \(unit == .patient ? "2022-01-01 or 2022-01" : example(unit))"); return nil
            }
            if unit == .patient {
                switch p.unit {
                case .day: return p
                case .month:   // the whole month
                    let year = p.ordinal.floorDiv(12), month = p.ordinal - year * 12 + 1
                    let day = end ? CivilDate.days(year, month, CivilDate.daysInMonth(year, month)) : CivilDate.days(year, month, 1)
                    return Period(unit: .day, ordinal: day)
                default:
                    v.report("must be a date (2022-01-01) or a month (2022-01) for a patient-level model"); return nil
                }
            }
            guard p.unit == unit else {
                v.report("must be a period of the model's unit (\(unit.rawValue)), such as \(example(unit))"); return nil
            }
            return p
        }
        guard let from = period("from", end: false), let to = period("to", end: true) else { return nil }
        guard from <= to else { value.report("from (\(from)) is after to (\(to))"); return nil }
        return BaselineWindow(from: from, to: to)
    }

    static func example(_ unit: PeriodUnit) -> String {
        switch unit {
        case .day, .patient, .release: "2022-01-01"
        case .week: "2022-W01"
        case .month: "2022-01"
        case .quarter: "2022-Q1"
        case .year: "2022"
        }
    }

    static func parsePublished(_ m: [String: YAMLValue], _ value: YAMLValue, unit: PeriodUnit) -> PublishedModel? {
        var link: PublishedModel.LinkName = unit == .patient ? .logit : .log
        if let l = m["link"] { link = l.choice(PublishedModel.LinkName.self, among: PublishedModel.LinkName.allCases) ?? link }
        guard let interceptValue = m["intercept"] else { value.missing("intercept"); return nil }
        let intercept = interceptValue.number()
        var terms: [PublishedModel.Term] = []
        var ok = intercept != nil
        if let t = m["terms"], let items = t.items {
            for item in items {
                if let term = parseTerm(item) { terms.append(term) } else { ok = false }
            }
        }
        guard ok, let intercept else { return nil }
        return PublishedModel(link: link, intercept: intercept, terms: terms)
    }

    static func parseTerm(_ item: YAMLValue) -> PublishedModel.Term? {
        guard let m = item.mapping(allowed: ["when", "linear", "beta"]) else { return nil }
        guard let betaValue = m["beta"] else { item.missing("beta"); return nil }
        let beta = betaValue.number()
        switch (m["when"], m["linear"]) {
        case let (when?, nil):
            guard let entries = when.entries else { return nil }
            if entries.isEmpty { when.report("must name at least one condition") }
            var conditions: [PublishedModel.Condition] = []
            for (covariate, test) in entries {
                guard let t = parseTest(test) else { continue }
                conditions.append(PublishedModel.Condition(covariate: covariate, test: t))
            }
            guard let beta, conditions.count == entries.count, !entries.isEmpty else { return nil }
            return PublishedModel.Term(body: .when(conditions), beta: beta)
        case let (nil, linear?):
            guard let name = linear.string(), let beta else { return nil }
            return PublishedModel.Term(body: .linear(name), beta: beta)
        case (nil, nil):
            item.report("a term needs when: (conditions) or linear: (a covariate)"); return nil
        default:
            item.report("a term has when: or linear:, not both"); return nil
        }
    }

    static func parseTest(_ value: YAMLValue) -> PublishedModel.Condition.Test? {
        switch value.node {
        case .scalar:
            return value.string().map { .levels([$0]) }
        case .sequence:
            guard let levels = value.strings(), !levels.isEmpty else { value.report("must list at least one level"); return nil }
            return .levels(levels)
        case .mapping:
            guard let m = value.mapping(allowed: ["gt", "ge", "lt", "le"]) else { return nil }
            guard !m.isEmpty else { value.report("needs a bound: gt, ge, lt or le"); return nil }
            let gt = m["gt"]?.number(), ge = m["ge"]?.number(), lt = m["lt"]?.number(), le = m["le"]?.number()
            if (m["gt"] != nil && gt == nil) || (m["ge"] != nil && ge == nil) || (m["lt"] != nil && lt == nil)
                || (m["le"] != nil && le == nil) { return nil }
            if gt != nil && ge != nil { value.report("gt and ge together: keep one"); return nil }
            if lt != nil && le != nil { value.report("lt and le together: keep one"); return nil }
            return .bounds(gt: gt, ge: ge, lt: lt, le: le)
        case .alias:
            value.report("aliases are not supported here"); return nil
        }
    }

    // MARK: detectors

    /// The kind of series a model's detectors watch.
    static func seriesKind(unit: PeriodUnit, expected: ExpectedSpec?) -> SeriesKind? {
        switch unit {
        case .patient: return .patients
        case .release: return .releases
        default:
            guard let expected else { return nil }
            return expected.kind.isProportion ? .proportions : .counts
        }
    }

    /// The message for a detector type on series it does not watch.
    static func mismatch(_ type: any Detector.Type, on series: SeriesKind) -> String {
        let name = type.type
        let definition = type.definition
        switch series {
        case .releases:
            let fitting = Detectors.all.filter { $0.definition.watches.contains(.releases) }.map { $0.type }
            return "unit: release compares each published window once: use \(fitting.joined(separator: " or ")) (a \(name) over overlapping windows would count the same events many times)"
        case .patients where !definition.watches.contains(.patients):
            let fitting = Detectors.all.filter { $0.definition.watches.contains(.patients) }.map { $0.type }
            return "\(name) watches counts per period; patient-level models use \(fitting.joined(separator: " or "))"
        default:
            let watched = definition.watches.count == 1 ? definition.watches.first ?? series : .counts
            return "\(name) \(watched.requirement)"
        }
    }

    /// A detector from its type's definition (`DetectorDefinition`): keys, their rules and defaults, the series
    /// it watches. `budget`: the model has `alert.false_alarms_per_year`, which sets every threshold.
    static func parseDetector(_ item: YAMLValue, unit: PeriodUnit, expected: ExpectedSpec?, budget: Bool = false) -> DetectorSpec? {
        guard let entries = item.entries else { return nil }
        guard let typeValue = entries.first(where: { $0.key == "type" })?.value else { item.missing("type"); return nil }
        guard let typeText = typeValue.scalarText, let type = Detectors.named(typeText) else {
            typeValue.report("must be one of \(Detectors.types.joined(separator: ", "))"); return nil
        }
        let definition = type.definition
        guard let m = item.mapping(allowed: ["id", "type"] + definition.keys) else { return nil }
        var ok = true
        func fail(_ v: YAMLValue, _ message: String) { v.report(message); ok = false }
        var id = ""
        if let v = m["id"] {
            if let s = v.identifier() { id = s } else { ok = false }
        } else {
            item.missing("id")
            ok = false
        }
        if let series = seriesKind(unit: unit, expected: expected), !definition.watches.contains(series) {
            fail(typeValue, mismatch(type, on: series))
        }
        var parameters = DetectorParameters(direction: ModelDefaults.direction, reset: ModelDefaults.reset)
        for parameter in definition.parameters {
            guard let v = m[parameter.key] else {
                switch parameter.absent {
                case .required: item.missing(parameter.key); ok = false
                case let .defaultValue(x): parameters[parameter.key] = x
                case .fittedTheta:
                    if let expected, expected.kind.family != .negbin {
                        fail(typeValue, "\(typeText) needs \(parameter.key): give it, or use expected.kind: negative_binomial (whose fitted θ it takes)")
                    }
                }
                continue
            }
            guard let x = v.number() else { ok = false; continue }
            if parameter.range.contains(x) { parameters[parameter.key] = x } else { fail(v, parameter.rangeMessage) }
        }
        if let v = m["direction"] { if let d = v.choice(Direction.self, among: Direction.allCases) { parameters.direction = d } else { ok = false } }
        if let v = m["reset"] { if let r = v.choice(ResetMode.self, among: ResetMode.allCases) { parameters.reset = r } else { ok = false } }
        var spec = DetectorSpec(id: id, type: type, parameters: parameters, line: item.line, column: item.column)
        guard let thresholdKey = definition.thresholdKey else {
            spec.threshold = definition.fixedThreshold
            return ok ? spec : nil
        }
        func positive(_ key: String) -> Double? {
            guard let v = m[key] else { return nil }
            guard let x = v.number() else { ok = false; return nil }
            guard x > 0 else { fail(v, "must be a number > 0"); return nil }
            return x
        }
        spec.threshold = positive(thresholdKey)
        if let v = m["arl0"] {
            if let x = v.number(), x > 1 { spec.arl0 = x } else { fail(v, "must be a number > 1 (periods, or patients)") }
        }
        spec.arlExpected = positive("arl_expected")
        if budget {
            for key in [thresholdKey, "arl0"] {
                if let v = m[key] { fail(v, "alert.false_alarms_per_year sets every threshold: give no \(thresholdKey) or arl0") }
            }
            spec.perSeries = true
        } else {
            switch (m[thresholdKey], m["arl0"]) {
            case (nil, nil): item.report("give \(thresholdKey) (the threshold) or arl0 (to have vigil calibrate it)"); ok = false
            case let (_?, a?): fail(a, "give \(thresholdKey) or arl0, not both")
            default: break
            }
        }
        if let v = m["per_series"] {
            switch v.scalarText {
            case "true": spec.perSeries = true
            case "false": break
            default: fail(v, "must be true or false")
            }
            if spec.perSeries && !budget && m["arl0"] == nil {
                fail(v, "a threshold per series is solved for arl0: give arl0 instead of \(thresholdKey)")
            }
        }
        if budget && spec.reset == .none {
            fail(m["reset"] ?? item, "reset: none never ends an alarm, so no false-alarm rate can be budgeted: use zero or fir")
        }
        return ok ? spec : nil
    }

    // MARK: alert

    static func parseAlert(_ value: YAMLValue?) -> AlertSpec? {
        guard let value else { return AlertSpec(severity: ModelDefaults.severity, cooldown: ModelDefaults.cooldown, sinks: nil) }
        guard let m = value.mapping(allowed: ["severity", "cooldown", "sinks", "min_expected", "false_alarms_per_year", "stale_after",
                                                    "inhibit"]) else { return nil }
        var ok = true
        var severity = ModelDefaults.severity
        if let v = m["severity"] { if let s = v.choice(Severity.self, among: Severity.allCases) { severity = s } else { ok = false } }
        var cooldown = ModelDefaults.cooldown
        if let v = m["cooldown"] {
            if let c = Int(v.scalarText ?? ""), c >= 0 { cooldown = c } else { v.report("must be a whole number >= 0 (periods)"); ok = false }
        }
        var sinks: [String]? = nil
        if let v = m["sinks"] { if let s = v.strings() { sinks = s } else { ok = false } }
        var minExpected = 0.0
        if let v = m["min_expected"] {
            if let x = v.number() { if x >= 0 { minExpected = x } else { v.report("must be a number >= 0 (an expected count)"); ok = false } }
            else { ok = false }
        }
        var budget: Double? = nil
        if let v = m["false_alarms_per_year"] {
            if let x = v.number() { if x > 0 { budget = x } else { v.report("must be a number > 0 (false alarms a year across the model)"); ok = false } }
            else { ok = false }
        }
        var staleAfter: Int? = nil
        if let v = m["stale_after"] {
            if let n = Int(v.scalarText ?? ""), n >= 1, n <= 1000 { staleAfter = n } else { v.report("must be a whole number of periods from 1 to 1000"); ok = false }
        }
        var inhibit: [Inhibition] = []
        if let v = m["inhibit"] {
            if let items = v.items {
                for item in items {
                    guard let keys = item.mapping(allowed: ["while", "hold"]) else { ok = false; continue }
                    for key in ["while", "hold"] where keys[key] == nil { item.missing(key) }
                    func ids(_ key: String) -> Set<String>? {
                        guard let node = keys[key] else { return nil }
                        let list = node.scalarText != nil ? node.string().map { [$0] } : node.strings()
                        guard let list, !list.isEmpty else { if list?.isEmpty == true { node.report("give at least one detector id") }; return nil }
                        return Set(list)
                    }
                    guard let whileFiring = ids("while"), let hold = ids("hold") else { ok = false; continue }
                    if !whileFiring.isDisjoint(with: hold) { item.report("a detector cannot hold itself: while and hold share \(whileFiring.intersection(hold).sorted().joined(separator: ", "))"); ok = false; continue }
                    var rule = Inhibition(whileFiring: whileFiring, hold: hold)
                    (rule.line, rule.column) = (item.line, item.column)
                    inhibit.append(rule)
                }
            } else {
                v.report("must be a list of { while: DETECTOR, hold: [DETECTOR, …] }")
                ok = false
            }
        }
        guard ok else { return nil }
        var spec = AlertSpec(severity: severity, cooldown: cooldown, sinks: sinks, minExpected: minExpected, falseAlarmsPerYear: budget)
        spec.staleAfter = staleAfter
        spec.inhibit = inhibit
        if let v = m["sinks"] { (spec.sinksLine, spec.sinksColumn) = (v.line, v.column) }
        return spec
    }
}
