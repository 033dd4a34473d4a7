import Foundation
import Synchronization

/// A small HTTP/1.1 server for `/metrics`, `/healthz` and `/readyz`, on a thread of its own.
///
/// One `poll` loop serves every connection without blocking: requests are limited to 8 KiB of
/// headers, each connection to 5 seconds, and at most 128 connections are open at once (more are
/// refused). Handlers only read in-memory state, so neither slow clients nor many connections
/// can stall job processing, which runs on other threads.
public final class MetricsServer: Sendable {
    /// A response.
    public struct Response: Sendable {
        /// The status code.
        public var status: Int
        /// The `Content-Type`.
        public var contentType: String
        /// The body.
        public var body: String

        /// Creates a response.
        public init(status: Int, contentType: String = "text/plain; charset=utf-8", body: String) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    private let listener: Int32
    private let handler: @Sendable (String) -> Response
    private let stopped = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)
    /// The port bound (useful with port 0).
    public let port: Int

    static let maxHeaderBytes = 8192
    static let maxConnections = 128
    static let connectionTimeout: Double = 5

    /// Binds `host:port` (IPv4; `0.0.0.0` for every interface) and starts serving. `handler`
    /// maps a GET path to a response.
    public init(host: String, port: Int, handler: @escaping @Sendable (String) -> Response) throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw MetricsServerError("cannot create a socket: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(socket, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let resolved = host == "localhost" ? "127.0.0.1" : host
        guard inet_pton(AF_INET, resolved, &address.sin_addr) == 1 else {
            close(socket)
            throw MetricsServerError("--metrics host \"\(host)\" is not an IPv4 address")
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(socket, 64) == 0 else {
            let code = errno
            close(socket)
            throw MetricsServerError("cannot listen on \(host):\(port) for --metrics: \(String(cString: strerror(code)))")
        }
        _ = fcntl(socket, F_SETFL, fcntl(socket, F_GETFL) | O_NONBLOCK)
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) } }
        self.listener = socket
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.handler = handler
        let thread = Thread { [self] in serve() }
        thread.name = "metrics-http"
        thread.start()
    }

    /// Stops serving and closes every connection.
    public func stop() {
        guard !stopped.exchange(true, ordering: .relaxed) else { return }
        finished.wait()
    }

    private struct Connection {
        var input: [UInt8] = []
        var output: [UInt8] = []
        var written = 0
        var deadline: Double
    }

    private func serve() {
        var connections: [Int32: Connection] = [:]
        defer {
            for descriptor in connections.keys { close(descriptor) }
            close(listener)
            finished.signal()
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !stopped.load(ordering: .relaxed) {
            var descriptors = [pollfd(fd: listener, events: Int16(POLLIN), revents: 0)]
            for (descriptor, connection) in connections {
                let events = connection.output.isEmpty ? POLLIN : POLLOUT
                descriptors.append(pollfd(fd: descriptor, events: Int16(events), revents: 0))
            }
            _ = poll(&descriptors, nfds_t(descriptors.count), 200)
            let now = Date().timeIntervalSince1970
            if descriptors[0].revents & Int16(POLLIN) != 0 {
                while true {
                    let client = accept(listener, nil, nil)
                    if client < 0 { break }
                    if connections.count >= Self.maxConnections {
                        close(client)
                        continue
                    }
                    _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                    connections[client] = Connection(deadline: now + Self.connectionTimeout)
                }
            }
            for entry in descriptors.dropFirst() {
                let descriptor = entry.fd
                guard var connection = connections[descriptor] else { continue }
                var done = false
                if entry.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0 && connection.output.isEmpty {
                    done = true
                } else if entry.revents & Int16(POLLIN) != 0 {
                    let count = read(descriptor, &buffer, buffer.count)
                    if count <= 0 {
                        done = true
                    } else {
                        connection.input += buffer[0..<count]
                        if let response = respond(to: connection.input) { connection.output = response }
                    }
                } else if entry.revents & Int16(POLLOUT) != 0 {
                    let count = connection.output[connection.written...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if count < 0 && errno != EAGAIN {
                        done = true
                    } else if count > 0 {
                        connection.written += count
                        done = connection.written >= connection.output.count
                    }
                }
                if done || now > connection.deadline {
                    close(descriptor)
                    connections[descriptor] = nil
                } else {
                    connections[descriptor] = connection
                }
            }
        }
    }

    /// The response bytes once the request head is complete (or too large), else `nil`.
    func respond(to input: [UInt8]) -> [UInt8]? {
        let end = input.firstRange(of: [13, 10, 13, 10])
        if end == nil {
            return input.count > Self.maxHeaderBytes ? encode(Response(status: 431, body: "request header too large\n")) : nil
        }
        guard let head = String(validating: input[..<end!.lowerBound], as: UTF8.self),
              let requestLine = head.split(separator: "\r\n", omittingEmptySubsequences: false).first else {
            return encode(Response(status: 400, body: "malformed request\n"))
        }
        let parts = requestLine.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), parts[1].hasPrefix("/") else {
            return encode(Response(status: 400, body: "malformed request\n"))
        }
        guard parts[0] == "GET" || parts[0] == "HEAD" else {
            return encode(Response(status: 405, body: "only GET\n"), allow: true)
        }
        let path = String(parts[1].split(separator: "?", maxSplits: 1).first ?? "/")
        var response = encode(handler(path))
        if parts[0] == "HEAD", let split = response.firstRange(of: [13, 10, 13, 10]) { response.removeSubrange(split.upperBound...) }
        return response
    }

    private func encode(_ response: Response, allow: Bool = false) -> [UInt8] {
        let reasons = [200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large", 503: "Service Unavailable"]
        let body = Array(response.body.utf8)
        var head = "HTTP/1.1 \(response.status) \(reasons[response.status] ?? "Status")\r\n"
        head += "Content-Type: \(response.contentType)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n"
        if allow { head += "Allow: GET, HEAD\r\n" }
        return Array((head + "\r\n").utf8) + body
    }
}

/// The metrics endpoint could not start.
public struct MetricsServerError: Error, CustomStringConvertible {
    /// What went wrong.
    public let description: String
    init(_ description: String) { self.description = description }
}
