import Foundation
import JiraCache
import JiraWorker

/// `jira-worker config`.
enum ConfigCommand {
    static let help = """
        Usage: jira-worker config [worker options]

        Prints the effective configuration (flags over environment over defaults) as JSON, with
        passwords redacted; exits 2 naming the setting when a value is invalid.

        Options:
        \(Settings.workerOptionsHelp)
        """

    static func run(_ arguments: inout CommandLineArguments) async throws -> Int32 {
        var settings = Settings(arguments: arguments)
        let configuration = try settings.worker()
        try settings.arguments.finish()
        func seconds(_ duration: Duration) -> Double { Double(duration.milliseconds) / 1000 }
        let object: [String: Any] = [
            "redis_url": configuration.redis.redactedURL,
            "database_url": configuration.postgres.redactedConnectionString,
            "prefix": configuration.keys.prefix,
            "stream": configuration.keys.jobs,
            "group": configuration.keys.group,
            "consumer": configuration.consumer,
            "lanes": configuration.lanes,
            "batch": configuration.batchSize,
            "apply_connections": configuration.applyConnections,
            "claim_timeout_seconds": seconds(configuration.claimTimeout),
            "max_attempts": configuration.maxAttempts,
            "max_deliveries": configuration.maxDeliveries,
            "grace_seconds": seconds(configuration.grace),
            "result_ttl_seconds": seconds(configuration.resultTTL),
            "max_entry_bytes": configuration.maxEntryBytes,
            "inbox_retention_seconds": seconds(configuration.inboxRetention),
            "retry_base_seconds": seconds(configuration.retryBackoff.base),
            "retry_max_seconds": seconds(configuration.retryBackoff.maximum),
            "metrics": configuration.metricsAddress.map { "\($0.host):\($0.port)" } ?? NSNull(),
        ]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
        print(String(decoding: data, as: UTF8.self))
        return 0
    }
}
