import Dispatch
import Foundation
import JiraCache
import Redis
import Synchronization

/// A worker process: `lanes` threads applying batches, one housekeeping thread, and signal
/// handling. SIGTERM or SIGINT stops reading and lets in-flight batches finish and acknowledge
/// within the grace period; a second signal exits at once (pending entries are reclaimed later).
public final class Worker: Sendable {
    /// The configuration it runs with.
    public let configuration: WorkerConfiguration
    private let state = WorkerState()
    private let log: WorkerLog
    /// The metrics this worker records and serves.
    public let metrics = WorkerMetrics()
    private let servedPort = Atomic<Int>(0)

    /// The port `/metrics` is served on once running (0 before, or when not serving); useful
    /// when ``WorkerConfiguration/metricsAddress`` asks for port 0.
    public var metricsPort: Int { servedPort.load(ordering: .relaxed) }

    /// Creates a worker.
    public init(configuration: WorkerConfiguration, log: WorkerLog = WorkerLog()) {
        self.configuration = configuration
        self.log = log
    }

    /// Jobs applied (or found already applied) so far.
    public var processed: Int { metrics.total("processed") }
    /// Jobs dead-lettered so far.
    public var deadLettered: Int { metrics.total("dead_lettered") }
    /// Retries scheduled so far.
    public var retried: Int { metrics.total("retried") }

    /// Asks the worker to drain and stop, as SIGTERM does.
    public func stop() { _ = state.signal() }

    /// Runs until stopped. Returns `true` when every lane finished within the grace period.
    public func run(handleSignals: Bool = true) async -> Bool {
        let signalSources = handleSignals ? installSignalHandlers() : []
        defer { signalSources.forEach { $0.cancel() } }
        log.info("worker starting", ["consumer": configuration.consumer, "lanes": String(configuration.lanes),
                                     "batch": String(configuration.batchSize),
                                     "apply_connections": String(configuration.applyConnections), "redis": configuration.redis.redactedURL,
                                     "stream": configuration.keys.jobs, "group": configuration.keys.group])
        let finished = DispatchGroup()
        let lanes = (0..<max(configuration.lanes, 1)).map { WorkerLane(index: $0, configuration: configuration, state: state, log: log, metrics: metrics) }
        let maintenance = Maintenance(configuration: configuration, state: state, log: log, metrics: metrics)
        metrics.addSource {
            let counts = lanes.map(\.reconnects)
            return ["jira_worker_redis_reconnects_total": counts.map(\.redis).reduce(0, +) + maintenance.reconnects.redis,
                    "jira_worker_postgres_reconnects_total": counts.map(\.postgres).reduce(0, +) + maintenance.reconnects.postgres]
        }
        var server: MetricsServer?
        if let address = configuration.metricsAddress {
            do {
                server = try MetricsServer(host: address.host, port: address.port) { [metrics, state] path in
                    Self.route(path, metrics: metrics, state: state)
                }
                servedPort.store(server?.port ?? 0, ordering: .relaxed)
                log.info("serving /metrics, /healthz and /readyz", ["address": "\(address.host):\(server?.port ?? address.port)"])
            } catch {
                log.error("\(error)")
                return false
            }
        }
        defer { server?.stop() }
        for lane in lanes {
            finished.enter()
            let thread = Thread { lane.run(); finished.leave() }
            thread.name = "lane-\(lane.index)"
            thread.start()
        }
        let housekeeping = Thread { maintenance.run() }
        housekeeping.name = "maintenance"
        housekeeping.start()

        // Wait (off the concurrency pool) for a stop request, then for the lanes within the grace.
        let grace = configuration.grace
        let drained: Bool = await withCheckedContinuation { [state] continuation in
            Thread.detachNewThread {
                while state.isRunning { usleep(50_000) }
                let deadline = DispatchTime.now() + .milliseconds(Int(grace.milliseconds))
                continuation.resume(returning: finished.wait(timeout: deadline) == .success)
            }
        }
        log.info(drained ? "worker stopped; in-flight work acknowledged" : "worker stopped before in-flight work finished; it will be reclaimed",
                 ["processed": String(processed), "dead": String(deadLettered), "retried": String(retried)])
        return drained
    }

    /// Answers the HTTP endpoints from memory only.
    static func route(_ path: String, metrics: WorkerMetrics, state: WorkerState) -> MetricsServer.Response {
        switch path {
        case "/metrics":
            return MetricsServer.Response(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metrics.render())
        case "/healthz":
            // Alive: a lane turned its loop within the last 10 seconds (a read blocks for at most 1 s).
            let idle = Double(DispatchTime.now().uptimeNanoseconds - state.heartbeat.load(ordering: .relaxed)) / 1e9
            return idle < 10 ? MetricsServer.Response(status: 200, body: "ok\n") : MetricsServer.Response(status: 503, body: "processing loop stalled for \(Int(idle)) s\n")
        case "/readyz":
            let queue = metrics.queue
            let fresh = Date().timeIntervalSince1970 - queue.observedAt < 15
            guard fresh, queue.redisUp, queue.postgresUp else {
                return MetricsServer.Response(status: 503, body: "redis: \(queue.redisUp ? "up" : "down"), postgres: \(queue.postgresUp ? "up" : "down")\n")
            }
            return MetricsServer.Response(status: 200, body: "ok\n")
        default:
            return MetricsServer.Response(status: 404, body: "not found\n")
        }
    }

    private func installSignalHandlers() -> [any DispatchSourceSignal] {
        let queue = DispatchQueue(label: "worker.signals")
        return [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler { [state, log] in
                switch state.signal() {
                case .draining:
                    log.info("signal \(number): draining (a second signal exits at once)")
                case .stopped, .running:
                    log.info("signal \(number) again: exiting now; unacknowledged entries will be reclaimed")
                    exit(1)
                }
            }
            source.resume()
            return source
        }
    }
}
