import Foundation
import JiraCache
import JiraStore
import Postgres
import Redis
import Synchronization

/// One lane: a pipeline of three threads, each with its own connections. The reader reads a
/// batch from the consumer group and decodes it; the applier applies it in one PostgreSQL
/// transaction; the acknowledger writes its results and acknowledges it. The three overlap (the
/// next batch is read and decoded while one is applied and the one before is acknowledged), yet
/// batches are applied one after another in stream order, so a job never waits for a neighbour
/// that a concurrent transaction of the same lane holds. When nothing is in flight, the reader
/// applies and acknowledges a small batch itself (low load: fewer hand-overs, lower latency).
/// Blocking C calls stay on these threads.
///
/// A batch is applied in one PostgreSQL transaction (a large one in a few, split by user), the
/// common jobs set-based, the others each in a savepoint so that one failing job does not fail
/// its neighbours; each applied job id is recorded in the inbox in the same transaction as its
/// effect. Only after COMMIT are the batch's invalidations, dead letters, retries and results
/// written, and the whole batch acknowledged with one `XACK`, last.
final class WorkerLane: Sendable {
    let index: Int
    let consumer: String
    private let configuration: WorkerConfiguration
    private let state: WorkerState
    /// The reader's connection (its `XREADGROUP` blocks).
    private let redis: RedisConnection
    /// The acknowledger's connection, also used to keep a waiting batch claimed.
    private let ackRedis: RedisConnection
    /// The applier's connections: the first for whole batches and workspace jobs, all of them
    /// for the parts of a split batch.
    private let postgres: [PostgresConnection]
    private let decoder: JobDecoder
    /// Batches handed to the applier and not yet acknowledged.
    private let inFlight = Atomic<Int>(0)
    /// Per applier connection, the reconnect count at which its session was configured.
    private let sessions: Mutex<[Int?]>
    /// The largest batch the reader applies itself when nothing is in flight.
    static let inlineLimit = 64
    private let log: WorkerLog
    private let metrics: WorkerMetrics

    /// Reconnects of this lane's connections, for the metrics.
    var reconnects: (redis: Int, postgres: Int) { (redis.reconnects + ackRedis.reconnects, postgres.map(\.reconnects).reduce(0, +)) }

    init(index: Int, configuration: WorkerConfiguration, state: WorkerState, log: WorkerLog, metrics: WorkerMetrics) {
        self.index = index
        self.consumer = "\(configuration.consumer):\(index)"
        self.configuration = configuration
        self.state = state
        self.redis = RedisConnection(configuration: configuration.redis)
        self.ackRedis = RedisConnection(configuration: configuration.redis)
        self.postgres = (0..<max(configuration.applyConnections, 1)).map { _ in PostgresConnection(configuration: configuration.postgres) }
        self.decoder = JobDecoder(maxBytes: configuration.maxEntryBytes)
        self.sessions = Mutex(Array(repeating: nil, count: postgres.count))
        self.log = log
        self.metrics = metrics
    }

    private var keys: JiraKeys { configuration.keys }

    /// A batch on its way through the lane.
    struct Batch: Sendable {
        let entries: [StreamEntry]
        /// By position: the outcome, once known (decoding fills in the invalid entries).
        var dispositions: [Disposition?]
        /// By position: the job type, for the metrics.
        var types: [String]
        /// The decoded jobs, with their positions.
        var valid: [(position: Int, job: JiraJob)]
    }

    /// Runs the lane until the worker drains (what was read is still applied and acknowledged)
    /// or stops (what is in flight is left pending, to be reclaimed).
    func run() {
        let decoded = Handoff<Batch?>(capacity: 1)
        let applied = Handoff<Batch?>(capacity: 1)
        let stages = DispatchGroup()
        let loops: [(String, @Sendable () -> Void)] = [("apply", { self.applyLoop(from: decoded, to: applied) }), ("ack", { self.acknowledgeLoop(from: applied) })]
        for (name, stage) in loops {
            stages.enter()
            let thread = Thread { stage(); stages.leave() }
            thread.name = "lane-\(index)-\(name)"
            thread.start()
        }
        readLoop(to: decoded)
        stages.wait()
    }

    private var notStopped: Bool { state.current != .stopped }

    /// The reader: first this lane's own pending entries (left by a previous run under the same
    /// name), then new entries, reclaiming stale ones from dead consumers now and then.
    private func readLoop(to decoded: Handoff<Batch?>) {
        var ownPendingFirst = true
        var nextClaim = ContinuousClock.now
        var claimCursor = "0-0"
        var outage = 0
        var groupReady = false
        while state.isRunning {
            state.beat()
            do {
                if !groupReady {
                    try Self.createGroup(redis, keys)
                    groupReady = true
                }
                var entries: [StreamEntry]
                if ownPendingFirst {
                    entries = try withDeliveryCounts(try readGroup(from: "0", block: nil))
                    if entries.isEmpty { ownPendingFirst = false }
                } else if ContinuousClock.now >= nextClaim {
                    nextClaim = ContinuousClock.now + configuration.claimTimeout / 3
                    let claimed = try autoclaim(cursor: claimCursor)
                    claimCursor = claimed.cursor
                    entries = try withDeliveryCounts(claimed.entries)
                    if entries.isEmpty { entries = try readGroup(from: ">", block: configuration.readBlock) }
                } else {
                    entries = try readGroup(from: ">", block: configuration.readBlock)
                }
                outage = 0
                if entries.isEmpty { continue }
                var batch = decode(entries)
                if entries.count <= Self.inlineLimit && inFlight.load(ordering: .acquiring) == 0 {
                    // Nothing in flight: apply and acknowledge here. At low load a job's latency
                    // is its round trips and thread hand-overs; this spares two hand-overs.
                    guard untilDone(entries, { try self.apply(&batch) }) else { return }
                    guard untilDone(entries, { try self.acknowledge(batch) }) else { return }
                    continue
                }
                inFlight.add(1, ordering: .releasing)
                if !decoded.put(batch, while: { notStopped }) { return }
            } catch {
                outage += 1
                log.error("lane \(index): \(Self.describe(error)); retrying", ["consumer": consumer])
                sleep(milliseconds: configuration.reconnectBackoff.delayMilliseconds(attempt: outage))
            }
        }
        _ = decoded.put(nil, while: { notStopped })
    }

    /// The applier: applies each batch, waiting out PostgreSQL outages without counting attempts.
    private func applyLoop(from decoded: Handoff<Batch?>, to applied: Handoff<Batch?>) {
        while case var batch?? = decoded.take(while: { notStopped }) {
            guard untilDone(batch.entries, { try self.apply(&batch) }) else { return }
            guard applied.put(batch, while: { notStopped }) else { return }
        }
        _ = applied.put(nil, while: { notStopped })
    }

    /// The acknowledger: acknowledges each applied batch, waiting out Redis outages.
    private func acknowledgeLoop(from applied: Handoff<Batch?>) {
        while case let batch?? = applied.take(while: { notStopped }) {
            guard untilDone(batch.entries, { try self.acknowledge(batch) }) else { return }
            inFlight.subtract(1, ordering: .releasing)
        }
    }

    /// Runs `step` until it succeeds; `false` if the worker stopped first. While it waits it keeps
    /// the entries claimed (`XCLAIM … JUSTID` resets their idle time without counting a
    /// delivery), so other consumers do not take them over.
    private func untilDone(_ entries: [StreamEntry], _ step: () throws -> Void) -> Bool {
        var outage = 0
        while true {
            do {
                try step()
                return true
            } catch {
                outage += 1
                state.beat()
                if state.current == .stopped { return false }
                log.error("lane \(index): batch of \(entries.count) waits: \(Self.describe(error))", ["consumer": consumer])
                sleep(milliseconds: configuration.reconnectBackoff.delayMilliseconds(attempt: outage))
                _ = try? ackRedis.send(RedisCommand("XCLAIM", [keys.jobs, keys.group, consumer, "0"] + entries.map(\.id) + ["JUSTID"]))
            }
        }
    }

    // MARK: - One batch

    /// Decodes a batch's entries; the invalid ones get their dead-letter disposition at once.
    func decode(_ entries: [StreamEntry]) -> Batch {
        var batch = Batch(entries: entries, dispositions: Array(repeating: nil, count: entries.count),
                          types: Array(repeating: "invalid", count: entries.count), valid: [])
        for (position, entry) in entries.enumerated() {
            if entry.deliveries > configuration.maxDeliveries {
                batch.dispositions[position] = .dead(error: "delivered \(entry.deliveries) times without completing (a worker may crash on it)", jobID: nil)
                continue
            }
            guard let raw = entry.job else {
                batch.dispositions[position] = entry.fieldNames.isEmpty
                    ? .ack  // deleted from the stream while pending: nothing left to apply
                    : .dead(error: "entry has no job field (fields: \(entry.fieldNames.prefix(8).joined(separator: ", ")))", jobID: nil)
                continue
            }
            do {
                let job = try decoder.decode(raw)
                batch.types[position] = job.type
                batch.valid.append((position, job))
            } catch {
                batch.dispositions[position] = .dead(error: error.message, jobID: error.jobID)
            }
        }
        return batch
    }

    /// Applies a decoded batch's valid jobs and fills in their dispositions: in one transaction,
    /// or, for a large batch, its workspace jobs first and then its other jobs split by user over
    /// ``WorkerConfiguration/applyConnections`` connections, each part in its own transaction, in
    /// parallel. A user's jobs stay in one part and in stream order, and no part depends on
    /// another's uncommitted rows (a link or a conversation depends on its own user's link and on
    /// its workspace, committed before).
    func apply(_ batch: inout Batch) throws {
        let valid = batch.valid
        if valid.isEmpty { return }
        let attempts = batch.entries.map(\.attempts)
        var outcomes: [Int: Disposition] = [:]
        let (workspaceJobs, parts) = Self.split(valid, into: postgres.count)
        if parts.count <= 1 {
            outcomes = try apply(valid, on: 0, attempts: attempts)
        } else {
            if !workspaceJobs.isEmpty {
                outcomes = try apply(workspaceJobs, on: 0, attempts: attempts)
            }
            let results = Mutex([Result<[Int: Disposition], any Error>?](repeating: nil, count: parts.count))
            DispatchQueue.concurrentPerform(iterations: parts.count) { index in
                let result = Result { try self.apply(parts[index], on: index, attempts: attempts) }
                results.withLock { $0[index] = result }
            }
            for result in results.withLock({ $0 }) {
                guard let part = try result?.get() else { continue }
                outcomes.merge(part) { first, _ in first }
            }
        }
        for (position, disposition) in outcomes { batch.dispositions[position] = disposition }
        // Never acknowledge a valid job without an outcome: should that ever happen, retry it.
        for (position, _) in valid where batch.dispositions[position] == nil {
            log.error("no outcome for a job; retrying it", ["source_id": batch.entries[position].id])
            batch.dispositions[position] = .retry(attempt: batch.entries[position].attempts + 1,
                                                  delayMilliseconds: configuration.retryBackoff.delayMilliseconds(attempt: 1))
        }
    }

    /// Applies jobs in one transaction on connection `index`: set-based, or, if a set-based
    /// statement fails (a constraint, a deadlock), again job by job, each in a savepoint. Returns
    /// their outcomes.
    private func apply(_ jobs: [(position: Int, job: JiraJob)], on index: Int, attempts: [Int]) throws -> [Int: Disposition] {
        let configuration = self.configuration
        let connection = postgres[index]
        // Session settings, once per connection; behind a transaction-mode pooler (no prepared
        // statements) a session is not ours to configure, so each transaction sets its own.
        let perSession = configuration.postgres.preparesStatements
        func run(setBased: Bool) throws -> [Int: Disposition] {
            try connection.withSessionBlocking { session in
                if perSession && sessions.withLock({ $0[index] }) != connection.reconnects {
                    _ = try session.query("SET \(BatchApplier.indexProbesOnly)", [])
                    sessions.withLock { $0[index] = connection.reconnects }
                }
                return try session.transaction { session in
                    var applier = BatchApplier(session: session, configuration: configuration, attempts: attempts,
                                               forbidsSequentialScans: !perSession)
                    return try applier.apply(jobs, setBased: setBased)
                }
            }
        }
        do {
            return try run(setBased: true)
        } catch let failure as BatchApplier.SetBasedStatementFailed {
            log.debug("set-based statement failed, applying \(jobs.count) jobs one by one", ["error": "\(failure.cause)"])
            return try run(setBased: false)
        }
    }

    /// The workspace jobs of a batch, and its other jobs split into at most `count` parts by
    /// user (a stable hash of the user id). Small batches stay whole (one part): splitting costs
    /// a transaction more, which only a large batch repays.
    static func split(_ jobs: [(position: Int, job: JiraJob)], into count: Int) -> (workspace: [(position: Int, job: JiraJob)], parts: [[(position: Int, job: JiraJob)]]) {
        guard count > 1, jobs.count >= 256 else { return ([], [jobs]) }
        var workspace: [(position: Int, job: JiraJob)] = []
        var parts = [[(position: Int, job: JiraJob)]](repeating: [], count: count)
        for entry in jobs {
            switch entry.job.action {
            case .createWorkspace, .updateWorkspace, .deactivateWorkspace:
                workspace.append(entry)
            case .createWorkspaceLink(_, let user, _, _), .updateUserStatus(_, let user, _), .createConversation(_, let user, _, _, _, _):
                parts[Int(user.fnv1a64 % UInt64(count))].append(entry)  // the same part in every process
            }
        }
        return (workspace, parts.filter { !$0.isEmpty })
    }

    /// Acknowledges an applied batch in three pipelined round trips, each reply checked before
    /// the next: first the cache invalidations, and each dead letter or delayed retry settled
    /// with its own `XACK` by a small script (``settleScript``); then the results (so a producer
    /// that sees a result finds the cache already invalidated); then the `XACK` of the batch. A
    /// write that fails (Redis out of memory, a key of the wrong type) throws before the `XACK`,
    /// and the batch is tried again (its jobs are in the inbox by then: no second effect; its
    /// settled entries are not written again). Plain commands for the done jobs rather than one
    /// Lua script for the batch: a script blocks every other client of Redis for its whole run
    /// (milliseconds for a large batch), and costs more.
    private func acknowledge(_ batch: Batch) throws {
        let now = Date()
        let failedAt = JiraTimestamp.format(now)
        let resultTTL = configuration.resultTTL.wholeSecondsAtLeastOne
        var outcomes: [String: [String: Int]] = [:]
        var latencies: [Double] = []
        latencies.reserveCapacity(batch.entries.count)
        var invalidated = Set<String>()
        var invalidations: [RedisCommand] = []
        var writes: [RedisCommand] = []
        var results: [RedisCommand] = []
        results.reserveCapacity(batch.entries.count + 2)
        let generationTTL = configuration.cache.generationTTL.milliseconds
        for (position, entry) in batch.entries.enumerated() {
            let type = batch.types[position]
            switch batch.dispositions[position] ?? .ack {
            case .done(let jobID, let result, let stored):
                outcomes["processed", default: [:]][type, default: 0] += 1
                if let enqueued = entry.enqueuedMilliseconds { latencies.append(now.timeIntervalSince1970 - Double(enqueued) / 1000) }
                results.append(RedisCommand("SET", keys.result(jobID), "{\"status\":\"done\",\"result\":\(result)}", "EX", resultTTL))
                // Each key once per batch, however many of its jobs changed it.
                for form in stored where invalidated.insert(form).inserted {
                    guard let key = JiraCacheKey(prefix: keys.prefix, storedForm: form) else { continue }
                    let generation = key.generation
                    invalidations.append(RedisCommand("INCR", generation))
                    invalidations.append(RedisCommand("PEXPIRE", generation, generationTTL))
                    invalidations.append(RedisCommand("DEL", key.value))
                }
            case .dead(let error, let jobID):
                for outcome in ["failed", "dead_lettered"] { outcomes[outcome, default: [:]][type, default: 0] += 1 }
                // The dead letter, the job's result (NX: a result the job already has, from a
                // first run that was done, stays) and the entry's XACK in one script.
                var settle = RedisCommand("EVAL", Self.settleScript, jobID == nil ? 2 : 3, keys.jobs, keys.dead)
                if let jobID { settle.append(keys.result(jobID)) }
                for argument: any RedisArgument in [keys.group, entry.id, "dead", "{\"error\":\(error.jsonQuoted),\"status\":\"dead\"}", resultTTL,
                                                    "job", entry.job ?? [], "error", error, "attempts", entry.attempts + 1,
                                                    "failed_at", failedAt, "consumer", consumer, "source_id", entry.id] {
                    settle.append(argument)
                }
                writes.append(settle)
                log.error("job dead-lettered", ["job_id": jobID ?? "", "type": type, "source_id": entry.id, "error": error, "consumer": consumer])
            case .retry(let attempt, let delay):
                for outcome in ["failed", "retried"] { outcomes[outcome, default: [:]][type, default: 0] += 1 }
                writes.append(RedisCommand("EVAL", Self.settleScript, 2, keys.jobs, keys.delayed, keys.group, entry.id, "retry",
                                           Int64(now.timeIntervalSince1970 * 1000) + delay, DelayedJob.member(attempts: attempt, job: entry.job ?? [])))
            case .ack:
                break
            }
        }
        let counter = keys.processedCounter(second: Int64(now.timeIntervalSince1970))
        results += [RedisCommand("INCRBY", counter, batch.entries.count), RedisCommand("EXPIRE", counter, 300)]
        for phase in [invalidations + writes, results] {
            for reply in try ackRedis.pipeline(phase) { try reply.throwingServerError() }
        }
        var acknowledgement = RedisCommand("XACK", keys.jobs, keys.group)
        for entry in batch.entries { acknowledgement.append(entry.id) }
        try ackRedis.send(acknowledgement)
        for (outcome, types) in outcomes {
            for (type, count) in types { metrics.count(outcome, type: type, by: count) }
        }
        metrics.record(batchSize: batch.entries.count, latencies: latencies, invalidations: invalidations.count / 3)
    }

    /// Settles an entry that is not done, atomically with its `XACK`: a dead letter (and the
    /// job's dead result, when it has an id) or a delayed retry. Written and acknowledged apart,
    /// a crash between the two would write it twice on redelivery; a script that stops at a
    /// failing write never acknowledges, and one that finds the entry acknowledged already (a
    /// retried acknowledgement) writes nothing.
    /// KEYS: stream, dead stream or delayed set, [result key]. ARGV: group, entry id, `dead`
    /// (result, result lifetime, dead-letter fields…) or `retry` (due time in ms, member).
    static let settleScript = """
        if #redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1) == 0 then return 0 end
        if ARGV[3] == 'retry' then
            redis.call('ZADD', KEYS[2], ARGV[4], ARGV[5])
        else
            redis.call('XADD', KEYS[2], '*', unpack(ARGV, 6))
            if KEYS[3] then redis.call('SET', KEYS[3], ARGV[4], 'EX', ARGV[5], 'NX') end
        end
        return redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
        """

    // MARK: - Reading

    /// `XGROUP CREATE … 0 MKSTREAM`: from the start of the stream, so jobs enqueued before any
    /// worker ran are consumed too. An existing group (`BUSYGROUP`) is fine.
    static func createGroup(_ redis: RedisConnection, _ keys: JiraKeys) throws {
        do {
            try redis.send(RedisCommand("XGROUP", "CREATE", keys.jobs, keys.group, "0", "MKSTREAM"))
        } catch let error as RedisError where error.serverErrorPrefix == "BUSYGROUP" {}
    }

    private func readGroup(from id: String, block: Duration?) throws -> [StreamEntry] {
        var arguments: [any RedisArgument] = ["GROUP", keys.group, consumer, "COUNT", configuration.batchSize]
        if let block { arguments += ["BLOCK", block.milliseconds] }
        arguments += ["STREAMS", keys.jobs, id]
        do {
            return try StreamEntry.parse(readGroup: try redis.send(RedisCommand("XREADGROUP", arguments)))
        } catch let error as RedisError where error.serverErrorPrefix == "NOGROUP" {
            try Self.createGroup(redis, keys)  // the stream or group was deleted: recreate, read next turn
            return []
        }
    }

    private func autoclaim(cursor: String) throws -> (cursor: String, entries: [StreamEntry]) {
        let reply = try redis.send(RedisCommand("XAUTOCLAIM", keys.jobs, keys.group, consumer, configuration.claimTimeout.milliseconds, cursor, "COUNT", configuration.batchSize))
        guard let parts = reply.array, parts.count >= 2, let next = parts[0].string else {
            throw RedisError(code: .unexpectedReply, message: "unexpected XAUTOCLAIM reply")
        }
        let entries = try StreamEntry.parse(list: parts[1])
        if !entries.isEmpty { log.info("lane \(index) reclaimed \(entries.count) stale entries", ["consumer": consumer]) }
        return (next, entries)
    }

    /// Fills in delivery counts from `XPENDING` for entries read from the pending list.
    private func withDeliveryCounts(_ entries: [StreamEntry]) throws -> [StreamEntry] {
        guard let first = entries.first?.id, let last = entries.last?.id else { return entries }
        let reply = try redis.send(RedisCommand("XPENDING", keys.jobs, keys.group, first, last, entries.count, consumer))
        var counts: [String: Int] = [:]
        for item in reply.array ?? [] {
            if let fields = item.array, fields.count == 4, let id = fields[0].string, let count = fields[3].integer { counts[id] = Int(count) }
        }
        return entries.map { entry in
            var entry = entry
            entry.deliveries = counts[entry.id] ?? entry.deliveries
            return entry
        }
    }

    // MARK: - Helpers

    static func describe(_ error: any Error) -> String {
        switch error {
        case let error as RedisError: return error.description
        case let error as PostgresError: return error.description
        case let error as JiraStoreError: return error.description
        default: return String(describing: error)
        }
    }

    private func sleep(milliseconds: Int64) {
        // Sleep in short steps so a stop request is noticed promptly.
        var remaining = milliseconds
        while remaining > 0 && state.current != .stopped {
            let step = min(remaining, 100)
            usleep(UInt32(step * 1000))
            remaining -= step
        }
    }
}
