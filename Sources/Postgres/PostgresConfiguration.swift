import Foundation

/// How to reach PostgreSQL.
public struct PostgresConfiguration: Sendable {
    /// A libpq connection string or URI (`postgresql://user:pass@host:5432/db?sslmode=verify-full`,
    /// `host=/run/postgresql dbname=jira`, …). Every libpq option works as libpq documents it.
    public var connectionString: String
    /// Reported to the server as `application_name` unless the connection string sets one.
    public var applicationName: String
    /// Whether repeated statements are prepared once per connection (saves parsing and planning).
    /// Turn it off behind a pooler in transaction mode, which does not keep prepared statements.
    public var preparesStatements = true

    /// The database that `scripts/run` and `scripts/test` start locally.
    public static let localDefault = "postgresql://postgres@127.0.0.1:55432/jira"

    /// Creates a configuration.
    public init(connectionString: String = PostgresConfiguration.localDefault, applicationName: String = "jira-worker") {
        self.connectionString = connectionString
        self.applicationName = applicationName
    }

    /// The connection string with any password replaced by `***`, safe to print.
    public var redactedConnectionString: String { Self.redact(connectionString) }

    /// Removes this configuration's password from a message (libpq quotes malformed URI parts,
    /// which may be the password itself), then redacts anything shaped like a password.
    public func scrub(_ message: String) -> String {
        var result = message
        for secret in passwords where secret.count >= 3 {
            result = result.replacingOccurrences(of: secret, with: "***")
        }
        return Self.redact(result)
    }

    /// The password as it appears in the connection string, raw and percent-decoded.
    private var passwords: [String] {
        var found: [String] = []
        let text = connectionString
        if let schemeEnd = text.range(of: "://") {
            let authority = text[schemeEnd.upperBound...].prefix { $0 != "/" && $0 != "?" }
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                found.append(String(authority[authority.index(after: colon)..<at]))
            }
        }
        var rest = Substring(text)
        while let range = rest.range(of: "password=") {
            rest = rest[range.upperBound...]
            let value = rest.prefix { $0 != " " && $0 != "&" }
            found.append(String(value.trimmingCharacters(in: CharacterSet(charactersIn: "'"))))
        }
        return found + found.compactMap { $0.removingPercentEncoding }
    }

    /// Replaces passwords in a libpq URI (`scheme://user:secret@host`) or keyword/value string
    /// (`password=secret`) with `***`.
    public static func redact(_ text: String) -> String {
        var result = text
        // URI form: the userinfo's password sits between "user:" and the last "@" of the authority.
        if let schemeEnd = result.range(of: "://") {
            let authorityStart = schemeEnd.upperBound
            let authorityEnd = result[authorityStart...].firstIndex(where: { $0 == "/" || $0 == "?" }) ?? result.endIndex
            let authority = result[authorityStart..<authorityEnd]
            if let at = authority.lastIndex(of: "@"), let colon = authority[..<at].firstIndex(of: ":") {
                result.replaceSubrange(result.index(after: colon)..<at, with: "***")
            }
        }
        // Keyword form and URI query parameters: password=value (value quoted or up to a separator).
        var output = ""
        var rest = Substring(result)
        while let range = rest.range(of: "password=") {
            output += rest[..<range.upperBound]
            rest = rest[range.upperBound...]
            if rest.first == "'" {
                var index = rest.index(after: rest.startIndex)
                while index < rest.endIndex, rest[index] != "'" {
                    index = rest[index] == "\\" ? rest.index(index, offsetBy: 2, limitedBy: rest.endIndex) ?? rest.endIndex : rest.index(after: index)
                }
                rest = index < rest.endIndex ? rest[rest.index(after: index)...] : ""
            } else {
                rest = rest.drop(while: { $0 != " " && $0 != "&" })
            }
            output += "***"
        }
        return output + rest
    }
}
