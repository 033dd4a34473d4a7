import Postgres

/// An error from ``JiraIntegrationStore``: a stable ``code``, a message a person can act on, and
/// the PostgreSQL error underneath, if any. Messages never contain secrets or row dumps.
public struct JiraStoreError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }

        /// No workspace has the given id, name or cloud id.
        public static let workspaceNotFound = Code("workspace_not_found")
        /// The user has no link to the workspace.
        public static let linkNotFound = Code("link_not_found")
        /// The user's link to the workspace, or the workspace itself, is inactive.
        public static let linkInactive = Code("link_inactive")
        /// The input can never be stored (empty id, NUL byte, a check constraint).
        public static let invalidInput = Code("invalid_input")
        /// The input collides with existing data (a unique constraint).
        public static let conflict = Code("conflict")
        /// A migration already applied differs from the one this program embeds.
        public static let migrationChecksumMismatch = Code("migration_checksum_mismatch")
        /// PostgreSQL failed; see ``JiraStoreError/underlying`` and ``JiraStoreError/isTransient``.
        public static let database = Code("database")

        public var description: String { raw }
    }

    /// The kind of failure.
    public var code: Code
    /// A message a person can act on.
    public var message: String
    /// The PostgreSQL error underneath, with its SQLSTATE and constraint name (`detail` removed).
    public var underlying: PostgresError?

    /// Creates an error.
    public init(code: Code, message: String, underlying: PostgresError? = nil) {
        self.code = code
        self.message = message
        self.underlying = underlying
    }

    /// Whether trying again later may succeed (PostgreSQL unreachable, a deadlock, a
    /// serialization failure). Missing dependencies are not transient here; a caller that
    /// expects them to appear (the worker) decides that itself.
    public var isTransient: Bool { code == .database && (underlying?.isTransient ?? false) }

    public var description: String { "JiraStoreError(\(code)): \(message)" }

    /// Classifies a PostgreSQL error: constraint violations and bad input become `invalidInput`,
    /// `conflict` or a not-found code; everything else is `database`. Row values in `detail` are dropped, since a check
    /// violation's detail echoes the whole row, secrets included.
    public init(classifying error: PostgresError) {
        var cause = error
        cause.detail = nil
        underlying = cause
        let constraint = error.constraint ?? "?"
        switch (error.code, error.sqlState) {
        case (.invalidParameter, _):
            code = .invalidInput
            message = error.message
        case (_, PostgresError.SQLState.uniqueViolation?):
            code = .conflict
            message = "the change conflicts with existing data (unique constraint \(constraint))"
        case (_, PostgresError.SQLState.foreignKeyViolation?):
            code = constraint.hasPrefix("jira_users_") ? .workspaceNotFound : .linkNotFound
            message = "the change refers to a row that does not exist (foreign key \(constraint))"
        case (_, let state?) where state.hasPrefix("22") || state == PostgresError.SQLState.checkViolation
            || state == PostgresError.SQLState.notNullViolation:
            code = .invalidInput
            message = "the input is not valid: \(error.message)"
        default:
            code = .database
            message = error.message
        }
    }
}
