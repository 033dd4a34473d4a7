import Foundation
import JiraStore
@testable import JiraWorker
import Postgres
import Redis
import TestSupport
import XCTest

/// The worker against real Redis and PostgreSQL, in process.
final class WorkerEndToEndTests: XCTestCase {
    func testEachJobTypeEndToEnd() async throws {
        let harness = try await WorkerHarness()
        let running = harness.start()
        let cloud = "cloud-\(UUID().uuidString.prefix(8))"

        let created = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(cloud)))
        let workspaceID = try XCTUnwrap(created["workspace_id"] as? Int)
        XCTAssertEqual(created["created"] as? Bool, true)
        let workspace = try await harness.store.workspace(id: Int64(workspaceID))
        XCTAssertEqual(workspace?.jiraCloudID, cloud)
        XCTAssertEqual(workspace?.webhookSecret?.revealed, "enc:webhook")

        let link = try await harness.done(try await harness.enqueue("create_workspace_link",
            json(["jira_cloud_id": cloud, "keycloak_user_id": "kc-\(cloud)", "jira_user_id": "acc-1"])))
        XCTAssertEqual(link["workspace_id"] as? Int, workspaceID)
        let active = try await harness.store.activeUser(workspaceID: Int64(workspaceID), keycloakUserID: "kc-\(cloud)")
        XCTAssertEqual(active?.id, Int64(try XCTUnwrap(link["link_id"] as? Int)))

        let conversation = try await harness.done(try await harness.enqueue("create_conversation",
            json(["workspace_id": workspaceID, "keycloak_user_id": "kc-\(cloud)", "issue_id": "10001", "issue_key": "P-1", "conversation_id": "conv-\(cloud)"])))
        XCTAssertEqual(conversation["conversation_id"] as? String, "conv-\(cloud)")
        let listed = try await harness.store.conversations(workspaceID: Int64(workspaceID), keycloakUserID: "kc-\(cloud)", issueID: "10001")
        XCTAssertEqual(listed.map(\.conversationID), ["conv-\(cloud)"])

        _ = try await harness.done(try await harness.enqueue("update_user_status",
            json(["workspace_id": workspaceID, "keycloak_user_id": "kc-\(cloud)", "status": "inactive"])))
        let afterStatus = try await harness.store.activeUser(workspaceID: Int64(workspaceID), keycloakUserID: "kc-\(cloud)")
        XCTAssertNil(afterStatus)

        _ = try await harness.done(try await harness.enqueue("update_workspace",
            json(["workspace_id": workspaceID, "webhook_secret": "enc:rotated"])))
        let rotated = try await harness.store.workspace(id: Int64(workspaceID))
        XCTAssertEqual(rotated?.webhookSecret?.revealed, "enc:rotated")

        _ = try await harness.done(try await harness.enqueue("update_user_status",
            json(["workspace_id": workspaceID, "keycloak_user_id": "kc-\(cloud)", "status": "active"])))
        let deactivated = try await harness.done(try await harness.enqueue("deactivate_workspace", json(["jira_cloud_id": cloud])))
        XCTAssertEqual(deactivated["deactivated_links"] as? Int, 1)
        let final = try await harness.store.workspace(id: Int64(workspaceID))
        XCTAssertEqual(final?.status, .inactive)
        let finalLink = try await harness.store.user(keycloakUserID: "kc-\(cloud)", workspaceID: Int64(workspaceID))
        XCTAssertEqual(finalLink?.status, .inactive)

        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        let pending = try await harness.pendingCount()
        XCTAssertEqual(pending, 0)
        let dead = try await harness.deadLetters()
        XCTAssertEqual(dead.count, 0)
    }

    func testTheSameIDTwiceHasOneEffect() async throws {
        let harness = try await WorkerHarness()
        let cloud = "dup-\(UUID().uuidString.prefix(8))"
        // Enqueue everything first, so the duplicates can land in one batch as well as in two.
        let jobID = "ws-\(cloud)"
        try await harness.enqueue("create_workspace", workspacePayload(cloud), id: jobID)
        try await harness.enqueue("create_workspace", workspacePayload(cloud, secret: "enc:second"), id: jobID)
        try await harness.enqueue("create_workspace_link", json(["jira_cloud_id": cloud, "keycloak_user_id": "kc-\(cloud)", "jira_user_id": "a"]), id: "link-\(cloud)")
        for _ in 0..<3 {
            try await harness.enqueue("create_conversation", json(["jira_cloud_id": cloud, "keycloak_user_id": "kc-\(cloud)", "issue_id": "1",
                                                                   "issue_key": "P-1", "conversation_id": "conv-\(cloud)"]), id: "conv-job-\(cloud)")
        }
        let running = harness.start()
        let first = try await harness.done(jobID)
        try await harness.waitUntil("all entries acknowledged") { try await harness.pendingCount() == 0 }
        _ = try await harness.done("conv-job-\(cloud)")
        try await harness.enqueue("create_workspace", workspacePayload(cloud, secret: "enc:third"), id: jobID)
        try await harness.waitUntil("the re-enqueued duplicate is acknowledged") { try await harness.pendingCount() == 0 }
        try await Task.sleep(for: .milliseconds(300))
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        let again = try await harness.done(jobID)
        XCTAssertEqual(again["workspace_id"] as? Int, first["workspace_id"] as? Int)
        XCTAssertEqual(again["created"] as? Bool, true, "the result stays what the first run produced")
        let workspace = try await harness.store.workspace(cloudID: cloud)
        XCTAssertEqual(workspace?.webhookSecret?.revealed, "enc:webhook", "the duplicates had no effect")
        let conversations = try await harness.count("SELECT count(*) AS n FROM jira_conversations WHERE conversation_id = $1", ["conv-\(cloud)"])
        XCTAssertEqual(conversations, 1)
        let dead = try await harness.deadLetters()
        XCTAssertEqual(dead.count, 0, "duplicates are acknowledged, not dead-lettered")
    }

    func testRedeliveryAfterACrashBetweenCommitAndAckHasOneEffect() async throws {
        let harness = try await WorkerHarness(claimTimeout: .milliseconds(300))
        let cloud = "crash-\(UUID().uuidString.prefix(8))"
        let workspace = try await harness.store.createWorkspace(JiraWorkspaceRegistration(
            jiraCloudID: cloud, name: "\(cloud).example", adminUserID: "a", webhookSecret: nil, serviceAccountEmail: nil, serviceAccountAPIKey: nil))
        _ = try await harness.store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: "kc-\(cloud)", jiraUserID: "a")
        try await harness.redis.send(RedisCommand("XGROUP", "CREATE", harness.keys.jobs, harness.keys.group, "0", "MKSTREAM"))
        let jobID = try await harness.enqueue("create_conversation", json(["workspace_id": workspace.id, "keycloak_user_id": "kc-\(cloud)",
                                                                         "issue_id": "7", "issue_key": "P-7", "conversation_id": "conv-\(cloud)"]))
        // A worker "ghost" reads the entry, commits its effect and inbox row, then dies before XACK.
        let read = try await harness.redis.send(RedisCommand("XREADGROUP", "GROUP", harness.keys.group, "ghost", "COUNT", 10, "STREAMS", harness.keys.jobs, ">"))
        XCTAssertFalse(read.array?.isEmpty ?? true)
        let ghostResult = try await harness.store.withTransaction { session in
            let conversation = try session.createConversation(NewJiraConversation(
                workspaceID: workspace.id, keycloakUserID: "kc-\(cloud)", issueID: "7", issueKey: "P-7", conversationID: "conv-\(cloud)"))
            let result = "{\"conversation_id\": \"conv-\(cloud)\", \"id\": \(conversation.id), \"link_id\": \(conversation.linkID), \"workspace_id\": \(workspace.id)}"
            _ = try session.postgres.query("INSERT INTO jira_job_inbox (job_id, job_type, result) VALUES ($1, 'create_conversation', $2::jsonb)", jobID, result)
            return conversation.id
        }
        // A live worker reclaims the entry after the claim timeout: no second effect, and the result is the first run's.
        let running = harness.start()
        let result = try await harness.done(jobID)
        XCTAssertEqual(result["id"] as? Int, Int(ghostResult))
        try await harness.waitUntil("nothing pending") { try await harness.pendingCount() == 0 }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        let conversations = try await harness.count("SELECT count(*) AS n FROM jira_conversations WHERE conversation_id = $1", ["conv-\(cloud)"])
        XCTAssertEqual(conversations, 1)
    }

    func testOutOfOrderArrivalConverges() async throws {
        let harness = try await WorkerHarness(lanes: 3, batch: 4)
        let cloud = "ooo-\(UUID().uuidString.prefix(8))"
        // Reverse order: conversations before their link, the link before its workspace.
        var conversationJobs: [String] = []
        for index in 0..<5 {
            conversationJobs.append(try await harness.enqueue("create_conversation", json([
                "jira_cloud_id": cloud, "keycloak_user_id": "kc-\(cloud)", "issue_id": "1", "issue_key": "P-1", "conversation_id": "conv-\(cloud)-\(index)"])))
        }
        let linkJob = try await harness.enqueue("create_workspace_link", json(["jira_cloud_id": cloud, "keycloak_user_id": "kc-\(cloud)", "jira_user_id": "a"]))
        let running = harness.start()
        try await Task.sleep(for: .milliseconds(300))
        let workspaceJob = try await harness.enqueue("create_workspace", workspacePayload(cloud))
        _ = try await harness.done(workspaceJob)
        _ = try await harness.done(linkJob)
        for job in conversationJobs { _ = try await harness.done(job) }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        let workspace = try await harness.store.workspace(cloudID: cloud)
        let listed = try await harness.store.conversations(workspaceID: try XCTUnwrap(workspace?.id), keycloakUserID: "kc-\(cloud)", issueID: "1")
        XCTAssertEqual(Set(listed.map(\.conversationID)), Set((0..<5).map { "conv-\(cloud)-\($0)" }))
        XCTAssertGreaterThan(running.0.retried, 0, "the early jobs were retried, not dead-lettered")
        let dead = try await harness.deadLetters()
        XCTAssertEqual(dead.count, 0)
    }

    func testALargeBatchSplitByUserAppliesEverythingOnceWithoutRetries() async throws {
        let harness = try await WorkerHarness(lanes: 1, batch: 1024)
        XCTAssertEqual(harness.configuration.applyConnections, 2)
        let tag = UUID().uuidString.prefix(8)
        let (a, b) = ("split-a-\(tag)", "split-b-\(tag)")
        // Enqueued before the worker starts, so it reads them as one batch of 617 jobs.
        var ids = [try await harness.enqueue("create_workspace", workspacePayload(a)), try await harness.enqueue("create_workspace", workspacePayload(b))]
        for user in 0..<60 {
            let cloud = user % 2 == 0 ? a : b
            ids.append(try await harness.enqueue("create_workspace_link", json(["jira_cloud_id": cloud, "keycloak_user_id": "u\(user)-\(tag)", "jira_user_id": "acc\(user)"])))
            for conversation in 0..<4 {
                ids.append(try await harness.enqueue("create_conversation", json([
                    "jira_cloud_id": cloud, "keycloak_user_id": "u\(user)-\(tag)", "issue_id": "\(conversation % 2)", "issue_key": "P-1",
                    "conversation_id": "c\(user)-\(conversation)-\(tag)"])))
            }
        }
        for user in 0..<60 {
            let cloud = user % 2 == 0 ? a : b
            if user % 6 == 0 {  // ten users go inactive after their conversations
                ids.append(try await harness.enqueue("update_user_status", json(["jira_cloud_id": cloud, "keycloak_user_id": "u\(user)-\(tag)", "status": "inactive"])))
            } else if user % 6 == 1 {  // ten users move to the other workspace (their old link goes inactive)
                ids.append(try await harness.enqueue("create_workspace_link", json([
                    "jira_cloud_id": cloud == a ? b : a, "keycloak_user_id": "u\(user)-\(tag)", "jira_user_id": "acc\(user)"])))
            }
        }
        XCTAssertEqual(ids.count, 2 + 60 * 5 + 20)
        let running = harness.start()
        for id in ids { _ = try await harness.done(id) }
        try await harness.waitUntil("acknowledged") { try await harness.pendingCount() == 0 }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        XCTAssertEqual(running.0.retried, 0, "no part waited for another part's rows")
        let dead = try await harness.deadLetters()
        XCTAssertEqual(dead.count, 0)
        let conversations = try await harness.count("SELECT count(*) AS n FROM jira_conversations WHERE conversation_id LIKE $1", ["%-\(tag)"])
        XCTAssertEqual(conversations, 240)
        let inbox = try await harness.count("SELECT count(*) AS n FROM jira_job_inbox WHERE job_id = ANY($1)", [ids])
        XCTAssertEqual(inbox, ids.count)
        let active = try await harness.count("SELECT count(*) AS n FROM jira_users WHERE keycloak_user_id LIKE $1 AND status = 'active'", ["%-\(tag)"])
        XCTAssertEqual(active, 50, "60 users, ten made inactive; the ten who moved have one active link each")
        for user in stride(from: 1, to: 60, by: 6) {
            let moved = try await harness.store.userByActiveWorkspace(keycloakUserID: "u\(user)-\(tag)")
            let target = try await harness.store.workspace(cloudID: user % 2 == 0 ? b : a)
            XCTAssertEqual(moved?.workspaceID, target?.id)
        }
    }

    func testEveryBadEntryIsDeadLetteredWhileNeighboursApply() async throws {
        let harness = try await WorkerHarness(lanes: 1, batch: 100)
        let cloud = "bad-\(UUID().uuidString.prefix(8))"
        let seed = try await harness.store.createWorkspace(JiraWorkspaceRegistration(
            jiraCloudID: cloud, name: "\(cloud).example", adminUserID: "a", webhookSecret: nil, serviceAccountEmail: nil, serviceAccountAPIKey: nil))
        _ = try await harness.store.createWorkspaceLink(workspaceID: seed.id, keycloakUserID: "kc-\(cloud)", jiraUserID: "a")
        _ = try await harness.store.createConversation(NewJiraConversation(workspaceID: seed.id, keycloakUserID: "kc-\(cloud)", issueID: "1", issueKey: "P-1", conversationID: "taken-\(cloud)"))
        func conversation(_ id: String) -> String {
            json(["workspace_id": seed.id, "keycloak_user_id": "kc-\(cloud)", "issue_id": "1", "issue_key": "P-1", "conversation_id": id])
        }
        let keys = harness.keys
        var valid: [String] = []
        // (fields, expected error fragment)
        let bad: [([[UInt8]], String)] = [
            ([Array("nojob".utf8), Array("x".utf8)], "entry has no job field"),
            ([Array("job".utf8), [0x7B, 0xC3, 0x28, 0x7D]], "not valid UTF-8"),
            ([Array("job".utf8), Array("{\"id\":".utf8)], "not valid JSON"),
            ([Array("job".utf8), Array(#"{"id":"m1","type":"create_conversation","payload":{"workspace_id":1}}"#.utf8)], "missing field payload.keycloak_user_id"),
            ([Array("job".utf8), Array(#"{"id":"m2","type":"create_conversation","payload":{"workspace_id":"one"}}"#.utf8)], "wrong type"),
            ([Array("job".utf8), Array(#"{"id":"m3","type":"create_workspace_link","payload":{"workspace_id":1,"keycloak_user_id":"","jira_user_id":"a"}}"#.utf8)], "must not be empty"),
            ([Array("job".utf8), Array(#"{"id":"m4","type":"drop_tables","payload":{}}"#.utf8)], "unknown job type"),
            ([Array("job".utf8), Array(("{\"id\":\"m5\",\"type\":\"create_conversation\",\"payload\":{\"pad\":\"" + String(repeating: "x", count: 70_000) + "\"}}").utf8)], "over the 65536-byte limit"),
            ([Array("job".utf8), try JobQueue.envelope(type: "create_conversation", payload: conversation("taken-\(cloud)"), id: "m6-\(cloud)")], "conflict"),
            ([Array("job".utf8), try JobQueue.envelope(type: "create_conversation", payload: conversation("nul\u{0}byte"), id: "m7-\(cloud)")], "NUL byte"),
            ([Array("job".utf8), try JobQueue.envelope(type: "create_conversation", payload: conversation("'; DROP TABLE jira_users; --"), id: "ok-sql-\(cloud)")], ""),
        ]
        var expected: [String: String] = [:]
        for (index, item) in bad.enumerated() {
            // A valid neighbour before every bad entry.
            valid.append(try await harness.enqueue("create_conversation", conversation("good-\(cloud)-\(index)")))
            let entryID = try await harness.redis.send(RedisCommand("XADD", [keys.jobs, "*"] + item.0.map { $0 as any RedisArgument })).string!
            if !item.1.isEmpty { expected[entryID] = item.1 } else { valid.append("ok-sql-\(cloud)") }
        }
        let running = harness.start()
        for job in valid { _ = try await harness.done(job) }
        try await harness.waitUntil("every bad entry dead-lettered") { try await harness.deadLetters().count == expected.count }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        let dead = try await harness.deadLetters()
        for letter in dead {
            let source = String(decoding: letter.fields["source_id"] ?? [], as: UTF8.self)
            let error = String(decoding: letter.fields["error"] ?? [], as: UTF8.self)
            let fragment = try XCTUnwrap(expected[source], "unexpected dead letter \(source): \(error)")
            XCTAssertTrue(error.contains(fragment), "\(error) does not contain \(fragment)")
            XCTAssertEqual(letter.fields["attempts"].map { String(decoding: $0, as: UTF8.self) }, "1")
            XCTAssertEqual(letter.fields["consumer"].map { String(decoding: $0, as: UTF8.self) }, "\(harness.configuration.consumer):0")
            XCTAssertNotNil(letter.fields["failed_at"])
        }
        // The job field is the entry's payload byte for byte (here: the invalid UTF-8 one).
        XCTAssertTrue(dead.contains { $0.fields["job"] == [0x7B, 0xC3, 0x28, 0x7D] })
        let deadResult = try await harness.result("m4")
        XCTAssertEqual(deadResult["status"] as? String, "dead")
        let stored = try await harness.store.conversations(workspaceID: seed.id, keycloakUserID: "kc-\(cloud)", issueID: "1")
        XCTAssertEqual(stored.count, 1 + bad.count + 1)
        XCTAssertTrue(stored.contains { $0.conversationID == "'; DROP TABLE jira_users; --" })
        let pending = try await harness.pendingCount()
        XCTAssertEqual(pending, 0)
    }

    func testTransientFailuresRetryThenDeadLetterAndDeadRetryReenqueues() async throws {
        let harness = try await WorkerHarness(maxAttempts: 3)
        let cloud = "late-\(UUID().uuidString.prefix(8))"
        let running = harness.start()
        let linkJob = try await harness.enqueue("create_workspace_link", json(["jira_cloud_id": cloud, "keycloak_user_id": "kc-\(cloud)", "jira_user_id": "a"]))
        let dead = try await harness.result(linkJob)
        XCTAssertEqual(dead["status"] as? String, "dead")
        XCTAssertTrue((dead["error"] as? String ?? "").contains("gave up after 3 attempts"), "\(dead)")
        let letters = try await harness.deadLetters()
        XCTAssertEqual(letters.count, 1)
        XCTAssertEqual(letters.first?.fields["attempts"].map { String(decoding: $0, as: UTF8.self) }, "3")
        // The workspace arrives; the operator retries the dead letter; it applies.
        _ = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(cloud)))
        let retried = try await harness.queue.retryAllDead()
        XCTAssertEqual(retried, 1)
        try await harness.waitUntil("the retried link is applied") {
            guard let workspace = try await harness.store.workspace(cloudID: cloud) else { return false }
            return try await harness.store.activeUser(workspaceID: workspace.id, keycloakUserID: "kc-\(cloud)") != nil
        }
        // Its result turns from dead to done once the retry is acknowledged (after its commit).
        try await harness.waitUntil("the retried link's result is done") { try await harness.result(linkJob)["status"] as? String == "done" }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        let remaining = try await harness.deadLetters()
        XCTAssertEqual(remaining.count, 0)
        let delayed = try await harness.int(RedisCommand("ZCARD", harness.keys.delayed))
        XCTAssertEqual(delayed, 0)
    }

    func testPoisonPillIsDeadLetteredAfterMaxDeliveries() async throws {
        let harness = try await WorkerHarness(claimTimeout: .milliseconds(200), maxDeliveries: 3)
        try await harness.redis.send(RedisCommand("XGROUP", "CREATE", harness.keys.jobs, harness.keys.group, "0", "MKSTREAM"))
        let entry = try await harness.queue.enqueue(envelope: try JobQueue.envelope(type: "deactivate_workspace", payload: "{\"workspace_id\":1}", id: "pill"))
        // Consumers that "crashed" on it three times: one read, two takeovers.
        _ = try await harness.redis.send(RedisCommand("XREADGROUP", "GROUP", harness.keys.group, "ghost-0", "COUNT", 1, "STREAMS", harness.keys.jobs, ">"))
        for ghost in 1..<3 {
            _ = try await harness.redis.send(RedisCommand("XCLAIM", harness.keys.jobs, harness.keys.group, "ghost-\(ghost)", 0, entry))
        }
        let running = harness.start()
        try await harness.waitUntil("the pill is dead-lettered") { try await harness.deadLetters().count == 1 }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        let letter = try await harness.deadLetters()[0]
        XCTAssertTrue(String(decoding: letter.fields["error"] ?? [], as: UTF8.self).contains("delivered"))
        XCTAssertEqual(String(decoding: letter.fields["source_id"] ?? [], as: UTF8.self), entry)
    }

    func testStreamStaysBounded() async throws {
        let harness = try await WorkerHarness(batch: 200)
        let cloud = "trim-\(UUID().uuidString.prefix(8))"
        let envelopes = try (0..<3000).map { index in
            try JobQueue.envelope(type: "update_workspace", payload: json(["jira_cloud_id": cloud, "svc_acc_email": "e\(index)@x"]), id: "\(cloud)-\(index)")
        }
        let running = harness.start()
        _ = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(cloud)))
        _ = try await harness.queue.enqueue(envelopes: envelopes)
        _ = try await harness.done("\(cloud)-2999")
        try await harness.waitUntil("the stream is trimmed", timeout: .seconds(20)) {
            try await harness.int(RedisCommand("XLEN", harness.keys.jobs)) < 1000
        }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        let inbox = try await harness.count("SELECT count(*) AS n FROM jira_job_inbox WHERE job_id LIKE $1", ["\(cloud)-%"])
        XCTAssertEqual(inbox, 3000)
    }

    func testInboxRowsOlderThanTheRetentionArePruned() async throws {
        let harness = try await WorkerHarness(batch: 50)
        let cloud = "prune-\(UUID().uuidString.prefix(8))"
        let running = harness.start()
        _ = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(cloud), id: "\(cloud)-ws"))
        for index in 0..<20 {
            _ = try await harness.done(try await harness.enqueue("update_workspace", json(["jira_cloud_id": cloud, "svc_acc_email": "e\(index)@x"]), id: "\(cloud)-\(index)"))
        }
        _ = await harness.stop(running)
        // Twelve rows were applied two days ago (by the clock); the retention is one day.
        let aged = try await harness.count("""
            WITH aged AS (UPDATE jira_job_inbox SET applied_at = now() - interval '2 days' WHERE job_id LIKE $1 AND job_id < $2 RETURNING 1)
            SELECT count(*) AS n FROM aged
            """, ["\(cloud)-%", "\(cloud)-2"])
        XCTAssertEqual(aged, 12)  // -0, -1, -10 … -19
        var configuration = harness.configuration
        configuration.inboxRetention = .seconds(86_400)
        try Maintenance(configuration: configuration, state: WorkerState(), log: WorkerLog(minimum: .error), metrics: WorkerMetrics()).pruneInbox()
        let left = try await harness.count("SELECT count(*) AS n FROM jira_job_inbox WHERE job_id LIKE $1", ["\(cloud)-%"])
        XCTAssertEqual(left, 21 - 12)
        let plan = try await harness.count("SELECT count(*) AS n FROM pg_indexes WHERE indexname = 'jira_job_inbox_applied_at_brin'", [])
        XCTAssertEqual(plan, 1)
    }

    func testAFailingWriteInTheAcknowledgementLeavesTheBatchPending() async throws {
        let harness = try await WorkerHarness(lanes: 1)
        // The dead-letter stream's key holds a string, so the dead letter cannot be written.
        try await harness.redis.send(RedisCommand("XGROUP", "CREATE", harness.keys.jobs, harness.keys.group, "0", "MKSTREAM"))
        try await harness.redis.send(RedisCommand("SET", harness.keys.dead, "not a stream"))
        try await harness.redis.send(RedisCommand("XADD", harness.keys.jobs, "*", "job", "not json"))
        let cloud = "ackfail-\(UUID().uuidString.prefix(8))"
        let good = try await harness.enqueue("create_workspace", workspacePayload(cloud))
        let running = harness.start()
        try await harness.waitUntil("the batch was read") { try await harness.pendingCount() == 2 }
        try await Task.sleep(for: .milliseconds(500))
        // Nothing was acknowledged, and no result was published, though the workspace committed.
        let pending = try await harness.pendingCount()
        XCTAssertEqual(pending, 2)
        let early = try await harness.queue.result(id: good)
        XCTAssertNil(early)
        let committed = try await harness.store.workspace(cloudID: cloud)
        XCTAssertNotNil(committed)
        // Once the key is fixed, the retried batch completes: one dead letter, one result, no second effect.
        try await harness.redis.send(RedisCommand("DEL", harness.keys.dead))
        _ = try await harness.done(good)
        try await harness.waitUntil("acknowledged") { try await harness.pendingCount() == 0 }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        let dead = try await harness.deadLetters()
        XCTAssertEqual(dead.count, 1)
        let workspaces = try await harness.count("SELECT count(*) AS n FROM jira_workspaces WHERE jira_cloud_id = $1", [cloud])
        XCTAssertEqual(workspaces, 1)
    }
    func testARetriedAcknowledgementSettlesEachEntryOnce() async throws {
        let harness = try await WorkerHarness(lanes: 1, maxAttempts: 1000)
        // The delayed set's key holds a string: the dead letter settles (with its XACK), the
        // retry does not, and the batch waits.
        try await harness.redis.send(RedisCommand("XGROUP", "CREATE", harness.keys.jobs, harness.keys.group, "0", "MKSTREAM"))
        try await harness.redis.send(RedisCommand("SET", harness.keys.delayed, "not a sorted set"))
        try await harness.redis.send(RedisCommand("XADD", harness.keys.jobs, "*", "job", "not json"))
        let retried = try await harness.enqueue("deactivate_workspace", #"{"jira_cloud_id":"nowhere-\#(UUID().uuidString.prefix(8))"}"#)
        let running = harness.start()
        try await harness.waitUntil("the dead letter settled, the retry not") {
            let (pending, dead) = (try await harness.pendingCount(), try await harness.deadLetters())
            return pending == 1 && dead.count == 1
        }
        try await Task.sleep(for: .milliseconds(500))  // acknowledgements retried meanwhile
        // Once the key is fixed, the retry settles; the dead letter was written once.
        try await harness.redis.send(RedisCommand("DEL", harness.keys.delayed))
        try await harness.waitUntil("the retry settled") { try await harness.pendingCount() == 0 }
        let dead = try await harness.deadLetters()
        XCTAssertEqual(dead.map { String(decoding: $0.fields["job"] ?? [], as: UTF8.self) }, ["not json"])
        let result = try await harness.queue.result(id: retried)
        XCTAssertNil(result, "a retried job has no result yet")
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
    }
}
