import Foundation
import JiraStore
import Postgres
import TestSupport
import XCTest

final class WorkspaceTests: XCTestCase {
    func testCreateNormalizesNameAndKeepsFields() async throws {
        let store = try await MigratedDatabase.store()
        let cloudID = unique("cloud")
        let host = unique("Acme") + ".Atlassian.NET"
        let workspace = try await store.createWorkspace(JiraWorkspaceRegistration(
            jiraCloudID: cloudID, name: "  \(host)\n", adminUserID: "admin-1", webhookSecret: Secret("enc:w"),
            serviceAccountEmail: "svc@acme.test", serviceAccountAPIKey: Secret("enc:k")))
        XCTAssertEqual(workspace.name, host.lowercased())
        XCTAssertEqual(workspace.jiraCloudID, cloudID)
        XCTAssertEqual(workspace.adminUserID, "admin-1")
        XCTAssertEqual(workspace.webhookSecret?.revealed, "enc:w")
        XCTAssertEqual(workspace.serviceAccountAPIKey?.revealed, "enc:k")
        XCTAssertEqual(workspace.serviceAccountEmail, "svc@acme.test")
        XCTAssertEqual(workspace.status, .active)
        XCTAssertEqual(workspace.createdAt, workspace.updatedAt)

        let byID = try await store.workspace(id: workspace.id)
        let byName = try await store.workspace(name: " \(host.uppercased()) ")
        let byCloud = try await store.workspace(cloudID: cloudID)
        XCTAssertEqual(byID, workspace)
        XCTAssertEqual(byName, workspace)
        XCTAssertEqual(byCloud, workspace)
        let missingByID = try await store.workspace(id: -1)
        let missingByName = try await store.workspace(name: "nope.example")
        let missingByCloud = try await store.workspace(cloudID: "nope")
        XCTAssertNil(missingByID)
        XCTAssertNil(missingByName)
        XCTAssertNil(missingByCloud)
    }

    func testReRegisteringACloudIDUpdatesAndReactivates() async throws {
        let store = try await MigratedDatabase.store()
        let first = try await store.makeWorkspace()
        try await store.deactivateWorkspace(id: first.id)
        let again = try await store.createWorkspace(JiraWorkspaceRegistration(
            jiraCloudID: first.jiraCloudID, name: first.name, adminUserID: "new-admin", webhookSecret: Secret("enc:new"),
            serviceAccountEmail: "new@example.com", serviceAccountAPIKey: Secret("enc:newkey")))
        XCTAssertEqual(again.id, first.id)
        XCTAssertEqual(again.status, .active)
        XCTAssertEqual(again.adminUserID, "new-admin")
        XCTAssertEqual(again.webhookSecret?.revealed, "enc:new")
        XCTAssertGreaterThan(again.version, first.version)
        XCTAssertGreaterThanOrEqual(again.updatedAt, first.updatedAt)
    }

    func testSecondCloudIDWithTheSameNameIsAConflict() async throws {
        let store = try await MigratedDatabase.store()
        let first = try await store.makeWorkspace()
        await assertStoreError(.conflict) {
            try await store.createWorkspace(JiraWorkspaceRegistration(
                jiraCloudID: unique("cloud"), name: first.name.uppercased(), adminUserID: "a", webhookSecret: nil,
                serviceAccountEmail: nil, serviceAccountAPIKey: nil))
        }
        await assertStoreError(.invalidInput) {
            try await store.createWorkspace(JiraWorkspaceRegistration(
                jiraCloudID: unique("cloud"), name: "   ", adminUserID: "a", webhookSecret: nil,
                serviceAccountEmail: nil, serviceAccountAPIKey: nil))
        }
    }

    func testSetBasedRegistrationsMatchOneByOne() async throws {
        let store = try await MigratedDatabase.store()
        let returning = try await store.makeWorkspace()
        let user = unique("kc")
        _ = try await store.createWorkspaceLink(workspaceID: returning.id, keycloakUserID: user, jiraUserID: "acc")
        _ = try await store.deactivateWorkspace(id: returning.id)
        let newCloud = unique("cloud"), newName = unique("New") + ".example"
        @Sendable func registration(_ cloud: String, _ name: String, status: JiraStatus = .active) -> JiraWorkspaceRegistration {
            JiraWorkspaceRegistration(jiraCloudID: cloud, name: name, adminUserID: "admin-2", webhookSecret: Secret("enc:s"),
                                      serviceAccountEmail: nil, serviceAccountAPIKey: Secret("enc:k"), status: status)
        }
        let changes = try await store.withTransaction { session in
            try session.createWorkspaces([
                registration(unique("cloud"), "  "),  // no name: not applied, left to the caller
                registration(returning.jiraCloudID, returning.name.uppercased()),
                registration(newCloud, " \(newName) "),
            ])
        }
        XCTAssertNil(changes[0])
        let again = try XCTUnwrap(changes[1])
        XCTAssertFalse(again.created)
        XCTAssertEqual(again.workspace.id, returning.id)
        XCTAssertEqual(again.workspace.status, .active)
        XCTAssertEqual(again.workspace.adminUserID, "admin-2")
        XCTAssertEqual(again.previous?.status, .inactive)
        XCTAssertEqual(again.reactivated, [], "its links were deactivated with it, and stay so, as one by one")
        let created = try XCTUnwrap(changes[2])
        XCTAssertTrue(created.created)
        XCTAssertEqual(created.workspace.name, newName.lowercased())
        XCTAssertEqual(created.workspace.webhookSecret?.revealed, "enc:s")
        let stored = try await store.workspace(cloudID: newCloud)
        XCTAssertEqual(stored, created.workspace)

        // Registering as inactive cascades to the links, as one by one; a name another cloud id
        // holds fails the whole statement.
        let other = unique("kc")
        _ = try await store.createWorkspaceLink(workspaceID: created.workspace.id, keycloakUserID: other, jiraUserID: "acc")
        let inactive = try await store.withTransaction { try $0.createWorkspaces([registration(newCloud, newName, status: .inactive)]) }
        XCTAssertEqual(inactive[0]?.deactivated.map(\.keycloakUserID), [other])
        let link = try await store.user(keycloakUserID: other, workspaceID: created.workspace.id)
        XCTAssertEqual(link?.status, .inactive)
        await assertStoreError(.conflict) {
            _ = try await store.withTransaction { try $0.createWorkspaces([registration(unique("cloud"), returning.name)]) }
        }
    }

    func testUpdateChangesOnlyGivenFields() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        let newCloud = unique("cloud")
        let updated = try await store.updateWorkspace(id: workspace.id, JiraWorkspaceUpdate(jiraCloudID: newCloud, webhookSecret: Secret("enc:rotated")))
        XCTAssertEqual(updated.jiraCloudID, newCloud)
        XCTAssertEqual(updated.webhookSecret?.revealed, "enc:rotated")
        XCTAssertEqual(updated.serviceAccountAPIKey, workspace.serviceAccountAPIKey)
        XCTAssertEqual(updated.serviceAccountEmail, workspace.serviceAccountEmail)
        XCTAssertEqual(updated.name, workspace.name)
        XCTAssertGreaterThan(updated.version, workspace.version)
        await assertStoreError(.workspaceNotFound) { try await store.updateWorkspace(id: 9_999_999_999, JiraWorkspaceUpdate(status: .inactive)) }
    }

    func testUpdateToInactiveDeactivatesLinks() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        let user = unique("kc")
        _ = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: "acc")
        _ = try await store.updateWorkspace(id: workspace.id, JiraWorkspaceUpdate(status: .inactive))
        let link = try await store.user(keycloakUserID: user, workspaceID: workspace.id)
        XCTAssertEqual(link?.status, .inactive)
    }

    func testDeactivateWorkspaceDeactivatesAllLinksAtOnce() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        var users: [String] = []
        for _ in 0..<5 {
            let user = unique("kc")
            users.append(user)
            _ = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: unique("acc"))
        }
        let change = try await store.deactivateWorkspace(id: workspace.id)
        XCTAssertEqual(change.workspace.status, .inactive)
        XCTAssertEqual(Set(change.deactivated.map(\.keycloakUserID)), Set(users))
        for user in users {
            let active = try await store.activeUser(workspaceID: workspace.id, keycloakUserID: user)
            XCTAssertNil(active)
            let link = try await store.user(keycloakUserID: user, workspaceID: workspace.id)
            XCTAssertEqual(link?.status, .inactive)
        }
        await assertStoreError(.workspaceNotFound) { try await store.deactivateWorkspace(id: -5) }
    }

    func testSecretsNeverPrint() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace(secret: "TOPSECRET-webhook", apiKey: "TOPSECRET-apikey")
        var dumped = ""
        dump(workspace, to: &dumped)
        let json = String(decoding: try JSONEncoder().encode(workspace), as: UTF8.self)
        for text in [String(describing: workspace), String(reflecting: workspace), "\(workspace)", dumped, json,
                     "\(workspace.webhookSecret!)", String(reflecting: workspace.serviceAccountAPIKey!)] {
            XCTAssertFalse(text.contains("TOPSECRET"), text)
        }
        XCTAssertTrue(json.contains(workspace.jiraCloudID))
    }

    func testCheckViolationErrorsDoNotEchoTheRow() async throws {
        let store = try await MigratedDatabase.store()
        do {
            // Straight SQL, past the Swift API's typed status: the database's CHECK still holds.
            _ = try await store.connection.query(
                "INSERT INTO jira_workspaces (jira_cloud_id, name, admin_user_id, webhook_secret, status) VALUES ($1, $2, 'a', 'LEAKME-secret', 'paused')",
                [unique("cloud"), unique("site")])
            XCTFail("a bad status was stored")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "23514")
            XCTAssertEqual(error.constraint, "jira_workspaces_status_check")
            let storeError = JiraStoreError(classifying: error)
            XCTAssertEqual(storeError.code, .invalidInput)
            XCTAssertFalse(String(describing: storeError).contains("LEAKME"))
            XCTAssertNil(storeError.underlying?.detail)
        }
    }
}
