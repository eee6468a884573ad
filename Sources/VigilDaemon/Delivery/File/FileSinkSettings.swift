import AsyncHTTPClient
import VigilCore

/// `type: file`: `path:` (relative to the config's directory), the JSON Lines file alerts are appended to.
struct FileSinkSettings: SinkSettings, Equatable {
    static let type = "file"
    static let keys = ["path"]
    let path: String

    static func parse(_ entry: YAMLValue, _ keys: [String: YAMLValue], files: ConfigPaths) -> FileSinkSettings? {
        if keys["path"] == nil { entry.missing("path") }
        return files.path(keys["path"]).map(FileSinkSettings.init(path:))
    }

    func makeSink(name: String, retry: DaemonConfig.Retry, client: HTTPClient) throws -> any AlertSink {
        FileSink(name: name, path: path, retry: retry)
    }
}
