import Foundation

/// A type read from a ``JSONValue`` tree exactly as its `Decodable` conformance reads the same
/// JSON; `nil` where that conformance would throw (a missing member, a wrong type).
public protocol JSONTreeDecodable {
    /// Reads the value from a tree.
    init?(json: JSONValue)
}

extension Optional: JSONTreeDecodable where Wrapped: JSONTreeDecodable {
    /// `null` is `.none`; anything else must be a `Wrapped`.
    public init?(json: JSONValue) {
        if json.isNull {
            self = .none
        } else if let wrapped = Wrapped(json: json) {
            self = .some(wrapped)
        } else {
            return nil
        }
    }
}

extension Array: JSONTreeDecodable where Element: JSONTreeDecodable {
    /// An array whose every element is an `Element`.
    public init?(json: JSONValue) {
        guard case .array(let elements) = json else { return nil }
        var decoded: [Element] = []
        decoded.reserveCapacity(elements.count)
        for element in elements {
            guard let value = Element(json: element) else { return nil }
            decoded.append(value)
        }
        self = decoded
    }
}

extension JSONValue {
    fileprivate var date: Date? { string.flatMap(JiraTimestamp.parse) }
    fileprivate var status: JiraStatus? { string.flatMap(JiraStatus.init(rawValue:)) }
}

extension JiraUserLink: JSONTreeDecodable {
    /// Reads a link as its `Decodable` conformance does.
    public init?(json: JSONValue) {
        guard let id = json["id"]?.integer, let keycloakUserID = json["keycloak_user_id"]?.string,
              let jiraUserID = json["jira_user_id"]?.string, let workspaceID = json["jira_workspace_id"]?.integer,
              let status = json["status"]?.status, let createdAt = json["created_at"]?.date, let updatedAt = json["updated_at"]?.date,
              let version = json["version"]?.integer else { return nil }
        self.init(id: id, keycloakUserID: keycloakUserID, jiraUserID: jiraUserID, workspaceID: workspaceID, status: status,
                  createdAt: createdAt, updatedAt: updatedAt, version: version)
    }
}

extension JiraConversation: JSONTreeDecodable {
    /// Reads a conversation as its `Decodable` conformance does.
    public init?(json: JSONValue) {
        let parent = json["parent_id"] ?? .null  // optional: missing or null is none
        guard let id = json["id"]?.integer, let conversationID = json["conversation_id"]?.string,
              let issueID = json["issue_id"]?.string, let issueKey = json["issue_key"]?.string,
              parent.isNull || parent.string != nil,
              let linkID = json["jira_user_id"]?.integer, let createdAt = json["created_at"]?.date,
              let updatedAt = json["updated_at"]?.date, let version = json["version"]?.integer else { return nil }
        self.id = id
        self.conversationID = conversationID
        self.issueID = issueID
        self.issueKey = issueKey
        self.parentID = parent.string
        self.linkID = linkID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.version = version
    }
}

extension JiraWorkspaceSummary: JSONTreeDecodable {
    /// Reads a summary as its `Decodable` conformance does.
    public init?(json: JSONValue) {
        guard let id = json["id"]?.integer, let name = json["name"]?.string, let jiraCloudID = json["jira_cloud_id"]?.string,
              let status = json["status"]?.status, let version = json["version"]?.integer else { return nil }
        self.id = id
        self.name = name
        self.jiraCloudID = jiraCloudID
        self.status = status
        self.version = version
    }
}
