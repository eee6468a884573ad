import Foundation
import Testing

extension DaemonTests {
/// Clients that hold a connection without finishing a request (RELIABILITY.md, "HTTP under abuse"): a head
/// trickled a byte at a time, and a body that stops, are closed at their deadlines while the daemon answers
/// everyone else; nothing of the unfinished batch is taken.
@Suite struct SlowClientTests {
    /// A raw loopback connection to the daemon.
    final class Connection {
        let fd: Int32

        init(port: Int) throws {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            address.sin_port = UInt16(port).bigEndian
            let ok = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
            }
            guard ok else { throw TimedOut(what: "a connection to the daemon") }
            var timeout = timeval(tv_sec: 0, tv_usec: 1000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        }

        deinit { close(fd) }

        /// Sends bytes; false once the daemon has closed the connection.
        func send(_ text: String) -> Bool {
            text.withCString { Glibc.send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) } > 0
        }

        /// Whether the daemon closed the connection (end of stream, or a reset).
        var closedByPeer: Bool {
            var byte: UInt8 = 0
            let n = recv(fd, &byte, 1, Int32(MSG_PEEK))
            return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
        }
    }

    @Test func tricklingHeadsAndStalledBodiesAreClosed() async throws {
        let daemon = try DaemonProcess(sinks: DaemonTests.sinks(webhook: nil),
                                       extra: "", httpExtra: "  header_timeout_seconds: 1\n  body_timeout_seconds: 1\n")
        try await daemon.start()
        let trickling = try Connection(port: daemon.port)
        #expect(trickling.send("POST /v1/records HTTP/1.1\r\nHost: 127.0.0.1\r\n"))
        let stalled = try Connection(port: daemon.port)
        #expect(stalled.send("POST /v1/records HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                             + "Authorization: Bearer \(daemon.token)\r\nContent-Length: 100000\r\n\r\n"
                             + "facility_id,measure,period,events,exposure,bedsize,icu_share\nH020,CLABSI,2024-05,1,1120,small,0.1"))
        let started = Date()
        // The trickler sends a byte at every poll: each byte would reset an idle timeout, not this deadline.
        try await waitFor("both connections closed by the daemon", seconds: 60) {
            _ = trickling.send("X")
            return trickling.closedByPeer && stalled.closedByPeer
        }
        let took = Date().timeIntervalSince(started)
        #expect(took < 30, "closed after \(took) s")
        // Meanwhile and after, the daemon answers; the stalled batch took nothing.
        #expect(try await daemon.request("GET", "/healthz").status == 200)
        #expect(try await daemon.json("GET", "/healthz")["records"] as? Int == 0)
        #expect(try await daemon.request("POST", "/v1/records", body: try ReplayFiles.input("1-clabsi.csv"), token: daemon.token).status == 202)
        #expect(daemon.stop() == 0)
    }
}
}
