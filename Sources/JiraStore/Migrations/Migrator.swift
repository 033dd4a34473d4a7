import Postgres

/// Applies ``JiraMigrations`` to a database.
///
/// Several processes may migrate at once: a session-level advisory lock lets one apply while the
/// others wait, then find nothing pending. Each migration runs in its own transaction together
/// with its row in `jira_schema_migrations`.
public struct Migrator: Sendable {
    /// The advisory lock key that serializes migrations (`pg_advisory_lock`).
    public static let lockKey: Int64 = 0x6A69_7261_6D69_67  // "jiramig"

    private let connection: PostgresConnection
    private let migrations: [Migration]

    /// Creates a migrator for a connection.
    public init(connection: PostgresConnection, migrations: [Migration] = JiraMigrations.all) {
        self.connection = connection
        self.migrations = migrations
    }

    /// Applies every pending migration; returns the ones it applied. Refuses to run when an
    /// applied migration's text changed.
    @discardableResult
    public func migrate() async throws -> [Migration] {
        let migrations = self.migrations
        return try await Self.run(connection) { session in
            _ = try session.query("SELECT pg_advisory_lock($1)", Self.lockKey)
            defer { _ = try? session.query("SELECT pg_advisory_unlock($1)", Self.lockKey) }
            try Self.createTable(session)
            let status = try Self.status(session, migrations)
            if let changed = status.first(where: { $0.state == .checksumMismatch }) {
                throw JiraStoreError(
                    code: .migrationChecksumMismatch,
                    message: "migration \(changed.version) (\(changed.name)) was applied with a different text; "
                        + "restore its original text and add a new migration instead"
                )
            }
            let pending = Set(status.filter { $0.state == .pending }.map(\.version))
            var applied: [Migration] = []
            for migration in migrations where pending.contains(migration.version) {
                try session.transaction { session in
                    try session.execute(trustedScript: migration.sql)
                    _ = try session.query(
                        "INSERT INTO jira_schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                        migration.version, migration.name, migration.checksum
                    )
                }
                applied.append(migration)
            }
            return applied
        }
    }

    /// Lists every migration, applied or pending, by version.
    public func status() async throws -> [MigrationStatus] {
        let migrations = self.migrations
        return try await Self.run(connection) { session in
            let exists = try session.query("SELECT to_regclass('jira_schema_migrations') IS NOT NULL AS present")
            guard try exists[0].bool("present") else {
                return migrations.map { MigrationStatus(version: $0.version, name: $0.name, state: .pending) }
            }
            return try Self.status(session, migrations)
        }
    }

    private static func run<T: Sendable>(_ connection: PostgresConnection, _ body: @escaping @Sendable (PostgresSession) throws -> T) async throws -> T {
        do {
            return try await connection.withSession(body)
        } catch let error as PostgresError {
            throw JiraStoreError(classifying: error)
        }
    }

    private static func createTable(_ session: PostgresSession) throws {
        try session.execute(script: """
            CREATE TABLE IF NOT EXISTS jira_schema_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """)
    }

    private static func status(_ session: PostgresSession, _ migrations: [Migration]) throws -> [MigrationStatus] {
        let rows = try session.query("SELECT version, name, checksum FROM jira_schema_migrations ORDER BY version")
        var applied: [Int: (name: String, checksum: String)] = [:]
        for row in rows { applied[Int(try row.int64("version"))] = (try row.string("name"), try row.string("checksum")) }
        var result = migrations.map { migration -> MigrationStatus in
            guard let record = applied.removeValue(forKey: migration.version) else {
                return MigrationStatus(version: migration.version, name: migration.name, state: .pending)
            }
            let state: MigrationStatus.State = record.checksum == migration.checksum ? .applied : .checksumMismatch
            return MigrationStatus(version: migration.version, name: migration.name, state: state)
        }
        result += applied.map { MigrationStatus(version: $0.key, name: $0.value.name, state: .unknown) }
        return result.sorted { $0.version < $1.version }
    }
}
