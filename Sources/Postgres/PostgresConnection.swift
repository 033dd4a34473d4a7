import CLibpq
import Foundation
import Dispatch
import Synchronization

/// One PostgreSQL connection, with its own serial queue.
///
/// Every libpq call runs on that queue, never on the Swift concurrency pool. The libpq handle is
/// owned by this object alone, confined to the queue, and freed exactly once (`PQfinish`), also
/// after a failed connect. The connection is opened lazily and re-opened transparently when the
/// server went away while it was idle (for example a PostgreSQL restart).
public final class PostgresConnection: @unchecked Sendable {
    // Invariant behind `@unchecked Sendable`: `handle` is read and written only on `queue`.
    private var handle: OpaquePointer?
    /// Statements prepared on `handle`; replaced with it.
    private var prepared = PreparedStatements()
    private let queue: DispatchQueue
    private let reconnectCount = Atomic<Int>(0)

    /// Where this connection connects to.
    public let configuration: PostgresConfiguration

    /// How many times the connection was re-established after it had been open.
    public var reconnects: Int { reconnectCount.load(ordering: .relaxed) }

    /// Creates a connection; it connects on first use. Use ``connect(configuration:)`` to connect eagerly.
    public init(configuration: PostgresConfiguration) {
        self.configuration = configuration
        self.queue = DispatchQueue(label: "postgres.connection")
    }

    /// Opens a connection now, so a bad URL or an unreachable server is reported at once.
    public static func connect(configuration: PostgresConfiguration) async throws -> PostgresConnection {
        let connection = PostgresConnection(configuration: configuration)
        try await connection.withSession { _ in }
        return connection
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Runs `body` on the connection's queue with exclusive use of the connection.
    ///
    /// Statements inside `body` are synchronous; nothing else runs on this connection meanwhile.
    public func withSession<T: Sendable>(_ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try self.runSession(body) })
            }
        }
    }

    /// The blocking form of ``withSession(_:)`` for callers on a thread of their own.
    /// Never call it from inside another session of the same connection.
    public func withSessionBlocking<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        try queue.sync { try runSession(body) }
    }

    /// Runs `body` inside `BEGIN` … `COMMIT`; rolls back when it throws.
    public func withTransaction<T: Sendable>(
        isolation: PostgresIsolation = .readCommitted,
        _ body: @escaping @Sendable (PostgresSession) throws -> T
    ) async throws -> T {
        try await withSession { session in try session.transaction(isolation: isolation, body) }
    }

    /// Runs one statement in its own session.
    public func query(_ sql: String, _ parameters: [any PostgresEncodable] = []) async throws -> PostgresRows {
        let values = parameters.map(\.postgresValue)
        return try await withSession { session in try session.query(sql, values) }
    }

    /// Closes the connection now; the next use re-opens it.
    public func close() {
        queue.sync {
            if let handle { PQfinish(handle) }
            handle = nil
        }
    }

    private func runSession<T>(_ body: (PostgresSession) throws -> T) throws -> T {
        dispatchPrecondition(condition: .onQueue(queue))
        let conn = try ensureConnected()
        return try body(PostgresSession(conn: conn, prepared: configuration.preparesStatements ? prepared : nil))
    }

    /// Returns a healthy handle: opens one if there is none, and replaces one that broke or
    /// whose server closed it while idle (found without blocking by reading what is pending).
    private func ensureConnected() throws -> OpaquePointer {
        if let conn = handle {
            // An idle connection has nothing to read; a readable socket means the server is
            // closing it (a restart sends a termination message, then EOF): open a new one.
            if PQstatus(conn) == CONNECTION_OK, !Self.isReadable(PQsocket(conn)) {
                if PQtransactionStatus(conn) != PQTRANS_IDLE {
                    // A session left a transaction open (it threw past its own clean-up): end it.
                    PQclear(PQexec(conn, "ROLLBACK"))
                }
                if PQstatus(conn) == CONNECTION_OK { return conn }
            }
            PQfinish(conn)
            handle = nil
            reconnectCount.add(1, ordering: .relaxed)
        }
        let conn = try Self.open(configuration)
        handle = conn
        prepared = PreparedStatements()
        return conn
    }

    private static func isReadable(_ socket: Int32) -> Bool {
        guard socket >= 0 else { return true }
        var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) != 0
    }

    private static func open(_ configuration: PostgresConfiguration) throws -> OpaquePointer {
        let keywords = ["dbname", "fallback_application_name"]
        let values = [configuration.connectionString, configuration.applicationName]
        let conn: OpaquePointer? = withCStringArray(keywords) { keys in
            withCStringArray(values) { vals in PQconnectdbParams(keys, vals, 1) }
        }
        guard let conn else {
            throw PostgresError(code: .connectionFailed, message: "libpq could not allocate a connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = PostgresSession.errorMessage(conn)
            PQfinish(conn)
            throw PostgresError(
                code: .connectionFailed,
                message: "cannot connect to PostgreSQL at \(configuration.redactedConnectionString): "
                    + configuration.scrub(message)
            )
        }
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        return conn
    }
}

/// Calls `body` with a NULL-terminated C array of C strings.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let copies = strings.map { strdup($0) }
    defer { copies.forEach { free($0) } }
    let pointers = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Transaction isolation levels.
public enum PostgresIsolation: String, Sendable {
    /// `READ COMMITTED`, PostgreSQL's default.
    case readCommitted = "READ COMMITTED"
    /// `REPEATABLE READ`.
    case repeatableRead = "REPEATABLE READ"
    /// `SERIALIZABLE`.
    case serializable = "SERIALIZABLE"
}
