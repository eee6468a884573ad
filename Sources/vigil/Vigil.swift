import ArgumentParser
import Foundation
import VigilCore
import VigilDaemon
import VigilStats

@main
struct Vigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vigil",
        abstract: "Risk-adjusted surveillance of healthcare-associated infections and hospitalizations.",
        subcommands: [RunCommand.self, DeliveriesCommand.self, AckCommand.self, ResolveCommand.self, SilenceCommand.self, ReplayCommand.self, ValidateCommand.self, CalibrateCommand.self,
                      FitCommand.self, ARLCommand.self])

    static func main() async {
        // First of all: OpenBLAS's idle workers spin from the library's start and would share the cores with
        // the reading and fitting that follow (vigil calls BLAS on one thread per segment of rows).
        LinearAlgebra.stopThreadPool()
        await main(nil)
    }
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

/// For the commands that read a file whole and exit (replay, fit, calibrate, validate): freed memory stays in
/// the process instead of going back to the kernel. Their parsed records are freed and allocated again by the
/// hundred megabytes, and glibc's defaults returned them and faulted them back in (over a third of a
/// `replay --alerts`'s system time, BENCHMARKS.md). The daemon keeps the defaults: it runs for months.
/// `mallopt` is looked up, with malloc.h's parameter numbers: Swift's Glibc module leaves malloc.h out.
func keepFreedMemory() {
    guard let process = dlopen(nil, RTLD_NOW), let symbol = dlsym(process, "mallopt") else { return }
    let mallopt = unsafeBitCast(symbol, to: (@convention(c) (Int32, Int32) -> Int32).self)
    let trimThreshold: Int32 = -1, topPad: Int32 = -2, mmapThreshold: Int32 = -3
    _ = mallopt(trimThreshold, 256 << 20)
    _ = mallopt(topPad, 64 << 20)
    _ = mallopt(mmapThreshold, 32 << 20)
}

/// Ends a batch command that has written all its output, without freeing what it built: the kernel takes the
/// memory back at once, while freeing a replayed engine's millions of objects one by one took 0.08 s.
/// (`exit` flushes stdio's buffers.)
func exitWithoutFreeing() -> Never {
    exit(0)
}
