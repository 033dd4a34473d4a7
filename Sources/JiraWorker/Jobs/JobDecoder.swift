import Foundation
import JiraStore

/// Why an entry can never be applied. The message names fields, never their values.
public struct JobValidationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A reason a person can act on.
    public let message: String
    /// The job id, when the envelope had a usable one (for the result key).
    public let jobID: String?

    public var description: String { message }
}

/// Decodes and validates the JSON envelope `{"id", "type", "payload", "enqueued_at"?}`.
///
/// Validation happens here, before any database work: UTF-8, JSON, field types, non-empty
/// required strings, known types and statuses. Secrets are never echoed in errors.
public struct JobDecoder: Sendable {
    /// The largest entry accepted, in bytes.
    public var maxBytes: Int

    /// Creates a decoder.
    public init(maxBytes: Int = 64 * 1024) { self.maxBytes = maxBytes }

    /// Decodes an entry's `job` field.
    public func decode(_ bytes: [UInt8]) throws(JobValidationError) -> JiraJob {
        guard bytes.count <= maxBytes else {
            throw JobValidationError(message: "entry is \(bytes.count) bytes, over the \(maxBytes)-byte limit", jobID: nil)
        }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw JobValidationError(message: "job is not valid UTF-8", jobID: nil)
        }
        // The common envelope takes the scanner; anything else the full decoder, which explains.
        let envelope: Envelope
        if let scanned = EnvelopeScanner.scan(bytes) { envelope = scanned } else { envelope = try Self.decodeWithFoundation(bytes) }
        guard (1...128).contains(envelope.id.count) else {
            throw JobValidationError(message: "field id must be 1 to 128 characters (it has \(envelope.id.count))", jobID: nil)
        }
        let id = envelope.id
        do {
            let action = try Self.action(type: envelope.type, envelope.payload)
            return JiraJob(id: id, enqueuedAt: envelope.enqueuedAt.flatMap { JiraTimestamp.parse($0)?.timeIntervalSince1970 }, action: action)
        } catch let error as JobValidationError {
            throw JobValidationError(message: error.message, jobID: id)
        } catch {
            throw JobValidationError(message: "job is not valid", jobID: id)
        }
    }

    /// Decodes an envelope with `JSONDecoder`, turning its errors into messages that name the
    /// field and the problem, never a value.
    static func decodeWithFoundation(_ bytes: [UInt8]) throws(JobValidationError) -> Envelope {
        guard nestingDepth(bytes) <= maxDepth else {
            throw JobValidationError(message: "job nests deeper than \(maxDepth) levels", jobID: nil)
        }
        do {
            return try JSONDecoder().decode(Envelope.self, from: Data(bytes))
        } catch let error as DecodingError {
            if case .dataCorrupted(let context) = error, context.codingPath.isEmpty,
               (try? JSONSerialization.jsonObject(with: Data(bytes), options: [.fragmentsAllowed])) != nil {
                // Valid JSON that JSONDecoder still refused: a number it cannot represent.
                throw JobValidationError(message: "job has a number that is out of range, or not a whole number, where an integer is expected (such as payload.workspace_id)", jobID: nil)
            }
            throw JobValidationError(message: describe(error), jobID: nil)
        } catch let error as JobValidationError {
            throw error
        } catch {
            throw JobValidationError(message: "job is not valid JSON", jobID: nil)
        }
    }

    private static func action(type: String, _ p: Payload) throws -> JiraJob.Action {
        switch type {
        case "create_workspace":
            return .createWorkspace(JiraWorkspaceRegistration(
                jiraCloudID: try p.required(\.jiraCloudID, "jira_cloud_id"), name: try p.required(\.name, "name"),
                adminUserID: try p.required(\.adminUserID, "admin_user_id"),
                webhookSecret: Secret(try p.required(\.webhookSecret, "webhook_secret")),
                serviceAccountEmail: try p.required(\.serviceAccountEmail, "svc_acc_email"),
                serviceAccountAPIKey: Secret(try p.required(\.serviceAccountAPIKey, "svc_acc_api_key")),
                status: try p.status() ?? .active))
        case "update_workspace":
            // With "workspace_id" given, "jira_cloud_id" is the new cloud id; alone, it is the reference.
            let byID = p.workspaceID != nil
            let reference = try p.reference()
            let update = JiraWorkspaceUpdate(
                jiraCloudID: byID ? try p.optionalNonEmpty(\.jiraCloudID, "jira_cloud_id") : nil,
                webhookSecret: try p.optionalNonEmpty(\.webhookSecret, "webhook_secret").map(Secret.init),
                serviceAccountEmail: try p.optionalNonEmpty(\.serviceAccountEmail, "svc_acc_email"),
                serviceAccountAPIKey: try p.optionalNonEmpty(\.serviceAccountAPIKey, "svc_acc_api_key").map(Secret.init),
                status: try p.status())
            guard update != JiraWorkspaceUpdate() else {
                throw JobValidationError(message: "update_workspace needs at least one of jira_cloud_id (with workspace_id), webhook_secret, svc_acc_email, svc_acc_api_key, status", jobID: nil)
            }
            return .updateWorkspace(reference, update)
        case "deactivate_workspace":
            return .deactivateWorkspace(try p.reference())
        case "create_workspace_link":
            return .createWorkspaceLink(try p.reference(), keycloakUserID: try p.required(\.keycloakUserID, "keycloak_user_id"),
                                        jiraUserID: try p.required(\.jiraUserID, "jira_user_id"), status: try p.status() ?? .active)
        case "update_user_status":
            guard let status = try p.status() else { throw JobValidationError(message: "missing field payload.status", jobID: nil) }
            return .updateUserStatus(try p.reference(), keycloakUserID: try p.required(\.keycloakUserID, "keycloak_user_id"), status: status)
        case "create_conversation":
            return .createConversation(try p.reference(), keycloakUserID: try p.required(\.keycloakUserID, "keycloak_user_id"),
                                       issueID: try p.required(\.issueID, "issue_id"), issueKey: try p.required(\.issueKey, "issue_key"),
                                       conversationID: try p.required(\.conversationID, "conversation_id"), parentID: p.parentID)
        default:
            let shown = type.count <= 64 ? type : String(type.prefix(64)) + "…"
            throw JobValidationError(message: "unknown job type \"\(shown)\" (expected one of \(JiraJob.types.joined(separator: ", ")))", jobID: nil)
        }
    }

    /// The deepest nesting a job may have; a valid envelope needs 3.
    static let maxDepth = 32

    /// The deepest `[`/`{` nesting outside strings, found in one pass without parsing: deeply
    /// nested input is refused before a recursive parser spends time on it.
    static func nestingDepth(_ bytes: [UInt8]) -> Int {
        var depth = 0
        var deepest = 0
        var inString = false
        var escaped = false
        for byte in bytes {
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                deepest = max(deepest, depth)
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth -= 1
            default: break
            }
        }
        return deepest
    }

    /// A message for a decoding failure that names the field and the problem, never a value.
    static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context, _ key: CodingKey? = nil) -> String {
            let keys = context.codingPath + (key.map { [$0] } ?? [])
            return keys.isEmpty ? "job" : "field " + keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing \(path(context, key))"
        case .typeMismatch(let type, let context): return "\(path(context)) has the wrong type (expected \(describe(type)))"
        case .valueNotFound(let type, let context): return "\(path(context)) is null (expected \(describe(type)))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "job is not valid JSON" : "\(path(context)) is not valid"
        @unknown default: return "job is not valid"
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int64.Type: return "an integer"
        default: return type is [String: Any].Type ? "an object" : "\(type)".lowercased()
        }
    }

    // MARK: - Wire shapes

    struct Envelope: Decodable, Equatable {
        let id: String
        let type: String
        let payload: Payload
        let enqueuedAt: String?

        enum CodingKeys: String, CodingKey {
            case id, type, payload
            case enqueuedAt = "enqueued_at"
        }
    }

    struct Payload: Decodable, Equatable {
        var workspaceID: Int64?
        var jiraCloudID: String?
        var name: String?
        var adminUserID: String?
        var webhookSecret: String?
        var serviceAccountEmail: String?
        var serviceAccountAPIKey: String?
        var statusText: String?
        var keycloakUserID: String?
        var jiraUserID: String?
        var issueID: String?
        var issueKey: String?
        var conversationID: String?
        var parentID: String?

        enum CodingKeys: String, CodingKey {
            case workspaceID = "workspace_id"
            case jiraCloudID = "jira_cloud_id"
            case name
            case adminUserID = "admin_user_id"
            case webhookSecret = "webhook_secret"
            case serviceAccountEmail = "svc_acc_email"
            case serviceAccountAPIKey = "svc_acc_api_key"
            case statusText = "status"
            case keycloakUserID = "keycloak_user_id"
            case jiraUserID = "jira_user_id"
            case issueID = "issue_id"
            case issueKey = "issue_key"
            case conversationID = "conversation_id"
            case parentID = "parent_id"
        }

        /// The string fields by JSON name (`issue_id` may also be an integer).
        static let stringFields: [String: WritableKeyPath<Payload, String?> & Sendable] = [
            "jira_cloud_id": \.jiraCloudID, "name": \.name, "admin_user_id": \.adminUserID, "webhook_secret": \.webhookSecret,
            "svc_acc_email": \.serviceAccountEmail, "svc_acc_api_key": \.serviceAccountAPIKey, "status": \.statusText,
            "keycloak_user_id": \.keycloakUserID, "jira_user_id": \.jiraUserID, "issue_id": \.issueID, "issue_key": \.issueKey,
            "conversation_id": \.conversationID, "parent_id": \.parentID,
        ]

        init() {}

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            do {
                workspaceID = try c.decodeIfPresent(Int64.self, forKey: .workspaceID)
            } catch DecodingError.dataCorrupted where (try? c.decodeIfPresent(Double.self, forKey: .workspaceID)) != nil {
                // A fraction or a number beyond 64 bits: say so, rather than "not valid JSON".
                throw JobValidationError(message: "field payload.workspace_id must be a whole number within 64-bit range", jobID: nil)
            }
            jiraCloudID = try c.decodeIfPresent(String.self, forKey: .jiraCloudID)
            name = try c.decodeIfPresent(String.self, forKey: .name)
            adminUserID = try c.decodeIfPresent(String.self, forKey: .adminUserID)
            webhookSecret = try c.decodeIfPresent(String.self, forKey: .webhookSecret)
            serviceAccountEmail = try c.decodeIfPresent(String.self, forKey: .serviceAccountEmail)
            serviceAccountAPIKey = try c.decodeIfPresent(String.self, forKey: .serviceAccountAPIKey)
            statusText = try c.decodeIfPresent(String.self, forKey: .statusText)
            keycloakUserID = try c.decodeIfPresent(String.self, forKey: .keycloakUserID)
            jiraUserID = try c.decodeIfPresent(String.self, forKey: .jiraUserID)
            // Jira issue ids are numeric strings; producers may send them as numbers.
            if let number = try? c.decodeIfPresent(Int64.self, forKey: .issueID) {
                issueID = String(number)
            } else {
                issueID = try c.decodeIfPresent(String.self, forKey: .issueID)
            }
            issueKey = try c.decodeIfPresent(String.self, forKey: .issueKey)
            conversationID = try c.decodeIfPresent(String.self, forKey: .conversationID)
            parentID = try c.decodeIfPresent(String.self, forKey: .parentID)
        }

        func required(_ field: KeyPath<Payload, String?>, _ name: String) throws -> String {
            guard let value = self[keyPath: field] else { throw JobValidationError(message: "missing field payload.\(name)", jobID: nil) }
            guard !value.isEmpty else { throw JobValidationError(message: "field payload.\(name) must not be empty", jobID: nil) }
            return value
        }

        func optionalNonEmpty(_ field: KeyPath<Payload, String?>, _ name: String) throws -> String? {
            guard let value = self[keyPath: field] else { return nil }
            guard !value.isEmpty else { throw JobValidationError(message: "field payload.\(name) must not be empty", jobID: nil) }
            return value
        }

        func status() throws -> JiraStatus? {
            guard let text = statusText else { return nil }
            guard let status = JiraStatus(rawValue: text) else {
                throw JobValidationError(message: "field payload.status must be \"active\" or \"inactive\"", jobID: nil)
            }
            return status
        }

        func reference() throws -> WorkspaceReference {
            if let id = workspaceID { return .id(id) }
            if let cloudID = jiraCloudID {
                guard !cloudID.isEmpty else { throw JobValidationError(message: "field payload.jira_cloud_id must not be empty", jobID: nil) }
                return .cloudID(cloudID)
            }
            throw JobValidationError(message: "missing workspace reference: payload.workspace_id (integer) or payload.jira_cloud_id (string)", jobID: nil)
        }
    }
}
