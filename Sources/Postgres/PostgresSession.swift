import CLibpq
import Foundation

/// Exclusive, synchronous use of a ``PostgresConnection`` inside `withSession` or `withTransaction`.
///
/// Valid only inside the closure it was handed to; it must not escape it.
public struct PostgresSession {
    let conn: OpaquePointer
    let prepared: PreparedStatements?

    /// Runs one parameterized statement and returns its rows.
    ///
    /// Parameters are sent separately from the SQL text (`PQexecPrepared`, or `PQexecParams`),
    /// so no value is ever interpreted as SQL. A statement with parameters is prepared once per
    /// connection and reused. A parameter containing a NUL byte is refused before anything is sent.
    public func query(_ sql: String, _ parameters: [PostgresValue]) throws -> PostgresRows {
        if let prepared, !parameters.isEmpty {
            let name = try prepared.name(for: sql, on: conn)
            let result = try Self.withParameters(parameters) { count, values in
                PQexecPrepared(conn, name, count, values, nil, nil, 0)
            }
            defer { PQclear(result) }
            do {
                return try Self.rows(of: result, conn: conn)
            } catch let error as PostgresError where error.sqlState == "26000" {
                prepared.forget(sql)  // deallocated behind our back (DISCARD ALL): run it unprepared
            }
        }
        let result = try Self.withParameters(parameters) { count, values in
            PQexecParams(conn, sql, count, nil, values, nil, nil, 0)
        }
        defer { PQclear(result) }
        return try Self.rows(of: result, conn: conn)
    }

    /// Runs one parameterized statement and returns its rows.
    public func query(_ sql: String, _ parameters: any PostgresEncodable...) throws -> PostgresRows {
        try query(sql, parameters.map(\.postgresValue))
    }

    /// Runs a script of several statements without parameters (`PQexec`); for embedded,
    /// constant SQL such as migrations, never for text that carries values.
    public func execute(script: StaticString) throws {
        try execute(trustedScript: script.description)
    }

    /// Runs a script of several statements that is part of this program (a migration).
    public func execute(trustedScript script: String) throws {
        let result = PQexec(conn, script)
        defer { PQclear(result) }
        _ = try Self.rows(of: result, conn: conn)
    }

    /// Runs `body` inside `BEGIN` … `COMMIT`, rolling back if it throws.
    public func transaction<T>(isolation: PostgresIsolation = .readCommitted, _ body: (PostgresSession) throws -> T) throws -> T {
        _ = try query(isolation == .readCommitted ? "BEGIN" : "BEGIN ISOLATION LEVEL \(isolation.rawValue)", [])
        let value: T
        do {
            value = try body(self)
        } catch {
            if PQstatus(conn) == CONNECTION_OK { PQclear(PQexec(conn, "ROLLBACK")) }
            throw error
        }
        _ = try query("COMMIT", [])
        return value
    }

    // MARK: - libpq plumbing

    static func check(_ result: OpaquePointer?, conn: OpaquePointer) throws {
        defer { PQclear(result) }
        _ = try rows(of: result, conn: conn)
    }

    /// Lays the parameters out as C strings in one buffer and calls `body` with libpq's argv.
    static func withParameters(
        _ parameters: [PostgresValue],
        _ body: (Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> OpaquePointer?
    ) throws -> OpaquePointer? {
        if parameters.isEmpty { return body(0, nil) }
        var buffer: [CChar] = []
        var offsets: [Int?] = []
        offsets.reserveCapacity(parameters.count)
        for (position, parameter) in parameters.enumerated() {
            switch parameter {
            case .null:
                offsets.append(nil)
            case .text(var text):
                offsets.append(buffer.count)
                let clean = text.withUTF8 { utf8 -> Bool in
                    guard !utf8.contains(0) else { return false }
                    utf8.withMemoryRebound(to: CChar.self) { buffer.append(contentsOf: $0) }
                    return true
                }
                guard clean else {
                    throw PostgresError(
                        code: .invalidParameter,
                        message: "parameter $\(position + 1) contains a NUL byte, which PostgreSQL text cannot store"
                    )
                }
                buffer.append(0)
            }
        }
        return buffer.withUnsafeBufferPointer { bytes in
            let pointers = offsets.map { offset in offset.map { bytes.baseAddress! + $0 } }
            return pointers.withUnsafeBufferPointer { body(Int32(parameters.count), $0.baseAddress) }
        }
    }

    /// Copies a result into Swift values, or turns it into a typed error. Does not free it.
    static func rows(of result: OpaquePointer?, conn: OpaquePointer) throws -> PostgresRows {
        guard let result else { throw lostOrFailed(conn) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return PostgresRows(columns: [], values: [], affectedRows: Int(String(cString: PQcmdTuples(result))) ?? 0)
        case PGRES_TUPLES_OK, PGRES_SINGLE_TUPLE:
            let rowCount = Int(PQntuples(result))
            let columnCount = Int(PQnfields(result))
            var columns: [String] = []
            columns.reserveCapacity(columnCount)
            for column in 0..<columnCount { columns.append(String(cString: PQfname(result, Int32(column)))) }
            var values: [String?] = []
            values.reserveCapacity(rowCount * columnCount)
            for row in 0..<Int32(rowCount) {
                for column in 0..<Int32(columnCount) {
                    if PQgetisnull(result, row, column) == 1 {
                        values.append(nil)
                    } else {
                        values.append(String(cString: PQgetvalue(result, row, column)))
                    }
                }
            }
            return PostgresRows(columns: columns, values: values, affectedRows: rowCount)
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR:
            let state = field(result, "C")
            if PQstatus(conn) != CONNECTION_OK && (state == nil || state!.hasPrefix("08") || state!.hasPrefix("57P")) {
                throw PostgresError(code: .connectionLost, message: "connection to PostgreSQL lost: " + errorMessage(conn), sqlState: state)
            }
            throw PostgresError(
                code: .server,
                message: field(result, "M") ?? errorMessage(conn),
                sqlState: state,
                detail: field(result, "D"),
                hint: field(result, "H"),
                constraint: field(result, "n"),
                table: field(result, "t"),
                column: field(result, "c")
            )
        default:
            throw PostgresError(code: .unexpectedResponse, message: "unexpected libpq result status \(PQresultStatus(result).rawValue)")
        }
    }

    private static func lostOrFailed(_ conn: OpaquePointer) -> PostgresError {
        if PQstatus(conn) != CONNECTION_OK {
            return PostgresError(code: .connectionLost, message: "connection to PostgreSQL lost: " + errorMessage(conn))
        }
        return PostgresError(code: .unexpectedResponse, message: "libpq returned no result: " + errorMessage(conn))
    }

    /// A diagnostic field of an error result; `code` is libpq's one-letter `PG_DIAG_*` code.
    private static func field(_ result: OpaquePointer, _ code: Unicode.Scalar) -> String? {
        guard let pointer = PQresultErrorField(result, Int32(code.value)) else { return nil }
        return String(cString: pointer)
    }

    static func errorMessage(_ conn: OpaquePointer) -> String {
        guard let pointer = PQerrorMessage(conn) else { return "unknown error" }
        let text = String(cString: pointer).trimmingCharacters(in: .whitespacesAndNewlines)
        return text.isEmpty ? "unknown error" : text
    }
}
