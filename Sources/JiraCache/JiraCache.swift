import Foundation
import JiraStore
import Postgres
import Redis
import Synchronization

/// Where a lookup's answer came from.
public enum JiraLookupSource: String, Sendable, Hashable {
    /// A cache hit.
    case cache
    /// A miss, read from PostgreSQL (and filled into the cache).
    case database
    /// Redis was unreachable; read from PostgreSQL.
    case fallback
}

/// A lookup's answer, its version, and where it came from.
public struct JiraLookup<Value: Sendable>: Sendable {
    /// The answer.
    public var value: Value
    /// The highest row version behind it.
    public var version: Int64
    /// Cache, database, or fallback.
    public var source: JiraLookupSource
}

/// The hot lookups, answered from Redis and kept coherent with PostgreSQL.
///
/// Read-through: a hit is one `GET`. On a miss the reader reads the key's generation (and the
/// server's clock), reads PostgreSQL, and fills the key with a Lua compare-and-set that writes only
/// if the generation is unchanged and the fill window has not passed. The worker, after COMMIT and
/// before it publishes results or `XACK`s, increments the generation of every key the batch
/// affected and deletes the key. So a reader that read PostgreSQL before a change can never write
/// its answer back after the change is acknowledged (see the README for the argument).
public final class JiraCache: Sendable {
    /// The Redis connection used.
    public let redis: RedisConnection
    /// The store read on a miss.
    public let store: JiraIntegrationStore
    /// The behaviour.
    public let configuration: JiraCacheConfiguration

    private let counters = Counters()

    /// Creates a cache.
    public init(redis: RedisConnection, store: JiraIntegrationStore, configuration: JiraCacheConfiguration = JiraCacheConfiguration()) {
        self.redis = redis
        self.store = store
        self.configuration = configuration
    }

    /// Hits, misses and fallbacks so far.
    public var statistics: (hits: Int, misses: Int, fallbacks: Int) {
        (counters.hits.load(ordering: .relaxed), counters.misses.load(ordering: .relaxed), counters.fallbacks.load(ordering: .relaxed))
    }

    private var prefix: String { configuration.prefix }

    // MARK: - Lookups

    /// Is this user linked and active in this workspace? The link, or `nil`.
    public func activeUser(workspaceID: Int64, keycloakUserID: String) async throws -> JiraLookup<JiraUserLink?> {
        try await lookup(.activeUser(prefix, workspaceID: workspaceID, keycloakUserID: keycloakUserID)) {
            try $0.activeUserLookup(workspaceID: workspaceID, keycloakUserID: keycloakUserID)
        }
    }

    /// Which active user is this Atlassian account in this workspace? The link, or `nil`.
    public func activeUser(workspaceID: Int64, jiraUserID: String) async throws -> JiraLookup<JiraUserLink?> {
        try await lookup(.activeJiraUser(prefix, workspaceID: workspaceID, jiraUserID: jiraUserID)) {
            try $0.activeUserLookup(workspaceID: workspaceID, jiraUserID: jiraUserID)
        }
    }

    /// Which conversations exist for this issue? Newest first.
    public func conversations(workspaceID: Int64, keycloakUserID: String, issueID: String) async throws -> JiraLookup<[JiraConversation]> {
        try await lookup(.conversations(prefix, workspaceID: workspaceID, keycloakUserID: keycloakUserID, issueID: issueID)) {
            try $0.conversationsLookup(workspaceID: workspaceID, keycloakUserID: keycloakUserID, issueID: issueID)
        }
    }

    /// The workspace with that cloud id: id, name, cloud id, status; never secrets.
    public func workspace(cloudID: String) async throws -> JiraLookup<JiraWorkspaceSummary?> {
        try await lookup(.workspace(prefix, cloudID: cloudID)) {
            let found = try $0.workspaceLookup(cloudID: cloudID)
            return Versioned(value: found.value.map(JiraWorkspaceSummary.init), version: found.version)
        }
    }

    /// The workspace with that site name.
    public func workspace(name: String) async throws -> JiraLookup<JiraWorkspaceSummary?> {
        try await lookup(.workspace(prefix, name: name)) {
            let found = try $0.workspaceLookup(name: name)
            return Versioned(value: found.value.map(JiraWorkspaceSummary.init), version: found.version)
        }
    }

    // MARK: - Read-through

    private func lookup<Value: Codable & Sendable & JSONTreeDecodable>(
        _ key: JiraCacheKey, load: @escaping @Sendable (JiraStoreSession) throws -> Versioned<Value>
    ) async throws -> JiraLookup<Value> {
        let cached: RedisReply
        do {
            cached = try await redis.send(RedisCommand("GET", key.value))
        } catch let error as RedisError {
            return try await fallback(error, load)
        }
        if case .bulk(let bytes) = cached, let entry = Self.entry(Value.self, bytes) {
            counters.hits.add(1, ordering: .relaxed)
            return JiraLookup(value: entry.value, version: entry.version, source: .cache)
        }
        counters.misses.add(1, ordering: .relaxed)
        // The generation must be read before PostgreSQL: a change acknowledged after this read
        // bumps it, and the fill below then refuses to write.
        let fence: [RedisReply]
        do {
            fence = try await redis.pipeline([RedisCommand("GET", key.generation), RedisCommand("TIME")])
        } catch let error as RedisError {
            return try await fallback(error, load)
        }
        let loaded = try await store.read(load)
        if let time = fence[1].array, time.count == 2, let seconds = time[0].integer, let micros = time[1].integer {
            let deadline = seconds * 1000 + micros / 1000 + configuration.fillWindow.milliseconds
            let isEmpty = (loaded.value as? any OptionalProtocol)?.isNone ?? ((loaded.value as? [JiraConversation])?.isEmpty ?? false)
            let ttl = configuration.jitteredMilliseconds(isEmpty ? configuration.negativeTTL : configuration.ttl)
            let body = try Self.encoder.encode(JiraCacheEntry(version: loaded.version, value: loaded.value))
            _ = try? await redis.send(RedisCommand("EVAL", Self.fillScript, 2, key.value, key.generation,
                                                   fence[0].string ?? "0", Array(body), ttl, deadline))
        }
        return JiraLookup(value: loaded.value, version: loaded.version, source: .database)
    }

    /// A cached entry: read from a ``JSONValue`` tree (no `JSONDecoder` on the hit path), or by
    /// `JSONDecoder` if it is outside the tree parser's subset; `nil` if it is not an entry.
    static func entry<Value: Codable & JSONTreeDecodable>(_ type: Value.Type, _ bytes: [UInt8]) -> JiraCacheEntry<Value>? {
        if String(validating: bytes, as: UTF8.self) != nil, let tree = JSONValue.parse(bytes),
           let version = tree["version"]?.integer, let value = tree["value"].flatMap(Value.init(json:)) {
            return JiraCacheEntry(version: version, value: value)
        }
        return try? JSONDecoder().decode(JiraCacheEntry<Value>.self, from: Data(bytes))
    }

    private func fallback<Value: Sendable>(_ error: RedisError, _ load: @escaping @Sendable (JiraStoreSession) throws -> Versioned<Value>) async throws -> JiraLookup<Value> {
        counters.fallbacks.add(1, ordering: .relaxed)
        let loaded = try await store.read(load)
        return JiraLookup(value: loaded.value, version: loaded.version, source: .fallback)
    }

    /// Writes ARGV[2] to KEYS[1] for ARGV[3] ms only if KEYS[2] (the generation) still equals
    /// ARGV[1] and the server clock has not passed ARGV[4].
    public static let fillScript = """
        local t = redis.call('TIME')
        if tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) > tonumber(ARGV[4]) then return 0 end
        if (redis.call('GET', KEYS[2]) or '0') ~= ARGV[1] then return 0 end
        redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
        return 1
        """

    // MARK: - Invalidation (the worker's side)
    //
    // For every key a committed change can have altered, the worker runs `INCR` on the key's
    // generation (with a lifetime of `generationTTL`) and `DEL` on the answer, in the first round
    // trip of the batch's acknowledgement. `JiraCacheKey.affected(by:)` tells which keys.

    /// Values are written with sorted keys, so every writer produces the same bytes.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    private final class Counters: Sendable {
        let hits = Atomic<Int>(0)
        let misses = Atomic<Int>(0)
        let fallbacks = Atomic<Int>(0)
    }
}

/// The JSON stored under a cache key: `{"version": N, "value": …}` (`null` for not found).
public struct JiraCacheEntry<Value: Codable>: Codable {
    /// The highest row version behind the answer.
    public var version: Int64
    /// The answer.
    public var value: Value
}

/// Lets the generic read-through tell a "not found" answer apart, for the shorter TTL.
protocol OptionalProtocol {
    var isNone: Bool { get }
}

extension Optional: OptionalProtocol {
    var isNone: Bool { self == nil }
}

extension Duration {
    /// Whole milliseconds (the unit of Redis lifetimes and of the worker's delays).
    public var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

