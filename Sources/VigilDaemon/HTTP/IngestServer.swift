import Crypto
import Foundation
import Hummingbird
import Logging
import Prometheus
import VigilCore

/// The HTTP interface (SPEC §4):
///
/// - `POST /v1/records[?source=NAME]` — a CSV (`text/csv`) or NDJSON (`application/x-ndjson`) body with
///   `Authorization: Bearer <token>`, read with the named source's column mapping (else the top-level one):
///   `202` with accepted/unchanged/rejected/suppressed counts, the row errors and the alert events, once the
///   batch is durable; `400` for a source the config does not name; `401` without a valid token (the body is not read, nothing
///   changes); `413` beyond `max_body_bytes`; `415` for another content type; `422` when the batch failed for a reason it would fail for again;
///   `503` with `Retry-After` while shutting down or when the machine failed (disk full, I/O): send it again.
/// - `GET /v1/alerts[?status=firing|resolved|all]` — the alerts, newest change first (token required too:
///   they name facilities).
/// - `POST /v1/alerts/{id}/ack`, `POST /v1/alerts/{id}/resolve` — `{"author", "note"}`: an operator
///   acknowledges (nothing delivered) or resolves (`<id>.resolved` delivered, the run never fires again).
/// - `POST /v1/silences`, `GET /v1/silences[?all=true]`, `DELETE /v1/silences/{id}` — silences, with the events
///   they hold.
/// - `GET /ui[?facility=ID]` — the workbench page (`Workbench`), to loopback peers, or with the token from elsewhere.
/// - `GET /v1/models` — each model's status (fitted, fitted with warnings, unfitted and why), its
///   coefficients, θ, warnings, baseline rows and fit time (token required).
/// - `GET /healthz` (the process answers and its database reads), `GET /readyz` (ingest is open),
///   `GET /metrics` (Prometheus text format).
enum IngestServer {
    /// What the routes need of the daemon.
    struct Context: Sendable {
        let ingestor: Ingestor
        let store: StateStore
        let maxBody: Int
        let mapping: @Sendable (_ source: String?) -> ColumnMapping?
        let registry: PrometheusCollectorRegistry
        let ready: @Sendable () -> Bool
        /// The facility registry's label columns (silences may match on them).
        let labels: [String]
        /// SHA-256 of the bearer token.
        let tokenDigest: [UInt8]

        /// Compared as digests in constant time, so the comparison says nothing of the token's prefix.
        func authorized(_ request: Request) -> Bool {
            guard let header = request.headers[.authorization], header.hasPrefix("Bearer ") else { return false }
            let given = Array(SHA256.hash(data: Array(header.dropFirst(7).utf8)))
            return zip(given, tokenDigest).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
        }
    }

    static func router(ingestor: Ingestor, store: StateStore, token: String, maxBody: Int,
                       mapping: @escaping @Sendable (_ source: String?) -> ColumnMapping?, registry: PrometheusCollectorRegistry,
                       ready: @escaping @Sendable () -> Bool, labels: [String] = []) -> Router<VigilRequestContext> {
        let c = Context(ingestor: ingestor, store: store, maxBody: maxBody, mapping: mapping, registry: registry, ready: ready,
                        labels: labels, tokenDigest: Array(SHA256.hash(data: Array(token.utf8))))
        let router = Router(context: VigilRequestContext.self)
        router.post("/v1/records") { request, _ in await postRecords(request, c) }
        router.get("/v1/alerts") { request, _ in try alerts(request, c) }
        router.post("/v1/alerts/:id/ack") { request, context in await acknowledge(request, id: context.parameters.get("id") ?? "", c) }
        router.post("/v1/alerts/:id/resolve") { request, context in await resolve(request, id: context.parameters.get("id") ?? "", c) }
        router.post("/v1/silences") { request, _ in await addSilence(request, c) }
        router.get("/v1/silences") { request, _ in silences(request, c) }
        router.delete("/v1/silences/:id") { request, context in await expireSilence(request, id: context.parameters.get("id") ?? "", c) }
        router.get("/v1/models") { request, _ in models(request, c) }
        router.get("/ui") { request, context in await workbench(request, loopback: context.fromLoopback, c) }
        router.get("/healthz") { _, _ in health(c) }
        router.get("/readyz") { _, _ in readiness(c) }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(bytes: c.registry.emitToBuffer())))
        }
        return router
    }

    static var unauthorized: Response { json(.unauthorized, error: "a valid bearer token is required") }

    /// `POST /v1/records`: answered once the batch is durable (or with why it is not).
    static func postRecords(_ request: Request, _ c: Context) async -> Response {
        guard c.authorized(request) else { return unauthorized }
        guard let contentType = request.headers[.contentType], let format = RecordFormat(contentType: contentType) else {
            return json(.unsupportedMediaType, error: "Content-Type must be text/csv or application/x-ndjson")
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > c.maxBody {
            return json(.contentTooLarge, error: "the body is over \(c.maxBody) bytes")
        }
        var request = request
        let body: ByteBuffer
        do {
            body = try await request.collectBody(upTo: c.maxBody)
        } catch {
            return json(.contentTooLarge, error: "the body is over \(c.maxBody) bytes")
        }
        let source = request.uri.queryParameters.get("source")
        guard let columns = c.mapping(source) else {
            return json(.badRequest, error: "no source named \"\(source ?? "")\" in the config's sources")
        }
        let batch = IngestBatch(source: "request", bytes: Array(buffer: body), format: format, mapping: columns)
        let result: IngestResult
        do {
            result = try await c.ingestor.submit(batch)
        } catch let error as IngestUnavailable {
            return json(.serviceUnavailable, error: error.description, retryAfter: 5)
        } catch let failure as IngestFailure where !failure.isTransient {
            return json(.unprocessableContent, error: "the batch was not applied and would fail again: \(failure.description)")
        } catch {
            // The ingestor logs when the state stops being writable, not every refused batch.
            return json(.serviceUnavailable, error: "the batch could not be stored (\(error)); nothing was applied, send it again",
                        retryAfter: 5)
        }
        let errors: [JSON] = result.rejected.prefix(1000).map {
            .object([("line", .integer($0.line)), ("field", $0.field.map(JSON.string) ?? .null), ("reason", .string($0.reason)),
                     ("message", .string($0.description))])
        }
        return json(.accepted, .object([
            ("accepted", .integer(result.accepted)), ("unchanged", .integer(result.unchanged)),
            ("rejected", .integer(result.rejected.count)), ("suppressed", .integer(result.suppressed.count)), ("errors", .array(errors)),
            ("events", .array(result.events.map { .object([("id", .string($0.id)), ("status", .string($0.alert.status.rawValue)),
                                                           ("alert_id", .string($0.alert.id))]) })),
        ]))
    }

    /// `GET /v1/alerts[?status=firing|stale|resolved|all]`.
    static func alerts(_ request: Request, _ c: Context) throws -> Response {
        guard c.authorized(request) else { return unauthorized }
        let statusText = request.uri.queryParameters.get("status") ?? "firing"
        let status: Alert.Status?
        switch statusText {
        case "all": status = nil
        default:
            guard let s = Alert.Status(rawValue: statusText) else {
                return json(.badRequest, error: "status must be firing, stale, resolved or all")
            }
            status = s
        }
        let bodies = try c.store.alerts(status: status)
        let text = "{\"alerts\":[" + bodies.joined(separator: ",") + "]}"
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The request's JSON object (at most 64 KiB), or nil.
    static func object(_ request: Request) async -> [String: Any]? {
        var request = request
        guard let body = try? await request.collectBody(upTo: 64 << 10) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
    }

    /// `{"author": …, "note": …}`: the author (required) and the note, or why not (a 400's message).
    static func authorAndNote(_ object: [String: Any]?) -> (author: String, note: String, problem: String?) {
        guard let object else { return ("", "", "the body must be a JSON object: {\"author\": …, \"note\": …}") }
        guard let author = (object["author"] as? String)?.trimmingCharacters(in: .whitespacesAndNewlines),
              !author.isEmpty, author.count <= 200 else { return ("", "", "author: a name of 1 to 200 characters is required") }
        let note = object["note"] as? String ?? ""
        guard note.count <= 4000 else { return ("", "", "note: at most 4000 characters") }
        return (author, note, nil)
    }

    /// `POST /v1/alerts/{id}/ack` with `{"author": …, "note": …}`: recorded and shown by `GET /v1/alerts`;
    /// delivers nothing.
    static func acknowledge(_ request: Request, id: String, _ c: Context) async -> Response {
        guard c.authorized(request) else { return unauthorized }
        let (author, note, problem) = authorAndNote(await object(request))
        if let problem { return json(.badRequest, error: problem) }
        let at = Date()
        do {
            guard try c.store.acknowledge(alert: id, author: author, note: note, at: at) else {
                return json(.notFound, error: "no alert \(id)")
            }
        } catch {
            return json(.serviceUnavailable, error: "the acknowledgement could not be stored (\(error))", retryAfter: 5)
        }
        return json(.ok, .object([("alert_id", .string(id)), ("acknowledged", .object([
            ("by", .string(author)), ("note", .string(note)), ("at", .string(Alert.timestamp(at)))]))]))
    }

    /// `POST /v1/alerts/{id}/resolve` with `{"author": …, "note": …}`: the alert's `resolved` event, with
    /// `resolved_by` and `note`, is written and queued before the answer; its run never fires again.
    static func resolve(_ request: Request, id: String, _ c: Context) async -> Response {
        guard c.authorized(request) else { return unauthorized }
        let (author, note, problem) = authorAndNote(await object(request))
        if let problem { return json(.badRequest, error: problem) }
        do {
            switch try c.store.requestResolution(alert: id, author: author, note: note, at: Date()) {
            case .unknown: return json(.notFound, error: "no alert \(id)")
            case let .notFiring(status): return json(.conflict, error: "alert \(id) is \(status), not firing")
            case .recorded: break
            }
            let events = try await c.ingestor.settle()
            let event = events.first { $0.alert.id == id }
            return json(.ok, .object([("alert_id", .string(id)), ("event_id", event.map { .string($0.id) } ?? .null),
                                      ("resolved_by", .string(author)), ("note", .string(note))]))
        } catch let error as IngestUnavailable {
            return json(.serviceUnavailable, error: error.description, retryAfter: 5)
        } catch {
            return json(.serviceUnavailable, error: "the resolution could not be stored (\(error))", retryAfter: 5)
        }
    }

    /// `POST /v1/silences`: `{"matchers": {…}, "ends_at" | "duration_hours", "starts_at"?, "author", "comment"}`.
    static func addSilence(_ request: Request, _ c: Context) async -> Response {
        guard c.authorized(request) else { return unauthorized }
        guard let object = await object(request) else {
            return json(.badRequest, error: "the body must be a JSON object: {\"matchers\": {…}, \"ends_at\": …, \"author\": …, \"comment\": …}")
        }
        let now = Date()
        let silence: Silence
        do { silence = try Silence.request(object, id: Silence.newID(), now: now, labels: c.labels) } catch {
            return json(.badRequest, error: error.description)
        }
        do {
            try c.store.addSilence(silence)
        } catch {
            return json(.serviceUnavailable, error: "the silence could not be stored (\(error))", retryAfter: 5)
        }
        return json(.created, silence.json(at: now))
    }

    /// `GET /v1/silences[?all=true]`: those not ended (all: every silence ever made, for the audit), and the
    /// events held now.
    static func silences(_ request: Request, _ c: Context) -> Response {
        guard c.authorized(request) else { return unauthorized }
        let all = request.uri.queryParameters.get("all") == "true"
        let now = Date()
        do {
            let list = try c.store.silences(all: all, now: now)
            let held = try c.store.heldEvents()
            return json(.ok, .object([
                ("silences", .array(list.map { $0.json(at: now) })),
                ("held", .array(held.map { .object([("event_id", .string($0.eventID)), ("alert_id", .string($0.alertID)),
                                                    ("reason", .string($0.reason)),
                                                    ("held_at", .string(Alert.timestamp($0.heldAt)))]) })),
            ]))
        } catch {
            return json(.serviceUnavailable, error: "state database: \(error)", retryAfter: 5)
        }
    }

    /// `DELETE /v1/silences/{id}[?author=NAME]`: ends it now (kept for the audit); the events it held are
    /// released before the answer if their alerts still fire.
    static func expireSilence(_ request: Request, id: String, _ c: Context) async -> Response {
        guard c.authorized(request) else { return unauthorized }
        let author = request.uri.queryParameters.get("author").map { String($0) } ?? "api"
        do {
            switch try c.store.expireSilence(id: id, by: author) {
            case .unknown: return json(.notFound, error: "no silence \(id)")
            case .alreadyEnded: return json(.conflict, error: "silence \(id) has already ended")
            case let .expired(silence):
                _ = try await c.ingestor.settle()
                return json(.ok, silence.json(at: Date()))
            }
        } catch let error as IngestUnavailable {
            return json(.serviceUnavailable, error: error.description, retryAfter: 5)
        } catch {
            return json(.serviceUnavailable, error: "the silence could not be ended (\(error))", retryAfter: 5)
        }
    }

    /// `GET /ui[?facility=ID]`: the workbench page, made on the ingest thread from the engine as it stands.
    static func workbench(_ request: Request, loopback: Bool, _ c: Context) async -> Response {
        guard loopback || c.authorized(request) else {
            return json(.unauthorized, error: "the workbench is served to loopback clients, or with a valid bearer token")
        }
        do {
            let html = try await c.ingestor.page(facility: request.uri.queryParameters.get("facility").map { String($0) })
            return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(string: html)))
        } catch let error as IngestUnavailable {
            return json(.serviceUnavailable, error: error.description, retryAfter: 5)
        } catch {
            return json(.serviceUnavailable, error: "the page could not be made (\(error))", retryAfter: 5)
        }
    }

    /// `GET /v1/models`.
    static func models(_ request: Request, _ c: Context) -> Response {
        guard c.authorized(request) else { return unauthorized }
        return json(.ok, .object([("models", .array(c.ingestor.modelStatusJSON))]))
    }

    /// `GET /readyz`: ingest is open and the state can be written.
    static func readiness(_ c: Context) -> Response {
        if let problem = c.ingestor.storageProblem {
            return json(.serviceUnavailable, error: "not ready: the state database cannot be written (\(problem))", retryAfter: 5)
        }
        return c.ready() ? json(.ok, .object([("status", .string("ready"))])) : json(.serviceUnavailable, error: "not ready")
    }

    /// `GET /healthz`: the process answers and its database reads.
    static func health(_ c: Context) -> Response {
        do {
            try c.store.ping()
            return json(.ok, .object([("status", .string("ok")), ("records", .integer(c.ingestor.recordCount))]))
        } catch {
            return json(.serviceUnavailable, error: "state database: \(error)")
        }
    }

    static func json(_ status: HTTPResponse.Status, _ body: JSON) -> Response {
        Response(status: status, headers: [.contentType: "application/json"],
                 body: .init(byteBuffer: ByteBuffer(string: body.serialized() + "\n")))
    }

    static func json(_ status: HTTPResponse.Status, error: String, retryAfter seconds: Int? = nil) -> Response {
        var response = json(status, .object([("error", .string(error))]))
        if let seconds { response.headers[.retryAfter] = "\(seconds)" }
        return response
    }
}
