import JiraStore

/// A cache key of the contract, under `<prefix>:cache:`. Every id component is escaped, so no
/// byte inside an id (a `:`, a `%`, a space, Unicode) can make two lookups share a key.
public struct JiraCacheKey: Sendable, Hashable, CustomStringConvertible {
    /// The lookup kinds and their key shapes.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// `<prefix>:cache:active-user:<workspace id>:<keycloak user id>`
        case activeUser = "active-user"
        /// `<prefix>:cache:active-jira-user:<workspace id>:<jira account id>`
        case activeJiraUser = "active-jira-user"
        /// `<prefix>:cache:conversations:<workspace id>:<keycloak user id>:<issue id>`
        case conversations
        /// `<prefix>:cache:workspace-by-cloud-id:<cloud id>`
        case workspaceByCloudID = "workspace-by-cloud-id"
        /// `<prefix>:cache:workspace-by-name:<site name, trimmed and lower-cased>`
        case workspaceByName = "workspace-by-name"
    }

    /// The lookup kind.
    public let kind: Kind
    /// The key without its prefix (`active-user:42:kc%3A1`), as the worker's inbox stores it.
    public let storedForm: String
    /// The prefix (`jira`).
    public let prefix: String

    private init(_ prefix: String, _ kind: Kind, _ components: [String]) {
        self.prefix = prefix
        self.kind = kind
        var stored = kind.rawValue
        for component in components {
            stored += ":"
            stored += Self.escape(component)
        }
        self.storedForm = stored
    }

    /// Rebuilds a key from its ``storedForm``; `nil` when the text is not one.
    public init?(prefix: String, storedForm: String) {
        guard let colon = storedForm.utf8.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let name = storedForm[..<colon]
        guard let kind = Kind.allCases.first(where: { name == $0.rawValue }) else { return nil }
        self.prefix = prefix
        self.kind = kind
        self.storedForm = storedForm
    }

    /// The key holding the cached answer.
    public var value: String { Self.join(prefix, ":cache:", storedForm) }
    /// The key holding the answer's generation, bumped by the worker on every change.
    public var generation: String { Self.join(prefix, ":cache:gen:", storedForm) }

    private static func join(_ first: String, _ second: String, _ third: String) -> String {
        var out = first
        out.reserveCapacity(first.utf8.count + second.utf8.count + third.utf8.count)
        out += second
        out += third
        return out
    }

    public var description: String { value }

    /// The key of "is this user linked and active in this workspace?".
    public static func activeUser(_ prefix: String, workspaceID: Int64, keycloakUserID: String) -> JiraCacheKey {
        JiraCacheKey(prefix, .activeUser, [String(workspaceID), keycloakUserID])
    }

    /// The key of "which active user is this Atlassian account in this workspace?".
    public static func activeJiraUser(_ prefix: String, workspaceID: Int64, jiraUserID: String) -> JiraCacheKey {
        JiraCacheKey(prefix, .activeJiraUser, [String(workspaceID), jiraUserID])
    }

    /// The key of "which conversations exist for this issue?".
    public static func conversations(_ prefix: String, workspaceID: Int64, keycloakUserID: String, issueID: String) -> JiraCacheKey {
        JiraCacheKey(prefix, .conversations, [String(workspaceID), keycloakUserID, issueID])
    }

    /// The key of a workspace by cloud id.
    public static func workspace(_ prefix: String, cloudID: String) -> JiraCacheKey {
        JiraCacheKey(prefix, .workspaceByCloudID, [cloudID])
    }

    /// The key of a workspace by site name (normalized as the store normalizes it).
    public static func workspace(_ prefix: String, name: String) -> JiraCacheKey {
        JiraCacheKey(prefix, .workspaceByName, [JiraWorkspace.normalizedName(name)])
    }

    /// Percent-encodes every byte of the UTF-8 form except `A-Z a-z 0-9 - _ . ~`. Injective, and
    /// the result never contains `:`.
    public static func escape(_ component: String) -> String {
        func unreserved(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                return true
            default:
                return false
            }
        }
        if component.utf8.allSatisfy(unreserved) { return component }  // the common case: nothing to escape
        var out: [UInt8] = []
        out.reserveCapacity(component.utf8.count * 3)
        for byte in component.utf8 {
            if unreserved(byte) {
                out.append(byte)
            } else {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(byte >> 4)])
                out.append(hex[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    private static let hex: [UInt8] = Array("0123456789ABCDEF".utf8)
}

import Foundation

extension JiraCacheKey {
    /// The keys whose answers a link change can alter: for the link and every link it
    /// (de)activated, the user's key and the account's key (old and new account).
    public static func affected(by change: JiraLinkChange, prefix: String) -> [JiraCacheKey] {
        var keys = linkKeys(change.link, prefix) + change.deactivated.flatMap { linkKeys($0, prefix) }
        if let previous = change.previousJiraUserID {
            keys.append(.activeJiraUser(prefix, workspaceID: change.link.workspaceID, jiraUserID: previous))
        }
        return keys
    }

    /// The keys a workspace change can alter: its cloud id and name keys (before and after), and
    /// the user and account keys of every link it deactivated or made visible again.
    public static func affected(by change: JiraWorkspaceChange, prefix: String) -> [JiraCacheKey] {
        var keys: [JiraCacheKey] = [.workspace(prefix, cloudID: change.workspace.jiraCloudID), .workspace(prefix, name: change.workspace.name)]
        if let previous = change.previous {
            if previous.jiraCloudID != change.workspace.jiraCloudID { keys.append(.workspace(prefix, cloudID: previous.jiraCloudID)) }
            if previous.name != change.workspace.name { keys.append(.workspace(prefix, name: previous.name)) }
        }
        return keys + (change.deactivated + change.reactivated).flatMap { linkKeys($0, prefix) }
    }

    /// The key a new conversation of this user and issue alters.
    public static func affectedByConversation(workspaceID: Int64, keycloakUserID: String, issueID: String, prefix: String) -> [JiraCacheKey] {
        [.conversations(prefix, workspaceID: workspaceID, keycloakUserID: keycloakUserID, issueID: issueID)]
    }

    private static func linkKeys(_ link: JiraUserLink, _ prefix: String) -> [JiraCacheKey] {
        [.activeUser(prefix, workspaceID: link.workspaceID, keycloakUserID: link.keycloakUserID),
         .activeJiraUser(prefix, workspaceID: link.workspaceID, jiraUserID: link.jiraUserID)]
    }
}
