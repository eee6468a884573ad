import ArgumentParser
import Foundation
import VigilCore
import VigilDaemon

struct AckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack",
        abstract: "Acknowledge an alert: who looks into it and why; shown by GET /v1/alerts, delivers nothing (safe while the daemon runs).")

    @Option(help: "The daemon config (its state_dir holds the alerts).")
    var config: String

    @Option(help: "Who acknowledges (a name or an address).")
    var author: String

    @Option(help: "Why, or the ticket.")
    var note: String = ""

    @Argument(help: "The alert's id (as in its object, GET /v1/alerts).")
    var id: String

    func run() throws {
        let author = author.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !author.isEmpty, author.count <= 200 else { throw ValidationError("--author: a name of 1 to 200 characters") }
        let store = try daemonState(config: config)
        guard try store.acknowledge(alert: id, author: author, note: note, at: Date()) else {
            throw ReportedFailure(message: "no alert \(id) in the state of \(config)")
        }
        print("alert \(id) acknowledged by \(author)")
    }
}
