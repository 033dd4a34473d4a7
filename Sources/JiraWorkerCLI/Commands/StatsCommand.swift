import Foundation
import JiraWorker
import Redis

/// `jira-worker stats`.
enum StatsCommand {
    static let help = """
        Usage: jira-worker stats [--json] [--watch [SECONDS]]

        Shows the queue at a glance: stream length, lag, pending, oldest pending age, delayed
        retries, dead letters, throughput over the last minute, and a row per consumer (name,
        pending, idle time) so a stuck or dead worker stands out. --watch redraws in place.

        Options:
          --json               one JSON object (a line per refresh with --watch)
          --watch [SECONDS]    refresh every SECONDS (default 2) until interrupted
        \(Settings.queueOptionsHelp)
        """

    static func run(_ arguments: inout CommandLineArguments) async throws -> Int32 {
        var settings = Settings(arguments: arguments)
        let json = settings.arguments.flag("--json")
        var interval: Duration?
        if settings.arguments.remaining.contains("--watch") {
            let index = settings.arguments.remaining.firstIndex(of: "--watch")!
            let next = index + 1 < settings.arguments.remaining.count ? settings.arguments.remaining[index + 1] : nil
            if let next, let value = Settings.parseDuration(next) {
                _ = try settings.arguments.option("--watch")
                interval = value
            } else {
                _ = settings.arguments.flag("--watch")
                interval = .seconds(2)
            }
        }
        let redis = RedisConnection(configuration: try settings.redis())
        let keys = try settings.keys()
        try settings.arguments.finish()
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        repeat {
            let stats = try QueueStatistics.read(redis, keys)
            var text = json ? String(decoding: try encoder.encode(stats), as: UTF8.self) : render(stats, keys)
            if interval != nil && !json { text = "\u{1B}[H\u{1B}[2J" + text }  // home and clear: redraw in place
            FileHandle.standardOutput.write(Data((text + "\n").utf8))
            if let interval { try await Task.sleep(for: interval) }
        } while interval != nil
        return 0
    }

    static func render(_ stats: QueueStatistics, _ keys: JiraKeys) -> String {
        func row(_ label: String, _ value: String) -> String { label.padding(toLength: 28, withPad: " ", startingAt: 0) + value }
        func fixed(_ value: Double) -> String { String(format: "%.1f", value) }
        var lines = [
            "stream \(keys.jobs)  group \(keys.group)  \(Date().formatted(Date.ISO8601FormatStyle()))",
            "",
            row("stream length", String(stats.streamLength)),
            row("lag (undelivered)", String(stats.lag)),
            row("pending (unacknowledged)", String(stats.pending)),
            row("oldest pending age", fixed(stats.oldestPendingAge) + " s"),
            row("delayed retries", String(stats.delayed)),
            row("dead letters", String(stats.dead)),
            row("throughput (last 60 s)", fixed(stats.throughput) + " jobs/s"),
            "",
            "consumer".padding(toLength: 40, withPad: " ", startingAt: 0) + "   pending        idle",
        ]
        for consumer in stats.consumers.sorted(by: { $0.name < $1.name }) {
            let idle = Double(consumer.idleMilliseconds) / 1000
            let flag = consumer.pending > 0 && idle > 30 ? "  <- stuck or dead?" : ""
            let pending = String(consumer.pending)
            lines.append(consumer.name.padding(toLength: 40, withPad: " ", startingAt: 0)
                + String(repeating: " ", count: max(10 - pending.count, 0)) + pending
                + String(repeating: " ", count: max(10 - fixed(idle).count, 0)) + fixed(idle) + " s" + flag)
        }
        if stats.consumers.isEmpty { lines.append("(no consumers)") }
        return lines.joined(separator: "\n")
    }
}
