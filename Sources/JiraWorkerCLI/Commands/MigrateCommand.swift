import JiraStore
import Postgres

/// `jira-worker migrate [--status]`.
enum MigrateCommand {
    static let help = """
        Usage: jira-worker migrate [--status] [--database-url URL]

        Applies pending schema migrations (each in a transaction, serialized across processes by an
        advisory lock). --status lists applied and pending migrations instead.

        Options:
          --status              list migrations and their state; apply nothing
          --database-url URL    libpq connection string or URI (env DATABASE_URL)
        """

    static func run(_ arguments: inout CommandLineArguments) async throws -> Int32 {
        let listOnly = arguments.flag("--status")
        let configuration = try PostgresConfiguration(databaseURL: arguments.option("--database-url"))
        try arguments.finish()
        let migrator = Migrator(connection: PostgresConnection(configuration: configuration))
        if listOnly {
            for status in try await migrator.status() {
                print("\(status.version)\t\(status.name)\t\(status.state.rawValue)")
            }
            return 0
        }
        let applied = try await migrator.migrate()
        for migration in applied { Log.info("applied migration", ["version": String(migration.version), "name": migration.name]) }
        Log.info(applied.isEmpty ? "schema is up to date" : "migrated", ["applied": String(applied.count)])
        return 0
    }
}

extension PostgresConfiguration {
    /// The flag's value, else `DATABASE_URL`, else the local default.
    init(databaseURL flag: String?) {
        self.init(connectionString: flag ?? Environment.value("DATABASE_URL") ?? PostgresConfiguration.localDefault)
    }
}
