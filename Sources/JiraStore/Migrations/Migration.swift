/// One versioned schema change, embedded in the binary.
public struct Migration: Sendable, Hashable {
    /// Its position; applied in ascending order.
    public let version: Int
    /// A short name.
    public let name: String
    /// The SQL, run as one script inside a transaction.
    public let sql: String

    /// Creates a migration.
    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// FNV-1a 64-bit of the SQL text, in hex: an applied migration whose text changed is refused.
    public var checksum: String {
        let hex = String(sql.fnv1a64, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// A migration's state in a database.
public struct MigrationStatus: Sendable, Hashable {
    /// The migration's version.
    public var version: Int
    /// Its name.
    public var name: String
    /// Whether it is applied, pending, or applied with a different text.
    public var state: State

    /// The states a migration can be in.
    public enum State: String, Sendable, Hashable {
        /// Applied, and the text matches.
        case applied
        /// Not applied yet.
        case pending
        /// Applied, but this binary embeds a different text.
        case checksumMismatch = "checksum-mismatch"
        /// Applied by a newer binary; unknown to this one.
        case unknown
    }
}
