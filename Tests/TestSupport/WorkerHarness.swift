import Foundation
import JiraStore
import JiraWorker
import Postgres
import Redis
import XCTest

/// A worker on real Redis and PostgreSQL, with a key prefix of its own and fast timings.
public struct WorkerHarness: Sendable {
    public let configuration: WorkerConfiguration
    public let redis: RedisConnection
    public let queue: JobQueue
    public let store: JiraIntegrationStore

    public var keys: JiraKeys { configuration.keys }

    public init(lanes: Int = 2, batch: Int = 64, maxAttempts: Int = 8, claimTimeout: Duration = .seconds(30), maxDeliveries: Int = 5) async throws {
        let postgres = try await MigratedDatabase.configuration.value
        var configuration = WorkerConfiguration(redis: try TestRedis.configuration(), postgres: postgres, keys: JiraKeys(prefix: TestRedis.uniquePrefix()))
        configuration.consumer = "test-\(UInt32.random(in: 0...UInt32.max))"
        configuration.lanes = lanes
        configuration.batchSize = batch
        configuration.maxAttempts = maxAttempts
        configuration.maxDeliveries = maxDeliveries
        configuration.claimTimeout = claimTimeout
        configuration.retryBackoff = Backoff(base: .milliseconds(20), maximum: .milliseconds(200))
        configuration.reconnectBackoff = Backoff(base: .milliseconds(20), maximum: .milliseconds(500))
        configuration.readBlock = .milliseconds(100)
        configuration.grace = .seconds(10)
        self.configuration = configuration
        redis = RedisConnection(configuration: configuration.redis)
        queue = JobQueue(redis: redis, keys: configuration.keys)
        store = JiraIntegrationStore(configuration: postgres)
    }

    /// Starts an in-process worker; stop it with `stop(_:)`.
    public func start(_ configure: (inout WorkerConfiguration) -> Void = { _ in }) -> (Worker, Task<Bool, Never>) {
        var configuration = self.configuration
        configure(&configuration)
        let worker = Worker(configuration: configuration, log: WorkerLog(minimum: .error))
        return (worker, Task { await worker.run(handleSignals: false) })
    }

    public func stop(_ running: (Worker, Task<Bool, Never>)) async -> Bool {
        running.0.stop()
        return await running.1.value
    }

    /// The environment for a `jira-worker` subprocess on the same servers and prefix.
    public var environment: [String: String] {
        ["REDIS_URL": TestRedis.url, "DATABASE_URL": configuration.postgres.connectionString, "JIRA_PREFIX": keys.prefix,
         "JIRA_WORKER_RETRY_BASE": "20ms", "JIRA_WORKER_RETRY_MAX": "200ms"]
    }

    @discardableResult
    public func enqueue(_ type: String, _ payload: String, id: String = UUID().uuidString) async throws -> String {
        try await queue.enqueue(envelope: try JobQueue.envelope(type: type, payload: payload, id: id))
        return id
    }

    /// Waits for a job's result and decodes it.
    public func result(_ id: String, timeout: Duration = .seconds(20)) async throws -> [String: Any] {
        guard let text = try await queue.waitForResult(id: id, timeout: timeout) else {
            throw TestSupportError("no result for \(id) within \(timeout)")
        }
        return try XCTUnwrap(JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
    }

    /// The `result` object of a done job; fails when the job is dead.
    public func done(_ id: String, timeout: Duration = .seconds(20)) async throws -> [String: Any] {
        let result = try await result(id, timeout: timeout)
        guard result["status"] as? String == "done", let body = result["result"] as? [String: Any] else {
            throw TestSupportError("job \(id) is not done: \(result)")
        }
        return body
    }

    public func int(_ command: RedisCommand) async throws -> Int {
        Int(try await redis.send(command).integer ?? -1)
    }

    /// Entries pending in the group, for every consumer.
    public func pendingCount() async throws -> Int {
        let reply = try await redis.send(RedisCommand("XPENDING", keys.jobs, keys.group))
        return Int(reply.array?.first?.integer ?? 0)
    }

    public func deadLetters() async throws -> [JobQueue.DeadLetter] { try await queue.deadLetters(limit: 10_000) }

    /// Polls until `condition` holds or `timeout` passes.
    public func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () async throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            do {
                if try await condition() { return }
            } catch let error as RedisError where error.isConnectionError {
                // A server restart the test itself caused: look again.
            } catch let error as PostgresError where error.isTransient {
            } catch let error as JiraStoreError where error.isTransient {
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("timed out waiting for \(what)")
    }

    public func count(_ sql: String, _ parameters: [any PostgresEncodable]) async throws -> Int {
        Int(try await store.connection.query(sql, parameters)[0].int64("n"))
    }
}

/// JSON text for a payload given as a dictionary of strings and integers.
public func json(_ object: [String: Any]) -> String {
    String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
}

public func workspacePayload(_ cloudID: String, name: String? = nil, secret: String = "enc:webhook") -> String {
    json(["jira_cloud_id": cloudID, "name": name ?? "\(cloudID).atlassian.net", "admin_user_id": "admin", "webhook_secret": secret,
          "svc_acc_email": "svc@example.com", "svc_acc_api_key": "enc:apikey"])
}
