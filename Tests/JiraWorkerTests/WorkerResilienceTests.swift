import Foundation
import JiraStore
import JiraWorker
import Postgres
import Redis
import TestSupport
import XCTest

/// The real `jira-worker` binary under signals, crashes and a PostgreSQL restart.
final class WorkerResilienceTests: XCTestCase {
    /// Enqueues a workspace, a link and `count` conversation jobs; returns the conversation job ids.
    func seed(_ harness: WorkerHarness, count: Int) async throws -> (cloud: String, jobs: [String]) {
        let cloud = "res-\(UUID().uuidString.prefix(8))"
        let workspace = try await harness.store.createWorkspace(JiraWorkspaceRegistration(
            jiraCloudID: cloud, name: "\(cloud).example", adminUserID: "a", webhookSecret: nil, serviceAccountEmail: nil, serviceAccountAPIKey: nil))
        _ = try await harness.store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: "kc-\(cloud)", jiraUserID: "a")
        let jobs = (0..<count).map { "\(cloud)-job-\($0)" }
        let envelopes = try jobs.enumerated().map { index, id in
            try JobQueue.envelope(type: "create_conversation", payload: json([
                "workspace_id": workspace.id, "keycloak_user_id": "kc-\(cloud)", "issue_id": "\(index % 7)", "issue_key": "P-\(index % 7)",
                "conversation_id": "\(cloud)-conv-\(index)"]), id: id)
        }
        _ = try await harness.queue.enqueue(envelopes: envelopes)
        return (cloud, jobs)
    }

    func appliedCount(_ harness: WorkerHarness, _ cloud: String) async throws -> Int {
        try await harness.count("SELECT count(*) AS n FROM jira_conversations WHERE conversation_id LIKE $1", ["\(cloud)-conv-%"])
    }

    /// Every job applied exactly once, nothing pending, nothing dead.
    func assertExactlyOnce(_ harness: WorkerHarness, _ cloud: String, count: Int, file: StaticString = #filePath, line: UInt = #line) async throws {
        let applied = try await appliedCount(harness, cloud)
        XCTAssertEqual(applied, count, "conversations", file: file, line: line)
        let inbox = try await harness.count("SELECT count(*) AS n FROM jira_job_inbox WHERE job_id LIKE $1", ["\(cloud)-job-%"])
        XCTAssertEqual(inbox, count, "inbox rows", file: file, line: line)
        let pending = try await harness.pendingCount()
        XCTAssertEqual(pending, 0, "pending entries", file: file, line: line)
        let dead = try await harness.deadLetters()
        XCTAssertEqual(dead.count, 0, "dead letters: \(dead.prefix(3).map { String(decoding: $0.fields["error"] ?? [], as: UTF8.self) })", file: file, line: line)
    }

    func testSIGTERMDrainsInFlightWorkAndExitsZero() async throws {
        let harness = try await WorkerHarness()
        let (cloud, _) = try await seed(harness, count: 3000)
        let worker = try TestProcess.worker(["run", "--consumer", "term-\(cloud)", "--batch", "200", "--lanes", "2"], environment: harness.environment)
        try await harness.waitUntil("the worker is applying jobs") { try await self.appliedCount(harness, cloud) > 200 }
        worker.signal(SIGTERM)
        let code = worker.wait(timeout: .seconds(25))
        XCTAssertEqual(code, 0, worker.log)
        // What it read, it finished and acknowledged: nothing of its own is left pending.
        let pending = try await harness.pendingCount()
        XCTAssertEqual(pending, 0)
        XCTAssertTrue(worker.log.contains("in-flight work acknowledged"), worker.log)
        // A second worker finishes the rest; every job exactly once.
        let second = try TestProcess.worker(["run", "--consumer", "term2-\(cloud)"], environment: harness.environment)
        try await harness.waitUntil("all applied") { try await self.appliedCount(harness, cloud) == 3000 }
        try await harness.waitUntil("all acknowledged") { try await harness.pendingCount() == 0 }
        second.signal(SIGTERM)
        XCTAssertEqual(second.wait(timeout: .seconds(25)), 0)
        try await assertExactlyOnce(harness, cloud, count: 3000)
    }

    func testSecondSignalExitsAtOnceAndNothingIsLost() async throws {
        let harness = try await WorkerHarness()
        let (cloud, _) = try await seed(harness, count: 2000)
        let worker = try TestProcess.worker(["run", "--consumer", "twice-\(cloud)", "--batch", "500", "--lanes", "1"], environment: harness.environment)
        try await harness.waitUntil("the worker is applying jobs") { try await self.appliedCount(harness, cloud) > 0 }
        worker.signal(SIGTERM)
        worker.signal(SIGTERM)
        let code = worker.wait(timeout: .seconds(5))
        XCTAssertNotNil(code, "a second signal exits at once")
        let replacement = try TestProcess.worker(["run", "--consumer", "twice-\(cloud)", "--claim-timeout", "1s"], environment: harness.environment)
        try await harness.waitUntil("all applied") { try await self.appliedCount(harness, cloud) == 2000 }
        try await harness.waitUntil("all acknowledged") { try await harness.pendingCount() == 0 }
        replacement.signal(SIGTERM)
        XCTAssertEqual(replacement.wait(timeout: .seconds(25)), 0)
        try await assertExactlyOnce(harness, cloud, count: 2000)
    }

    func testSIGKILLMidBatchLosesAndDuplicatesNothing() async throws {
        let harness = try await WorkerHarness()
        let (cloud, _) = try await seed(harness, count: 4000)
        var kills = 0
        // Kill workers repeatedly mid-stream; each replacement has a new name, so the dead ones'
        // pending entries are reclaimed after the claim timeout.
        while try await appliedCount(harness, cloud) < 2500 && kills < 4 {
            let worker = try TestProcess.worker(["run", "--consumer", "kill-\(kills)-\(cloud)", "--batch", "100", "--claim-timeout", "1s"], environment: harness.environment)
            let before = try await appliedCount(harness, cloud)
            try await harness.waitUntil("progress") { try await self.appliedCount(harness, cloud) > before + 300 }
            worker.signal(SIGKILL)
            XCTAssertEqual(worker.wait(timeout: .seconds(5)), 128 + SIGKILL)
            kills += 1
        }
        XCTAssertGreaterThan(kills, 0)
        let survivor = try TestProcess.worker(["run", "--consumer", "survivor-\(cloud)", "--claim-timeout", "1s"], environment: harness.environment)
        try await harness.waitUntil("all applied", timeout: .seconds(60)) { try await self.appliedCount(harness, cloud) == 4000 }
        try await harness.waitUntil("all acknowledged", timeout: .seconds(30)) { try await harness.pendingCount() == 0 }
        survivor.signal(SIGTERM)
        XCTAssertEqual(survivor.wait(timeout: .seconds(25)), 0, survivor.log)
        try await assertExactlyOnce(harness, cloud, count: 4000)
    }

    func testPostgresRestartWhileJobsFlowLosesAndDeadLettersNothing() async throws {
        let harness = try await WorkerHarness(batch: 50)
        let running = harness.start()
        let (cloud, _) = try await seed(harness, count: 1500)
        try await harness.waitUntil("the worker is applying jobs") { try await self.appliedCount(harness, cloud) > 100 }
        try TestPostgres.stop()
        do {
            try await Task.sleep(for: .seconds(2))
            try TestPostgres.start()
        } catch {
            try TestPostgres.start()
            throw error
        }
        try await harness.waitUntil("all applied", timeout: .seconds(60)) { try await self.appliedCount(harness, cloud) == 1500 }
        try await harness.waitUntil("all acknowledged") { try await harness.pendingCount() == 0 }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        try await assertExactlyOnce(harness, cloud, count: 1500)
    }

    func testRedisRestartWhileJobsFlowLosesNothing() async throws {
        let harness = try await WorkerHarness(batch: 50)
        let running = harness.start()
        let (cloud, _) = try await seed(harness, count: 1500)
        try await harness.waitUntil("the worker is applying jobs") { try await self.appliedCount(harness, cloud) > 100 }
        try TestRedis.restart()
        try await harness.waitUntil("all applied", timeout: .seconds(60)) { try await self.appliedCount(harness, cloud) == 1500 }
        try await harness.waitUntil("all acknowledged") { try await harness.pendingCount() == 0 }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        try await assertExactlyOnce(harness, cloud, count: 1500)
    }
}
