import JiraStore

/// A workspace reference in a payload: `"workspace_id"` (integer) or `"jira_cloud_id"` (string).
public enum WorkspaceReference: Sendable, Hashable {
    /// By row id.
    case id(Int64)
    /// By Atlassian cloud id.
    case cloudID(String)

    /// The row id, when referenced by id.
    public var workspaceID: Int64? { if case .id(let id) = self { return id } else { return nil } }
    /// The cloud id, when referenced by cloud id.
    public var cloudID: String? { if case .cloudID(let cloud) = self { return cloud } else { return nil } }
}

/// A validated job, ready to apply.
public struct JiraJob: Sendable, Hashable {
    /// The producer's idempotency key, 1–128 characters.
    public var id: String
    /// When the producer enqueued it, if it said so.
    public var enqueuedAt: Double?
    /// What to do.
    public var action: Action

    /// The six job types of the contract.
    /// Indirect: a job is copied several times on its way through a batch, and a boxed action
    /// costs one retain a copy instead of one per string.
    public indirect enum Action: Sendable, Hashable {
        /// `create_workspace`
        case createWorkspace(JiraWorkspaceRegistration)
        /// `update_workspace`
        case updateWorkspace(WorkspaceReference, JiraWorkspaceUpdate)
        /// `deactivate_workspace`
        case deactivateWorkspace(WorkspaceReference)
        /// `create_workspace_link`
        case createWorkspaceLink(WorkspaceReference, keycloakUserID: String, jiraUserID: String, status: JiraStatus)
        /// `update_user_status`
        case updateUserStatus(WorkspaceReference, keycloakUserID: String, status: JiraStatus)
        /// `create_conversation`
        case createConversation(WorkspaceReference, keycloakUserID: String, issueID: String, issueKey: String, conversationID: String, parentID: String?)
    }

    /// The contract's name of the job type.
    public var type: String {
        switch action {
        case .createWorkspace: return "create_workspace"
        case .updateWorkspace: return "update_workspace"
        case .deactivateWorkspace: return "deactivate_workspace"
        case .createWorkspaceLink: return "create_workspace_link"
        case .updateUserStatus: return "update_user_status"
        case .createConversation: return "create_conversation"
        }
    }

    /// Every job type of the contract.
    public static let types = ["create_workspace", "update_workspace", "deactivate_workspace", "create_workspace_link", "update_user_status", "create_conversation"]
}
