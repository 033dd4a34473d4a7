import Foundation
import Postgres

/// A Jira Cloud site registered with the platform (table `jira_workspaces`).
///
/// Its secrets are ``Secret`` values: they never appear in `description`, `dump` or its JSON.
public struct JiraWorkspace: Sendable, Hashable, Encodable {
    /// The row id.
    public var id: Int64
    /// The Jira site host, trimmed and lower-cased, unique.
    public var name: String
    /// Atlassian's cloud id of the site, unique.
    public var jiraCloudID: String
    /// The platform user who installed the app.
    public var adminUserID: String
    /// The webhook secret, encrypted by the producer.
    public var webhookSecret: Secret?
    /// The service account's e-mail.
    public var serviceAccountEmail: String?
    /// The service account's API key, encrypted by the producer.
    public var serviceAccountAPIKey: Secret?
    /// Whether the workspace is in force.
    public var status: JiraStatus
    /// When the row was created.
    public var createdAt: Date
    /// When the row last changed.
    public var updatedAt: Date
    /// Increases on every change of the row (from one database-wide sequence).
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, name, status, version
        case jiraCloudID = "jira_cloud_id"
        case adminUserID = "admin_user_id"
        case serviceAccountEmail = "svc_acc_email"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// Encodes everything but the secrets.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(name, forKey: .name)
        try container.encode(jiraCloudID, forKey: .jiraCloudID)
        try container.encode(adminUserID, forKey: .adminUserID)
        try container.encode(serviceAccountEmail, forKey: .serviceAccountEmail)
        try container.encode(status, forKey: .status)
        try container.encode(JiraTimestamp.format(createdAt), forKey: .createdAt)
        try container.encode(JiraTimestamp.format(updatedAt), forKey: .updatedAt)
        try container.encode(version, forKey: .version)
    }

    /// A site name as it is stored and compared: trimmed and lower-cased. The store and the
    /// cache's key both use this, so a lookup by name finds what was registered.
    public static func normalizedName(_ name: String) -> String {
        name.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    static let columns = "id, name, jira_cloud_id, admin_user_id, webhook_secret, svc_acc_email, svc_acc_api_key, status, created_at, updated_at, version"

    init(row: PostgresRow) throws {
        id = try row.int64("id")
        name = try row.string("name")
        jiraCloudID = try row.string("jira_cloud_id")
        adminUserID = try row.string("admin_user_id")
        webhookSecret = try row.optionalString("webhook_secret").map(Secret.init)
        serviceAccountEmail = try row.optionalString("svc_acc_email")
        serviceAccountAPIKey = try row.optionalString("svc_acc_api_key").map(Secret.init)
        status = try JiraStatus(row: row)
        createdAt = try row.date("created_at")
        updatedAt = try row.date("updated_at")
        version = try row.int64("version")
    }
}

extension JiraWorkspace: CustomStringConvertible {
    public var description: String {
        "JiraWorkspace(id: \(id), name: \(name), jiraCloudID: \(jiraCloudID), status: \(status.rawValue), version: \(version))"
    }
}

/// What `create_workspace` registers. Registering a cloud id that exists updates and reactivates it.
public struct JiraWorkspaceRegistration: Sendable, Hashable {
    /// Atlassian's cloud id of the site.
    public var jiraCloudID: String
    /// The site host; stored trimmed and lower-cased.
    public var name: String
    /// The platform user who installed the app.
    public var adminUserID: String
    /// The webhook secret, already encrypted.
    public var webhookSecret: Secret?
    /// The service account's e-mail.
    public var serviceAccountEmail: String?
    /// The service account's API key, already encrypted.
    public var serviceAccountAPIKey: Secret?
    /// The status to register with.
    public var status: JiraStatus

    /// Creates a registration.
    public init(
        jiraCloudID: String, name: String, adminUserID: String, webhookSecret: Secret?,
        serviceAccountEmail: String?, serviceAccountAPIKey: Secret?, status: JiraStatus = .active
    ) {
        self.jiraCloudID = jiraCloudID
        self.name = name
        self.adminUserID = adminUserID
        self.webhookSecret = webhookSecret
        self.serviceAccountEmail = serviceAccountEmail
        self.serviceAccountAPIKey = serviceAccountAPIKey
        self.status = status
    }
}

/// What `update_workspace` changes; `nil` fields stay as they are.
public struct JiraWorkspaceUpdate: Sendable, Hashable {
    /// A new cloud id.
    public var jiraCloudID: String?
    /// A new webhook secret.
    public var webhookSecret: Secret?
    /// A new service-account e-mail.
    public var serviceAccountEmail: String?
    /// A new service-account API key.
    public var serviceAccountAPIKey: Secret?
    /// A new status; `.inactive` deactivates the workspace's links too.
    public var status: JiraStatus?

    /// Creates an update.
    public init(
        jiraCloudID: String? = nil, webhookSecret: Secret? = nil, serviceAccountEmail: String? = nil,
        serviceAccountAPIKey: Secret? = nil, status: JiraStatus? = nil
    ) {
        self.jiraCloudID = jiraCloudID
        self.webhookSecret = webhookSecret
        self.serviceAccountEmail = serviceAccountEmail
        self.serviceAccountAPIKey = serviceAccountAPIKey
        self.status = status
    }
}

extension JiraStatus {
    init(row: PostgresRow) throws {
        let text = try row.string("status")
        guard let status = JiraStatus(rawValue: text) else {
            throw PostgresError(code: .unexpectedResponse, message: "unknown status \"\(text)\"")
        }
        self = status
    }
}

/// RFC 3339 timestamps in UTC with milliseconds, as the JSON contract writes them.
public enum JiraTimestamp {
    /// Formats an instant as `2026-12-03T12:35:02.123Z`, rounded to the millisecond, so that
    /// `format(parse(format(d)))` is `format(d)` (a cached value prints as the database's does).
    public static func format(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (days, remainder) = milliseconds.quotientAndRemainder(dividingBy: 86_400_000)
        let (day, ms) = remainder < 0 ? (days - 1, remainder + 86_400_000) : (days, remainder)
        // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
        let z = day + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let dayOfMonth = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(width - text.count, 0)) + text
        }
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(dayOfMonth, 2))T\(pad(ms / 3_600_000, 2)):\(pad(ms / 60000 % 60, 2)):\(pad(ms / 1000 % 60, 2)).\(pad(ms % 1000, 3))Z"
    }

    /// Parses what ``format(_:)`` writes (fractional seconds optional).
    public static func parse(_ text: String) -> Date? {
        // The hand-written parser reads this form (and PostgreSQL's); the format styles the rest.
        PostgresTimestamp.parse(text)
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
    }

    static func decode<Key: CodingKey>(_ container: KeyedDecodingContainer<Key>, _ key: Key) throws -> Date {
        let text = try container.decode(String.self, forKey: key)
        guard let date = parse(text) else {
            throw DecodingError.dataCorruptedError(forKey: key, in: container, debugDescription: "not an RFC 3339 timestamp")
        }
        return date
    }
}

/// What a workspace lookup answers: never the secrets.
public struct JiraWorkspaceSummary: Sendable, Hashable, Codable {
    /// The row id.
    public var id: Int64
    /// The site host.
    public var name: String
    /// Atlassian's cloud id.
    public var jiraCloudID: String
    /// Whether the workspace is in force.
    public var status: JiraStatus
    /// The row version.
    public var version: Int64

    enum CodingKeys: String, CodingKey {
        case id, name, status, version
        case jiraCloudID = "jira_cloud_id"
    }

    /// The summary of a workspace.
    public init(_ workspace: JiraWorkspace) {
        id = workspace.id
        name = workspace.name
        jiraCloudID = workspace.jiraCloudID
        status = workspace.status
        version = workspace.version
    }
}
