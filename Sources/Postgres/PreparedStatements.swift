import CLibpq

/// The statements prepared on one libpq connection, by SQL text. Confined to the connection's
/// queue; replaced when the connection is re-opened.
final class PreparedStatements {
    private var names: [String: String] = [:]
    private static let limit = 512

    /// The name of `sql`'s prepared statement, preparing it first if needed.
    func name(for sql: String, on conn: OpaquePointer) throws -> String {
        if let name = names[sql] { return name }
        if names.count >= Self.limit {
            PQclear(PQexec(conn, "DEALLOCATE ALL"))
            names.removeAll()
        }
        let name = "jira_\(names.count)"
        try PostgresSession.check(PQprepare(conn, name, sql, 0, nil), conn: conn)
        names[sql] = name
        return name
    }

    /// Forgets a statement the server no longer has.
    func forget(_ sql: String) { names[sql] = nil }
}
