import Foundation
import JiraCache
import JiraStore
import JiraWorker
import Postgres
import Redis
import Synchronization
import TestSupport
import XCTest

/// Randomized: readers doing read-through lookups while writers push link, status,
/// deactivation, re-registration and conversation jobs through the real worker in random order.
final class CacheCoherenceTests: XCTestCase {
    /// The lookups of the test's small universe.
    enum Probe: Hashable, Sendable {
        case activeUser(Int64, String)
        case activeJiraUser(Int64, String)
        case conversations(Int64, String, String)
        case workspace(String)
    }

    /// For each probe, the lowest version a lookup may return: the version of the last
    /// acknowledged job that changed its answer.
    final class Floors: Sendable {
        private let floors = Mutex<[Probe: Int64]>([:])
        func raise(_ probe: Probe, to version: Int64) {
            floors.withLock { $0[probe] = max($0[probe] ?? 0, version) }
        }
        func floor(_ probe: Probe) -> Int64 { floors.withLock { $0[probe] ?? 0 } }
    }

    /// State the reader and writer tasks share.
    final class Shared: Sendable {
        let violations = Mutex<Set<String>>([])
        let stop = Atomic<Bool>(false)
        let reads = Atomic<Int>(0)
    }

    func testRandomizedConcurrentReadersAndWritersStayCoherent() async throws {
        let harness = try await WorkerHarness(lanes: 2, batch: 16, maxAttempts: 3)
        let running = harness.start()
        let tag = UUID().uuidString.prefix(6)
        let clouds = (0..<3).map { "coh-\(tag)-\($0)" }
        var workspaceIDs: [Int64] = []
        for cloud in clouds {
            let done = try await harness.done(try await harness.enqueue("create_workspace", workspacePayload(cloud)))
            workspaceIDs.append(Int64(try XCTUnwrap(done["workspace_id"] as? Int)))
        }
        let users = (0..<5).map { "u:\(tag) \($0)" }
        let accounts = (0..<3).map { "acc-\($0)" }
        let issues = ["1", "2"]
        var probes: [Probe] = clouds.map(Probe.workspace)
        for workspace in workspaceIDs {
            for user in users {
                probes.append(.activeUser(workspace, user))
                for issue in issues { probes.append(.conversations(workspace, user, issue)) }
            }
            for account in accounts { probes.append(.activeJiraUser(workspace, account)) }
        }
        let allProbes = probes
        let floors = Floors()
        let shared = Shared()
        let ids = workspaceIDs
        let cacheConfiguration = harness.configuration.cache

        @Sendable func lookup(_ cache: JiraCache, _ probe: Probe) async throws -> (json: String, version: Int64) {
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            switch probe {
            case .activeUser(let workspace, let user):
                let answer = try await cache.activeUser(workspaceID: workspace, keycloakUserID: user)
                return (String(decoding: try encoder.encode(answer.value), as: UTF8.self), answer.version)
            case .activeJiraUser(let workspace, let account):
                let answer = try await cache.activeUser(workspaceID: workspace, jiraUserID: account)
                return (String(decoding: try encoder.encode(answer.value), as: UTF8.self), answer.version)
            case .conversations(let workspace, let user, let issue):
                let answer = try await cache.conversations(workspaceID: workspace, keycloakUserID: user, issueID: issue)
                return (String(decoding: try encoder.encode(answer.value), as: UTF8.self), answer.version)
            case .workspace(let cloud):
                let answer = try await cache.workspace(cloudID: cloud)
                return (String(decoding: try encoder.encode(answer.value), as: UTF8.self), answer.version)
            }
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            // Readers: read-through lookups; each must be at least as new as the floor it saw before asking.
            for _ in 0..<4 {
                group.addTask {
                    let cache = JiraCache(redis: RedisConnection(configuration: harness.configuration.redis), store: JiraIntegrationStore(configuration: harness.configuration.postgres), configuration: cacheConfiguration)
                    while !shared.stop.load(ordering: .relaxed) {
                        let probe = allProbes.randomElement()!
                        let floor = floors.floor(probe)
                        let answer = try await lookup(cache, probe)
                        shared.reads.add(1, ordering: .relaxed)
                        if answer.version < floor {
                            shared.violations.withLock { _ = $0.insert("\(probe): version \(answer.version) < acknowledged \(floor)") }
                        }
                    }
                }
            }
            // Writers: random jobs, each waited for (acknowledged) before its floor is raised.
            for writer in 0..<3 {
                group.addTask {
                    for round in 0..<40 {
                        let index = Int.random(in: 0..<ids.count)
                        let workspace = ids[index]
                        let user = users.randomElement()!
                        let account = accounts.randomElement()!
                        let id = "w\(writer)-\(round)-\(tag)"
                        switch Int.random(in: 0..<10) {
                        case 0..<4:
                            let status = Bool.random() ? "active" : "inactive"
                            try await harness.enqueue("create_workspace_link", json(["workspace_id": workspace, "keycloak_user_id": user, "jira_user_id": account, "status": status]), id: id)
                            let result = try await harness.result(id)
                            if let body = result["result"] as? [String: Any], let version = body["version"] as? Int {
                                floors.raise(.activeUser(workspace, user), to: Int64(version))
                                floors.raise(.activeJiraUser(workspace, account), to: Int64(version))
                            }
                        case 4..<6:
                            try await harness.enqueue("update_user_status", json(["workspace_id": workspace, "keycloak_user_id": user, "status": Bool.random() ? "active" : "inactive"]), id: id)
                            let result = try await harness.result(id)
                            if let body = result["result"] as? [String: Any], let version = body["version"] as? Int {
                                floors.raise(.activeUser(workspace, user), to: Int64(version))
                            }
                        case 6:
                            try await harness.enqueue("deactivate_workspace", json(["workspace_id": workspace]), id: id)
                            let body = try await harness.done(id)
                            floors.raise(.workspace(clouds[index]), to: Int64(body["version"] as? Int ?? 0))
                        case 7:
                            try await harness.enqueue("create_workspace", workspacePayload(clouds[index]), id: id)
                            let body = try await harness.done(id)
                            floors.raise(.workspace(clouds[index]), to: Int64(body["version"] as? Int ?? 0))
                        default:
                            let issue = issues.randomElement()!
                            try await harness.enqueue("create_conversation", json(["workspace_id": workspace, "keycloak_user_id": user, "issue_id": issue,
                                                                                   "issue_key": "P-\(issue)", "conversation_id": id]), id: id)
                            let result = try await harness.result(id)
                            if let body = result["result"] as? [String: Any], let version = body["version"] as? Int {
                                floors.raise(.conversations(workspace, user, issue), to: Int64(version))
                            }
                        }
                    }
                }
            }
            // Stop the readers once the writers are done.
            for _ in 0..<3 { try await group.next() }
            shared.stop.store(true, ordering: .relaxed)
            try await group.waitForAll()
        }
        let drained = await harness.stop(running)
        XCTAssertTrue(drained)
        XCTAssertEqual(shared.violations.withLock { $0 }.sorted(), [], "readers saw answers older than an acknowledged change")
        XCTAssertGreaterThan(shared.reads.load(ordering: .relaxed), 500)

        // Every cached entry equals PostgreSQL's answer.
        let checker = JiraCache(redis: RedisConnection(configuration: harness.configuration.redis), store: harness.store, configuration: cacheConfiguration)
        var compared = 0
        for probe in allProbes {
            let key: JiraCacheKey
            switch probe {
            case .activeUser(let workspace, let user): key = .activeUser(harness.keys.prefix, workspaceID: workspace, keycloakUserID: user)
            case .activeJiraUser(let workspace, let account): key = .activeJiraUser(harness.keys.prefix, workspaceID: workspace, jiraUserID: account)
            case .conversations(let workspace, let user, let issue): key = .conversations(harness.keys.prefix, workspaceID: workspace, keycloakUserID: user, issueID: issue)
            case .workspace(let cloud): key = .workspace(harness.keys.prefix, cloudID: cloud)
            }
            let cached = try await harness.redis.send(RedisCommand("GET", key.value))
            guard case .bulk = cached else { continue }
            let fromCache = try await lookup(checker, probe)
            try await harness.redis.send(RedisCommand("DEL", key.value))
            let fromDatabase = try await lookup(checker, probe)
            XCTAssertEqual(fromCache.json, fromDatabase.json, "\(probe)")
            compared += 1
        }
        XCTAssertGreaterThan(compared, 20)
        // Conversations for users without an active link are dead-lettered once their attempts run
        // out; nothing else may be.
        for letter in try await harness.deadLetters() {
            let error = String(decoding: letter.fields["error"] ?? [], as: UTF8.self)
            XCTAssertTrue(error.contains("link_not_found") || error.contains("link_inactive"), error)
        }
    }
}
