import ArgumentParser
import Foundation
import VigilCore
import VigilDaemon

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "The daemon: ingest from the spool and HTTP, keep state in SQLite, deliver alerts to the sinks (SPEC §4).")

    @Option(help: "The daemon config (/etc/vigil/vigil.yaml).")
    var config: String

    func run() async throws {
        do {
            try await Daemon.run(configPath: config)
        } catch let error as ConfigErrors {
            throw ReportedFailure(message: error.description)
        } catch let error as ReportedFailure {
            throw error
        } catch {
            throw ReportedFailure(message: "vigil run: \(error)")
        }
    }
}
