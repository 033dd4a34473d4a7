import Foundation
import Postgres

/// An AI-agent conversation recorded for a Jira issue (table `jira_conversations`).
public struct JiraConversation: Sendable, Hashable, Codable {
    /// The row id.
    public var id: Int64
    /// The platform's conversation id, unique and non-empty.
    public var conversationID: String
    /// The Jira issue id.
    public var issueID: String
    /// The Jira issue key, for example `PROJ-42`.
    public var issueKey: String
    /// The conversation this one continues, if any.
    public var parentID: String?
    /// The row id of the user link (`jira_users.id`).
    public var linkID: Int64
    /// When the row was created.
    public var createdAt: Date
    /// When the row last changed.
    public var updatedAt: Date
    /// Increases on every change of the row.
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, version
        case conversationID = "conversation_id"
        case issueID = "issue_id"
        case issueKey = "issue_key"
        case parentID = "parent_id"
        case linkID = "jira_user_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(conversationID, forKey: .conversationID)
        try container.encode(issueID, forKey: .issueID)
        try container.encode(issueKey, forKey: .issueKey)
        try container.encode(parentID, forKey: .parentID)
        try container.encode(linkID, forKey: .linkID)
        try container.encode(JiraTimestamp.format(createdAt), forKey: .createdAt)
        try container.encode(JiraTimestamp.format(updatedAt), forKey: .updatedAt)
        try container.encode(version, forKey: .version)
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(Int64.self, forKey: .id)
        conversationID = try container.decode(String.self, forKey: .conversationID)
        issueID = try container.decode(String.self, forKey: .issueID)
        issueKey = try container.decode(String.self, forKey: .issueKey)
        parentID = try container.decodeIfPresent(String.self, forKey: .parentID)
        linkID = try container.decode(Int64.self, forKey: .linkID)
        createdAt = try JiraTimestamp.decode(container, .createdAt)
        updatedAt = try JiraTimestamp.decode(container, .updatedAt)
        version = try container.decode(Int64.self, forKey: .version)
    }

    static let columns = "id, conversation_id, issue_id, issue_key, parent_id, jira_user_id, created_at, updated_at, version"

    init(row: PostgresRow) throws {
        id = try row.int64("id")
        conversationID = try row.string("conversation_id")
        issueID = try row.string("issue_id")
        issueKey = try row.string("issue_key")
        parentID = try row.optionalString("parent_id")
        linkID = try row.int64("jira_user_id")
        createdAt = try row.date("created_at")
        updatedAt = try row.date("updated_at")
        version = try row.int64("version")
    }
}

/// What `create_conversation` records.
public struct NewJiraConversation: Sendable, Hashable {
    /// The workspace's row id.
    public var workspaceID: Int64
    /// The platform user; needs an active link in the workspace.
    public var keycloakUserID: String
    /// The Jira issue id.
    public var issueID: String
    /// The Jira issue key.
    public var issueKey: String
    /// The platform's conversation id; must not be empty.
    public var conversationID: String
    /// The conversation this one continues, if any.
    public var parentID: String?

    /// Creates the description of a new conversation.
    public init(workspaceID: Int64, keycloakUserID: String, issueID: String, issueKey: String, conversationID: String, parentID: String? = nil) {
        self.workspaceID = workspaceID
        self.keycloakUserID = keycloakUserID
        self.issueID = issueID
        self.issueKey = issueKey
        self.conversationID = conversationID
        self.parentID = parentID
    }
}
