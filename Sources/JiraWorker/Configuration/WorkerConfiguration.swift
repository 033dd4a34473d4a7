import Foundation
import JiraCache
import Postgres
import Redis

/// Everything a worker process needs, with production defaults. Read from the environment and
/// flags only by the command line; everything below takes this struct.
public struct WorkerConfiguration: Sendable {
    /// The Redis that holds the stream, results and dead letters.
    public var redis: RedisConfiguration
    /// The PostgreSQL database.
    public var postgres: PostgresConfiguration
    /// The key names.
    public var keys: JiraKeys
    /// The consumer name; each lane reads as `<consumer>:<lane>`. Default `<host>-<pid>`.
    public var consumer: String
    /// Lanes per process: each is a pipeline of a reader, an applier and an acknowledger thread
    /// with their own Redis and PostgreSQL connections.
    public var lanes: Int
    /// Entries read per `XREADGROUP` and applied together.
    public var batchSize: Int
    /// PostgreSQL connections a lane applies a large batch over: the batch's link, status and
    /// conversation jobs are split by user across them, each part in its own transaction, in
    /// parallel (a user's jobs stay together and in order; workspace jobs commit first).
    public var applyConnections: Int
    /// How long an entry may stay pending with a silent consumer before others reclaim it.
    public var claimTimeout: Duration
    /// Attempts a job gets for transient failures before it is dead-lettered.
    public var maxAttempts: Int
    /// Deliveries an entry gets (crashes while holding it) before it is dead-lettered.
    public var maxDeliveries: Int
    /// How long a graceful shutdown may take to finish in-flight work.
    public var grace: Duration
    /// How long `jira:result:<id>` keys live.
    public var resultTTL: Duration
    /// The largest entry accepted, in bytes.
    public var maxEntryBytes: Int
    /// How long applied job ids stay in the inbox (the window for duplicate detection).
    public var inboxRetention: Duration
    /// Delays between retries of a job.
    public var retryBackoff: Backoff
    /// Delays between reconnect attempts while Redis or PostgreSQL is unreachable.
    public var reconnectBackoff: Backoff
    /// How long one `XREADGROUP` blocks waiting for entries.
    public var readBlock: Duration
    /// Where to serve `/metrics`, `/healthz` and `/readyz` (`HOST:PORT`); `nil` serves nothing.
    public var metricsAddress: (host: String, port: Int)? = nil

    /// The cache the worker keeps coherent (its prefix follows ``keys``).
    public var cache: JiraCacheConfiguration {
        get { var cache = cacheSettings; cache.prefix = keys.prefix; return cache }
        set { cacheSettings = newValue }
    }
    private var cacheSettings = JiraCacheConfiguration()

    /// The default consumer name: `<host>-<pid>`.
    public static var defaultConsumer: String {
        "\(ProcessInfo.processInfo.hostName)-\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// Creates a configuration.
    public init(
        redis: RedisConfiguration, postgres: PostgresConfiguration, keys: JiraKeys = JiraKeys(),
        consumer: String = WorkerConfiguration.defaultConsumer, lanes: Int = 1, batchSize: Int = 1024, applyConnections: Int = 2,
        claimTimeout: Duration = .seconds(30), maxAttempts: Int = 8, maxDeliveries: Int = 5, grace: Duration = .seconds(20),
        resultTTL: Duration = .seconds(86_400), maxEntryBytes: Int = 64 * 1024, inboxRetention: Duration = .seconds(7 * 86_400),
        retryBackoff: Backoff = Backoff(), reconnectBackoff: Backoff = Backoff(base: .milliseconds(100), maximum: .seconds(5)),
        readBlock: Duration = .seconds(1)
    ) {
        self.redis = redis
        self.postgres = postgres
        self.keys = keys
        self.consumer = consumer
        self.lanes = lanes
        self.batchSize = batchSize
        self.applyConnections = applyConnections
        self.claimTimeout = claimTimeout
        self.maxAttempts = maxAttempts
        self.maxDeliveries = maxDeliveries
        self.grace = grace
        self.resultTTL = resultTTL
        self.maxEntryBytes = maxEntryBytes
        self.inboxRetention = inboxRetention
        self.retryBackoff = retryBackoff
        self.reconnectBackoff = reconnectBackoff
        self.readBlock = readBlock
    }
}

extension Duration {
    /// Whole seconds, at least 1.
    var wholeSecondsAtLeastOne: Int64 { max(components.seconds, 1) }
}
