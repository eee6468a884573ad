import ArgumentParser
import VigilCore
import VigilDaemon

@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Risk-adjusted surveillance of healthcare-associated infections and hospitalizations.",
        subcommands: [RunCommand.self, DeliveriesCommand.self, AckCommand.self, ResolveCommand.self, SilenceCommand.self, ReplayCommand.self, ValidateCommand.self, CalibrateCommand.self,
                      FitCommand.self, ARLCommand.self])
}

/// A failure the message explains: printed to stderr, exit status 1 (SPEC §5).
struct ReportedFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}

/// The state of the daemon configured at `path`, for the commands that work on it beside the daemon.
func daemonState(config path: String) throws -> StateStore {
    try StateStore(directory: daemonConfig(path).stateDir)
}

/// The daemon config, its problems reported as a failure.
func daemonConfig(_ path: String) throws -> DaemonConfig {
    do {
        return try DaemonConfigParser.load(path: path)
    } catch let error as ConfigErrors {
        throw ReportedFailure(message: error.description)
    }
}
