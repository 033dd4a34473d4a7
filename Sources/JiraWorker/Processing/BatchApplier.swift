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
/// Jobs already in the inbox are done with their stored result. With `setBased`, the common
/// jobs are applied a whole batch per statement: workspace jobs first, in stream order
/// (registrations of distinct cloud ids with one set of statements, the others one by one); then links
/// (one statement set for all users with a single link job in the batch); the remaining link and
/// status jobs one by one; then every conversation in one statement; the inbox rows of all of
/// these in one more. A job a set statement did not apply (a dependency not there yet, a
/// conflict) is then applied alone to learn why. If a set statement fails, the transaction is
/// lost: the caller runs the batch again without `setBased`, every job alone in a savepoint.
/// Reordering within a batch is safe: producers cannot order jobs across workers anyway, and
/// jobs of one user stay in stream order.
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

    /// Whether to forbid sequential scans for this transaction (when the session does not).
    let forbidsSequentialScans: Bool

    init(session: PostgresSession, configuration: WorkerConfiguration, attempts: [Int], forbidsSequentialScans: Bool) {
        self.session = session
        self.configuration = configuration
        self.attempts = attempts
        self.forbidsSequentialScans = forbidsSequentialScans
    }

    /// Every statement of a batch is an index probe per item. Fresh tables have statistics that
    /// say "empty", for which the planner prefers sequential scans, and those scans stay in the
    /// cached plans while the tables grow, until autovacuum analyzes them: the worker forbids
    /// them, for its session (or, behind a transaction-mode pooler, for each transaction).
    static let indexProbesOnly = "enable_seqscan = off"

    private static let inboxQuery = "SELECT job_id, result::text AS result, cache_keys::text AS cache_keys FROM jira_job_inbox WHERE job_id = ANY($1::text[])"

    mutating func apply(_ jobs: [(position: Int, job: JiraJob)], setBased: Bool) throws -> [Int: Disposition] {
        if forbidsSequentialScans { _ = try session.query("SET LOCAL \(Self.indexProbesOnly)", []) }
        // Jobs already applied: their stored result, and the cache keys to invalidate again (the
        // run that committed them may have died before its acknowledgement invalidated them).
        try remember(try session.query(Self.inboxQuery, [jobs.map(\.job.id).postgresValue]))
        guard setBased else {
            for (position, job) in jobs { try applyOne(position, job) }
            return outcomes
        }
        // Phase 1: workspace jobs in stream order (the others may depend on them): registrations
        // of distinct cloud ids set-based (upserts that fail only on a conflict), the others one
        // by one.
        // Phase 2: links, set-based for users with one link job in the batch and no status job.
        // Phase 3: the other link and status jobs, one by one in stream order.
        // Phase 4: conversations, set-based. Then what the set statements did not apply, alone.
        // A user with a conversation before a link or status job of theirs (say, deactivated
        // right after recording one) has all their jobs applied one by one, in stream order: the
        // phases would otherwise apply the status change first and refuse the conversation.
        var userJobs: [String: Int] = [:]
        var firstConversation: [String: Int] = [:]
        var inStreamOrder = Set<String>()
        for (position, job) in jobs {
            switch job.action {
            case .createWorkspaceLink(_, let user, _, _), .updateUserStatus(_, let user, _):
                userJobs[user, default: 0] += 1
                if let first = firstConversation[user], first < position { inStreamOrder.insert(user) }
            case .createConversation(_, let user, _, _, _, _):
                if firstConversation[user] == nil { firstConversation[user] = position }
            default: break
            }
        }
        var links: [(position: Int, job: JiraJob)] = []
        var oneByOne: [(position: Int, job: JiraJob)] = []
        var conversations: [(position: Int, job: JiraJob)] = []
        var seen = Set<String>()
        var registrations: [(position: Int, job: JiraJob)] = [], registering = Set<String>()
        for (position, job) in jobs {
            let fresh = applied[job.id] == nil && seen.insert(job.id).inserted
            switch job.action {
            case .createWorkspace(let registration) where fresh && registering.insert(registration.jiraCloudID).inserted:
                registrations.append((position, job))
            case .createWorkspace:
                try applyRegistrations(&registrations, &registering)  // those before it first: stream order
                try applyInBatch(position, job)
            case .updateWorkspace, .deactivateWorkspace:
                try applyRegistrations(&registrations, &registering)
                try applyOne(position, job)
            case .createWorkspaceLink(_, let user, _, _) where fresh && userJobs[user] == 1 && !inStreamOrder.contains(user):
                links.append((position, job))
            case .createConversation(_, let user, _, _, _, _) where fresh && !inStreamOrder.contains(user):
                conversations.append((position, job))
            default:
                oneByOne.append((position, job))
            }
        }
        try applyRegistrations(&registrations, &registering)
        var leftovers = try applyLinks(links)
        for (position, job) in oneByOne { try applyOne(position, job) }
        leftovers += try applyConversations(conversations)
        try flushInbox()
        for (position, job) in leftovers { try applyOne(position, job) }
        return outcomes
    }

    private mutating func remember(_ rows: PostgresRows) throws {
        for row in rows {
            applied[try row.string("job_id")] = (try row.string("result"), PostgresArrayLiteral.decode(try row.string("cache_keys")))
        }
    }

    /// The inbox rows of jobs the set-based phases applied, written by ``flushInbox()``.
    private var inbox: (ids: [String], types: [String], results: [String], keys: [String]) = ([], [], [], [])

    /// Records a job applied by a set-based statement: its outcome and its pending inbox row.
    private mutating func record(_ position: Int, _ job: JiraJob, _ body: JobResultBody, _ cacheKeys: [JiraCacheKey]) {
        let result = body.json
        let keys = cacheKeys.map(\.storedForm)
        inbox.ids.append(job.id)
        inbox.types.append(job.type)
        inbox.results.append(result)
        inbox.keys.append(keys.joined(separator: "\n"))
        applied[job.id] = (result, keys)
        outcomes[position] = .done(jobID: job.id, result: result, cacheKeys: keys)
    }

    /// Runs a set-based step; its failure (other than a lost connection) fails the batch's
    /// set-based attempt, and the batch is applied again job by job.
    private func setBased<T>(_ body: () throws -> T) throws -> T {
        func lost(_ error: PostgresError) -> Bool { error.code == .connectionLost || error.code == .connectionFailed }
        do {
            return try body()
        } catch let error as JiraStoreError where error.underlying.map(lost) ?? false {
            throw error
        } catch let error as PostgresError where lost(error) {
            throw error
        } catch {
            throw SetBasedStatementFailed(cause: error)
        }
    }

    /// Applies a registration in the batch's transaction without a savepoint of its own (two
    /// round trips fewer); its inbox row goes with the set-based ones. Its failure (a conflict,
    /// rare) fails the set-based attempt: the batch then runs job by job, where it is classified.
    private mutating func applyInBatch(_ position: Int, _ job: JiraJob) throws {
        if doneBefore(position, job) { return }
        let store = JiraStoreSession(session)
        let effect = try setBased { try JobApplier.apply(job, store, prefix: configuration.keys.prefix) }
        record(position, job, effect.result, effect.cacheKeys)
    }

    /// Applies the pending registrations (one per cloud id) with one set of statements, and
    /// empties the list; a registration the set did not apply is applied alone to learn why.
    private mutating func applyRegistrations(_ pending: inout [(position: Int, job: JiraJob)], _ cloudIDs: inout Set<String>) throws {
        let jobs = pending
        (pending, cloudIDs) = ([], [])
        if jobs.isEmpty { return }
        let items = jobs.compactMap { entry -> JiraWorkspaceRegistration? in
            guard case .createWorkspace(let registration) = entry.job.action else { return nil }
            return registration
        }
        let store = JiraStoreSession(session)
        let changes = try setBased { try store.createWorkspaces(items) }
        for (index, entry) in jobs.enumerated() {
            guard let change = changes[index] else {
                try applyOne(entry.position, entry.job)
                continue
            }
            let effect = JobApplier.workspace(change, configuration.keys.prefix, reportCreated: true)
            record(entry.position, entry.job, effect.result, effect.cacheKeys)
        }
    }

    /// Applies link jobs (one per user) with one set of statements; returns those not applied.
    private mutating func applyLinks(_ jobs: [(position: Int, job: JiraJob)]) throws -> [(position: Int, job: JiraJob)] {
        if jobs.isEmpty { return [] }
        let items = jobs.compactMap { entry -> JiraLinkBatchItem? in
            guard case .createWorkspaceLink(let reference, let user, let account, let status) = entry.job.action else { return nil }
            return JiraLinkBatchItem(workspaceID: reference.workspaceID, cloudID: reference.cloudID, keycloakUserID: user, jiraUserID: account, status: status)
        }
        let store = JiraStoreSession(session)
        let changes = try setBased { try store.createWorkspaceLinks(items) }
        var leftovers: [(position: Int, job: JiraJob)] = []
        for (index, entry) in jobs.enumerated() {
            guard let change = changes[index] else {
                leftovers.append(entry)
                continue
            }
            let body = JobResultBody(workspaceID: change.link.workspaceID, linkID: change.link.id,
                                     deactivatedLinks: change.deactivated.count, version: change.link.version)
            record(entry.position, entry.job, body, JiraCacheKey.affected(by: change, prefix: configuration.keys.prefix))
        }
        return leftovers
    }

    /// Writes the inbox rows of the set-based phases in one statement.
    private mutating func flushInbox() throws {
        guard !inbox.ids.isEmpty else { return }
        let rows = inbox
        inbox = ([], [], [], [])
        _ = try setBased {
            // A conflict means another worker applied one of these ids first: the batch is
            // applied again job by job, where that job is found in the inbox.
            try session.query("""
                INSERT INTO jira_job_inbox (job_id, job_type, result, cache_keys)
                SELECT id, type, result::jsonb, string_to_array(keys, E'\\n')
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS t(id, type, result, keys)
                """, [rows.ids.postgresValue, rows.types.postgresValue, rows.results.postgresValue, rows.keys.postgresValue])
        }
    }

    /// Records conversations with one statement; returns those not recorded.
    private mutating func applyConversations(_ jobs: [(position: Int, job: JiraJob)]) throws -> [(position: Int, job: JiraJob)] {
        if jobs.isEmpty { return [] }
        var items: [JiraConversationBatchItem] = []
        var first: [(position: Int, job: JiraJob)] = []
        for (position, job) in jobs {
            guard case .createConversation(let reference, let keycloakUserID, let issueID, let issueKey, let conversationID, let parentID) = job.action else { continue }
            items.append(JiraConversationBatchItem(workspaceID: reference.workspaceID, cloudID: reference.cloudID, keycloakUserID: keycloakUserID,
                                                   issueID: issueID, issueKey: issueKey, conversationID: conversationID, parentID: parentID))
            first.append((position, job))
        }
        let store = JiraStoreSession(session)
        let recorded = try setBased { try store.createConversations(items) }
        var notRecorded: [(position: Int, job: JiraJob)] = []
        for (index, entry) in first.enumerated() {
            guard let conversation = recorded[index] else {
                notRecorded.append(entry)
                continue
            }
            let item = items[index]
            let body = JobResultBody(workspaceID: conversation.workspaceID, linkID: conversation.linkID, conversationRowID: conversation.id,
                                     conversationID: item.conversationID, version: conversation.version)
            record(entry.position, entry.job, body,
                       JiraCacheKey.affectedByConversation(workspaceID: conversation.workspaceID, keycloakUserID: item.keycloakUserID,
                                                           issueID: item.issueID, prefix: configuration.keys.prefix))
        }
        return notRecorded
    }

    /// Whether the job id was applied already (in the inbox, or earlier in this batch): then the
    /// job is done with that run's result and cache keys, and no second effect.
    private mutating func doneBefore(_ position: Int, _ job: JiraJob) -> Bool {
        guard let earlier = applied[job.id] else { return false }
        outcomes[position] = .done(jobID: job.id, result: earlier.result, cacheKeys: earlier.cacheKeys)
        return true
    }

    /// Applies one job in a savepoint, with its inbox row; classifies a failure.
    private mutating func applyOne(_ position: Int, _ job: JiraJob) throws {
        if doneBefore(position, job) { return }
        let store = JiraStoreSession(session)
        _ = try session.query("SAVEPOINT job", [])
        do {
            let effect = try JobApplier.apply(job, store, prefix: configuration.keys.prefix)
            let result = effect.result.json
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
            let failure = JobFailure.classify(error)
            if case .infrastructure = failure {} else {
                // Another worker may have applied the same id concurrently and committed first
                // (our effect then conflicts with its effect, or our inbox row with its row):
                // that is a duplicate, not a failure.
                try remember(try session.query(Self.inboxQuery, [[job.id].postgresValue]))
                if doneBefore(position, job) { return }
            }
            switch failure {
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
