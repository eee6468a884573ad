import AsyncHTTPClient
import Foundation
import NIOCore
import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import UnixSignals
import VigilCore
import VigilThreads

/// `vigil run` (SPEC §4): the services of one `ServiceGroup` — delivery, the engine's ingest thread, the spool
/// watcher, the HTTP server and the systemd controller (reload on SIGHUP, watchdog, `STOPPING=1`). SIGTERM
/// and SIGINT shut the group down in reverse order: the controller says `STOPPING=1`, HTTP stops accepting and
/// finishes its requests, the spool watcher finishes its file, the ingest thread commits what is queued, and
/// delivery finishes the attempts under way; pending events stay in the outbox for the next start.
public enum Daemon {
    public static func run(configPath: String) async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["VIGIL_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .info
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        let logger = Logger(label: "vigil")
        // Trapped before anything slow: SIGHUP's default action would end the process while the engine is built.
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        // The state, its journal and the alert files name facilities: created owner-only.
        umask(0o077)
        // A file over the process's size limit fails its write (retried like a full disk) instead of ending
        // the daemon.
        signal(SIGXFSZ, SIG_IGN)

        let config = try DaemonConfigParser.load(path: configPath)
        let models = try ModelConfigParser.load(path: config.models)
        if case let problems = config.unknownSinks(in: models), !problems.isEmpty { throw ConfigErrors(problems: problems) }
        let mapping = Shared(try FeedMappings(config))
        let notifier = SystemdNotifier()

        let http = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let store = try StateStore(directory: config.stateDir)
            let checkpoints = try CheckpointService(store: store)
            let sinks = try makeSinks(config.sinks, client: http)
            let deliverer = Deliverer(store: store, sinks: sinks, logger: logger)
            let facilities = try config.facilities.map { try FacilityRegistry(path: $0) }
            for problem in facilities?.problems ?? [] {
                logger.warning("facility registry row ignored", metadata: ["error": "\(problem.description)"])
            }
            let matchers = config.sinks.reduce(into: [String: AlertMatcher]()) { $0[$1.name] = $1.match }
            let digests = config.sinks.reduce(into: [String: DigestSchedule]()) { $0[$1.name] = $1.digest }
            let ingestor = Ingestor(store: store, models: models, sinks: sinks, matchers: matchers, digests: digests,
                                    facilities: facilities, logger: logger)
            ingestor.committed = { deliverer.wake() }
            try ingestor.start()
            let ready = Shared(false)

            var services: [any Service] = [checkpoints, deliverer, IngestService(ingestor: ingestor)]
            if let spool = config.spool {
                let watcher = SpoolWatcher(dir: spool.dir, ingestor: ingestor, mapping: { mapping.value.standard }, logger: logger)
                try watcher.prepare()
                services.append(watcher)
            }
            for source in config.sources {
                guard let dir = source.spool else { continue }
                let name = source.name
                let watcher = SpoolWatcher(dir: dir, ingestor: ingestor, mapping: { mapping.value.sources[name] ?? mapping.value.standard },
                                           logger: logger)
                try watcher.prepare()
                services.append(watcher)
            }
            if let h = config.http {
                let token = try readToken(h.tokenFile)
                let router = IngestServer.router(ingestor: ingestor, store: store, token: token, maxBody: h.maxBodyBytes,
                                                 mapping: { source in source.map { mapping.value.sources[$0] } ?? mapping.value.standard },
                                                 registry: registry,
                                                 ready: { ready.value && !ingestor.isClosed }, labels: facilities?.columns ?? [])
                // Slow clients are closed by deadlines on the request (RequestDeadline), idle ones by the idle timeout.
                let (head, body) = (TimeAmount.milliseconds(Int64(h.headerTimeout * 1000)), TimeAmount.milliseconds(Int64(h.bodyTimeout * 1000)))
                let app = Application(router: router,
                                      server: .http1(configuration: .init(
                                          additionalChannelHandlers: [RequestDeadline(head: head, body: body)],
                                          idleTimeout: .milliseconds(Int64(h.idleTimeout * 1000)))),
                                      configuration: .init(address: .hostname(h.host, port: h.port), serverName: "vigil"),
                                      onServerRunning: { channel in
                                          logger.info("listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")"])
                                          ready.value = true
                                          notifier.send("READY=1\nSTATUS=ingest open")
                                      },
                                      logger: logger)
                services.append(app)
            }
            let controller = Controller(configPath: configPath, config: config, ingestor: ingestor, deliverer: deliverer,
                                        mapping: mapping, notifier: notifier, logger: logger, hangups: hangups,
                                        readyAtStart: config.http == nil ? ready : nil)
            services.append(controller)
            logger.info("starting", metadata: [
                "config": "\(configPath)", "models": "\(models.map(\.name).joined(separator: ","))",
                "state": "\(store.path)", "sinks": "\(sinks.map(\.name).joined(separator: ","))",
            ])
            let group = ServiceGroup(configuration: .init(
                services: services.map { .init(service: $0) },
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
            try await group.run()
            logger.info("stopped")
        } catch {
            try? await http.shutdown()
            throw error
        }
        try await http.shutdown()
    }

    static func makeSinks(_ sinks: [DaemonConfig.Sink], client: HTTPClient) throws -> [any AlertSink] {
        try sinks.map { try $0.settings.makeSink(name: $0.name, retry: $0.retry, client: client) }
    }

    static func readToken(_ path: String) throws -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw SinkError("cannot read the token file \(path)")
        }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// The column mappings of the feeds: the top-level `columns:` (or none) and each source's own.
struct FeedMappings: Sendable {
    let standard: ColumnMapping
    let sources: [String: ColumnMapping]

    init(_ config: DaemonConfig) throws {
        standard = try config.columns.map(ColumnMappingParser.load(path:)) ?? ColumnMapping()
        var sources: [String: ColumnMapping] = [:]
        for source in config.sources { sources[source.name] = try ColumnMappingParser.load(path: source.columns) }
        self.sources = sources
    }
}

/// A value shared between services and replaced whole (the column mappings on reload, readiness).
final class Shared<Value: Sendable>: Sendable {
    private let state: Locked<Value>
    init(_ value: Value) { state = Locked(value) }
    var value: Value {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}

/// Runs the ingest thread's lifetime inside the group: at shutdown it takes no more batches and commits
/// those queued before it returns.
struct IngestService: Service {
    let ingestor: Ingestor
    func run() async throws {
        try? await gracefulShutdown()
        await ingestor.drain()
    }
}

/// systemd's side: `READY=1` (when there is no HTTP server to wait for), `WATCHDOG=1` at half of
/// `WATCHDOG_USEC` while the ingest thread answers, SIGHUP reloads between `RELOADING=1` and `READY=1`, and
/// `STOPPING=1` when shutdown begins.
struct Controller: Service {
    let configPath: String
    let config: DaemonConfig
    let ingestor: Ingestor
    let deliverer: Deliverer
    let mapping: Shared<FeedMappings>
    let notifier: SystemdNotifier
    let logger: Logger
    let hangups: UnixSignalsSequence
    let readyAtStart: Shared<Bool>?

    func run() async throws {
        if let readyAtStart {
            readyAtStart.value = true
            notifier.send("READY=1\nSTATUS=ingest open")
        }
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                for await _ in hangups.cancelOnGracefulShutdown() { await reload() }
            }
            if let interval = notifier.watchdogInterval {
                group.addTask {
                    while !Task.isShuttingDownGracefully && !Task.isCancelled {
                        // Only a live ingest thread earns the keep-alive: a stuck engine gets the daemon restarted.
                        if await ingestor.ping() { notifier.send("WATCHDOG=1") }
                        try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
                    }
                }
            }
            group.addTask {
                try? await gracefulShutdown()
                notifier.send("STOPPING=1\nSTATUS=draining")
                logger.info("shutting down: draining")
            }
        }
    }

    /// Validates the new config and models and swaps them in; a bad one is reported and the running ones stay.
    /// File sinks reopen either way (logrotate's SIGHUP).
    func reload() async {
        notifier.send("RELOADING=1\nMONOTONIC_USEC=\(SystemdNotifier.monotonicMicroseconds())")
        logger.info("reloading", metadata: ["config": "\(configPath)"])
        await deliverer.reopen()
        do {
            let fresh = try DaemonConfigParser.load(path: configPath)
            let models = try ModelConfigParser.load(path: fresh.models)
            if case let problems = fresh.unknownSinks(in: models), !problems.isEmpty { throw ConfigErrors(problems: problems) }
            let columns = try FeedMappings(fresh)
            if fresh.stateDir != config.stateDir || fresh.http != config.http || fresh.spool != config.spool
                || fresh.sinks != config.sinks || fresh.sources.map(\.spool) != config.sources.map(\.spool) {
                logger.warning("state_dir, spool, http, sinks and sources' spool changes take effect at the next restart")
            }
            try await ingestor.reload(models: models)
            mapping.value = columns
            logger.info("reloaded", metadata: ["models": "\(models.map(\.name).joined(separator: ","))"])
        } catch {
            logger.error("reload refused; the running config and models stay", metadata: ["error": "\(error)"])
        }
        notifier.send("READY=1\nSTATUS=ingest open")
    }
}
