import ArgumentParser
import Foundation
import VigilCore
import VigilDaemon

struct ResolveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve",
        abstract: "Resolve a firing alert by hand: the daemon delivers <id>.resolved with your name and note, and that run never fires again.")

    @Option(help: "The daemon config (its state_dir holds the alerts).")
    var config: String

    @Option(help: "Who resolves (a name or an address).")
    var author: String

    @Option(help: "Why, or the ticket.")
    var note: String = ""

    @Argument(help: "The alert's id (as in its object, GET /v1/alerts).")
    var id: String

    func run() throws {
        let author = author.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !author.isEmpty, author.count <= 200 else { throw ValidationError("--author: a name of 1 to 200 characters") }
        let store = try daemonState(config: config)
        switch try store.requestResolution(alert: id, author: author, note: note, at: Date()) {
        case .unknown: throw ReportedFailure(message: "no alert \(id) in the state of \(config)")
        case let .notFiring(status): throw ReportedFailure(message: "alert \(id) is \(status), not firing")
        case .recorded:
            print("alert \(id) resolved by \(author): the running daemon delivers \(id).resolved within a second (else when it next starts)")
        }
    }
}
