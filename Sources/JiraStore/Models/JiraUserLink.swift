import Foundation
import Postgres

/// A platform user linked to a workspace (table `jira_users`).
public struct JiraUserLink: Sendable, Hashable, Codable {
    /// The row id; conversations refer to it as `jira_user_id`.
    public var id: Int64
    /// The platform (Keycloak) user id.
    public var keycloakUserID: String
    /// The Atlassian account id.
    public var jiraUserID: String
    /// The workspace's row id.
    public var workspaceID: Int64
    /// Whether the link is in force.
    public var status: JiraStatus
    /// When the row was created.
    public var createdAt: Date
    /// When the row last changed.
    public var updatedAt: Date
    /// Increases on every change of the row.
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, status, version
        case keycloakUserID = "keycloak_user_id"
        case jiraUserID = "jira_user_id"
        case workspaceID = "jira_workspace_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(keycloakUserID, forKey: .keycloakUserID)
        try container.encode(jiraUserID, forKey: .jiraUserID)
        try container.encode(workspaceID, forKey: .workspaceID)
        try container.encode(status, forKey: .status)
        try container.encode(JiraTimestamp.format(createdAt), forKey: .createdAt)
        try container.encode(JiraTimestamp.format(updatedAt), forKey: .updatedAt)
        try container.encode(version, forKey: .version)
    }

    /// Creates a link value.
    public init(id: Int64, keycloakUserID: String, jiraUserID: String, workspaceID: Int64, status: JiraStatus,
                createdAt: Date, updatedAt: Date, version: Int64) {
        self.id = id
        self.keycloakUserID = keycloakUserID
        self.jiraUserID = jiraUserID
        self.workspaceID = workspaceID
        self.status = status
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        keycloakUserID = try container.decode(String.self, forKey: .keycloakUserID)
        jiraUserID = try container.decode(String.self, forKey: .jiraUserID)
        workspaceID = try container.decode(Int64.self, forKey: .workspaceID)
        status = try container.decode(JiraStatus.self, forKey: .status)
        createdAt = try JiraTimestamp.decode(container, .createdAt)
        updatedAt = try JiraTimestamp.decode(container, .updatedAt)
        version = try container.decode(Int64.self, forKey: .version)
    }

    static let columns = "id, keycloak_user_id, jira_user_id, jira_workspace_id, status, created_at, updated_at, version"

    init(row: PostgresRow) throws {
        id = try row.int64("id")
        keycloakUserID = try row.string("keycloak_user_id")
        jiraUserID = try row.string("jira_user_id")
        workspaceID = try row.int64("jira_workspace_id")
        status = try JiraStatus(row: row)
        createdAt = try row.date("created_at")
        updatedAt = try row.date("updated_at")
        version = try row.int64("version")
    }
}

/// The outcome of a change that may switch links on or off: the link itself, and every link
/// the change deactivated as a consequence (the user's active link in another workspace). A
/// cache refreshes all of them.
public struct JiraLinkChange: Sendable, Hashable {
    /// The link that was created or changed.
    public var link: JiraUserLink
    /// Other links the same transaction deactivated.
    public var deactivated: [JiraUserLink]
    /// The link's Atlassian account before the change, when it had one and it changed.
    public var previousJiraUserID: String?
}

/// The outcome of a workspace change: the workspace before and after, and the links whose
/// "active" answer changed with it.
public struct JiraWorkspaceChange: Sendable, Hashable {
    /// The workspace after the change.
    public var workspace: JiraWorkspace
    /// The workspace before the change; `nil` when the change created it.
    public var previous: JiraWorkspace?
    /// Links the same transaction deactivated.
    public var deactivated: [JiraUserLink]
    /// Active links that became visible again because the workspace was reactivated.
    public var reactivated: [JiraUserLink]

    /// Whether the change created the workspace.
    public var created: Bool { previous == nil }
}
