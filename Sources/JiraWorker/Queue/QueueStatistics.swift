import Foundation
import Redis

/// What an operator wants to see of the queue at a glance (`jira-worker stats`, `/metrics`).
public struct QueueStatistics: Sendable, Hashable, Codable {
    /// One consumer of the group.
    public struct Consumer: Sendable, Hashable, Codable {
        /// Its name (`<consumer>:<lane>`).
        public var name: String
        /// Entries it holds unacknowledged.
        public var pending: Int64
        /// Milliseconds since it last read or claimed.
        public var idleMilliseconds: Int64

        enum CodingKeys: String, CodingKey {
            case name, pending
            case idleMilliseconds = "idle_ms"
        }
    }

    /// `XLEN` of the job stream.
    public var streamLength: Int64 = 0
    /// Entries not yet delivered to the group.
    public var lag: Int64 = 0
    /// Entries delivered and not acknowledged.
    public var pending: Int64 = 0
    /// Age of the oldest pending entry, in seconds.
    public var oldestPendingAge: Double = 0
    /// Retries waiting in the delayed set.
    public var delayed: Int64 = 0
    /// Entries in the dead-letter stream.
    public var dead: Int64 = 0
    /// Jobs acknowledged per second over the last minute.
    public var throughput: Double = 0
    /// The group's consumers.
    public var consumers: [Consumer] = []

    /// Creates empty figures.
    public init() {}

    enum CodingKeys: String, CodingKey {
        case lag, pending, delayed, dead, throughput, consumers
        case streamLength = "stream_length"
        case oldestPendingAge = "oldest_pending_age_seconds"
    }

    /// Reads everything in one pipelined round trip.
    public static func read(_ redis: RedisConnection, _ keys: JiraKeys, now: Date = Date()) throws -> QueueStatistics {
        let second = Int64(now.timeIntervalSince1970)
        let window = (1...60).map { keys.processedCounter(second: second - $0) }
        let replies = try redis.pipeline([
            RedisCommand("XLEN", keys.jobs),
            RedisCommand("XINFO", "GROUPS", keys.jobs),
            RedisCommand("XPENDING", keys.jobs, keys.group),
            RedisCommand("ZCARD", keys.delayed),
            RedisCommand("XLEN", keys.dead),
            RedisCommand("XINFO", "CONSUMERS", keys.jobs, keys.group),
            RedisCommand("MGET", window),
        ])
        var stats = QueueStatistics()
        stats.streamLength = replies[0].integer ?? 0
        for group in replies[1].array ?? [] {
            let fields = pairs(group)
            guard fields["name"]?.string == keys.group else { continue }
            stats.lag = fields["lag"]?.integer ?? 0
            stats.pending = fields["pending"]?.integer ?? 0
        }
        if let summary = replies[2].array, summary.count >= 2, let oldest = summary[1].string,
           let milliseconds = oldest.split(separator: "-").first.flatMap({ Int64($0) }) {
            stats.oldestPendingAge = max(now.timeIntervalSince1970 - Double(milliseconds) / 1000, 0)
        }
        stats.delayed = replies[3].integer ?? 0
        stats.dead = replies[4].integer ?? 0
        stats.consumers = (replies[5].array ?? []).map { consumer in
            let fields = pairs(consumer)
            return Consumer(name: fields["name"]?.string ?? "?", pending: fields["pending"]?.integer ?? 0, idleMilliseconds: fields["idle"]?.integer ?? 0)
        }
        stats.throughput = Double((replies[6].array ?? []).compactMap(\.integer).reduce(0, +)) / 60
        return stats
    }

    /// A flat `[name, value, name, value, …]` reply as a dictionary.
    static func pairs(_ reply: RedisReply) -> [String: RedisReply] {
        var map: [String: RedisReply] = [:]
        let fields = reply.array ?? []
        var index = 0
        while index + 1 < fields.count {
            if let name = fields[index].string { map[name] = fields[index + 1] }
            index += 2
        }
        return map
    }
}
