import Foundation
import JiraCache
import JiraStore
import JiraWorker
import Postgres
import Redis
import TestSupport
import XCTest

/// The cache against real Redis and PostgreSQL, with the real worker keeping it coherent.
final class JiraCacheTests: XCTestCase {
    func makeCache(_ harness: WorkerHarness) -> JiraCache {
        JiraCache(redis: RedisConnection(configuration: harness.configuration.redis), store: harness.store, configuration: harness.configuration.cache)
    }

    /// A workspace with one active link, made directly through the store.
    func seed(_ harness: WorkerHarness) async throws -> (workspace: JiraWorkspace, link: JiraUserLink) {
        let cloud = "cache-\(UUID().uuidString.prefix(8))"
        let workspace = try await harness.store.createWorkspace(JiraWorkspaceRegistration(
            jiraCloudID: cloud, name: "\(cloud).atlassian.net", adminUserID: "a", webhookSecret: Secret("enc:secret"),
            serviceAccountEmail: "s@x", serviceAccountAPIKey: Secret("enc:key")))
        let link = try await harness.store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: "kc:\(cloud) é", jiraUserID: "acc-\(cloud)")
        return (workspace, link)
    }

    func testHitMissAndNegativeForEveryLookup() async throws {
        let harness = try await WorkerHarness()
        let cache = makeCache(harness)
        let (workspace, link) = try await seed(harness)
        _ = try await harness.store.createConversation(NewJiraConversation(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID, issueID: "1", issueKey: "P-1", conversationID: "c-\(link.id)"))

        let first = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
        let second = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
        XCTAssertEqual(first.source, .database)
        XCTAssertEqual(second.source, .cache)
        XCTAssertEqual(first.value?.id, link.id)
        XCTAssertEqual(second.value?.id, link.id)
        XCTAssertEqual(second.version, max(link.version, workspace.version))

        let byAccount = try await cache.activeUser(workspaceID: workspace.id, jiraUserID: link.jiraUserID)
        let byAccountAgain = try await cache.activeUser(workspaceID: workspace.id, jiraUserID: link.jiraUserID)
        XCTAssertEqual([byAccount.source, byAccountAgain.source], [.database, .cache])
        XCTAssertEqual(byAccountAgain.value?.id, link.id)

        let conversations = try await cache.conversations(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID, issueID: "1")
        let conversationsAgain = try await cache.conversations(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID, issueID: "1")
        XCTAssertEqual([conversations.source, conversationsAgain.source], [.database, .cache])
        XCTAssertEqual(conversationsAgain.value.map(\.conversationID), ["c-\(link.id)"])

        let byCloud = try await cache.workspace(cloudID: workspace.jiraCloudID)
        let byCloudAgain = try await cache.workspace(cloudID: workspace.jiraCloudID)
        let byName = try await cache.workspace(name: workspace.name.uppercased())
        let byNameAgain = try await cache.workspace(name: workspace.name)
        XCTAssertEqual([byCloud.source, byCloudAgain.source, byName.source, byNameAgain.source], [.database, .cache, .database, .cache])
        XCTAssertEqual(byCloudAgain.value, JiraWorkspaceSummary(workspace))

        // Negative answers are cached too, with the shorter lifetime.
        let missing = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: "nobody")
        let missingAgain = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: "nobody")
        XCTAssertNil(missing.value)
        XCTAssertEqual([missing.source, missingAgain.source], [.database, .cache])
        let noWorkspace = try await cache.workspace(cloudID: "no-such-cloud-\(link.id)")
        let noWorkspaceAgain = try await cache.workspace(cloudID: "no-such-cloud-\(link.id)")
        XCTAssertNil(noWorkspaceAgain.value)
        XCTAssertEqual([noWorkspace.source, noWorkspaceAgain.source], [.database, .cache])
        let prefix = harness.keys.prefix
        let negativeTTL = try await harness.int(RedisCommand("PTTL", JiraCacheKey.activeUser(prefix, workspaceID: workspace.id, keycloakUserID: "nobody").value))
        let positiveTTL = try await harness.int(RedisCommand("PTTL", JiraCacheKey.activeUser(prefix, workspaceID: workspace.id, keycloakUserID: link.keycloakUserID).value))
        XCTAssertTrue((1...33_000).contains(negativeTTL), "\(negativeTTL)")
        XCTAssertTrue((270_000...330_000).contains(positiveTTL), "\(positiveTTL)")

        // Values are the documented JSON, with the version, and never a secret.
        let raw = try await harness.redis.send(RedisCommand("GET", JiraCacheKey.workspace(prefix, cloudID: workspace.jiraCloudID).value)).string ?? ""
        XCTAssertTrue(raw.hasPrefix("{\"value\":{") || raw.hasPrefix("{\"version\":"), raw)
        XCTAssertTrue(raw.contains("\"version\":\(workspace.version)"), raw)
        XCTAssertFalse(raw.contains("enc:secret") || raw.contains("enc:key"), raw)
        let stats = cache.statistics
        XCTAssertEqual(stats.hits, 7)
        XCTAssertEqual(stats.misses, 7)

        // On the connection's executor (no hop per call) the answers are the same.
        let pinned = try await withTaskExecutorPreference(cache.redis.executor) {
            (try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID),
             try await cache.conversations(workspaceID: workspace.id, keycloakUserID: "nobody-\(link.id)", issueID: "1"))
        }
        XCTAssertEqual(pinned.0.source, .cache)
        XCTAssertEqual(pinned.0.value, second.value)
        XCTAssertEqual(pinned.1.source, .database)
        XCTAssertEqual(pinned.1.value, [])
    }

    func testEveryJobTypeRefreshesTheRightKeys() async throws {
        let harness = try await WorkerHarness()
        let cache = makeCache(harness)
        let running = harness.start()
        let cloud = "jobs-\(UUID().uuidString.prefix(8))"
        // Negative answers cached before the workspace exists.
        let before = try await cache.workspace(cloudID: cloud)
        XCTAssertNil(before.value)
        let created = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(cloud)))
        let workspaceID = Int64(try XCTUnwrap(created["workspace_id"] as? Int))
        let afterCreate = try await cache.workspace(cloudID: cloud)
        XCTAssertEqual(afterCreate.value?.id, workspaceID)
        XCTAssertEqual(afterCreate.version, Int64(try XCTUnwrap(created["version"] as? Int)))

        let user = "kc-\(cloud)"
        let noLink = try await cache.activeUser(workspaceID: workspaceID, keycloakUserID: user)
        XCTAssertNil(noLink.value)
        _ = try await harness.done(try await harness.enqueue("create_workspace_link", json(["workspace_id": workspaceID, "keycloak_user_id": user, "jira_user_id": "acc-1"])))
        let linked = try await cache.activeUser(workspaceID: workspaceID, keycloakUserID: user)
        XCTAssertEqual(linked.value?.jiraUserID, "acc-1")
        let byAccount = try await cache.activeUser(workspaceID: workspaceID, jiraUserID: "acc-1")
        XCTAssertNotNil(byAccount.value)

        // Re-linking with another Atlassian account refreshes the old account's key as well.
        _ = try await harness.done(try await harness.enqueue("create_workspace_link", json(["workspace_id": workspaceID, "keycloak_user_id": user, "jira_user_id": "acc-2"])))
        let oldAccount = try await cache.activeUser(workspaceID: workspaceID, jiraUserID: "acc-1")
        let newAccount = try await cache.activeUser(workspaceID: workspaceID, jiraUserID: "acc-2")
        XCTAssertNil(oldAccount.value)
        XCTAssertNotNil(newAccount.value)

        // Linking the user into a second workspace deactivates the first link: its key is refreshed.
        let otherCloud = cloud + "-b"
        let other = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(otherCloud)))
        let otherID = Int64(try XCTUnwrap(other["workspace_id"] as? Int))
        _ = try await harness.done(try await harness.enqueue("create_workspace_link", json(["workspace_id": otherID, "keycloak_user_id": user, "jira_user_id": "acc-2"])))
        let firstAfterMove = try await cache.activeUser(workspaceID: workspaceID, keycloakUserID: user)
        XCTAssertNil(firstAfterMove.value)
        let secondAfterMove = try await cache.activeUser(workspaceID: otherID, keycloakUserID: user)
        XCTAssertNotNil(secondAfterMove.value)

        // Status updates.
        _ = try await harness.done(try await harness.enqueue("update_user_status", json(["workspace_id": otherID, "keycloak_user_id": user, "status": "inactive"])))
        let statusOff = try await cache.activeUser(workspaceID: otherID, keycloakUserID: user)
        XCTAssertNil(statusOff.value)
        _ = try await harness.done(try await harness.enqueue("update_user_status", json(["workspace_id": otherID, "keycloak_user_id": user, "status": "active"])))
        let statusOn = try await cache.activeUser(workspaceID: otherID, keycloakUserID: user)
        XCTAssertNotNil(statusOn.value)

        // Conversations.
        let empty = try await cache.conversations(workspaceID: otherID, keycloakUserID: user, issueID: "77")
        XCTAssertEqual(empty.value, [])
        _ = try await harness.done(try await harness.enqueue("create_conversation", json(["workspace_id": otherID, "keycloak_user_id": user, "issue_id": "77", "issue_key": "P-77", "conversation_id": "conv-\(cloud)"])))
        let listed = try await cache.conversations(workspaceID: otherID, keycloakUserID: user, issueID: "77")
        XCTAssertEqual(listed.value.map(\.conversationID), ["conv-\(cloud)"])

        // update_workspace changing the cloud id refreshes both cloud-id keys.
        _ = try await harness.done(try await harness.enqueue("update_workspace", json(["workspace_id": workspaceID, "jira_cloud_id": cloud + "-moved"])))
        let oldCloud = try await cache.workspace(cloudID: cloud)
        let newCloud = try await cache.workspace(cloudID: cloud + "-moved")
        XCTAssertNil(oldCloud.value)
        XCTAssertEqual(newCloud.value?.id, workspaceID)

        // Re-registering under a new site name refreshes both name keys.
        let oldName = try await cache.workspace(name: "\(otherCloud).atlassian.net")
        XCTAssertEqual(oldName.value?.id, otherID)
        _ = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(otherCloud, name: "renamed-\(otherCloud).atlassian.net")))
        let oldNameAfter = try await cache.workspace(name: "\(otherCloud).atlassian.net")
        let newName = try await cache.workspace(name: "renamed-\(otherCloud).atlassian.net")
        XCTAssertNil(oldNameAfter.value)
        XCTAssertEqual(newName.value?.id, otherID)

        // Deactivation revokes at once: the cached active user is gone when the job is acknowledged.
        let cachedActive = try await cache.activeUser(workspaceID: otherID, keycloakUserID: user)
        XCTAssertEqual(cachedActive.source, .cache)
        XCTAssertNotNil(cachedActive.value)
        _ = try await harness.done(try await harness.enqueue("deactivate_workspace", json(["workspace_id": otherID])))
        let revoked = try await cache.activeUser(workspaceID: otherID, keycloakUserID: user)
        let revokedByAccount = try await cache.activeUser(workspaceID: otherID, jiraUserID: "acc-2")
        XCTAssertNil(revoked.value)
        XCTAssertNil(revokedByAccount.value)
        let workspaceState = try await cache.workspace(cloudID: otherCloud)
        XCTAssertEqual(workspaceState.value?.status, .inactive)

        // Reactivation (re-registering) makes the still-active links of that workspace visible again.
        _ = try await harness.done(try await harness.enqueue("create_workspace_link", json(["workspace_id": otherID, "keycloak_user_id": user + "-late", "jira_user_id": "acc-3"])))
        let lateWhileInactive = try await cache.activeUser(workspaceID: otherID, keycloakUserID: user + "-late")
        XCTAssertNil(lateWhileInactive.value)
        _ = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(otherCloud, name: "renamed-\(otherCloud).atlassian.net")))
        let lateAfterReactivation = try await cache.activeUser(workspaceID: otherID, keycloakUserID: user + "-late")
        XCTAssertNotNil(lateAfterReactivation.value)

        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
    }

    func testAStaleReaderCannotWriteBackAfterAnAcknowledgedChange() async throws {
        let harness = try await WorkerHarness()
        let cache = makeCache(harness)
        let (workspace, link) = try await seed(harness)
        let key = JiraCacheKey.activeUser(harness.keys.prefix, workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
        // A reader misses, reads the generation, then reads PostgreSQL: the link is active…
        let generation = try await harness.redis.send(RedisCommand("GET", key.generation)).string ?? "0"
        let stale = try await harness.store.read { try $0.activeUserLookup(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID) }
        XCTAssertNotNil(stale.value)
        // …meanwhile the workspace is deactivated and the job acknowledged…
        let running = harness.start()
        _ = try await harness.done(try await harness.enqueue("deactivate_workspace", json(["workspace_id": workspace.id])))
        _ = await harness.stop(running)
        // …then the slow reader tries to fill its stale answer: refused.
        let body = "{\"version\":\(stale.version),\"value\":null}"
        let filled = try await harness.redis.send(RedisCommand("EVAL", JiraCache.fillScript, 2, key.value, key.generation, generation, body, 60_000, Int64.max / 2))
        XCTAssertEqual(filled.integer, 0)
        let answer = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
        XCTAssertNil(answer.value)
        // A fill past its window is refused even with the right generation.
        let current = try await harness.redis.send(RedisCommand("GET", key.generation)).string ?? "0"
        let late = try await harness.redis.send(RedisCommand("EVAL", JiraCache.fillScript, 2, key.value, key.generation, current, body, 60_000, 1))
        XCTAssertEqual(late.integer, 0)
    }

    func testARedeliveredJobInvalidatesAgain() async throws {
        // A run committed the effect (and its inbox row with the cache keys) but died before its
        // acknowledgement; a reader filled the old answer in between. The redelivery must not
        // acknowledge without invalidating.
        let harness = try await WorkerHarness(claimTimeout: .milliseconds(200))
        let cache = makeCache(harness)
        let (workspace, link) = try await seed(harness)
        let primed = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
        XCTAssertNotNil(primed.value)
        try await harness.redis.send(RedisCommand("XGROUP", "CREATE", harness.keys.jobs, harness.keys.group, "0", "MKSTREAM"))
        let jobID = try await harness.enqueue("update_user_status", json(["workspace_id": workspace.id, "keycloak_user_id": link.keycloakUserID, "status": "inactive"]))
        _ = try await harness.redis.send(RedisCommand("XREADGROUP", "GROUP", harness.keys.group, "ghost", "COUNT", 1, "STREAMS", harness.keys.jobs, ">"))
        let key = JiraCacheKey.activeUser(harness.keys.prefix, workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
        try await harness.store.withTransaction { session in
            _ = try session.updateUserStatus(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID, status: .inactive)
            _ = try session.postgres.query("INSERT INTO jira_job_inbox (job_id, job_type, result, cache_keys) VALUES ($1, 'update_user_status', '{}', $2::text[])",
                                           jobID, [key.storedForm])
        }
        let staleHit = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
        XCTAssertEqual(staleHit.source, .cache)
        XCTAssertNotNil(staleHit.value, "the stale answer is still cached before the redelivery")
        let running = harness.start()
        _ = try await harness.done(jobID)
        try await harness.waitUntil("acknowledged") { try await harness.pendingCount() == 0 }
        _ = await harness.stop(running)
        let fresh = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
        XCTAssertNil(fresh.value)
    }

    func testLookupsFallBackToPostgresWhenRedisIsDown() async throws {
        let harness = try await WorkerHarness()
        let cache = makeCache(harness)
        let (workspace, link) = try await seed(harness)
        try TestRedis.stop()
        do {
            let user = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
            let conversations = try await cache.conversations(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID, issueID: "1")
            let byCloud = try await cache.workspace(cloudID: workspace.jiraCloudID)
            XCTAssertEqual(user.source, .fallback)
            XCTAssertEqual(user.value?.id, link.id)
            XCTAssertEqual(conversations.source, .fallback)
            XCTAssertEqual(byCloud.value?.id, workspace.id)
            XCTAssertEqual(cache.statistics.fallbacks, 3)
        } catch {
            try TestRedis.start()
            throw error
        }
        try TestRedis.start()
        let back = try await cache.activeUser(workspaceID: workspace.id, keycloakUserID: link.keycloakUserID)
        XCTAssertNotEqual(back.source, .fallback)
    }
}
