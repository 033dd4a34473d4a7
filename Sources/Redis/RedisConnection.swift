import CHiredis
import Dispatch
import Foundation
import Synchronization

/// One Redis connection over hiredis, with its own serial queue.
///
/// Every hiredis call runs on that queue, never on the Swift concurrency pool. The
/// `redisContext` is owned by this object alone and freed exactly once (`redisFree`), also after
/// a failed connect. Every reply is copied into a ``RedisReply`` and freed at once. A broken
/// connection is dropped; the next command opens a new one (callers add their own backoff).
/// RESP2 only: hiredis 0.14 does not speak RESP3, and this layer never sends `HELLO 3`.
public final class RedisConnection: @unchecked Sendable {
    // Invariant behind `@unchecked Sendable`: `context` is read and written only on `queue`.
    private var context: UnsafeMutablePointer<redisContext>?
    private var hasConnected = false
    private let queue = DispatchQueue(label: "redis.connection")
    /// Set on `queue`: tells a call that it already runs there.
    private let onQueue = DispatchSpecificKey<Bool>()
    private let reconnectCount = Atomic<Int>(0)

    /// Runs tasks on this connection's queue. A task that prefers it
    /// (`withTaskExecutorPreference(connection.executor) { … }`) makes its calls on this
    /// connection inline, without hopping to the queue and back: one blocking round trip, as a
    /// thread of its own would make. Tasks that prefer it share the queue, one at a time.
    public let executor: RedisConnectionExecutor

    /// Where this connection connects to.
    public let configuration: RedisConfiguration

    /// How many times the connection was re-established after it had been open.
    public var reconnects: Int { reconnectCount.load(ordering: .relaxed) }

    /// Creates a connection; it connects on first use.
    public init(configuration: RedisConfiguration) {
        signal(SIGPIPE, SIG_IGN)
        self.configuration = configuration
        queue.setSpecific(key: onQueue, value: true)
        executor = RedisConnectionExecutor(queue: queue)
    }

    private var isOnQueue: Bool { DispatchQueue.getSpecific(key: onQueue) == true }

    deinit {
        if let context { redisFree(context) }
    }

    /// Sends one command and waits for its reply (blocking; call from a thread of your own).
    /// An error reply is thrown as a ``RedisError`` with code `server`.
    @discardableResult
    public func send(_ command: RedisCommand) throws -> RedisReply {
        try pipeline([command])[0].throwingServerError()
    }

    /// Sends commands in one write and reads their replies in order (blocking). Error replies
    /// are returned in place, not thrown; a connection failure throws.
    public func pipeline(_ commands: [RedisCommand]) throws -> [RedisReply] {
        if isOnQueue { return try runPipeline(commands) }
        return try queue.sync { try runPipeline(commands) }
    }

    /// Sends one command from async code; the blocking work runs on the connection's queue.
    @discardableResult
    public func send(_ command: RedisCommand) async throws -> RedisReply {
        try await pipeline([command])[0].throwingServerError()
    }

    /// Pipelines commands from async code; the blocking work runs on the connection's queue
    /// (inline when the task already runs there, on ``executor``).
    public func pipeline(_ commands: [RedisCommand]) async throws -> [RedisReply] {
        if isOnQueue { return try runPipeline(commands) }
        return try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try self.runPipeline(commands) }) }
        }
    }

    /// Closes the connection now; the next command re-opens it.
    public func close() {
        if isOnQueue { drop() } else { queue.sync { drop() } }
    }

    // MARK: - Queue-confined

    private func runPipeline(_ commands: [RedisCommand]) throws -> [RedisReply] {
        if commands.isEmpty { return [] }
        let context = try connected()
        for command in commands {
            let appended = Self.withArgv(command) { count, argv, lengths in
                redisAppendCommandArgv(context, count, argv, lengths)
            }
            guard appended == REDIS_OK else { throw lost(context) }
        }
        var replies: [RedisReply] = []
        replies.reserveCapacity(commands.count)
        for _ in commands {
            var raw: UnsafeMutableRawPointer?
            guard redisGetReply(context, &raw) == REDIS_OK, let raw else { throw lost(context) }
            defer { freeReplyObject(raw) }
            replies.append(Self.copy(raw.assumingMemoryBound(to: redisReply.self)))
        }
        return replies
    }

    private func lost(_ context: UnsafeMutablePointer<redisContext>) -> RedisError {
        let message = Self.errorString(context)
        drop()
        return RedisError(code: .connectionLost, message: "connection to Redis lost: \(message)")
    }

    private func drop() {
        if let context { redisFree(context) }
        context = nil
    }

    private func connected() throws -> UnsafeMutablePointer<redisContext> {
        if let context { return context }
        let connectTimeout = Self.timeval(configuration.connectTimeout)
        let opened: UnsafeMutablePointer<redisContext>?
        switch configuration.endpoint {
        case .tcp(let host, let port): opened = redisConnectWithTimeout(host, Int32(port), connectTimeout)
        case .unix(let path): opened = redisConnectUnixWithTimeout(path, connectTimeout)
        }
        guard let opened else {
            throw RedisError(code: .connectionFailed, message: "cannot allocate a Redis connection")
        }
        guard opened.pointee.err == 0 else {
            let message = Self.errorString(opened)
            redisFree(opened)
            throw RedisError(code: .connectionFailed, message: "cannot connect to Redis at \(configuration.redactedURL): \(message)")
        }
        _ = redisSetTimeout(opened, Self.timeval(configuration.commandTimeout))
        if case .tcp = configuration.endpoint { _ = redisEnableKeepAlive(opened) }
        context = opened
        do {
            var handshake: [RedisCommand] = []
            if let password = configuration.password {
                handshake.append(configuration.username.map { RedisCommand("AUTH", $0, password) } ?? RedisCommand("AUTH", password))
            }
            if configuration.database != 0 { handshake.append(RedisCommand("SELECT", configuration.database)) }
            for reply in try runPipeline(handshake) {
                if case .error(let message) = reply {
                    drop()
                    // The server's message names the failure (WRONGPASS, NOAUTH, DB index); never the password.
                    throw RedisError(code: .connectionFailed, message: "Redis at \(configuration.redactedURL) refused the connection: \(message)")
                }
            }
        } catch let error as RedisError where error.code == .connectionLost {
            throw RedisError(code: .connectionFailed, message: error.message)
        }
        if hasConnected { reconnectCount.add(1, ordering: .relaxed) }
        hasConnected = true
        return opened
    }

    private static func errorString(_ context: UnsafeMutablePointer<redisContext>) -> String {
        let text = withUnsafeBytes(of: context.pointee.errstr) { raw in
            String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
        }
        return text.isEmpty ? "error \(context.pointee.err)" : text
    }

    private static func timeval(_ duration: Duration) -> Glibc.timeval {
        let (seconds, attoseconds) = duration.components
        return Glibc.timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
    }

    /// Calls `body` with hiredis's argv for one command: pointers into the command's own
    /// buffer, and the arguments' lengths (on the stack).
    private static func withArgv<R>(
        _ command: RedisCommand,
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> R
    ) -> R {
        let count = command.ends.count
        return command.bytes.withUnsafeBufferPointer { bytes in
            withUnsafeTemporaryAllocation(of: UnsafePointer<CChar>?.self, capacity: max(count, 1)) { argv in
                withUnsafeTemporaryAllocation(of: Int.self, capacity: max(count, 1)) { lengths in
                    // An empty buffer has no base address; every argument is then empty, and
                    // hiredis reads no byte of it.
                    let empty: StaticString = ""
                    let base = UnsafeRawPointer(bytes.baseAddress ?? empty.utf8Start).assumingMemoryBound(to: CChar.self)
                    var start = 0
                    for (index, end) in command.ends.enumerated() {
                        argv[index] = base + start
                        lengths[index] = end - start
                        start = end
                    }
                    return body(Int32(count), argv.baseAddress!, lengths.baseAddress!)
                }
            }
        }
    }

    /// Copies a hiredis reply tree into Swift values. Does not free it.
    private static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> RedisReply {
        let value = reply.pointee
        func bytes() -> [UInt8] {
            guard let str = value.str, value.len > 0 else { return [] }
            return Array(UnsafeRawBufferPointer(start: str, count: value.len))
        }
        switch value.type {
        case REDIS_REPLY_STRING: return .bulk(bytes())
        case REDIS_REPLY_STATUS: return .status(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
        case REDIS_REPLY_INTEGER: return .integer(value.integer)
        case REDIS_REPLY_ARRAY:
            var elements: [RedisReply] = []
            elements.reserveCapacity(value.elements)
            for index in 0..<value.elements {
                if let element = value.element[index] { elements.append(copy(element)) } else { elements.append(.null) }
            }
            return .array(elements)
        default: return .null
        }
    }
}

/// The task executor of a ``RedisConnection``: it runs tasks on the connection's serial queue,
/// where the connection's blocking calls belong (never the Swift concurrency pool).
public final class RedisConnectionExecutor: TaskExecutor {
    private let queue: DispatchQueue

    init(queue: DispatchQueue) { self.queue = queue }

    /// Runs the job on the connection's queue.
    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
