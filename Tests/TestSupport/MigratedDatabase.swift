import JiraStore
import Postgres

/// One freshly created and migrated database, shared by the store tests of this process.
/// Tests use unique ids, so they do not see each other's rows.
public enum MigratedDatabase {
    /// The database, created and migrated once per test process.
    public static let configuration = Task<PostgresConfiguration, any Error> {
        let configuration = try await TestPostgres.createDatabase(prefix: "jira_store")
        let connection = PostgresConnection(configuration: configuration)
        try await Migrator(connection: connection).migrate()
        connection.close()
        return configuration
    }

    /// A store with a connection of its own to that database.
    public static func store() async throws -> JiraIntegrationStore {
        JiraIntegrationStore(configuration: try await configuration.value)
    }
}

