import Foundation
import JiraWorker
import Redis

/// `jira-worker dead list|retry|purge`.
enum DeadCommand {
    static let help = """
        Usage: jira-worker dead list [--limit N]
               jira-worker dead retry ID... | --all
               jira-worker dead purge

        list prints dead letters as JSON lines (id, job, error, attempts, failed_at, consumer,
        source_id); retry re-enqueues them with a fresh attempt count and removes them from the
        dead-letter stream; purge deletes them all.

        Options:
          --limit N            how many to list (default 100)
          --all                retry every dead letter
        \(Settings.queueOptionsHelp)
        """

    static func run(_ arguments: inout CommandLineArguments) async throws -> Int32 {
        var settings = Settings(arguments: arguments)
        let redis = try settings.redis()
        let keys = try settings.keys()
        let queue = JobQueue(redis: RedisConnection(configuration: redis), keys: keys)
        let action = try settings.arguments.positional("an action (list, retry or purge)")
        switch action {
        case "list":
            let limit = try settings.integer("--limit", "JIRA_DEAD_LIMIT", range: 1...100_000) ?? 100
            try settings.arguments.finish()
            for letter in try await queue.deadLetters(limit: limit) {
                var object: [String: String] = ["id": letter.id]
                for (name, value) in letter.fields { object[name] = String(decoding: value, as: UTF8.self) }
                let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
                print(String(decoding: data, as: UTF8.self))
            }
        case "retry":
            let all = settings.arguments.flag("--all")
            var ids: [String] = []
            while let id = try? settings.arguments.positional("ID") { ids.append(id) }
            try settings.arguments.finish()
            guard all != !ids.isEmpty else { throw UsageError("give dead-letter ids or --all") }
            print(all ? try await queue.retryAllDead() : try await queue.retryDead(ids: ids))
        case "purge":
            try settings.arguments.finish()
            print(try await queue.purgeDead())
        default:
            throw UsageError("unknown action \(action) (expected list, retry or purge)")
        }
        return 0
    }
}
