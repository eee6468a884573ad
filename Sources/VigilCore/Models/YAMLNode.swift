import Yams

/// A problem in a YAML file at a line and column: `Models/clabsi.yaml:14:7: detectors[0].ratio: must be a
/// number != 1` (SPEC §2).
public struct ConfigProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let column: Int
    public let message: String

    public init(file: String, line: Int, column: Int, message: String) {
        (self.file, self.line, self.column, self.message) = (file, line, column, message)
    }

    public var description: String { "\(file):\(line):\(column): \(message)" }
}

/// Every problem found in one or more files; validation goes on after the first.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    public let problems: [ConfigProblem]
    public init(problems: [ConfigProblem]) { self.problems = problems }
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// Collects problems while a file is read.
public final class Diagnostics {
    public let file: String
    public private(set) var problems: [ConfigProblem] = []

    public init(file: String) { self.file = file }

    public func report(_ node: YAMLValue, _ message: String) {
        problems.append(ConfigProblem(file: file, line: node.line, column: node.column, message: "\(node.path): \(message)"))
    }

    public func report(line: Int, column: Int, _ message: String) {
        problems.append(ConfigProblem(file: file, line: line, column: column, message: message))
    }
}

/// A YAML node with its key path (`detectors[0].ratio`) and position, and typed readers that report a
/// problem and return nil when the value is not of the expected kind (the model, mapping and daemon configs' reader).
public struct YAMLValue {
    let node: Node
    public let path: String
    let diagnostics: Diagnostics
    /// Position of the key (for a missing child) when the node itself has none.
    let fallback: (line: Int, column: Int)
    /// Position of this value's key, when it is a mapping's value.
    var keyPosition: (line: Int, column: Int)? = nil

    public var line: Int { node.mark?.line ?? fallback.line }
    public var column: Int { node.mark?.column ?? fallback.column }

    public static func root(_ text: String, file: String, diagnostics: Diagnostics) -> YAMLValue? {
        do {
            guard let node = try Yams.compose(yaml: text) else {
                diagnostics.report(line: 1, column: 1, "the file is empty")
                return nil
            }
            return YAMLValue(node: node, path: "", diagnostics: diagnostics, fallback: (1, 1))
        } catch let error as YamlError {
            let (line, column, message) = Self.locate(error)
            diagnostics.report(line: line, column: column, "not valid YAML: \(message)")
            return nil
        } catch {
            diagnostics.report(line: 1, column: 1, "not valid YAML: \(error)")
            return nil
        }
    }

    private static func locate(_ error: YamlError) -> (Int, Int, String) {
        switch error {
        case let .scanner(context, problem, mark, _):
            return (mark.line, mark.column, [context?.text, problem].compactMap { $0 }.joined(separator: " "))
        case let .parser(context, problem, mark, _):
            return (mark.line, mark.column, [context?.text, problem].compactMap { $0 }.joined(separator: " "))
        case let .composer(context, problem, mark, _):
            return (mark.line, mark.column, [context?.text, problem].compactMap { $0 }.joined(separator: " "))
        default:
            return (1, 1, "\(error)")
        }
    }

    public func report(_ message: String) { diagnostics.report(self, message) }

    private func child(_ node: Node, _ path: String) -> YAMLValue {
        YAMLValue(node: node, path: path, diagnostics: diagnostics, fallback: (line, column))
    }

    // MARK: Mappings

    /// The entries of a mapping in file order, or nil (reported) when this is not a mapping.
    public var entries: [(key: String, value: YAMLValue)]? {
        guard case let .mapping(mapping) = node else {
            report("must be a mapping (key: value)")
            return nil
        }
        return mapping.map { pair in
            let key = pair.key.string ?? ""
            let p = path.isEmpty ? key : "\(path).\(key)"
            var value = child(pair.value, p)
            value.keyPosition = pair.key.mark.map { ($0.line, $0.column) }
            return (key, value)
        }
    }

    /// Reads a mapping: reports unknown keys and duplicate keys, returns the known ones.
    public func mapping(allowed: [String]) -> [String: YAMLValue]? {
        guard let entries else { return nil }
        var result: [String: YAMLValue] = [:]
        for (key, value) in entries {
            if !allowed.contains(key) {
                diagnostics.report(line: value.keyLine, column: value.keyColumn,
                                   "\(value.path): unknown key (allowed here: \(allowed.joined(separator: ", ")))")
            } else if result[key] != nil {
                diagnostics.report(line: value.keyLine, column: value.keyColumn, "\(value.path): duplicate key")
            } else {
                result[key] = value
            }
        }
        return result
    }

    var keyLine: Int { keyPosition?.line ?? line }
    var keyColumn: Int { keyPosition?.column ?? column }

    /// Reports a required key that is absent, at this mapping's position.
    public func missing(_ key: String) {
        diagnostics.report(line: line, column: column, "\(path.isEmpty ? key : "\(path).\(key)"): required")
    }

    // MARK: Scalars

    public var scalarText: String? {
        guard case let .scalar(s) = node else { return nil }
        return s.string
    }

    public func string() -> String? {
        guard let s = scalarText else { report("must be a text value"); return nil }
        return s
    }

    /// A name of `[a-z0-9_-]+` (models, detectors, sinks).
    public func identifier() -> String? {
        guard let s = string() else { return nil }
        guard !s.isEmpty, s.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 45 || $0 == 95 }) else {
            report("must match [a-z0-9_-]+"); return nil
        }
        return s
    }

    public func number() -> Double? {
        guard let s = scalarText, let v = Double(s.trimmingCharacters(in: .whitespaces)), v.isFinite else {
            report("must be a number"); return nil
        }
        return v
    }

    public func choice<T: RawRepresentable>(_ type: T.Type, among allowed: [T]) -> T? where T.RawValue == String {
        guard let s = scalarText, let v = T(rawValue: s), allowed.contains(where: { $0.rawValue == v.rawValue }) else {
            report("must be one of \(allowed.map(\.rawValue).joined(separator: ", "))"); return nil
        }
        return v
    }

    /// A list; a single scalar is not accepted (say `[a]`).
    public var items: [YAMLValue]? {
        guard case let .sequence(sequence) = node else { report("must be a list"); return nil }
        return sequence.enumerated().map { child($1, "\(path)[\($0)]") }
    }

    public func strings() -> [String]? {
        guard let items else { return nil }
        var out: [String] = []
        for item in items {
            guard let s = item.string() else { return nil }
            out.append(s)
        }
        return out
    }
}
