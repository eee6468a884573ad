import ArgumentParser
import Foundation
import VigilCore
import VigilDaemon

struct DeliveriesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliveries",
        abstract: "The outbox: counts per sink, the dead deliveries, and redelivery of dead ones (safe while the daemon runs).")

    @Option(help: "The daemon config (its state_dir holds the outbox).")
    var config: String

    @Flag(help: "List the dead deliveries (sequence number, sink, event id, attempts, last error).")
    var dead = false

    @Option(parsing: .upToNextOption, help: "Put these dead deliveries (sequence numbers) back in their sinks' queues.")
    var redeliver: [Int64] = []

    @Flag(help: "Put every dead delivery back in its sink's queue.")
    var redeliverAll = false

    func run() throws {
        let store = try daemonState(config: config)
        if redeliverAll || !redeliver.isEmpty {
            let n = try store.redeliver(seqs: redeliverAll ? nil : redeliver)
            print("\(n) dead deliver\(n == 1 ? "y" : "ies") queued again")
            return
        }
        if dead {
            for d in try store.deadDeliveries() {
                print("\(d.seq)\t\(d.sink)\t\(d.eventID)\t\(d.attempts)\t\(Alert.timestamp(d.createdAt))\t\(d.lastError)")
            }
            return
        }
        for row in try store.outboxCounts() { print("\(row.sink)\t\(row.state.name)\t\(row.count)") }
    }
}
