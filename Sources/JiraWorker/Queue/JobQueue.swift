import Foundation
import JiraStore
import Redis

/// The producer and operator side of the contract: enqueue jobs, read results, and inspect,
/// retry or purge dead letters. What the web app does with its own Redis client, in Swift.
public struct JobQueue: Sendable {
    /// The connection used.
    public let redis: RedisConnection
    /// The key names.
    public let keys: JiraKeys

    /// Creates a queue client.
    public init(redis: RedisConnection, keys: JiraKeys) {
        self.redis = redis
        self.keys = keys
    }

    /// Builds an envelope around a payload given as JSON text, keeping the payload's bytes.
    /// Throws ``JobValidationError`` when the type is unknown or the payload is not a JSON object.
    public static func envelope(type: String, payload: String, id: String, enqueuedAt: Date = Date()) throws -> [UInt8] {
        guard JiraJob.types.contains(type) else {
            throw JobValidationError(message: "unknown job type \"\(type)\" (expected one of \(JiraJob.types.joined(separator: ", ")))", jobID: nil)
        }
        guard (try? JSONSerialization.jsonObject(with: Data(payload.utf8))) is [String: Any] else {
            throw JobValidationError(message: "the payload is not a JSON object", jobID: nil)
        }
        return Array("{\"id\":\(id.jsonQuoted),\"type\":\(type.jsonQuoted),\"enqueued_at\":\(JiraTimestamp.format(enqueuedAt).jsonQuoted),\"payload\":\(payload)}".utf8)
    }

    /// `XADD <jobs> * job <envelope>`; returns the entry id.
    @discardableResult
    public func enqueue(envelope: [UInt8]) async throws -> String {
        try await redis.send(RedisCommand("XADD", keys.jobs, "*", "job", envelope)).string ?? ""
    }

    /// Enqueues many envelopes, pipelined in chunks; returns how many were added.
    public func enqueue(envelopes: [[UInt8]]) async throws -> Int {
        var added = 0
        var start = 0
        while start < envelopes.count {
            let chunk = envelopes[start..<min(start + 1000, envelopes.count)]
            let replies = try await redis.pipeline(chunk.map { RedisCommand("XADD", keys.jobs, "*", "job", $0) })
            for reply in replies { try reply.throwingServerError() }
            added += replies.count
            start += chunk.count
        }
        return added
    }

    /// The JSON stored under `jira:result:<id>`, if any.
    public func result(id: String) async throws -> String? {
        try await redis.send(RedisCommand("GET", keys.result(id))).string
    }

    /// Polls for a job's result until it exists or `timeout` passes.
    public func waitForResult(id: String, timeout: Duration) async throws -> String? {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let result = try await result(id: id) { return result }
            if ContinuousClock.now >= deadline { return nil }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// A dead letter, as stored in `jira:jobs:dead`.
    public struct DeadLetter: Sendable, Hashable {
        /// The dead-letter entry id.
        public var id: String
        /// The field values by name; `job` byte for byte.
        public var fields: [String: [UInt8]]
    }

    /// The oldest dead letters, up to `limit`.
    public func deadLetters(limit: Int) async throws -> [DeadLetter] {
        try Self.parseDead(try await redis.send(RedisCommand("XRANGE", keys.dead, "-", "+", "COUNT", limit)))
    }

    /// Re-enqueues dead letters by id (their `job` bytes, with a fresh attempt count) and removes
    /// them from the dead-letter stream, each atomically. Returns how many were re-enqueued.
    public func retryDead(ids: [String]) async throws -> Int {
        var retried = 0
        for id in ids {
            guard let letter = try Self.parseDead(try await redis.send(RedisCommand("XRANGE", keys.dead, id, id))).first,
                  let job = letter.fields["job"] else { continue }
            let replies = try await redis.pipeline([
                RedisCommand("MULTI"), RedisCommand("XADD", keys.jobs, "*", "job", job), RedisCommand("XDEL", keys.dead, id), RedisCommand("EXEC"),
            ])
            if case .array = replies.last { retried += 1 } else { try replies.last?.throwingServerError() }
        }
        return retried
    }

    /// Re-enqueues every dead letter.
    public func retryAllDead() async throws -> Int {
        var total = 0
        while true {
            let batch = try await deadLetters(limit: 500)
            if batch.isEmpty { return total }
            total += try await retryDead(ids: batch.map(\.id))
        }
    }

    /// Deletes the dead-letter stream; returns how many entries it held.
    public func purgeDead() async throws -> Int {
        let replies = try await redis.pipeline([RedisCommand("MULTI"), RedisCommand("XLEN", keys.dead), RedisCommand("DEL", keys.dead), RedisCommand("EXEC")])
        return Int(replies.last?.array?.first?.integer ?? 0)
    }

    private static func parseDead(_ reply: RedisReply) throws -> [DeadLetter] {
        try (reply.array ?? []).map { item in
            guard let pair = item.array, pair.count == 2, let id = pair[0].string else {
                throw RedisError(code: .unexpectedReply, message: "unexpected dead-letter entry")
            }
            return DeadLetter(id: id, fields: QueueStatistics.pairs(pair[1]).mapValues { $0.bytes ?? [] })
        }
    }
}
