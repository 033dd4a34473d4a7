import Foundation

/// How to reach Redis, parsed from a URL:
/// `redis://[user:password@]host[:port][/db]` or `unix:///path/redis.sock[?db=N&password=…&user=…]`.
public struct RedisConfiguration: Sendable, Hashable {
    /// Where the server listens.
    public enum Endpoint: Sendable, Hashable {
        /// A TCP host and port.
        case tcp(host: String, port: Int)
        /// A unix socket path.
        case unix(path: String)
    }

    /// Where the server listens.
    public var endpoint: Endpoint
    /// The ACL user for `AUTH user password`, if any.
    public var username: String?
    /// The password for `AUTH`, if any. Never printed.
    public var password: String?
    /// The database number to `SELECT`.
    public var database: Int
    /// How long a connect may take.
    public var connectTimeout: Duration
    /// How long a command may wait for its reply; above any `BLOCK` time used.
    public var commandTimeout: Duration

    /// The server that `scripts/run` and `scripts/test` start locally.
    public static let localDefault = "redis://127.0.0.1:56379/0"

    /// Creates a configuration.
    public init(endpoint: Endpoint, username: String? = nil, password: String? = nil, database: Int = 0,
                connectTimeout: Duration = .seconds(5), commandTimeout: Duration = .seconds(10)) {
        self.endpoint = endpoint
        self.username = username
        self.password = password
        self.database = database
        self.connectTimeout = connectTimeout
        self.commandTimeout = commandTimeout
    }

    /// Parses a `redis://` or `unix://` URL.
    public init(url: String) throws {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased() else {
            throw RedisError(code: .invalidURL, message: "REDIS_URL is not a URL (expected redis://host:port/db or unix:///path)")
        }
        let query = Dictionary((components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        var username = components.user.flatMap { $0.isEmpty ? nil : $0 }
        var password = components.password
        var database = 0
        let endpoint: Endpoint
        switch scheme {
        case "redis":
            guard let host = components.host, !host.isEmpty else {
                throw RedisError(code: .invalidURL, message: "REDIS_URL has no host")
            }
            let port = components.port ?? 6379
            guard (1...65535).contains(port) else { throw RedisError(code: .invalidURL, message: "REDIS_URL port \(port) is out of range") }
            endpoint = .tcp(host: host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host, port: port)
            let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
            if !path.isEmpty {
                guard let number = Int(path), number >= 0 else { throw RedisError(code: .invalidURL, message: "REDIS_URL database \"\(path)\" is not a number") }
                database = number
            }
        case "unix":
            guard !components.path.isEmpty else { throw RedisError(code: .invalidURL, message: "REDIS_URL has no socket path") }
            endpoint = .unix(path: components.path)
        default:
            throw RedisError(code: .invalidURL, message: "REDIS_URL scheme \(scheme) is not supported (use redis:// or unix://)")
        }
        if let db = query["db"] {
            guard let number = Int(db), number >= 0 else { throw RedisError(code: .invalidURL, message: "REDIS_URL db \"\(db)\" is not a number") }
            database = number
        }
        if let user = query["user"], !user.isEmpty { username = user }
        if let secret = query["password"] { password = secret }
        self.init(endpoint: endpoint, username: username, password: password, database: database)
    }

    /// The URL with the password replaced by `***`, safe to print.
    public var redactedURL: String {
        let credentials: String
        switch (username, password) {
        case (let user?, _?): credentials = "\(user):***@"
        case (nil, _?): credentials = ":***@"
        case (let user?, nil): credentials = "\(user)@"
        case (nil, nil): credentials = ""
        }
        switch endpoint {
        case .tcp(let host, let port):
            let shownHost = host.contains(":") ? "[\(host)]" : host
            return "redis://\(credentials)\(shownHost):\(port)/\(database)"
        case .unix(let path):
            return "unix://\(credentials)\(path)?db=\(database)"
        }
    }
}
