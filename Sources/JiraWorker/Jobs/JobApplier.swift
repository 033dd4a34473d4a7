import Foundation
import JiraCache
import JiraStore

/// What applying a job produced: the ids for the result key, and the cache keys it affected.
public struct AppliedJob: Sendable {
    /// `{"workspace_id": …, …}`: the ids the job created or touched.
    public var result: JobResultBody
    /// The cache keys whose answers the job may have changed.
    public var cacheKeys: [JiraCacheKey]
}

/// The `result` object of a done job.
public struct JobResultBody: Sendable, Hashable, Codable {
    /// The workspace the job concerned.
    public var workspaceID: Int64?
    /// For `create_workspace`: whether the workspace was new (false: re-registered).
    public var created: Bool?
    /// The link the job created or changed.
    public var linkID: Int64?
    /// How many links the job deactivated as a consequence.
    public var deactivatedLinks: Int?
    /// The conversation row id.
    public var conversationRowID: Int64?
    /// The conversation id.
    public var conversationID: String?
    /// The version of the row the job wrote (workspace, link or conversation).
    public var version: Int64?

    enum CodingKeys: String, CodingKey {
        case created
        case workspaceID = "workspace_id"
        case linkID = "link_id"
        case deactivatedLinks = "deactivated_links"
        case conversationRowID = "id"
        case conversationID = "conversation_id"
        case version
    }
}

/// Applies validated jobs through a store session.
enum JobApplier {
    static func apply(_ job: JiraJob, _ store: JiraStoreSession, prefix: String) throws -> AppliedJob {
        switch job.action {
        case .createWorkspace(let registration):
            return workspace(try store.createWorkspace(registration), prefix, reportCreated: true)
        case .updateWorkspace(let reference, let update):
            return workspace(try store.updateWorkspace(id: try resolve(reference, store), update), prefix)
        case .deactivateWorkspace(let reference):
            return workspace(try store.deactivateWorkspace(id: try resolve(reference, store)), prefix)
        case .createWorkspaceLink(let reference, let keycloakUserID, let jiraUserID, let status):
            let workspaceID = try resolve(reference, store)
            return link(try store.createWorkspaceLink(workspaceID: workspaceID, keycloakUserID: keycloakUserID, jiraUserID: jiraUserID, status: status), prefix)
        case .updateUserStatus(let reference, let keycloakUserID, let status):
            let workspaceID = try resolve(reference, store)
            return link(try store.updateUserStatus(workspaceID: workspaceID, keycloakUserID: keycloakUserID, status: status), prefix)
        case .createConversation(let reference, let keycloakUserID, let issueID, let issueKey, let conversationID, let parentID):
            let workspaceID = try resolve(reference, store)
            let conversation = try store.createConversation(NewJiraConversation(
                workspaceID: workspaceID, keycloakUserID: keycloakUserID, issueID: issueID, issueKey: issueKey,
                conversationID: conversationID, parentID: parentID))
            return AppliedJob(
                result: JobResultBody(workspaceID: workspaceID, linkID: conversation.linkID, conversationRowID: conversation.id,
                                      conversationID: conversation.conversationID, version: conversation.version),
                cacheKeys: JiraCacheKey.affectedByConversation(workspaceID: workspaceID, keycloakUserID: keycloakUserID, issueID: issueID, prefix: prefix))
        }
    }

    static func workspace(_ change: JiraWorkspaceChange, _ prefix: String, reportCreated: Bool = false) -> AppliedJob {
        AppliedJob(
            result: JobResultBody(workspaceID: change.workspace.id, created: reportCreated ? change.created : nil,
                                  deactivatedLinks: change.deactivated.count, version: change.workspace.version),
            cacheKeys: JiraCacheKey.affected(by: change, prefix: prefix))
    }

    private static func link(_ change: JiraLinkChange, _ prefix: String) -> AppliedJob {
        AppliedJob(
            result: JobResultBody(workspaceID: change.link.workspaceID, linkID: change.link.id,
                                  deactivatedLinks: change.deactivated.count, version: change.link.version),
            cacheKeys: JiraCacheKey.affected(by: change, prefix: prefix))
    }

    private static func resolve(_ reference: WorkspaceReference, _ store: JiraStoreSession) throws -> Int64 {
        switch reference {
        case .id(let id):
            return id
        case .cloudID(let cloudID):
            guard let workspace = try store.workspace(cloudID: cloudID) else {
                throw JiraStoreError(code: .workspaceNotFound, message: "no workspace has jira_cloud_id \(cloudID)")
            }
            return workspace.id
        }
    }
}

/// How a failed job continues.
enum JobFailure: Error {
    /// Can never succeed: dead-letter it now.
    case permanent(String)
    /// May succeed later (a dependency not applied yet, a deadlock): retry with backoff.
    case retry(String)
    /// PostgreSQL is unreachable: the whole batch waits, and no attempt is counted.
    case infrastructure(any Error)

    static func classify(_ error: any Error) -> JobFailure {
        guard let error = error as? JiraStoreError else { return .retry("unexpected error: \(error)") }
        switch error.code {
        case .workspaceNotFound, .linkNotFound, .linkInactive:
            return .retry("\(error.message) (\(error.code))")
        case .invalidInput, .conflict:
            return .permanent("\(error.message) (\(error.code))")
        default:
            if let cause = error.underlying, cause.code == .connectionLost || cause.code == .connectionFailed {
                return .infrastructure(error)
            }
            return .retry("\(error.message) (\(error.code))")
        }
    }
}
