/// An error from the PostgreSQL layer.
///
/// `code` tells the kind of failure; for statement errors the server's SQLSTATE and diagnostic
/// fields are kept so callers can tell "retry later" (``isTransient``) from "this input is bad".
/// The description never includes `detail`, which for check violations may echo a whole row.
public struct PostgresError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The kind of failure, stable across releases.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: String
        private init(_ raw: String) { self.raw = raw }

        /// The connection could not be established (server down, bad credentials, bad URL).
        public static let connectionFailed = Code("connection_failed")
        /// The connection broke while a statement was running; its outcome is unknown.
        public static let connectionLost = Code("connection_lost")
        /// The server rejected a statement; see ``PostgresError/sqlState``.
        public static let server = Code("server_error")
        /// A parameter cannot be sent (for example it contains a NUL byte).
        public static let invalidParameter = Code("invalid_parameter")
        /// The server answered with something this layer did not expect.
        public static let unexpectedResponse = Code("unexpected_response")

        public var description: String { raw }
    }

    /// The kind of failure.
    public var code: Code
    /// A message a person can act on.
    public var message: String
    /// The five-character SQLSTATE of a server error, for example `23505`.
    public var sqlState: String?
    /// The server's DETAIL field. May contain row values: never log it unredacted.
    public var detail: String?
    /// The server's HINT field.
    public var hint: String?
    /// The name of the violated constraint, when the error is a constraint violation.
    public var constraint: String?
    /// The table the error concerns, when the server names one.
    public var table: String?
    /// The column the error concerns, when the server names one.
    public var column: String?

    /// Creates an error.
    public init(
        code: Code, message: String, sqlState: String? = nil, detail: String? = nil,
        hint: String? = nil, constraint: String? = nil, table: String? = nil, column: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.hint = hint
        self.constraint = constraint
        self.table = table
        self.column = column
    }

    /// Whether the same work may succeed if tried again later: connection failures, serialization
    /// failures, deadlocks, server shutdown and resource exhaustion.
    public var isTransient: Bool {
        if code == .connectionFailed || code == .connectionLost { return true }
        guard let state = sqlState else { return false }
        if ["40001", "40P01", "55P03", "57P01", "57P02", "57P03", "57014"].contains(state) { return true }
        return state.hasPrefix("08") || state.hasPrefix("53")
    }

    /// Well-known SQLSTATE values.
    public enum SQLState {
        /// `unique_violation`
        public static let uniqueViolation = "23505"
        /// `foreign_key_violation`
        public static let foreignKeyViolation = "23503"
        /// `check_violation`
        public static let checkViolation = "23514"
        /// `not_null_violation`
        public static let notNullViolation = "23502"
    }

    public var description: String {
        var text = "PostgresError(\(code)): \(message)"
        if let sqlState { text += " [SQLSTATE \(sqlState)]" }
        if let constraint { text += " [constraint \(constraint)]" }
        return text
    }
}
