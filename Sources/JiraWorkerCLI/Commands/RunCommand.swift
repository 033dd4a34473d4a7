import JiraWorker

/// `jira-worker run`.
enum RunCommand {
    static let help = """
        Usage: jira-worker run [options]

        Consumes jobs from the Redis stream and applies them to PostgreSQL. SIGTERM or SIGINT drains
        in-flight batches within the grace period and exits 0; a second signal exits at once.

        Options:
        \(Settings.workerOptionsHelp)
        """

    static func run(_ arguments: inout CommandLineArguments) async throws -> Int32 {
        var settings = Settings(arguments: arguments)
        let configuration = try settings.worker()
        try settings.arguments.finish()
        let worker = Worker(configuration: configuration, log: Log)
        return await worker.run() ? 0 : 1
    }
}
