import Foundation
import JiraStore
import Postgres
import TestSupport
import XCTest

final class LinkTests: XCTestCase {
    func testCreateAndLookUpLinks() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        let user = unique("kc")
        let account = unique("acc")
        let link = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: account)
        XCTAssertEqual(link.status, .active)
        XCTAssertEqual(link.workspaceID, workspace.id)
        let byUser = try await store.activeUser(workspaceID: workspace.id, keycloakUserID: user)
        let byAccount = try await store.activeUser(workspaceID: workspace.id, jiraUserID: account)
        let byActive = try await store.userByActiveWorkspace(keycloakUserID: user)
        let any = try await store.user(keycloakUserID: user, workspaceID: workspace.id)
        XCTAssertEqual(byUser, link)
        XCTAssertEqual(byAccount, link)
        XCTAssertEqual(byActive, link)
        XCTAssertEqual(any, link)
        let noneByUser = try await store.activeUser(workspaceID: workspace.id, keycloakUserID: "nobody")
        let noneByAccount = try await store.activeUser(workspaceID: workspace.id, jiraUserID: "nobody")
        XCTAssertNil(noneByUser)
        XCTAssertNil(noneByAccount)
    }

    func testRecreatingALinkUpdatesAndReactivates() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        let user = unique("kc")
        let first = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: "old", status: .inactive)
        XCTAssertEqual(first.status, .inactive)
        let inactiveLookup = try await store.activeUser(workspaceID: workspace.id, keycloakUserID: user)
        XCTAssertNil(inactiveLookup)
        let second = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: "new")
        XCTAssertEqual(second.id, first.id)
        XCTAssertEqual(second.jiraUserID, "new")
        XCTAssertEqual(second.status, .active)
        XCTAssertGreaterThan(second.version, first.version)
    }

    func testActivatingALinkDeactivatesTheUsersOtherLink() async throws {
        let store = try await MigratedDatabase.store()
        let a = try await store.makeWorkspace()
        let b = try await store.makeWorkspace()
        let user = unique("kc")
        _ = try await store.createWorkspaceLink(workspaceID: a.id, keycloakUserID: user, jiraUserID: "acc")
        let change = try await store.withTransaction { try $0.createWorkspaceLink(workspaceID: b.id, keycloakUserID: user, jiraUserID: "acc") }
        XCTAssertEqual(change.deactivated.map(\.workspaceID), [a.id])
        let inA = try await store.user(keycloakUserID: user, workspaceID: a.id)
        let active = try await store.userByActiveWorkspace(keycloakUserID: user)
        XCTAssertEqual(inA?.status, .inactive)
        XCTAssertEqual(active?.workspaceID, b.id)
        // Re-activating A by status switches B off.
        let back = try await store.withTransaction { try $0.updateUserStatus(workspaceID: a.id, keycloakUserID: user, status: .active) }
        XCTAssertEqual(back.link.status, .active)
        XCTAssertEqual(back.deactivated.map(\.workspaceID), [b.id])
    }

    func testUpdateUserStatusIsScopedToTheWorkspace() async throws {
        let store = try await MigratedDatabase.store()
        let a = try await store.makeWorkspace()
        let b = try await store.makeWorkspace()
        let user = unique("kc")
        let linkInA = try await store.createWorkspaceLink(workspaceID: a.id, keycloakUserID: user, jiraUserID: "acc", status: .inactive)
        _ = try await store.createWorkspaceLink(workspaceID: b.id, keycloakUserID: user, jiraUserID: "acc")
        // The original system updated whichever row it found first; this must touch b's only.
        let updated = try await store.updateUserStatus(workspaceID: b.id, keycloakUserID: user, status: .inactive)
        XCTAssertEqual(updated.workspaceID, b.id)
        XCTAssertEqual(updated.status, .inactive)
        let inA = try await store.user(keycloakUserID: user, workspaceID: a.id)
        XCTAssertEqual(inA?.status, .inactive)
        XCTAssertEqual(inA?.version, linkInA.version, "a's link was not touched")
        await assertStoreError(.linkNotFound) { try await store.updateUserStatus(workspaceID: a.id, keycloakUserID: "stranger", status: .active) }
        await assertStoreError(.workspaceNotFound) { try await store.updateUserStatus(workspaceID: -1, keycloakUserID: user, status: .active) }
    }

    func testLinkToAMissingWorkspaceIsWorkspaceNotFound() async throws {
        let store = try await MigratedDatabase.store()
        await assertStoreError(.workspaceNotFound) {
            try await store.createWorkspaceLink(workspaceID: 9_876_543_210, keycloakUserID: unique("kc"), jiraUserID: "acc")
        }
        await assertStoreError(.invalidInput) {
            try await store.createWorkspaceLink(workspaceID: 1, keycloakUserID: "", jiraUserID: "acc")
        }
    }

    func testActiveLookupsRequireAnActiveWorkspace() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        let user = unique("kc")
        try await store.deactivateWorkspace(id: workspace.id)
        // A link created after the deactivation is stored, but the inactive workspace grants nothing.
        let link = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: "acc")
        XCTAssertEqual(link.status, .active)
        let byUser = try await store.activeUser(workspaceID: workspace.id, keycloakUserID: user)
        let byActive = try await store.userByActiveWorkspace(keycloakUserID: user)
        XCTAssertNil(byUser)
        XCTAssertNil(byActive)
    }

    func testConcurrentLinksOfOneUserEndWithExactlyOneActive() async throws {
        let configuration = try await MigratedDatabase.configuration.value
        let setup = JiraIntegrationStore(configuration: configuration)
        var workspaces: [Int64] = []
        for _ in 0..<8 { workspaces.append(try await setup.makeWorkspace().id) }
        for round in 0..<10 {
            let user = unique("kc-race-\(round)")
            try await withThrowingTaskGroup(of: Void.self) { group in
                for workspaceID in workspaces {
                    group.addTask {
                        // Each task has a connection of its own.
                        let store = JiraIntegrationStore(configuration: configuration)
                        _ = try await store.createWorkspaceLink(workspaceID: workspaceID, keycloakUserID: user, jiraUserID: "acc")
                        store.connection.close()
                    }
                }
                try await group.waitForAll()
            }
            let rows = try await setup.connection.query(
                "SELECT count(*) FILTER (WHERE status = 'active') AS active, count(*) AS total FROM jira_users WHERE keycloak_user_id = $1", [user])
            XCTAssertEqual(try rows[0].int64("active"), 1)
            XCTAssertEqual(try rows[0].int64("total"), Int64(workspaces.count))
        }
    }
}
