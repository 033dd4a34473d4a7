import Foundation
import Postgres

/// The real PostgreSQL that `scripts/test` starts. Tests never skip when it is missing: they fail.
public enum TestPostgres {
    /// `DATABASE_URL`, or the local default of `scripts/test`.
    public static var url: String {
        ProcessInfo.processInfo.environment["DATABASE_URL"] ?? PostgresConfiguration.localDefault
    }

    /// A configuration for the suite's database.
    public static var configuration: PostgresConfiguration { PostgresConfiguration(connectionString: url) }

    /// Creates an empty database with a unique name and returns a configuration for it.
    public static func createDatabase(prefix: String = "jira_test") async throws -> PostgresConfiguration {
        let name = "\(prefix)_\(UInt32.random(in: 0...UInt32.max))_\(getpid())"
        let admin = PostgresConnection(configuration: configuration)
        // Identifiers cannot be parameters; the name is generated here from digits and a fixed prefix.
        _ = try await admin.query("CREATE DATABASE \(name)")
        admin.close()
        return PostgresConfiguration(connectionString: replacingDatabase(in: url, with: name))
    }

    /// The URL with its database name replaced.
    static func replacingDatabase(in url: String, with name: String) -> String {
        guard let components = URLComponents(string: url) else { return url }
        var copy = components
        copy.path = "/" + name
        return copy.string ?? url
    }

    /// Restarts the server (`pg_ctl restart -m fast`), as `scripts/test` describes it in
    /// `JIRA_TEST_PG_BIN` and `JIRA_TEST_PG_DATA`.
    public static func restart() throws {
        try pgctl(["restart", "-m", "fast", "-w", "-t", "60"])
    }

    /// Stops the server.
    public static func stop() throws { try pgctl(["stop", "-m", "fast", "-w", "-t", "60"]) }

    /// Starts the server stopped by ``stop()``.
    public static func start() throws { try pgctl(["start", "-w", "-t", "60"]) }

    private static func pgctl(_ arguments: [String]) throws {
        let environment = ProcessInfo.processInfo.environment
        guard let bin = environment["JIRA_TEST_PG_BIN"], let data = environment["JIRA_TEST_PG_DATA"] else {
            throw TestSupportError("JIRA_TEST_PG_BIN and JIRA_TEST_PG_DATA are not set: run the suite with scripts/test")
        }
        var command = ["\(bin)/pg_ctl", "-D", data, "-l", "\(data)/server.log"] + arguments
        if getuid() == 0 { command = ["runuser", "-u", "postgres", "--"] + command }
        try run(command)
    }

    /// Runs a command and fails when it exits non-zero. Uses `posix_spawn` and `waitpid`
    /// directly: the child's output goes to /dev/null so a daemon it starts holds no pipe of ours.
    public static func run(_ command: [String]) throws {
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        let argv = (["/usr/bin/env"] + command).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, environ)
        guard spawned == 0 else { throw TestSupportError("cannot start \(command[0]): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exitCode = (status >> 8) & 0xFF
        guard status & 0x7F == 0, exitCode == 0 else {
            throw TestSupportError("\(command.joined(separator: " ")) failed (status \(status))")
        }
    }
}

/// A test set-up failure.
public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
