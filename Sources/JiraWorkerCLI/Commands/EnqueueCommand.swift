import Foundation
import JiraWorker
import Redis

/// `jira-worker enqueue`.
enum EnqueueCommand {
    static let help = """
        Usage: jira-worker enqueue TYPE 'PAYLOAD_JSON' [--id ID] [--wait SECONDS]
               jira-worker enqueue --file jobs.jsonl|-

        Puts a job on the stream and prints its id, or with --wait the job's result once it exists
        (exit 1 if it went dead or the wait ran out). With --file, enqueues one envelope
        ({"id","type","payload"}) a line, pipelined, and prints the count.

        Options:
          --id ID              the idempotency key (default: a new UUID)
          --wait SECONDS       wait for the result
          --file PATH|-        enqueue envelopes from a JSON-lines file or standard input
        \(Settings.queueOptionsHelp)
        """

    static func run(_ arguments: inout CommandLineArguments) async throws -> Int32 {
        var settings = Settings(arguments: arguments)
        let redis = try settings.redis()
        let keys = try settings.keys()
        let file = try settings.arguments.option("--file")
        let id = try settings.arguments.option("--id") ?? UUID().uuidString.lowercased()
        let wait = try settings.duration("--wait", "JIRA_ENQUEUE_WAIT")
        let queue = JobQueue(redis: RedisConnection(configuration: redis), keys: keys)
        if let file {
            try settings.arguments.finish()
            let data = file == "-" ? FileHandle.standardInput.readDataToEndOfFile() : try Data(contentsOf: URL(fileURLWithPath: file))
            let lines = data.split(separator: 0x0A).map { Array($0) }.filter { !$0.allSatisfy { $0 == 0x20 || $0 == 0x0D || $0 == 0x09 } }
            print(try await queue.enqueue(envelopes: lines))
            return 0
        }
        let type = try settings.arguments.positional("TYPE")
        let payload = try settings.arguments.positional("PAYLOAD_JSON")
        try settings.arguments.finish()
        guard (1...128).contains(id.count) else { throw UsageError("--id must be 1 to 128 characters") }
        let envelope: [UInt8]
        do {
            envelope = try JobQueue.envelope(type: type, payload: payload, id: id)
        } catch let error as JobValidationError {
            throw UsageError(error.message)
        }
        try await queue.enqueue(envelope: envelope)
        guard let wait else {
            print(id)
            return 0
        }
        return try await ResultCommand.printResult(queue, id: id, wait: wait)
    }
}

/// `jira-worker result`.
enum ResultCommand {
    static let help = """
        Usage: jira-worker result ID [--wait SECONDS]

        Prints the job's result JSON ({"status":"done",…} or {"status":"dead",…}). Exit 1 when the
        job is dead or has no result (yet).

        Options:
          --wait SECONDS       wait for the result to appear
        \(Settings.queueOptionsHelp)
        """

    static func run(_ arguments: inout CommandLineArguments) async throws -> Int32 {
        var settings = Settings(arguments: arguments)
        let redis = try settings.redis()
        let keys = try settings.keys()
        let wait = try settings.duration("--wait", "JIRA_RESULT_WAIT")
        let id = try settings.arguments.positional("ID")
        try settings.arguments.finish()
        return try await printResult(JobQueue(redis: RedisConnection(configuration: redis), keys: keys), id: id, wait: wait ?? .zero)
    }

    static func printResult(_ queue: JobQueue, id: String, wait: Duration) async throws -> Int32 {
        guard let result = try await queue.waitForResult(id: id, timeout: wait) else {
            Log.error("no result for job \(id)", ["job_id": id])
            return 1
        }
        print(result)
        return result.contains("\"status\":\"done\"") ? 0 : 1
    }
}
