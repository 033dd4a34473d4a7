import Foundation
import JiraWorker
import Postgres
import Redis

/// Reads settings from flags (which win) and the environment, and builds the configurations.
/// An invalid value is a usage error that names the setting.
struct Settings {
    var arguments: CommandLineArguments

    /// A raw setting: `--flag VALUE`, else the environment variable.
    mutating func value(_ flag: String, _ variable: String) throws -> String? {
        try arguments.option(flag) ?? Environment.value(variable)
    }

    mutating func integer(_ flag: String, _ variable: String, range: ClosedRange<Int>) throws -> Int? {
        guard let text = try value(flag, variable) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            throw UsageError("\(flag) / \(variable) must be a whole number from \(range.lowerBound) to \(range.upperBound), not \"\(text)\"")
        }
        return number
    }

    mutating func duration(_ flag: String, _ variable: String) throws -> Duration? {
        guard let text = try value(flag, variable) else { return nil }
        guard let duration = Self.parseDuration(text) else {
            throw UsageError("\(flag) / \(variable) must be a duration such as 30, 30s, 500ms, 5m, 24h or 7d, not \"\(text)\"")
        }
        return duration
    }

    /// Parses `30` (seconds), `30s`, `500ms`, `5m`, `24h`, `7d`.
    static func parseDuration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400), ("", 1)]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            guard let number = Double(text.dropLast(suffix.count)), number > 0, number.isFinite else { continue }
            return .milliseconds(Int64((number * scale * 1000).rounded()))
        }
        return nil
    }

    mutating func postgres() throws -> PostgresConfiguration {
        PostgresConfiguration(connectionString: try value("--database-url", "DATABASE_URL") ?? PostgresConfiguration.localDefault)
    }

    mutating func redis() throws -> RedisConfiguration {
        let url = try value("--redis-url", "REDIS_URL") ?? RedisConfiguration.localDefault
        do {
            return try RedisConfiguration(url: url)
        } catch let error as RedisError {
            throw UsageError("--redis-url / REDIS_URL: \(error.message)")
        }
    }

    mutating func keys() throws -> JiraKeys {
        let prefix = try value("--prefix", "JIRA_PREFIX") ?? "jira"
        guard !prefix.isEmpty, !prefix.contains(where: { $0.isWhitespace }) else {
            throw UsageError("--prefix / JIRA_PREFIX must be a non-empty word, not \"\(prefix)\"")
        }
        return JiraKeys(prefix: prefix)
    }

    /// The worker's whole configuration.
    mutating func worker() throws -> WorkerConfiguration {
        var configuration = WorkerConfiguration(redis: try redis(), postgres: try postgres(), keys: try keys())
        if let consumer = try value("--consumer", "JIRA_WORKER_CONSUMER") {
            guard !consumer.isEmpty, !consumer.contains(where: { $0.isWhitespace }) else { throw UsageError("--consumer / JIRA_WORKER_CONSUMER must be a non-empty word") }
            configuration.consumer = consumer
        }
        if let lanes = try integer("--lanes", "JIRA_WORKER_LANES", range: 1...64) { configuration.lanes = lanes }
        if let batch = try integer("--batch", "JIRA_WORKER_BATCH", range: 1...10_000) { configuration.batchSize = batch }
        if let connections = try integer("--apply-connections", "JIRA_WORKER_APPLY_CONNECTIONS", range: 1...16) { configuration.applyConnections = connections }
        if let timeout = try duration("--claim-timeout", "JIRA_WORKER_CLAIM_TIMEOUT") { configuration.claimTimeout = timeout }
        if let attempts = try integer("--max-attempts", "JIRA_WORKER_MAX_ATTEMPTS", range: 1...1000) { configuration.maxAttempts = attempts }
        if let deliveries = try integer("--max-deliveries", "JIRA_WORKER_MAX_DELIVERIES", range: 1...1000) { configuration.maxDeliveries = deliveries }
        if let grace = try duration("--grace", "JIRA_WORKER_GRACE") { configuration.grace = grace }
        if let ttl = try duration("--result-ttl", "JIRA_RESULT_TTL") { configuration.resultTTL = ttl }
        if let bytes = try integer("--max-entry-bytes", "JIRA_MAX_ENTRY_BYTES", range: 256...(16 << 20)) { configuration.maxEntryBytes = bytes }
        if let retention = try duration("--inbox-retention", "JIRA_INBOX_RETENTION") { configuration.inboxRetention = retention }
        if let address = try value("--metrics", "JIRA_WORKER_METRICS") {
            guard let colon = address.lastIndex(of: ":"), let port = Int(address[address.index(after: colon)...]), (0...65535).contains(port),
                  !address[..<colon].isEmpty else {
                throw UsageError("--metrics / JIRA_WORKER_METRICS must be HOST:PORT, such as 0.0.0.0:9464, not \"\(address)\"")
            }
            configuration.metricsAddress = (String(address[..<colon]), port)
        }
        if let base = try duration("--retry-base", "JIRA_WORKER_RETRY_BASE") { configuration.retryBackoff.base = base }
        if let maximum = try duration("--retry-max", "JIRA_WORKER_RETRY_MAX") { configuration.retryBackoff.maximum = maximum }
        return configuration
    }

    /// The options of the commands that only talk to the queue's Redis.
    static let queueOptionsHelp = """
          --redis-url URL      (env REDIS_URL)
          --prefix WORD        (env JIRA_PREFIX)
        """

    static let workerOptionsHelp = """
          --redis-url URL          redis://[user:password@]host:port/db or unix:///path (env REDIS_URL)
          --database-url URL       libpq connection string or URI (env DATABASE_URL)
          --prefix WORD            key prefix (env JIRA_PREFIX, default jira)
          --lanes N                pipelined lanes per process (env JIRA_WORKER_LANES, default 1)
          --batch N                entries per read (env JIRA_WORKER_BATCH, default 1024)
          --apply-connections N    PostgreSQL connections a lane splits a large batch over, by user
                                   (env JIRA_WORKER_APPLY_CONNECTIONS, default 2)
          --consumer NAME          consumer name; lanes read as NAME:LANE (env JIRA_WORKER_CONSUMER, default host-pid)
          --claim-timeout DUR      reclaim entries pending this long (env JIRA_WORKER_CLAIM_TIMEOUT, default 30s)
          --max-attempts N         attempts for transient failures (env JIRA_WORKER_MAX_ATTEMPTS, default 8)
          --max-deliveries N       deliveries before an entry is a poison pill (env JIRA_WORKER_MAX_DELIVERIES, default 5)
          --grace DUR              graceful-shutdown limit (env JIRA_WORKER_GRACE, default 20s)
          --result-ttl DUR         lifetime of result keys (env JIRA_RESULT_TTL, default 24h)
          --max-entry-bytes N      largest entry accepted (env JIRA_MAX_ENTRY_BYTES, default 65536)
          --inbox-retention DUR    how long applied job ids are remembered (env JIRA_INBOX_RETENTION, default 7d)
          --metrics HOST:PORT      serve /metrics, /healthz, /readyz (env JIRA_WORKER_METRICS; off by default)
          --retry-base DUR         first retry delay ceiling (env JIRA_WORKER_RETRY_BASE, default 500ms)
          --retry-max DUR          largest retry delay (env JIRA_WORKER_RETRY_MAX, default 5m)
        """
}
