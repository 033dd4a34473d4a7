import Foundation
import JiraStore
import Postgres
import TestSupport
import XCTest

final class ConversationTests: XCTestCase {
    func testCreateAndListNewestFirst() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        let user = unique("kc")
        let link = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: "acc")
        var created: [JiraConversation] = []
        for index in 0..<3 {
            created.append(try await store.createConversation(NewJiraConversation(
                workspaceID: workspace.id, keycloakUserID: user, issueID: "10001", issueKey: "PROJ-1",
                conversationID: unique("conv"), parentID: index == 0 ? nil : created[0].conversationID)))
        }
        _ = try await store.createConversation(NewJiraConversation(
            workspaceID: workspace.id, keycloakUserID: user, issueID: "10002", issueKey: "PROJ-2", conversationID: unique("conv")))
        XCTAssertEqual(created[0].linkID, link.id)
        XCTAssertNil(created[0].parentID)
        XCTAssertEqual(created[1].parentID, created[0].conversationID)
        let listed = try await store.conversations(workspaceID: workspace.id, keycloakUserID: user, issueID: "10001")
        XCTAssertEqual(listed.map(\.id), created.reversed().map(\.id))
        let none = try await store.conversations(workspaceID: workspace.id, keycloakUserID: "nobody", issueID: "10001")
        XCTAssertEqual(none, [])
    }

    func testRulesForConversations() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        let user = unique("kc")
        func new(_ id: String, user: String = user, workspace: Int64 = workspace.id) -> NewJiraConversation {
            NewJiraConversation(workspaceID: workspace, keycloakUserID: user, issueID: "1", issueKey: "P-1", conversationID: id)
        }
        await assertStoreError(.linkNotFound) { try await store.createConversation(new(unique("conv"))) }
        await assertStoreError(.workspaceNotFound) { try await store.createConversation(new(unique("conv"), workspace: -3)) }
        _ = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: "acc", status: .inactive)
        await assertStoreError(.linkInactive) { try await store.createConversation(new(unique("conv"))) }
        _ = try await store.updateUserStatus(workspaceID: workspace.id, keycloakUserID: user, status: .active)
        await assertStoreError(.invalidInput) { try await store.createConversation(new("")) }
        let id = unique("conv")
        _ = try await store.createConversation(new(id))
        await assertStoreError(.conflict) { try await store.createConversation(new(id)) }
    }

    func testDatabaseConstraintsHoldBeneathTheAPI() async throws {
        let store = try await MigratedDatabase.store()
        // Foreign key: a conversation must point at an existing link.
        do {
            _ = try await store.connection.query(
                "INSERT INTO jira_conversations (conversation_id, issue_id, issue_key, jira_user_id) VALUES ($1, '1', 'P-1', -42)", [unique("conv")])
            XCTFail("dangling link accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "23503")
            XCTAssertEqual(error.constraint, "jira_conversations_jira_user_id_fkey")
        }
        // Check: the empty conversation id is refused by the database too.
        let workspace = try await store.makeWorkspace()
        let link = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: unique("kc"), jiraUserID: "acc")
        do {
            _ = try await store.connection.query(
                "INSERT INTO jira_conversations (conversation_id, issue_id, issue_key, jira_user_id) VALUES ('', '1', 'P-1', $1)", [link.id])
            XCTFail("empty conversation id accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.constraint, "jira_conversations_conversation_id_check")
        }
        // Check: a link status outside active/inactive.
        do {
            _ = try await store.connection.query("UPDATE jira_users SET status = 'banned' WHERE id = $1", [link.id])
            XCTFail("bad link status accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.constraint, "jira_users_status_check")
        }
        // Partial unique index: two active links of one user cannot coexist, even past the API.
        let other = try await store.makeWorkspace()
        do {
            _ = try await store.connection.query(
                "INSERT INTO jira_users (jira_workspace_id, keycloak_user_id, jira_user_id) VALUES ($1, $2, 'acc')", [other.id, link.keycloakUserID])
            XCTFail("second active link accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.constraint, "jira_users_one_active_link")
        }
    }

    func testHostileTextIsStoredVerbatim() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        let samples = ["'; DROP TABLE jira_users; --", "Robert'); DELETE FROM jira_workspaces WHERE ('1'='1", "$1 $2 \\' \"",
                       "emoji 😀👩🏽‍💻", "e\u{301} vs \u{e9}", "עברית العربية", "\u{202E}rtl-override", "tab\tnewline\nend"]
        for (index, sample) in samples.enumerated() {
            let user = sample + "-\(index)-" + unique("kc")
            let link = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: sample)
            XCTAssertEqual(link.keycloakUserID, user)
            XCTAssertEqual(link.jiraUserID, sample)
            let conversation = try await store.createConversation(NewJiraConversation(
                workspaceID: workspace.id, keycloakUserID: user, issueID: sample, issueKey: sample, conversationID: sample + unique("c")))
            let listed = try await store.conversations(workspaceID: workspace.id, keycloakUserID: user, issueID: sample)
            XCTAssertEqual(listed, [conversation])
            XCTAssertEqual(Array(listed[0].issueKey.unicodeScalars), Array(sample.unicodeScalars))
        }
        let tables = try await store.connection.query("SELECT count(*) AS n FROM pg_tables WHERE tablename LIKE 'jira_%'")
        XCTAssertEqual(try tables[0].int64("n"), 5)
    }

    func testNulByteIsAClearErrorNotACrash() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        await assertStoreError(.invalidInput) {
            try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: "nul\u{0}user", jiraUserID: "acc")
        }
        await assertStoreError(.invalidInput) {
            try await store.createWorkspace(JiraWorkspaceRegistration(
                jiraCloudID: "cloud\u{0}", name: unique("site"), adminUserID: "a", webhookSecret: nil, serviceAccountEmail: nil, serviceAccountAPIKey: nil))
        }
        // The store still works afterwards.
        let again = try await store.workspace(id: workspace.id)
        XCTAssertEqual(again?.id, workspace.id)
    }
}

final class ConversationBatchTests: XCTestCase {
    func testSetBasedConversationsRecordWhatCanBeRecordedInOrder() async throws {
        let store = try await MigratedDatabase.store()
        let workspace = try await store.makeWorkspace()
        let user = unique("kc")
        _ = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: user, jiraUserID: "acc")
        let inactive = unique("kc")
        _ = try await store.createWorkspaceLink(workspaceID: workspace.id, keycloakUserID: inactive, jiraUserID: "acc", status: .inactive)
        let taken = unique("conv")
        _ = try await store.createConversation(NewJiraConversation(workspaceID: workspace.id, keycloakUserID: user, issueID: "1", issueKey: "P-1", conversationID: taken))
        let same = unique("conv")
        func item(_ conversation: String, user: String = user, workspaceID: Int64? = nil, cloudID: String? = nil) -> JiraConversationBatchItem {
            JiraConversationBatchItem(workspaceID: cloudID == nil ? (workspaceID ?? workspace.id) : nil, cloudID: cloudID, keycloakUserID: user,
                                      issueID: "1", issueKey: "P-1", conversationID: conversation, parentID: nil)
        }
        let items = [
            item(unique("conv")),                                  // 0 recorded
            item(unique("conv"), cloudID: workspace.jiraCloudID),  // 1 recorded, by cloud id
            item(same),                                            // 2 recorded
            item(same),                                            // 3 same conversation id: not recorded
            item(taken),                                           // 4 already taken: not recorded
            item(unique("conv"), user: inactive),                  // 5 inactive link: not recorded
            item(unique("conv"), user: "nobody"),                  // 6 no link: not recorded
            item(unique("conv"), workspaceID: -1),                 // 7 no workspace: not recorded
            item(""),                                              // 8 empty id: not recorded
            item(unique("conv"), cloudID: "no-such-cloud"),        // 9 unknown cloud id: not recorded
        ]
        let recorded = try await store.withTransaction { try $0.createConversations(items) }
        XCTAssertEqual(Set(recorded.keys), [0, 1, 2])
        XCTAssertTrue(recorded.values.allSatisfy { $0.workspaceID == workspace.id })
        XCTAssertLessThan(recorded[0]!.id, recorded[1]!.id)
        XCTAssertLessThan(recorded[1]!.id, recorded[2]!.id)
        let listed = try await store.conversations(workspaceID: workspace.id, keycloakUserID: user, issueID: "1")
        XCTAssertEqual(listed.count, 4)
        XCTAssertEqual(listed.first?.id, recorded[2]!.id, "newest first")
        XCTAssertEqual(listed.first?.version, recorded[2]!.version)
        XCTAssertEqual(listed.first?.linkID, recorded[2]!.linkID)
    }
}
