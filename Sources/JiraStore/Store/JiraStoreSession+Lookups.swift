import Foundation
import Postgres

/// A lookup's answer with the highest row version among the rows that decide it (0 when there
/// are none). A later change to any of those rows yields a higher version.
public struct Versioned<Value: Sendable>: Sendable {
    /// The answer.
    public var value: Value
    /// The highest version of the rows that decided it.
    public var version: Int64

    /// Creates a versioned answer.
    public init(value: Value, version: Int64) {
        self.value = value
        self.version = version
    }
}

extension Versioned: Equatable where Value: Equatable {}

/// The hot lookups, each one statement, with the version a cache stores next to the answer.
extension JiraStoreSession {
    /// The user's link if it and its workspace are active; versioned by the link and the workspace.
    public func activeUserLookup(workspaceID: Int64, keycloakUserID: String) throws -> Versioned<JiraUserLink?> {
        let rows = try query("""
            SELECT w.status AS workspace_status, w.version AS workspace_version, \(Self.qualifiedLinkColumns)
            FROM jira_workspaces w LEFT JOIN jira_users u ON u.jira_workspace_id = w.id AND u.keycloak_user_id = $2
            WHERE w.id = $1
            """, workspaceID, keycloakUserID)
        return try Self.activeLink(rows, linksVersion: nil)
    }

    /// The active link of an Atlassian account in an active workspace; versioned by the newest
    /// link change of the workspace and the workspace itself (a link can leave the account's set
    /// by changing account, so the account's own rows alone would not always grow).
    public func activeUserLookup(workspaceID: Int64, jiraUserID: String) throws -> Versioned<JiraUserLink?> {
        let rows = try query("""
            SELECT w.status AS workspace_status, w.version AS workspace_version,
                   (SELECT max(version) FROM jira_users WHERE jira_workspace_id = w.id) AS links_version,
                   \(Self.qualifiedLinkColumns)
            FROM jira_workspaces w LEFT JOIN LATERAL (
                SELECT * FROM jira_users WHERE jira_workspace_id = w.id AND jira_user_id = $2 AND status = 'active'
                ORDER BY version DESC LIMIT 1) u ON true
            WHERE w.id = $1
            """, workspaceID, jiraUserID)
        return try Self.activeLink(rows, linksVersion: "links_version")
    }

    /// The conversations of the user's link about an issue, newest first; versioned by the newest row.
    public func conversationsLookup(workspaceID: Int64, keycloakUserID: String, issueID: String) throws -> Versioned<[JiraConversation]> {
        let list = try conversations(workspaceID: workspaceID, keycloakUserID: keycloakUserID, issueID: issueID)
        return Versioned(value: list, version: list.map(\.version).max() ?? 0)
    }

    /// The workspace with that cloud id; versioned by its row, or when there is none by the
    /// database's newest version (a cloud id can move to another row and back).
    public func workspaceLookup(cloudID: String) throws -> Versioned<JiraWorkspace?> {
        try Self.workspaceOrNewest(try query("""
            SELECT w.*, (SELECT last_value FROM jira_row_version) AS newest_version
            FROM (SELECT 1) AS one LEFT JOIN jira_workspaces w ON w.jira_cloud_id = $1
            """, cloudID))
    }

    /// The workspace with that site name (trimmed, case-insensitive); versioned like
    /// ``workspaceLookup(cloudID:)``.
    public func workspaceLookup(name: String) throws -> Versioned<JiraWorkspace?> {
        try Self.workspaceOrNewest(try query("""
            SELECT w.*, (SELECT last_value FROM jira_row_version) AS newest_version
            FROM (SELECT 1) AS one LEFT JOIN jira_workspaces w ON w.name = $1
            """, JiraWorkspace.normalizedName(name)))
    }

    private static func workspaceOrNewest(_ rows: PostgresRows) throws -> Versioned<JiraWorkspace?> {
        let row = rows[0]
        guard row["id"] != nil else { return Versioned(value: nil, version: try row.int64("newest_version")) }
        let workspace = try JiraWorkspace(row: row)
        return Versioned(value: workspace, version: workspace.version)
    }

    static let qualifiedLinkColumns = qualified(JiraUserLink.columns, "u")
    static let qualifiedConversationColumns = qualified(JiraConversation.columns, "c")

    /// A column list with every column prefixed by a table alias (`id, name` → `u.id, u.name`).
    private static func qualified(_ columns: String, _ alias: String) -> String {
        columns.split(separator: ",").map { "\(alias)." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
    }

    private static func activeLink(_ rows: PostgresRows, linksVersion: String?) throws -> Versioned<JiraUserLink?> {
        guard let row = rows.first else { return Versioned(value: nil, version: 0) }
        let workspaceVersion = try row.int64("workspace_version")
        let link = row["id"] == nil ? nil : try JiraUserLink(row: row)
        let linkVersion = try linksVersion.flatMap { try row.optionalString($0) }.flatMap { Int64($0) } ?? link?.version ?? 0
        let active = try row.string("workspace_status") == JiraStatus.active.rawValue && link?.status == .active
        return Versioned(value: active ? link : nil, version: max(workspaceVersion, linkVersion))
    }
}
