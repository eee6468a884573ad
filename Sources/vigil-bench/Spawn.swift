import Foundation
import VigilThreads

/// A program run to its exit and timed whole: spawned, its output read to the end, reaped. Foundation's
/// `Process.waitUntilExit` polls its run loop every 50 ms on Linux, which added up to 50 ms to each time —
/// a third of a 0.15 s fit.
enum Spawn {
    struct Finished {
        let seconds: Double
        let status: Int32
        let output: String
    }

    /// Runs `executable` with `arguments`; its standard output (and standard error too when `mergeErrors`)
    /// is captured, otherwise standard error is this process's. nil when it could not be started.
    static func run(_ executable: String, _ arguments: [String], mergeErrors: Bool = false) -> Finished? {
        var pipe: [Int32] = [0, 0]
        guard Glibc.pipe(&pipe) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipe[1], 1)
        if mergeErrors { posix_spawn_file_actions_adddup2(&actions, pipe[1], 2) }
        posix_spawn_file_actions_addclose(&actions, pipe[0])
        posix_spawn_file_actions_addclose(&actions, pipe[1])
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let start = Stopwatch()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        close(pipe[1])
        defer { close(pipe[0]) }
        guard spawned == 0 else { return nil }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(pipe[0], $0.baseAddress, $0.count) }
            if n > 0 { output += buffer[0..<n] } else if n < 0 && errno == EINTR { continue } else { break }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let seconds = start.elapsed
        // waitpid's status: exited normally when its low 7 bits are 0, with the exit code in the next 8.
        let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : -1
        return Finished(seconds: seconds, status: code, output: String(decoding: output, as: UTF8.self))
    }
}
