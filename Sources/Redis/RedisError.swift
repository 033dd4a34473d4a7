/// An error from the Redis layer: a stable ``code``, a message a person can act on.
/// Server errors (`-ERR …`, `-NOGROUP …`) are distinct from connection failures.
public struct RedisError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }

        /// The URL cannot be used.
        public static let invalidURL = Code("invalid_url")
        /// The connection (or its AUTH / SELECT) could not be established.
        public static let connectionFailed = Code("connection_failed")
        /// The connection broke or timed out during a command; its outcome is unknown.
        public static let connectionLost = Code("connection_lost")
        /// The server answered with an error reply.
        public static let server = Code("server_error")
        /// A reply did not have the shape the caller expected.
        public static let unexpectedReply = Code("unexpected_reply")

        public var description: String { raw }
    }

    /// The kind of failure.
    public var code: Code
    /// A message a person can act on; never contains a password.
    public var message: String

    /// Creates an error.
    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    /// Whether the same command may succeed later on a new connection.
    public var isConnectionError: Bool { code == .connectionFailed || code == .connectionLost }

    /// The first word of a server error (`NOGROUP`, `BUSYGROUP`, `WRONGTYPE`, …).
    public var serverErrorPrefix: String? {
        code == .server ? message.split(separator: " ", maxSplits: 1).first.map(String.init) : nil
    }

    public var description: String { "RedisError(\(code)): \(message)" }
}
