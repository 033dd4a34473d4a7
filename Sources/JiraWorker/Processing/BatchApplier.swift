import Foundation
import JiraCache
import JiraStore
import Postgres

/// How a stream entry ends: applied (or found applied), dead-lettered, retried later, or
/// acknowledged with nothing to do.
enum Disposition {
    case done(jobID: String, result: String, cacheKeys: [String])
    case dead(error: String, jobID: String?)
    case retry(attempt: Int, delayMilliseconds: Int64)
    case ack
}

/// Applies the valid jobs of one batch inside one open transaction.
///
/// Jobs already in the inbox are done with their stored result. With `setBased`, the batch runs
/// in two phases: workspace, link and status jobs one by one in stream order (each in a
/// savepoint), then every conversation in one set-based statement, whose inbox rows go in one
/// more statement; a conversation the statement did not record is applied alone to learn why.
/// If a set-based statement fails, the transaction is lost: the caller runs the batch again
/// without `setBased`, where every job runs alone in a savepoint.
struct BatchApplier {
    /// A set-based statement failed; the transaction must be rolled back and retried job by job.
    struct SetBasedStatementFailed: Error {
        let cause: any Error
    }

    let session: PostgresSession
    let configuration: WorkerConfiguration
    let attempts: [Int]
    private var applied: [String: (result: String, cacheKeys: [String])] = [:]
    private var outcomes: [Int: Disposition] = [:]

    init(session: PostgresSession, configuration: WorkerConfiguration, attempts: [Int]) {
        self.session = session
        self.configuration = configuration
        self.attempts = attempts
    }

    private static let inboxQuery = "SELECT job_id, result::text AS result, cache_keys::text AS cache_keys FROM jira_job_inbox WHERE job_id = ANY($1::text[])"

    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    mutating func apply(_ jobs: [(position: Int, job: JiraJob)], setBased: Bool) throws -> [Int: Disposition] {
        // Jobs already applied: their stored result, and the cache keys to invalidate again (the
        // run that committed them may have died before its acknowledgement invalidated them).
        try remember(try session.query(Self.inboxQuery, [jobs.map(\.job.id).postgresValue]))
        var conversations: [(position: Int, job: JiraJob)] = []
        for (position, job) in jobs {
            if setBased, case .createConversation = job.action, applied[job.id] == nil {
                conversations.append((position, job))
            } else {
                try applyOne(position, job)
            }
        }
        if !conversations.isEmpty { try applyConversations(conversations) }
        return outcomes
    }

    private mutating func remember(_ rows: PostgresRows) throws {
        for row in rows {
            applied[try row.string("job_id")] = (try row.string("result"), PostgresArrayLiteral.decode(try row.string("cache_keys")))
        }
    }

    /// Records conversations with one statement and their inbox rows with another.
    private mutating func applyConversations(_ jobs: [(position: Int, job: JiraJob)]) throws {
        var items: [JiraConversationBatchItem] = []
        var seen = Set<String>()
        var first: [(position: Int, job: JiraJob, keycloakUserID: String)] = []
        var later: [(position: Int, job: JiraJob)] = []
        for (position, job) in jobs {
            guard case .createConversation(let reference, let keycloakUserID, let issueID, let issueKey, let conversationID, let parentID) = job.action else { continue }
            // A second job with the same id in one batch is a duplicate of the first.
            guard seen.insert(job.id).inserted else {
                later.append((position, job))
                continue
            }
            var workspaceID: Int64?
            var cloudID: String?
            switch reference {
            case .id(let id): workspaceID = id
            case .cloudID(let cloud): cloudID = cloud
            }
            items.append(JiraConversationBatchItem(workspaceID: workspaceID, cloudID: cloudID, keycloakUserID: keycloakUserID, issueID: issueID,
                                                   issueKey: issueKey, conversationID: conversationID, parentID: parentID))
            first.append((position, job, keycloakUserID))
        }
        let store = JiraStoreSession(session)
        let recorded: [Int: (conversation: JiraConversation, workspaceID: Int64)]
        do {
            recorded = try store.createConversations(items)
        } catch let error as JiraStoreError where error.code != .database || !(error.underlying.map { $0.code == .connectionLost || $0.code == .connectionFailed } ?? false) {
            throw SetBasedStatementFailed(cause: error)
        }
        var inbox: (ids: [String], types: [String], results: [String], keys: [String]) = ([], [], [], [])
        var notRecorded: [(position: Int, job: JiraJob)] = []
        for (index, item) in first.enumerated() {
            guard let (conversation, workspaceID) = recorded[index] else {
                notRecorded.append((item.position, item.job))
                continue
            }
            let body = JobResultBody(workspaceID: workspaceID, linkID: conversation.linkID, conversationRowID: conversation.id,
                                     conversationID: conversation.conversationID, version: conversation.version)
            let result = String(decoding: try Self.encoder.encode(body), as: UTF8.self)
            let keys = JiraCacheKey.affected(by: conversation, workspaceID: workspaceID, keycloakUserID: item.keycloakUserID, prefix: configuration.keys.prefix)
                .map(\.storedForm)
            inbox.ids.append(item.job.id)
            inbox.types.append(item.job.type)
            inbox.results.append(result)
            inbox.keys.append(keys.joined(separator: "\n"))
            applied[item.job.id] = (result, keys)
            outcomes[item.position] = .done(jobID: item.job.id, result: result, cacheKeys: keys)
        }
        if !inbox.ids.isEmpty {
            do {
                _ = try session.query("""
                    INSERT INTO jira_job_inbox (job_id, job_type, result, cache_keys)
                    SELECT id, type, result::jsonb, string_to_array(keys, E'\\n')
                    FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(id, type, result, keys)
                    """, [inbox.ids.postgresValue, inbox.types.postgresValue, inbox.results.postgresValue, inbox.keys.postgresValue])
            } catch let error as PostgresError where error.code == .server {
                throw SetBasedStatementFailed(cause: error)  // another worker applied one of these ids first
            }
        }
        for (position, job) in notRecorded + later { try applyOne(position, job) }
    }

    /// Applies one job in a savepoint, with its inbox row; classifies a failure.
    private mutating func applyOne(_ position: Int, _ job: JiraJob) throws {
        if let earlier = applied[job.id] {
            outcomes[position] = .done(jobID: job.id, result: earlier.result, cacheKeys: earlier.cacheKeys)  // no second effect
            return
        }
        let store = JiraStoreSession(session)
        _ = try session.query("SAVEPOINT job", [])
        do {
            let effect = try JobApplier.apply(job, store, prefix: configuration.keys.prefix)
            let result = String(decoding: try Self.encoder.encode(effect.result), as: UTF8.self)
            let cacheKeys = effect.cacheKeys.map(\.storedForm)
            _ = try session.query("INSERT INTO jira_job_inbox (job_id, job_type, result, cache_keys) VALUES ($1, $2, $3::jsonb, $4::text[])", [
                job.id.postgresValue, job.type.postgresValue, result.postgresValue, cacheKeys.postgresValue,
            ])
            _ = try session.query("RELEASE SAVEPOINT job", [])
            applied[job.id] = (result, cacheKeys)
            outcomes[position] = .done(jobID: job.id, result: result, cacheKeys: cacheKeys)
        } catch {
            _ = try session.query("ROLLBACK TO SAVEPOINT job", [])
            _ = try session.query("RELEASE SAVEPOINT job", [])
            if let postgresError = (error as? PostgresError) ?? (error as? JiraStoreError)?.underlying,
               postgresError.constraint == "jira_job_inbox_pkey" {
                // Another worker applied the same id concurrently and committed first.
                try remember(try session.query(Self.inboxQuery, [[job.id].postgresValue]))
                if let earlier = applied[job.id] {
                    outcomes[position] = .done(jobID: job.id, result: earlier.result, cacheKeys: earlier.cacheKeys)
                    return
                }
            }
            switch JobFailure.classify(error) {
            case .infrastructure(let cause):
                throw cause
            case .permanent(let reason):
                outcomes[position] = .dead(error: reason, jobID: job.id)
            case .retry(let reason):
                let attempt = attempts[position] + 1
                if attempt >= configuration.maxAttempts {
                    outcomes[position] = .dead(error: "gave up after \(attempt) attempts: \(reason)", jobID: job.id)
                } else {
                    outcomes[position] = .retry(attempt: attempt, delayMilliseconds: configuration.retryBackoff.delayMilliseconds(attempt: attempt))
                }
            }
        }
    }
}
