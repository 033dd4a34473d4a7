import Foundation

/// A child process (the real `jira-worker` binary) that tests can signal and wait for.
public final class TestProcess: @unchecked Sendable {
    /// Its process id.
    public let pid: pid_t
    /// Where its standard error goes.
    public let logPath: String
    private var exitStatus: Int32?

    /// The `jira-worker` binary next to the test bundle (`swift build --build-tests` builds both).
    public static var workerBinary: String {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("jira-worker").path
    }

    /// Starts `jira-worker` with arguments and extra environment variables.
    public static func worker(_ arguments: [String], environment: [String: String]) throws -> TestProcess {
        try TestProcess([workerBinary] + arguments, environment: environment)
    }

    /// Starts a program.
    public init(_ command: [String], environment extra: [String: String]) throws {
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let log = NSTemporaryDirectory() + "jira-test-\(UUID().uuidString.prefix(8)).log"
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, log, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        let argv = command.map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, command[0], &actions, nil, argv, envp)
        guard result == 0 else { throw TestSupportError("cannot start \(command[0]): errno \(result)") }
        self.pid = pid
        self.logPath = log
    }

    /// Sends a signal. SIGTERM and SIGINT wait (up to 10 s) until the worker logged that it
    /// started: before it installs its handlers, either signal ends it with the default action.
    public func signal(_ number: Int32) {
        if number == SIGTERM || number == SIGINT {
            let deadline = ContinuousClock.now + .seconds(10)
            while !log.contains("worker starting") && ContinuousClock.now < deadline { usleep(10_000) }
        }
        kill(pid, number)
    }

    /// Waits for the process to exit, up to `timeout`; returns its exit code (128+signal if killed), or `nil`.
    public func wait(timeout: Duration) -> Int32? {
        if let exitStatus { return exitStatus }
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                let code = status & 0x7F == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
                exitStatus = code
                return code
            }
            usleep(20_000)
        }
        return nil
    }

    /// What it wrote to standard error.
    public var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }
}
