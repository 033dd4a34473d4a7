import Foundation
import JiraCache
import JiraStore
import Postgres
import Redis

/// `jira-worker lookup`.
enum LookupCommand {
    static let help = """
        Usage: jira-worker lookup active-user WORKSPACE_ID KEYCLOAK_USER_ID
               jira-worker lookup active-jira-user WORKSPACE_ID JIRA_USER_ID
               jira-worker lookup conversations WORKSPACE_ID KEYCLOAK_USER_ID ISSUE_ID
               jira-worker lookup workspace CLOUD_ID
               jira-worker lookup workspace-by-name NAME

        Answers the hot lookups as the web app does: from the Redis cache, reading through to
        PostgreSQL on a miss (and falling back to it when Redis is unreachable). Prints JSON: the
        link, the conversations, or the workspace (id, name, cloud id, status, version), or null.

        Options:
          --no-cache           read PostgreSQL only
          --verbose            also print where the answer came from and its version, on stderr
          --redis-url URL      (env REDIS_URL)
          --database-url URL   (env DATABASE_URL)
          --prefix WORD        (env JIRA_PREFIX)
        """

    static func run(_ arguments: inout CommandLineArguments) async throws -> Int32 {
        var settings = Settings(arguments: arguments)
        let noCache = settings.arguments.flag("--no-cache")
        let verbose = settings.arguments.flag("--verbose")
        let redis = try settings.redis()
        let postgres = try settings.postgres()
        let keys = try settings.keys()
        let kind = try settings.arguments.positional("a lookup (active-user, active-jira-user, conversations, workspace, workspace-by-name)")
        func workspaceID() throws -> Int64 {
            let text = try settings.arguments.positional("WORKSPACE_ID")
            guard let id = Int64(text) else { throw UsageError("WORKSPACE_ID must be an integer, not \"\(text)\"") }
            return id
        }
        let store = JiraIntegrationStore(configuration: postgres)
        let cache = JiraCache(redis: RedisConnection(configuration: redis), store: store, configuration: JiraCacheConfiguration(prefix: keys.prefix))
        let output: (json: Data, source: JiraLookupSource, version: Int64)
        switch kind {
        case "active-user":
            let (workspace, user) = (try workspaceID(), try settings.arguments.positional("KEYCLOAK_USER_ID"))
            try settings.arguments.finish()
            output = try await answer(noCache ? nil : { try await cache.activeUser(workspaceID: workspace, keycloakUserID: user) },
                                      store) { try $0.activeUserLookup(workspaceID: workspace, keycloakUserID: user) }
        case "active-jira-user":
            let (workspace, account) = (try workspaceID(), try settings.arguments.positional("JIRA_USER_ID"))
            try settings.arguments.finish()
            output = try await answer(noCache ? nil : { try await cache.activeUser(workspaceID: workspace, jiraUserID: account) },
                                      store) { try $0.activeUserLookup(workspaceID: workspace, jiraUserID: account) }
        case "conversations":
            let workspace = try workspaceID()
            let (user, issue) = (try settings.arguments.positional("KEYCLOAK_USER_ID"), try settings.arguments.positional("ISSUE_ID"))
            try settings.arguments.finish()
            output = try await answer(noCache ? nil : { try await cache.conversations(workspaceID: workspace, keycloakUserID: user, issueID: issue) },
                                      store) { try $0.conversationsLookup(workspaceID: workspace, keycloakUserID: user, issueID: issue) }
        case "workspace", "workspace-by-name":
            let argument = try settings.arguments.positional(kind == "workspace" ? "CLOUD_ID" : "NAME")
            try settings.arguments.finish()
            let byName = kind == "workspace-by-name"
            output = try await answer(noCache ? nil : { byName ? try await cache.workspace(name: argument) : try await cache.workspace(cloudID: argument) },
                                      store) { session in
                let found = byName ? try session.workspaceLookup(name: argument) : try session.workspaceLookup(cloudID: argument)
                return Versioned(value: found.value.map(JiraWorkspaceSummary.init), version: found.version)
            }
        default:
            throw UsageError("unknown lookup \(kind)")
        }
        print(String(decoding: output.json, as: UTF8.self))
        if verbose { Log.info("lookup", ["source": output.source.rawValue, "version": String(output.version)]) }
        return 0
    }

    /// Runs the cached lookup, or the store's when `cached` is nil, and encodes the value.
    private static func answer<Value: Encodable & Sendable>(
        _ cached: (() async throws -> JiraLookup<Value>)?, _ store: JiraIntegrationStore,
        _ load: @escaping @Sendable (JiraStoreSession) throws -> Versioned<Value>
    ) async throws -> (json: Data, source: JiraLookupSource, version: Int64) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        if let cached {
            let lookup = try await cached()
            return (try encoder.encode(lookup.value), lookup.source, lookup.version)
        }
        let loaded = try await store.read(load)
        return (try encoder.encode(loaded.value), .database, loaded.version)
    }
}
