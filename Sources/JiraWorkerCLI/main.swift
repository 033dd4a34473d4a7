import Foundation
import JiraStore
import Postgres
import Redis

/// A subcommand: its help text and what it does. Returns the exit code.
struct Subcommand: Sendable {
    let help: String
    let run: @Sendable (inout CommandLineArguments) async throws -> Int32
}

let usage = """
    Usage: jira-worker <command> [options]

    Commands:
      migrate     apply pending schema migrations (--status lists them)
      run         consume jobs from the Redis stream and apply them
      enqueue     put a job on the stream (or many, with --file)
      result      print a job's result
      dead        list, retry or purge dead letters
      lookup      answer a cached lookup (active-user, active-jira-user, conversations, workspace)
      stats       show stream length, lag, pending, dead letters, throughput and consumers
      config      print the effective configuration, passwords redacted

    Run `jira-worker <command> --help` for a command's options.
    Exit codes: 0 success, 1 failure, 2 usage error.
    """

let subcommands: [String: Subcommand] = [
    "migrate": Subcommand(help: MigrateCommand.help, run: MigrateCommand.run),
    "run": Subcommand(help: RunCommand.help, run: RunCommand.run),
    "enqueue": Subcommand(help: EnqueueCommand.help, run: EnqueueCommand.run),
    "result": Subcommand(help: ResultCommand.help, run: ResultCommand.run),
    "dead": Subcommand(help: DeadCommand.help, run: DeadCommand.run),
    "lookup": Subcommand(help: LookupCommand.help, run: LookupCommand.run),
    "stats": Subcommand(help: StatsCommand.help, run: StatsCommand.run),
    "config": Subcommand(help: ConfigCommand.help, run: ConfigCommand.run),
]

func runCommandLine(_ argv: [String]) async -> Int32 {
    guard let name = argv.first, !["--help", "-h", "help"].contains(name) else {
        print(usage)
        return 0
    }
    guard let subcommand = subcommands[name] else {
        FileHandle.standardError.write(Data("jira-worker: unknown command \(name)\n\n\(usage)\n".utf8))
        return 2
    }
    var arguments = CommandLineArguments(argv.dropFirst())
    if arguments.flag("--help") || arguments.flag("-h") {
        print(subcommand.help)
        return 0
    }
    do {
        return try await subcommand.run(&arguments)
    } catch let error as UsageError {
        FileHandle.standardError.write(Data("jira-worker \(name): \(error)\n\n\(subcommand.help)\n".utf8))
        return 2
    } catch let error as RedisError {
        Log.error(error.message, ["code": error.code.description])
        return 1
    } catch let error as JiraStoreError {
        Log.error(error.message, ["code": error.code.description, "sqlstate": error.underlying?.sqlState ?? ""])
        return 1
    } catch {
        Log.error(String(describing: error))
        return 1
    }
}

signal(SIGPIPE, SIG_IGN)
exit(await runCommandLine(Array(CommandLine.arguments.dropFirst())))
