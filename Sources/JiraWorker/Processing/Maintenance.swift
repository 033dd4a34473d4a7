import Foundation
import Postgres
import Redis

/// The housekeeping thread of a worker process: moves due retries back to the stream, trims
/// acknowledged entries from it, and prunes old inbox rows. Every process runs one; they are
/// safe to run concurrently (each step is atomic or idempotent).
final class Maintenance: Sendable {
    private let configuration: WorkerConfiguration
    private let state: WorkerState
    private let redis: RedisConnection
    private let postgres: PostgresConnection
    private let log: WorkerLog
    private let metrics: WorkerMetrics

    /// Reconnects of the housekeeping connections.
    var reconnects: (redis: Int, postgres: Int) { (redis.reconnects, postgres.reconnects) }

    init(configuration: WorkerConfiguration, state: WorkerState, log: WorkerLog, metrics: WorkerMetrics) {
        self.configuration = configuration
        self.state = state
        self.redis = RedisConnection(configuration: configuration.redis)
        self.postgres = PostgresConnection(configuration: configuration.postgres)
        self.log = log
        self.metrics = metrics
    }

    func run() {
        var nextTrim = ContinuousClock.now
        var nextPrune = ContinuousClock.now + .seconds(60)
        var nextProbe = ContinuousClock.now
        while state.isRunning {
            if ContinuousClock.now >= nextProbe {
                nextProbe = ContinuousClock.now + .seconds(2)
                metrics.update(probe())
            }
            do {
                while try promoteDueRetries() == 500 {}
                if ContinuousClock.now >= nextTrim {
                    nextTrim = ContinuousClock.now + .seconds(5)
                    try trimStream()
                }
                if ContinuousClock.now >= nextPrune {
                    nextPrune = ContinuousClock.now + .seconds(600)
                    try pruneInbox()
                }
            } catch {
                log.error("maintenance: \(WorkerLane.describe(error))")
            }
            for _ in 0..<5 where state.isRunning { usleep(50_000) }
        }
    }

    /// Observes the queue and checks that Redis and PostgreSQL answer.
    func probe() -> WorkerMetrics.QueueGauges {
        var gauges = WorkerMetrics.QueueGauges()
        gauges.observedAt = Date().timeIntervalSince1970
        gauges.postgresUp = (try? postgres.withSessionBlocking { try $0.query("SELECT 1", []) }) != nil
        if let stats = try? QueueStatistics.read(redis, configuration.keys) {
            gauges.redisUp = true
            gauges.statistics = stats
        }
        return gauges
    }

    /// Moves retries whose time has come from the delayed set back to the stream.
    func promoteDueRetries() throws -> Int {
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        let keys = configuration.keys
        let moved = try redis.send(RedisCommand("EVAL", DelayedJob.promoteScript, 2, keys.delayed, keys.jobs, now, 500))
        return Int(moved.integer ?? 0)
    }

    /// `XTRIM MINID ~ <oldest pending, or last delivered>`: drops entries every consumer has
    /// acknowledged, and never one that is pending or not yet delivered.
    func trimStream() throws {
        let keys = configuration.keys
        let replies = try redis.pipeline([
            RedisCommand("XINFO", "GROUPS", keys.jobs),
            RedisCommand("XPENDING", keys.jobs, keys.group),
        ])
        guard let groups = replies[0].array else { return }  // no stream yet
        let lastDelivered = groups.map(QueueStatistics.pairs).first { $0["name"]?.string == keys.group }?["last-delivered-id"]?.string
        guard let lastDelivered, lastDelivered != "0-0" else { return }
        let oldestPending = replies[1].array.flatMap { $0.count > 1 ? $0[1].string : nil }
        try redis.send(RedisCommand("XTRIM", keys.jobs, "MINID", "~", oldestPending ?? lastDelivered))
    }

    /// Deletes inbox rows older than the retention, in slices so no transaction grows large.
    func pruneInbox() throws {
        let retention = "\(configuration.inboxRetention.components.seconds) seconds"
        var total = 0
        while state.isRunning {
            let rows = try postgres.withSessionBlocking { session in
                try session.query("""
                    DELETE FROM jira_job_inbox WHERE job_id IN (
                        SELECT job_id FROM jira_job_inbox WHERE applied_at < now() - $1::interval LIMIT 5000)
                    """, retention)
            }
            total += rows.affectedRows
            if rows.affectedRows < 5000 { break }
        }
        if total > 0 { log.info("pruned \(total) inbox rows older than \(retention)") }
    }
}
