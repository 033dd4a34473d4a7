import Foundation
import JiraCache
import JiraStore
import Postgres
import Redis

// jira-bench lookups: cache-hit latency on one connection and concurrently, and read-through
// miss latency, through the JiraCache API the web app's Swift clients use. Prints JSON.
// Lookups run on their connection's executor (`withTaskExecutorPreference`), except for
// `hit_single_default_executor`, which shows the cost of the hop from the default executor.
// Usage: jira-bench lookups [--iterations N] [--concurrency C]   (REDIS_URL, DATABASE_URL, JIRA_PREFIX)

struct Summary: Encodable {
    let p50_us: Double
    let p99_us: Double
    let max_us: Double
    let per_second: Double
}

func summarize(_ samples: [Double], seconds: Double) -> Summary {
    let sorted = samples.sorted()
    func percentile(_ p: Double) -> Double { sorted[min(Int(Double(sorted.count - 1) * p), sorted.count - 1)] * 1e6 }
    return Summary(p50_us: percentile(0.5), p99_us: percentile(0.99), max_us: (sorted.last ?? 0) * 1e6, per_second: Double(samples.count) / seconds)
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count,
          let value = Int(CommandLine.arguments[index + 1]) else { return fallback }
    return value
}

func run() async throws {
    let environment = ProcessInfo.processInfo.environment
    let redisConfiguration = try RedisConfiguration(url: environment["REDIS_URL"] ?? RedisConfiguration.localDefault)
    let postgres = PostgresConfiguration(connectionString: environment["DATABASE_URL"] ?? PostgresConfiguration.localDefault)
    let prefix = environment["JIRA_PREFIX"] ?? "jira"
    let iterations = option("--iterations", 20000)
    let concurrency = option("--concurrency", 4)
    func makeCache() -> JiraCache {
        JiraCache(redis: RedisConnection(configuration: redisConfiguration), store: JiraIntegrationStore(configuration: postgres),
                  configuration: JiraCacheConfiguration(prefix: prefix))
    }
    // A workspace and an active link to look up.
    let store = JiraIntegrationStore(configuration: postgres)
    let cloud = "bench-\(UUID().uuidString.prefix(8))"
    let workspace = try await store.createWorkspace(JiraWorkspaceRegistration(
        jiraCloudID: cloud, name: "\(cloud).atlassian.net", adminUserID: "bench", webhookSecret: Secret("enc:w"),
        serviceAccountEmail: "b@x", serviceAccountAPIKey: Secret("enc:k")))
    let user = "bench-user-\(cloud)"
    _ = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: "acc")

    // One connection, sequential hits: on the connection's executor (each hit one blocking round
    // trip on the connection's queue, as the web app's handlers run them), and from the default
    // executor (each hit hops to the connection's queue and back).
    let cache = makeCache()
    func hits(_ count: Int) async throws -> [Double] {
        var samples: [Double] = []
        samples.reserveCapacity(count)
        for _ in 0..<count {
            let t0 = now()
            let answer = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: user)
            samples.append(now() - t0)
            precondition(answer.source == .cache && answer.value != nil)
        }
        return samples
    }
    _ = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: user)  // fills the key
    _ = try await hits(1000)  // warms up
    var start = now()
    let single = summarize(try await withTaskExecutorPreference(cache.redis.executor) { try await hits(iterations) }, seconds: now() - start)
    start = now()
    let hopping = summarize(try await hits(iterations), seconds: now() - start)

    // Concurrent hits: one connection per task.
    let caches = (0..<concurrency).map { _ in makeCache() }
    start = now()
    let concurrentSamples = try await withThrowingTaskGroup(of: [Double].self) { group in
        for cache in caches {
            group.addTask(executorPreference: cache.redis.executor) {
                var local: [Double] = []
                local.reserveCapacity(iterations / concurrency)
                for _ in 0..<(iterations / concurrency) {
                    let t0 = now()
                    _ = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: user)
                    local.append(now() - t0)
                }
                return local
            }
        }
        return try await group.reduce(into: [Double]()) { $0 += $1 }
    }
    let concurrent = summarize(concurrentSamples, seconds: now() - start)

    // Read-through misses, on the connection's executor: delete the key first (not timed).
    let key = JiraCacheKey.activeUser(prefix, workspaceID: workspace.id, keycloakUserID: user)
    let missSamples = try await withTaskExecutorPreference(cache.redis.executor) {
        var samples: [Double] = []
        for _ in 0..<min(iterations / 10, 2000) {
            try await cache.redis.send(RedisCommand("DEL", key.value))
            let t0 = now()
            let answer = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: user)
            samples.append(now() - t0)
            precondition(answer.source == .database)
        }
        return samples
    }
    let missTime = missSamples.reduce(0, +)
    let miss = summarize(missSamples, seconds: missTime)
    let report: [String: Summary] = ["hit_single": single, "hit_single_default_executor": hopping, "hit_concurrent": concurrent, "miss": miss]
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    print(String(decoding: try encoder.encode(report), as: UTF8.self))
}

do {
    try await run()
} catch {
    FileHandle.standardError.write(Data("jira-bench: \(error)\n".utf8))
    exit(1)
}
