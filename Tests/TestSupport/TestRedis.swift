import Foundation
import Redis

/// The real Redis that `scripts/test` starts (config in `$JIRA_TEST_DATA_DIR/redis.conf`).
public enum TestRedis {
    /// `REDIS_URL`, or the local default of `scripts/test`.
    public static var url: String { ProcessInfo.processInfo.environment["REDIS_URL"] ?? RedisConfiguration.localDefault }

    /// A configuration for the test server.
    public static func configuration() throws -> RedisConfiguration { try RedisConfiguration(url: url) }

    /// A fresh key prefix, so each test has streams of its own.
    public static func uniquePrefix() -> String { "t\(UInt32.random(in: 0...UInt32.max))" }

    static var port: String { ProcessInfo.processInfo.environment["JIRA_TEST_REDIS_PORT"] ?? "56379" }

    /// Stops the server (`SHUTDOWN`, which writes the AOF) and starts it again from its config.
    public static func restart() throws {
        try stop()
        try start()
    }

    /// Stops the server.
    public static func stop() throws {
        _ = try? TestPostgres.run(["redis-cli", "-p", port, "shutdown"])
        for _ in 0..<100 where (try? TestPostgres.run(["redis-cli", "-p", port, "ping"])) != nil { usleep(50_000) }
    }

    /// Starts the server from `scripts/test`'s config file.
    public static func start() throws {
        guard let data = ProcessInfo.processInfo.environment["JIRA_TEST_DATA_DIR"] else {
            throw TestSupportError("JIRA_TEST_DATA_DIR is not set: run the suite with scripts/test")
        }
        try TestPostgres.run(["redis-server", "\(data)/redis.conf"])
        // Ready means PONG: while it loads the AOF it answers -LOADING.
        let probe = RedisConnection(configuration: try configuration())
        for _ in 0..<200 {
            if (try? probe.send(RedisCommand("PING"))) == .status("PONG") { return }
            usleep(50_000)
        }
        throw TestSupportError("Redis did not come back")
    }

    /// The unix socket `scripts/test` configures.
    public static var socketPath: String? {
        ProcessInfo.processInfo.environment["JIRA_TEST_DATA_DIR"].map { "\($0)/run/redis.sock" }
    }
}
