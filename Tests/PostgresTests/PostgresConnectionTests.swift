import Foundation
import TestSupport
import XCTest
@testable import Postgres

/// Against the real PostgreSQL that scripts/test starts.
final class PostgresConnectionTests: XCTestCase {
    func testParametersRoundTripVerbatim() async throws {
        let connection = PostgresConnection(configuration: TestPostgres.configuration)
        let tricky = ["'; DROP TABLE users; --", "Robert'); DELETE FROM x;--", "$1", "\\x00", "ünïcødé 😀 e\u{301} עברית", ""]
        for text in tricky {
            let rows = try await connection.query("SELECT $1::text AS value, $2::text IS NULL AS was_null", [text, nil as String?])
            XCTAssertEqual(try rows[0].string("value"), text)
            XCTAssertTrue(try rows[0].bool("was_null"))
        }
        let array = try await connection.query("SELECT array_length($1::text[], 1) AS n, ($1::text[])[2] AS second", [tricky])
        XCTAssertEqual(try array[0].int64("n"), Int64(tricky.count))
        XCTAssertEqual(try array[0].string("second"), tricky[1])
    }

    func testNulByteIsRefusedBeforeSending() async throws {
        let connection = PostgresConnection(configuration: TestPostgres.configuration)
        do {
            _ = try await connection.query("SELECT $1::text", ["a\u{0}b"])
            XCTFail("a NUL byte was accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.code, .invalidParameter)
            XCTAssertTrue(error.message.contains("$1"))
        }
        // The connection is still usable.
        let rows = try await connection.query("SELECT 1 AS one")
        XCTAssertEqual(try rows[0].int64("one"), 1)
    }

    func testServerErrorsCarrySQLStateAndConstraint() async throws {
        let connection = PostgresConnection(configuration: TestPostgres.configuration)
        let table = "pg_err_\(UInt32.random(in: 0...UInt32.max))"
        _ = try await connection.query("CREATE TEMP TABLE \(table) (id int CONSTRAINT \(table)_pk PRIMARY KEY, n int CONSTRAINT \(table)_n_check CHECK (n > 0))")
        _ = try await connection.query("INSERT INTO \(table) VALUES ($1, $2)", [1, 1])
        do {
            _ = try await connection.query("INSERT INTO \(table) VALUES ($1, $2)", [1, 1])
            XCTFail("duplicate accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.code, .server)
            XCTAssertEqual(error.sqlState, "23505")
            XCTAssertEqual(error.constraint, "\(table)_pk")
            XCTAssertEqual(error.table, table)
            XCTAssertFalse(error.isTransient)
        }
        do {
            _ = try await connection.query("INSERT INTO \(table) VALUES ($1, $2)", [2, -1])
            XCTFail("check violation accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "23514")
            XCTAssertEqual(error.constraint, "\(table)_n_check")
        }
        do {
            _ = try await connection.query("SELEKT 1")
            XCTFail("syntax error accepted")
        } catch let error as PostgresError {
            XCTAssertEqual(error.sqlState, "42601")
        }
    }

    func testTransactionCommitsAndRollsBack() async throws {
        let connection = PostgresConnection(configuration: TestPostgres.configuration)
        let table = "pg_tx_\(UInt32.random(in: 0...UInt32.max))"
        _ = try await connection.query("CREATE TABLE \(table) (n int)")
        defer { Task { _ = try? await connection.query("DROP TABLE \(table)") } }
        try await connection.withTransaction { session in
            _ = try session.query("INSERT INTO \(table) VALUES ($1)", 1)
        }
        struct Boom: Error {}
        do {
            try await connection.withTransaction { session in
                _ = try session.query("INSERT INTO \(table) VALUES ($1)", 2)
                throw Boom()
            }
            XCTFail("the body's error was swallowed")
        } catch is Boom {}
        let rows = try await connection.query("SELECT array_agg(n ORDER BY n)::text AS ns FROM \(table)")
        XCTAssertEqual(try rows[0].string("ns"), "{1}")
        // A blocking session from a thread of its own sees the same data.
        let count = try await withCheckedThrowingContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(with: Result { try connection.withSessionBlocking { try $0.query("SELECT count(*) AS n FROM \(table)")[0].int64("n") } })
            }
        }
        XCTAssertEqual(count, 1)
    }

    func testFailedConnectIsTypedAndHidesThePassword() async throws {
        let configuration = PostgresConfiguration(connectionString: "postgresql://someone:hunter2secret@127.0.0.1:1/nowhere?connect_timeout=2")
        do {
            _ = try await PostgresConnection.connect(configuration: configuration)
            XCTFail("connected to a closed port")
        } catch let error as PostgresError {
            XCTAssertEqual(error.code, .connectionFailed)
            XCTAssertTrue(error.isTransient)
            XCTAssertFalse(error.message.contains("hunter2secret"))
            XCTAssertFalse(String(describing: error).contains("hunter2secret"))
        }
        // A malformed URL fails cleanly too, without echoing the password.
        do {
            _ = try await PostgresConnection.connect(configuration: PostgresConfiguration(connectionString: "postgresql://u:p%zzsecret@host:notaport/db"))
            XCTFail("a malformed URL connected")
        } catch let error as PostgresError {
            XCTAssertEqual(error.code, .connectionFailed)
            XCTAssertFalse(error.message.contains("zzsecret"), error.message)
        }
    }

    func testReconnectsAfterServerRestart() async throws {
        let connection = try await PostgresConnection.connect(configuration: TestPostgres.configuration)
        let before = try await connection.query("SELECT pg_backend_pid() AS pid")[0].int64("pid")
        try TestPostgres.restart()
        // The idle connection was closed by the restart; the next use reconnects transparently.
        let after = try await connection.query("SELECT pg_backend_pid() AS pid")[0].int64("pid")
        XCTAssertNotEqual(before, after)
        XCTAssertEqual(connection.reconnects, 1)
    }
}
