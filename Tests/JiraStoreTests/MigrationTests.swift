import Foundation
import JiraStore
import Postgres
import TestSupport
import XCTest

final class MigrationTests: XCTestCase {
    func testChecksumIsStableAndSensitive() {
        let migration = Migration(version: 1, name: "x", sql: "CREATE TABLE t (id int)")
        XCTAssertEqual(migration.checksum, Migration(version: 1, name: "x", sql: "CREATE TABLE t (id int)").checksum)
        XCTAssertNotEqual(migration.checksum, Migration(version: 1, name: "x", sql: "CREATE TABLE t (id bigint)").checksum)
        XCTAssertEqual(migration.checksum.count, 16)
        XCTAssertEqual(Migration(version: 1, name: "x", sql: "").checksum, "cbf29ce484222325")
        XCTAssertEqual(Migration(version: 1, name: "x", sql: "a").checksum, "af63dc4c8601ec8c")
    }

    func testMigrationsAreOrderedAndUnique() {
        let versions = JiraMigrations.all.map(\.version)
        XCTAssertEqual(versions, versions.sorted())
        XCTAssertEqual(Set(versions).count, versions.count)
    }

    func testMigrateTwiceAndStatus() async throws {
        let connection = PostgresConnection(configuration: try await TestPostgres.createDatabase(prefix: "jira_migrate"))
        let migrator = Migrator(connection: connection)
        let before = try await migrator.status()
        XCTAssertEqual(before.map(\.state), JiraMigrations.all.map { _ in .pending })
        let first = try await migrator.migrate()
        XCTAssertEqual(first.map(\.version), JiraMigrations.all.map(\.version))
        let second = try await migrator.migrate()
        XCTAssertEqual(second, [])
        let after = try await migrator.status()
        XCTAssertEqual(after.map(\.state), JiraMigrations.all.map { _ in .applied })
    }

    func testConcurrentMigratorsApplyEachMigrationOnce() async throws {
        let configuration = try await TestPostgres.createDatabase(prefix: "jira_migrate")
        let applied = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<6 {
                group.addTask { try await Migrator(connection: PostgresConnection(configuration: configuration)).migrate().count }
            }
            return try await group.reduce(0, +)
        }
        XCTAssertEqual(applied, JiraMigrations.all.count)
        let rows = try await PostgresConnection(configuration: configuration).query("SELECT count(*) AS n FROM jira_schema_migrations")
        XCTAssertEqual(try rows[0].int64("n"), Int64(JiraMigrations.all.count))
    }

    func testChangedMigrationIsRefused() async throws {
        let connection = PostgresConnection(configuration: try await TestPostgres.createDatabase(prefix: "jira_migrate"))
        let original = [Migration(version: 1, name: "t", sql: "CREATE TABLE t (id int)")]
        try await Migrator(connection: connection, migrations: original).migrate()
        let edited = [Migration(version: 1, name: "t", sql: "CREATE TABLE t (id bigint)"), Migration(version: 2, name: "u", sql: "CREATE TABLE u (id int)")]
        await assertStoreError(.migrationChecksumMismatch) { try await Migrator(connection: connection, migrations: edited).migrate() }
        let status = try await Migrator(connection: connection, migrations: edited).status()
        XCTAssertEqual(status.map(\.state), [.checksumMismatch, .pending])
        // Nothing after the mismatch was applied.
        let rows = try await connection.query("SELECT to_regclass('u') IS NULL AS absent")
        XCTAssertTrue(try rows[0].bool("absent"))
        // A migration that fails rolls back whole and is not recorded.
        let broken = original + [Migration(version: 2, name: "broken", sql: "CREATE TABLE v (id int); SELEKT;")]
        do {
            try await Migrator(connection: connection, migrations: broken).migrate()
            XCTFail("a broken migration was applied")
        } catch {}
        let v = try await connection.query("SELECT to_regclass('v') IS NULL AS absent")
        XCTAssertTrue(try v[0].bool("absent"))
        let status2 = try await Migrator(connection: connection, migrations: broken).status()
        XCTAssertEqual(status2.map(\.state), [.applied, .pending])
    }
}
