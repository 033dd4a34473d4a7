import Foundation
import Synchronization

/// The worker's metrics, rendered in the Prometheus text format. Counters and histograms live
/// behind a `Mutex` around a value; gauges about the stream are refreshed by the housekeeping
/// thread, so rendering never waits on Redis or PostgreSQL.
public final class WorkerMetrics: Sendable {
    /// The version reported as `jira_worker_build_info`.
    public static let version = "0.4.0"

    /// Job latency buckets, in seconds (enqueue to commit).
    static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]
    /// Batch size buckets.
    static let batchBuckets: [Double] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]

    /// The queue and the servers as last observed by the housekeeping thread.
    public struct QueueGauges: Sendable, Hashable {
        /// The queue's figures.
        public var statistics = QueueStatistics()
        /// Whether Redis answered the last probe.
        public var redisUp = false
        /// Whether PostgreSQL answered the last probe.
        public var postgresUp = false
        /// When the probe ran (seconds since the epoch).
        public var observedAt: Double = 0

        /// Creates empty gauges.
        public init() {}
    }

    struct Histogram: Sendable {
        var buckets: [Double]
        var counts: [Int]
        var sum = 0.0
        var count = 0

        init(_ buckets: [Double]) {
            self.buckets = buckets
            self.counts = Array(repeating: 0, count: buckets.count)
        }

        mutating func observe(_ value: Double) {
            for index in buckets.indices where value <= buckets[index] { counts[index] += 1 }
            sum += value
            count += 1
        }
    }

    struct State: Sendable {
        var jobs: [String: [String: Int]] = [:]  // outcome → type → count
        var latency = Histogram(WorkerMetrics.latencyBuckets)
        var batches = Histogram(WorkerMetrics.batchBuckets)
        var cacheInvalidations = 0
        var queue = QueueGauges()
    }

    private let state = Mutex(State())
    /// Reconnect counts and cache counters, read when rendering.
    private let sources = Mutex<[@Sendable () -> [String: Int]]>([])

    /// Creates an empty registry.
    public init() {}

    /// Counts a job outcome (`processed`, `failed`, `retried`, `dead_lettered`) for a type.
    public func count(_ outcome: String, type: String, by amount: Int = 1) {
        guard amount > 0 else { return }
        state.withLock { $0.jobs[outcome, default: [:]][type, default: 0] += amount }
    }

    /// Records a batch: its size, and each committed job's enqueue-to-commit latency.
    public func record(batchSize: Int, latencies: [Double], invalidations: Int) {
        state.withLock { state in
            state.batches.observe(Double(batchSize))
            for latency in latencies { state.latency.observe(max(latency, 0)) }
            state.cacheInvalidations += invalidations
        }
    }

    /// Replaces the queue gauges.
    public func update(_ gauges: QueueGauges) { state.withLock { $0.queue = gauges } }

    /// The queue gauges as last observed.
    public var queue: QueueGauges { state.withLock { $0.queue } }

    /// Adds a source of counters read at render time (`name → value`).
    public func addSource(_ source: @escaping @Sendable () -> [String: Int]) { sources.withLock { $0.append(source) } }

    /// Jobs counted for an outcome, over all types.
    public func total(_ outcome: String) -> Int { state.withLock { $0.jobs[outcome]?.values.reduce(0, +) ?? 0 } }

    /// The Prometheus text exposition.
    public func render() -> String {
        let snapshot = state.withLock { $0 }
        var extra: [String: Int] = [:]
        for source in sources.withLock({ $0 }) { extra.merge(source(), uniquingKeysWith: +) }
        var out = ""
        func header(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        header("jira_worker_jobs_total", "counter", "Jobs by outcome (processed, failed, retried, dead_lettered) and type.")
        for outcome in ["processed", "failed", "retried", "dead_lettered"] {
            let byType = snapshot.jobs[outcome] ?? [:]
            for type in (JiraJob.types + ["invalid"]).sorted() {
                out += "jira_worker_jobs_total{outcome=\"\(outcome)\",type=\"\(type)\"} \(byType[type] ?? 0)\n"
            }
        }
        histogram(&out, "jira_worker_job_latency_seconds", "Time from enqueue (stream entry id) to commit.", snapshot.latency)
        histogram(&out, "jira_worker_batch_size", "Entries per applied batch.", snapshot.batches)
        header("jira_worker_cache_invalidations_total", "counter", "Cache keys invalidated with acknowledgements.")
        out += "jira_worker_cache_invalidations_total \(snapshot.cacheInvalidations)\n"
        let queue = snapshot.queue
        let stats = queue.statistics
        for (name, help, value) in [
            ("jira_queue_stream_length", "Entries in the job stream.", Double(stats.streamLength)),
            ("jira_queue_lag", "Entries not yet delivered to the consumer group.", Double(stats.lag)),
            ("jira_queue_pending", "Entries delivered and not yet acknowledged.", Double(stats.pending)),
            ("jira_queue_oldest_pending_age_seconds", "Age of the oldest pending entry.", stats.oldestPendingAge),
            ("jira_queue_delayed", "Retries waiting in the delayed set.", Double(stats.delayed)),
            ("jira_queue_dead", "Entries in the dead-letter stream.", Double(stats.dead)),
            ("jira_worker_redis_up", "Whether Redis answered the last probe.", queue.redisUp ? 1 : 0),
            ("jira_worker_postgres_up", "Whether PostgreSQL answered the last probe.", queue.postgresUp ? 1 : 0),
        ] {
            header(name, "gauge", help)
            out += "\(name) \(Self.number(value))\n"
        }
        for (name, help) in [
            ("jira_cache_hits_total", "Cached lookups answered from Redis in this process."),
            ("jira_cache_misses_total", "Cached lookups read through to PostgreSQL in this process."),
            ("jira_cache_fallbacks_total", "Lookups answered from PostgreSQL because Redis was unreachable."),
            ("jira_worker_redis_reconnects_total", "Redis connections re-established."),
            ("jira_worker_postgres_reconnects_total", "PostgreSQL connections re-established."),
        ] {
            header(name, "counter", help)
            out += "\(name) \(extra[name] ?? 0)\n"
        }
        header("jira_worker_build_info", "gauge", "Build information.")
        out += "jira_worker_build_info{version=\"\(Self.version)\"} 1\n"
        return out
    }

    private func histogram(_ out: inout String, _ name: String, _ help: String, _ histogram: Histogram) {
        out += "# HELP \(name) \(help)\n# TYPE \(name) histogram\n"
        for (bound, count) in zip(histogram.buckets, histogram.counts) {
            out += "\(name)_bucket{le=\"\(Self.number(bound))\"} \(count)\n"
        }
        out += "\(name)_bucket{le=\"+Inf\"} \(histogram.count)\n\(name)_sum \(Self.number(histogram.sum))\n\(name)_count \(histogram.count)\n"
    }

    static func number(_ value: Double) -> String {
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }
}
