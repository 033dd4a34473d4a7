import Postgres

/// The Jira integration's data in PostgreSQL: workspaces, user links and conversations.
///
/// Each store uses one ``PostgresConnection`` (its own serial queue); use one store per lane
/// of work. Operations that change several rows run in one transaction. Errors are
/// ``JiraStoreError``s.
public final class JiraIntegrationStore: Sendable {
    /// The connection the store uses.
    public let connection: PostgresConnection

    /// Creates a store over a connection.
    public init(connection: PostgresConnection) { self.connection = connection }

    /// Creates a store with a connection of its own.
    public convenience init(configuration: PostgresConfiguration) {
        self.init(connection: PostgresConnection(configuration: configuration))
    }

    /// Runs `body` in one transaction; commits when it returns, rolls back when it throws.
    public func withTransaction<T: Sendable>(
        isolation: PostgresIsolation = .readCommitted,
        _ body: @escaping @Sendable (JiraStoreSession) throws -> T
    ) async throws -> T {
        try await mapErrors { try await self.connection.withTransaction(isolation: isolation) { try body(JiraStoreSession($0)) } }
    }

    /// Runs `body` outside a transaction: each statement commits on its own. For reads.
    public func read<T: Sendable>(_ body: @escaping @Sendable (JiraStoreSession) throws -> T) async throws -> T {
        try await mapErrors { try await self.connection.withSession { try body(JiraStoreSession($0)) } }
    }

    private func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PostgresError {
            throw JiraStoreError(classifying: error)
        }
    }

    // MARK: - Workspaces

    /// `create_workspace`: registers a workspace, or updates and reactivates the one with that cloud id.
    public func createWorkspace(_ registration: JiraWorkspaceRegistration) async throws -> JiraWorkspace {
        try await withTransaction { try $0.createWorkspace(registration).workspace }
    }

    /// `update_workspace`: changes the given fields; an unknown id is `workspaceNotFound`.
    public func updateWorkspace(id: Int64, _ update: JiraWorkspaceUpdate) async throws -> JiraWorkspace {
        try await withTransaction { try $0.updateWorkspace(id: id, update).workspace }
    }

    /// `deactivate_workspace`: the workspace and all of its links become inactive, atomically.
    @discardableResult
    public func deactivateWorkspace(id: Int64) async throws -> JiraWorkspaceChange {
        try await withTransaction { try $0.deactivateWorkspace(id: id) }
    }

    /// `get_workspace_by_id`.
    public func workspace(id: Int64) async throws -> JiraWorkspace? {
        try await read { try $0.workspace(id: id) }
    }

    /// `get_workspace_by_name`, case-insensitive.
    public func workspace(name: String) async throws -> JiraWorkspace? {
        try await read { try $0.workspace(name: name) }
    }

    /// `get_workspace_by_cloud_id`.
    public func workspace(cloudID: String) async throws -> JiraWorkspace? {
        try await read { try $0.workspace(cloudID: cloudID) }
    }

    // MARK: - User links

    /// `create_workspace_link`: links a user, or updates and re-activates the link; activating it
    /// deactivates the user's active link in any other workspace, in the same transaction.
    public func createWorkspaceLink(workspaceID: Int64, keycloakUserID: String, jiraUserID: String, status: JiraStatus = .active) async throws -> JiraUserLink {
        try await withTransaction {
            try $0.createWorkspaceLink(workspaceID: workspaceID, keycloakUserID: keycloakUserID, jiraUserID: jiraUserID, status: status).link
        }
    }

    /// `update_user_status`, scoped to that workspace.
    public func updateUserStatus(workspaceID: Int64, keycloakUserID: String, status: JiraStatus) async throws -> JiraUserLink {
        try await withTransaction { try $0.updateUserStatus(workspaceID: workspaceID, keycloakUserID: keycloakUserID, status: status).link }
    }

    /// `get_active_user`: the user's link if it and the workspace are active.
    public func activeUser(workspaceID: Int64, keycloakUserID: String) async throws -> JiraUserLink? {
        try await read { try $0.activeUser(workspaceID: workspaceID, keycloakUserID: keycloakUserID) }
    }

    /// `get_active_user_by_jira_account`: the active link of an Atlassian account.
    public func activeUser(workspaceID: Int64, jiraUserID: String) async throws -> JiraUserLink? {
        try await read { try $0.activeUser(workspaceID: workspaceID, jiraUserID: jiraUserID) }
    }

    /// `get_user_by_active_workspace`: the user's active link, wherever it is.
    public func userByActiveWorkspace(keycloakUserID: String) async throws -> JiraUserLink? {
        try await read { try $0.userByActiveWorkspace(keycloakUserID: keycloakUserID) }
    }

    /// `get_user`: the user's link to the workspace, whatever its status.
    public func user(keycloakUserID: String, workspaceID: Int64) async throws -> JiraUserLink? {
        try await read { try $0.user(keycloakUserID: keycloakUserID, workspaceID: workspaceID) }
    }

    // MARK: - Conversations

    /// `create_conversation`: needs an active link of the user in the workspace.
    public func createConversation(_ new: NewJiraConversation) async throws -> JiraConversation {
        try await read { try $0.createConversation(new) }
    }

    /// `get_user_conversations_by_issue_id`: newest first.
    public func conversations(workspaceID: Int64, keycloakUserID: String, issueID: String) async throws -> [JiraConversation] {
        try await read { try $0.conversations(workspaceID: workspaceID, keycloakUserID: keycloakUserID, issueID: issueID) }
    }
}
