import Foundation
import Postgres

/// Synchronous store operations on one PostgreSQL session.
///
/// ``JiraIntegrationStore`` hands one out inside `read` and `withTransaction`, so a caller (the
/// worker) can apply many operations, and record them in its inbox, in one transaction.
/// Every statement is parameterized. Errors are ``JiraStoreError``s.
public struct JiraStoreSession {
    /// The PostgreSQL session underneath, for statements of the caller's own (the worker's inbox).
    public let postgres: PostgresSession

    /// Wraps a PostgreSQL session.
    public init(_ postgres: PostgresSession) { self.postgres = postgres }

    /// The advisory-lock namespace that serializes link activation per platform user.
    static let userLockNamespace: Int32 = 0x4A55  // "JU"

    // MARK: - Workspaces

    /// The advisory-lock namespace that serializes registrations per cloud id.
    static let cloudLockNamespace: Int32 = 0x4A57  // "JW"

    /// Registers a workspace; a `jira_cloud_id` that exists is updated and reactivated instead.
    /// Concurrent registrations of one cloud id are serialized by an advisory lock, so
    /// ``JiraWorkspaceChange/previous`` is exactly the state this change replaced.
    public func createWorkspace(_ registration: JiraWorkspaceRegistration) throws -> JiraWorkspaceChange {
        _ = try Self.normalizedName(registration.name)
        try Self.require(registration.jiraCloudID, "jira_cloud_id")
        // A batch of one: the same locks, previous row and upsert (see `createWorkspaces`).
        guard let change = try createWorkspaces([registration])[0] else {
            throw JiraStoreError(code: .invalidInput, message: "the registration of \(registration.jiraCloudID) was not applied")
        }
        return change
    }

    /// Changes the given fields of a workspace. Setting `.inactive` deactivates its links too.
    public func updateWorkspace(id: Int64, _ update: JiraWorkspaceUpdate) throws -> JiraWorkspaceChange {
        if let cloudID = update.jiraCloudID { try Self.require(cloudID, "jira_cloud_id") }
        guard let previous = try query("SELECT \(JiraWorkspace.columns) FROM jira_workspaces WHERE id = $1 FOR UPDATE", id)
            .first.map(JiraWorkspace.init(row:)) else { throw Self.workspaceNotFound(id) }
        let rows = try query("""
            UPDATE jira_workspaces SET
                jira_cloud_id = COALESCE($2, jira_cloud_id), webhook_secret = COALESCE($3, webhook_secret),
                svc_acc_email = COALESCE($4, svc_acc_email), svc_acc_api_key = COALESCE($5, svc_acc_api_key),
                status = COALESCE($6, status)
            WHERE id = $1
            RETURNING \(JiraWorkspace.columns)
            """,
            id, update.jiraCloudID, update.webhookSecret?.revealed, update.serviceAccountEmail,
            update.serviceAccountAPIKey?.revealed, update.status?.rawValue)
        return try change(to: try JiraWorkspace(row: rows[0]), from: previous)
    }

    /// Makes a workspace and all of its links inactive. Call it inside a transaction.
    public func deactivateWorkspace(id: Int64) throws -> JiraWorkspaceChange {
        try updateWorkspace(id: id, JiraWorkspaceUpdate(status: .inactive))
    }

    /// Completes a workspace change: deactivating cascades to the links; reactivating reports the
    /// active links that count again.
    func change(to workspace: JiraWorkspace, from previous: JiraWorkspace?) throws -> JiraWorkspaceChange {
        var change = JiraWorkspaceChange(workspace: workspace, previous: previous, deactivated: [], reactivated: [])
        if workspace.status == .inactive {
            change.deactivated = try deactivateLinks(workspaceID: workspace.id)
        } else if previous?.status == .inactive {
            change.reactivated = try query("SELECT \(JiraUserLink.columns) FROM jira_users WHERE jira_workspace_id = $1 AND status = 'active'", workspace.id)
                .map(JiraUserLink.init(row:))
        }
        return change
    }

    private func deactivateLinks(workspaceID: Int64) throws -> [JiraUserLink] {
        try query("""
            UPDATE jira_users SET status = 'inactive' WHERE jira_workspace_id = $1 AND status = 'active'
            RETURNING \(JiraUserLink.columns)
            """, workspaceID).map(JiraUserLink.init(row:))
    }

    /// The workspace with that id.
    public func workspace(id: Int64) throws -> JiraWorkspace? {
        try query("SELECT \(JiraWorkspace.columns) FROM jira_workspaces WHERE id = $1", id).first.map(JiraWorkspace.init(row:))
    }

    /// The workspace with that site name, compared trimmed and case-insensitively.
    public func workspace(name: String) throws -> JiraWorkspace? {
        try query("SELECT \(JiraWorkspace.columns) FROM jira_workspaces WHERE name = $1", JiraWorkspace.normalizedName(name))
            .first.map(JiraWorkspace.init(row:))
    }

    /// The workspace with that Atlassian cloud id.
    public func workspace(cloudID: String) throws -> JiraWorkspace? {
        try query("SELECT \(JiraWorkspace.columns) FROM jira_workspaces WHERE jira_cloud_id = $1", cloudID)
            .first.map(JiraWorkspace.init(row:))
    }

    // MARK: - User links

    /// Links a user to a workspace, or updates and re-activates the existing link. Activating a
    /// link deactivates the user's active link in any other workspace; concurrent calls for one
    /// user are serialized by a transaction-scoped advisory lock. Call it inside a transaction.
    public func createWorkspaceLink(workspaceID: Int64, keycloakUserID: String, jiraUserID: String, status: JiraStatus = .active) throws -> JiraLinkChange {
        try Self.require(keycloakUserID, "keycloak_user_id")
        try Self.require(jiraUserID, "jira_user_id")
        try lockUser(keycloakUserID)
        let previous = try query("SELECT jira_user_id FROM jira_users WHERE jira_workspace_id = $1 AND keycloak_user_id = $2", workspaceID, keycloakUserID)
            .first?["jira_user_id"]
        let deactivated = status == .active ? try deactivateOtherLinks(keycloakUserID: keycloakUserID, keepingWorkspace: workspaceID) : []
        let rows = try query("""
            INSERT INTO jira_users (jira_workspace_id, keycloak_user_id, jira_user_id, status) VALUES ($1, $2, $3, $4)
            ON CONFLICT (jira_workspace_id, keycloak_user_id) DO UPDATE SET jira_user_id = EXCLUDED.jira_user_id, status = EXCLUDED.status
            RETURNING \(JiraUserLink.columns)
            """, workspaceID, keycloakUserID, jiraUserID, status.rawValue)
        return JiraLinkChange(link: try JiraUserLink(row: rows[0]), deactivated: deactivated,
                              previousJiraUserID: previous == jiraUserID ? nil : previous)
    }

    /// Sets the status of the user's link to that workspace (and of no other). Activating it
    /// deactivates the user's active link elsewhere. Call it inside a transaction.
    public func updateUserStatus(workspaceID: Int64, keycloakUserID: String, status: JiraStatus) throws -> JiraLinkChange {
        try lockUser(keycloakUserID)
        let deactivated = status == .active ? try deactivateOtherLinks(keycloakUserID: keycloakUserID, keepingWorkspace: workspaceID) : []
        let rows = try query("""
            UPDATE jira_users SET status = $3 WHERE jira_workspace_id = $1 AND keycloak_user_id = $2
            RETURNING \(JiraUserLink.columns)
            """, workspaceID, keycloakUserID, status.rawValue)
        guard let row = rows.first else {
            if try workspace(id: workspaceID) == nil { throw Self.workspaceNotFound(workspaceID) }
            throw JiraStoreError(code: .linkNotFound, message: "user \(keycloakUserID) has no link to workspace \(workspaceID)")
        }
        return JiraLinkChange(link: try JiraUserLink(row: row), deactivated: deactivated, previousJiraUserID: nil)
    }

    /// Serializes changes to one user's links until the transaction ends.
    private func lockUser(_ keycloakUserID: String) throws {
        _ = try query("SELECT pg_advisory_xact_lock($1, hashtext($2))", Self.userLockNamespace, keycloakUserID)
    }

    private func deactivateOtherLinks(keycloakUserID: String, keepingWorkspace workspaceID: Int64) throws -> [JiraUserLink] {
        try query("""
            UPDATE jira_users SET status = 'inactive'
            WHERE keycloak_user_id = $1 AND status = 'active' AND jira_workspace_id <> $2
            RETURNING \(JiraUserLink.columns)
            """, keycloakUserID, workspaceID).map(JiraUserLink.init(row:))
    }

    /// The user's link to the workspace if both the link and the workspace are active.
    public func activeUser(workspaceID: Int64, keycloakUserID: String) throws -> JiraUserLink? {
        try activeUserLookup(workspaceID: workspaceID, keycloakUserID: keycloakUserID).value
    }

    /// The active link of an Atlassian account in an active workspace (the webhook handler's
    /// question); the most recently changed one if several users share the account.
    public func activeUser(workspaceID: Int64, jiraUserID: String) throws -> JiraUserLink? {
        try activeUserLookup(workspaceID: workspaceID, jiraUserID: jiraUserID).value
    }

    /// The user's active link, whichever workspace it is in, if that workspace is active.
    public func userByActiveWorkspace(keycloakUserID: String) throws -> JiraUserLink? {
        try query("""
            SELECT \(Self.qualifiedLinkColumns) FROM jira_users u JOIN jira_workspaces w ON w.id = u.jira_workspace_id
            WHERE u.keycloak_user_id = $1 AND u.status = 'active' AND w.status = 'active'
            """, keycloakUserID).first.map(JiraUserLink.init(row:))
    }

    /// The user's link to the workspace, whatever its status.
    public func user(keycloakUserID: String, workspaceID: Int64) throws -> JiraUserLink? {
        try query("SELECT \(JiraUserLink.columns) FROM jira_users WHERE jira_workspace_id = $1 AND keycloak_user_id = $2", workspaceID, keycloakUserID)
            .first.map(JiraUserLink.init(row:))
    }



    // MARK: - Conversations

    /// Records a conversation. Needs an active link of the user in an active workspace.
    public func createConversation(_ new: NewJiraConversation) throws -> JiraConversation {
        try Self.require(new.conversationID, "conversation_id")
        let rows = try query("""
            INSERT INTO jira_conversations (conversation_id, issue_id, issue_key, parent_id, jira_user_id)
            SELECT $1, $2, $3, $4, u.id FROM jira_users u JOIN jira_workspaces w ON w.id = u.jira_workspace_id
            WHERE u.jira_workspace_id = $5 AND u.keycloak_user_id = $6 AND u.status = 'active' AND w.status = 'active'
            RETURNING \(JiraConversation.columns)
            """, new.conversationID, new.issueID, new.issueKey, new.parentID, new.workspaceID, new.keycloakUserID)
        if let row = rows.first { return try JiraConversation(row: row) }
        guard try workspace(id: new.workspaceID) != nil else { throw Self.workspaceNotFound(new.workspaceID) }
        guard try user(keycloakUserID: new.keycloakUserID, workspaceID: new.workspaceID) != nil else {
            throw JiraStoreError(code: .linkNotFound, message: "user \(new.keycloakUserID) has no link to workspace \(new.workspaceID)")
        }
        throw JiraStoreError(code: .linkInactive, message: "user \(new.keycloakUserID) is not active in workspace \(new.workspaceID)")
    }

    /// The conversations of the user's link to the workspace about an issue, newest first.
    public func conversations(workspaceID: Int64, keycloakUserID: String, issueID: String) throws -> [JiraConversation] {
        try query("""
            SELECT \(Self.qualifiedConversationColumns) FROM jira_conversations c JOIN jira_users u ON u.id = c.jira_user_id
            WHERE u.jira_workspace_id = $1 AND u.keycloak_user_id = $2 AND c.issue_id = $3
            ORDER BY c.created_at DESC, c.id DESC
            """, workspaceID, keycloakUserID, issueID).map(JiraConversation.init(row:))
    }

    // MARK: - Helpers

    /// Runs a statement, turning PostgreSQL errors into ``JiraStoreError``s.
    func query(_ sql: String, _ parameters: any PostgresEncodable...) throws -> PostgresRows {
        do {
            return try postgres.query(sql, parameters.map(\.postgresValue))
        } catch let error as PostgresError {
            throw JiraStoreError(classifying: error)
        }
    }

    static func normalizedName(_ name: String) throws -> String {
        let normalized = JiraWorkspace.normalizedName(name)
        try require(normalized, "name")
        return normalized
    }

    static func require(_ value: String, _ field: String) throws {
        if value.isEmpty { throw JiraStoreError(code: .invalidInput, message: "\(field) must not be empty") }
    }

    static func workspaceNotFound(_ id: Int64) -> JiraStoreError {
        JiraStoreError(code: .workspaceNotFound, message: "no workspace has id \(id)")
    }
}
