import Foundation
import JiraCache
import JiraStore
import Postgres
import Redis

/// One lane: a thread with its own Redis and PostgreSQL connections that reads batches from the
/// consumer group and applies them. Blocking C calls stay on this thread.
///
/// A batch is applied in one PostgreSQL transaction, each job inside a savepoint so that one
/// failing job does not fail its neighbours; each applied job id is recorded in the inbox in the
/// same transaction as its effect. Only after COMMIT does one script write the results,
/// dead letters and delayed retries and `XACK` the whole batch.
final class WorkerLane: Sendable {
    let index: Int
    let consumer: String
    private let configuration: WorkerConfiguration
    private let state: WorkerState
    private let redis: RedisConnection
    private let postgres: PostgresConnection
    private let decoder: JobDecoder
    private let log: WorkerLog
    private let metrics: WorkerMetrics

    /// Reconnects of this lane's connections, for the metrics.
    var reconnects: (redis: Int, postgres: Int) { (redis.reconnects, postgres.reconnects) }

    init(index: Int, configuration: WorkerConfiguration, state: WorkerState, log: WorkerLog, metrics: WorkerMetrics) {
        self.index = index
        self.consumer = "\(configuration.consumer):\(index)"
        self.configuration = configuration
        self.state = state
        self.redis = RedisConnection(configuration: configuration.redis)
        self.postgres = PostgresConnection(configuration: configuration.postgres)
        self.decoder = JobDecoder(maxBytes: configuration.maxEntryBytes)
        self.log = log
        self.metrics = metrics
    }

    private var keys: JiraKeys { configuration.keys }

    /// The loop: first this lane's own pending entries (left by a previous run under the same
    /// name), then new entries, reclaiming stale ones from dead consumers now and then.
    func run() {
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
                if !entries.isEmpty { processUntilDone(entries) }
            } catch {
                outage += 1
                log.error("lane \(index): \(Self.describe(error)); retrying", ["consumer": consumer])
                sleep(milliseconds: configuration.reconnectBackoff.delayMilliseconds(attempt: outage))
            }
        }
    }

    /// Processes a batch, waiting out PostgreSQL or Redis outages without counting attempts.
    /// While it waits it keeps the entries claimed (`XCLAIM … JUSTID` resets their idle time
    /// without counting a delivery), so other consumers do not take them over.
    private func processUntilDone(_ entries: [StreamEntry]) {
        var outage = 0
        while true {
            do {
                try process(entries)
                return
            } catch {
                outage += 1
                state.beat()
                if state.current == .stopped { return }
                log.error("lane \(index): batch of \(entries.count) waits: \(Self.describe(error))", ["consumer": consumer])
                sleep(milliseconds: configuration.reconnectBackoff.delayMilliseconds(attempt: outage))
                _ = try? redis.send(RedisCommand("XCLAIM", [keys.jobs, keys.group, consumer, "0"] + entries.map(\.id) + ["JUSTID"]))
            }
        }
    }

    // MARK: - One batch

    func process(_ entries: [StreamEntry]) throws {
        var dispositions = [Disposition?](repeating: nil, count: entries.count)
        var types = [String](repeating: "invalid", count: entries.count)
        var valid: [(position: Int, job: JiraJob)] = []
        for (position, entry) in entries.enumerated() {
            if entry.deliveries > configuration.maxDeliveries {
                dispositions[position] = .dead(error: "delivered \(entry.deliveries) times without completing (a worker may crash on it)", jobID: nil)
                continue
            }
            guard let raw = entry.job else {
                dispositions[position] = entry.fieldNames.isEmpty
                    ? .ack  // deleted from the stream while pending: nothing left to apply
                    : .dead(error: "entry has no job field (fields: \(entry.fieldNames.prefix(8).joined(separator: ", ")))", jobID: nil)
                continue
            }
            do {
                let job = try decoder.decode(raw)
                types[position] = job.type
                valid.append((position, job))
            } catch {
                dispositions[position] = .dead(error: error.message, jobID: error.jobID)
            }
        }
        if !valid.isEmpty {
            let attempts = entries.map(\.attempts)
            let configuration = self.configuration
            func run(setBased: Bool) throws -> [Int: Disposition] {
                try postgres.withSessionBlocking { session in
                    try session.transaction { session in
                        var applier = BatchApplier(session: session, configuration: configuration, attempts: attempts)
                        return try applier.apply(valid, setBased: setBased)
                    }
                }
            }
            let outcomes: [Int: Disposition]
            do {
                outcomes = try run(setBased: true)
            } catch let failure as BatchApplier.SetBasedStatementFailed {
                // A set-based statement failed (a constraint, a deadlock): the transaction rolled
                // back; apply the batch again job by job, each in a savepoint.
                log.debug("set-based statement failed, applying the batch job by job", ["error": "\(failure.cause)"])
                outcomes = try run(setBased: false)
            }
            for (position, disposition) in outcomes { dispositions[position] = disposition }
            // Never acknowledge a valid job without an outcome: should that ever happen, retry it.
            for (position, _) in valid where dispositions[position] == nil {
                log.error("no outcome for a job; retrying it", ["source_id": entries[position].id])
                dispositions[position] = .retry(attempt: entries[position].attempts + 1, delayMilliseconds: configuration.retryBackoff.delayMilliseconds(attempt: 1))
            }
        }
        try acknowledge(entries, dispositions.map { $0 ?? .ack }, types: types)
    }

    /// Writes results, dead letters and retries, invalidates the cache keys the batch changed, and
    /// acknowledges the batch: all in one script, with `XACK` last. The script runs atomically,
    /// so a crash never splits it; a command failing inside it stops it before the `XACK`, and the
    /// batch is tried again (its jobs are in the inbox by then: no second effect).
    private func acknowledge(_ entries: [StreamEntry], _ dispositions: [Disposition], types: [String]) throws {
        let now = Date()
        var outcomes: [(outcome: String, type: String)] = []
        var latencies: [Double] = []
        var cacheKeys: [JiraCacheKey] = []
        var results: [(key: String, value: String)] = []
        var deadLetters: [[any RedisArgument]] = []
        var deadResults: [(key: String, value: String)] = []
        var retries: [[any RedisArgument]] = []
        for ((entry, disposition), type) in zip(zip(entries, dispositions), types) {
            switch disposition {
            case .done(let jobID, let result, let stored):
                outcomes.append(("processed", type))
                if let enqueued = entry.enqueuedMilliseconds { latencies.append(now.timeIntervalSince1970 - Double(enqueued) / 1000) }
                results.append((keys.result(jobID), "{\"status\":\"done\",\"result\":\(result)}"))
                cacheKeys += stored.compactMap { JiraCacheKey(prefix: keys.prefix, storedForm: $0) }
            case .dead(let error, let jobID):
                outcomes += [("failed", type), ("dead_lettered", type)]
                deadLetters.append([entry.job ?? [], error, entry.attempts + 1, entry.id])
                if let jobID {
                    deadResults.append((keys.result(jobID), String(decoding: try BatchApplier.encoder.encode(DeadResult(error: error)), as: UTF8.self)))
                }
                log.error("job dead-lettered", ["job_id": jobID ?? "", "type": type, "source_id": entry.id, "error": error, "consumer": consumer])
            case .retry(let attempt, let delay):
                outcomes += [("failed", type), ("retried", type)]
                retries.append([Int64(now.timeIntervalSince1970 * 1000) + delay, DelayedJob.member(attempts: attempt, job: entry.job ?? [])])
            case .ack:
                break
            }
        }
        var seen = Set<JiraCacheKey>()
        let invalidated = cacheKeys.filter { seen.insert($0).inserted }
        let second = Int64(now.timeIntervalSince1970)
        var keyArguments: [any RedisArgument] = [keys.jobs, keys.dead, keys.delayed, keys.processedCounter(second: second)]
        keyArguments += results.map(\.key) + invalidated.map(\.generation) + invalidated.map(\.value) + deadResults.map(\.key)
        var arguments: [any RedisArgument] = [
            keys.group, consumer, JiraTimestamp.format(now), configuration.resultTTL.wholeSecondsAtLeastOne,
            configuration.cache.generationTTL.milliseconds, entries.count,
            results.count, invalidated.count, deadLetters.count, retries.count, deadResults.count,
        ]
        arguments += results.map(\.value)
        arguments += deadLetters.flatMap { $0 }
        arguments += retries.flatMap { $0 }
        arguments += deadResults.map(\.value)
        arguments += entries.map(\.id)
        try redis.send(RedisCommand("EVAL", [Self.acknowledgeScript, keyArguments.count] + keyArguments + arguments))
        for (outcome, type) in outcomes { metrics.count(outcome, type: type) }
        metrics.record(batchSize: entries.count, latencies: latencies, invalidations: invalidated.count)
    }

    /// KEYS: stream, dead stream, delayed set, this second's counter, then the result keys, the
    /// generation keys, the answer keys (as many as generation keys), the dead jobs' result keys.
    /// ARGV: group, consumer, failed_at, result TTL (s), generation TTL (ms), entries in the batch,
    /// then the counts of results, invalidations, dead letters, retries and dead results, then the
    /// result values, the dead letters (job, error, attempts, source id), the retries (score,
    /// member), the dead results, and last the entry ids to acknowledge.
    static let acknowledgeScript = """
        local group, consumer, failedAt, resultTTL, generationTTL = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
        local nResults, nInvalid, nDead, nRetry, nDeadResults = tonumber(ARGV[7]), tonumber(ARGV[8]), tonumber(ARGV[9]), tonumber(ARGV[10]), tonumber(ARGV[11])
        local a, k = 12, 5
        for i = 0, nDead - 1 do
            local d = a + nResults + i * 4
            redis.call('XADD', KEYS[2], '*', 'job', ARGV[d], 'error', ARGV[d + 1], 'attempts', ARGV[d + 2],
                       'failed_at', failedAt, 'consumer', consumer, 'source_id', ARGV[d + 3])
        end
        for i = 0, nRetry - 1 do
            local r = a + nResults + nDead * 4 + i * 2
            redis.call('ZADD', KEYS[3], ARGV[r], ARGV[r + 1])
        end
        for i = 0, nDeadResults - 1 do
            redis.call('SET', KEYS[k + nResults + 2 * nInvalid + i], ARGV[a + nResults + nDead * 4 + nRetry * 2 + i], 'EX', resultTTL, 'NX')
        end
        for i = 0, nResults - 1 do
            redis.call('SET', KEYS[k + i], ARGV[a + i], 'EX', resultTTL)
        end
        for i = 0, nInvalid - 1 do
            redis.call('INCR', KEYS[k + nResults + i])
            redis.call('PEXPIRE', KEYS[k + nResults + i], generationTTL)
            redis.call('DEL', KEYS[k + nResults + nInvalid + i])
        end
        redis.call('INCRBY', KEYS[4], ARGV[6])
        redis.call('EXPIRE', KEYS[4], 300)
        local acked, ids = 0, {}
        for i = a + nResults + nDead * 4 + nRetry * 2 + nDeadResults, #ARGV do
            ids[#ids + 1] = ARGV[i]
            if #ids == 500 or i == #ARGV then
                acked = acked + redis.call('XACK', KEYS[1], group, unpack(ids))
                ids = {}
            end
        end
        return acked
        """

    private struct DeadResult: Encodable {
        let status = "dead"
        let error: String
    }

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
