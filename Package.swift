// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "jira-integration",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "jira-worker", targets: ["JiraWorkerCLI"]),
        .executable(name: "jira-bench", targets: ["JiraBench"]),
        .library(name: "JiraStore", targets: ["JiraStore"]),
    ],
    targets: [
        // C shims: Debian's libpq, found through pkg-config.
        .systemLibrary(
            name: "CLibpq",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // C shims: Debian's hiredis 0.14 (RESP2). Not looked up through pkg-config: Debian's
        // hiredis.pc adds -D_FILE_OFFSET_BITS=64, a flag SwiftPM prohibits (and warns about);
        // the header and library sit on the default paths, and the module map links -lhiredis.
        .systemLibrary(name: "CHiredis", providers: [.apt(["libhiredis-dev"])]),
        // A thin, safe Swift layer over hiredis.
        .target(name: "Redis", dependencies: ["CHiredis"], swiftSettings: strict),
        // A thin, safe Swift layer over libpq.
        .target(name: "Postgres", dependencies: ["CLibpq"], swiftSettings: strict),
        // Models, migrations and JiraIntegrationStore.
        .target(name: "JiraStore", dependencies: ["Postgres"], swiftSettings: strict),
        // Cached lookups in Redis, kept coherent with PostgreSQL.
        .target(name: "JiraCache", dependencies: ["JiraStore", "Redis", "Postgres"], swiftSettings: strict),
        // Jobs from the Redis stream, applied through the store exactly once in effect.
        .target(name: "JiraWorker", dependencies: ["JiraCache", "JiraStore", "Redis", "Postgres"], swiftSettings: strict),
        // The `jira-worker` command line.
        .executableTarget(
            name: "JiraWorkerCLI",
            dependencies: ["JiraWorker", "JiraCache", "JiraStore", "Redis", "Postgres"],
            swiftSettings: strict
        ),
        // Lookup benchmarks for scripts/bench.
        .executableTarget(name: "JiraBench", dependencies: ["JiraCache", "JiraStore", "Redis", "Postgres"], swiftSettings: strict),
        // Helpers shared by the test targets: the real servers that scripts/test starts.
        .target(name: "TestSupport", dependencies: ["Postgres", "JiraStore", "Redis", "JiraWorker"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "JiraStoreTests", dependencies: ["JiraStore", "Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "RedisTests", dependencies: ["Redis", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "JiraWorkerTests", dependencies: ["JiraWorker", "JiraStore", "Redis", "Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "JiraCacheTests", dependencies: ["JiraCache", "JiraWorker", "JiraStore", "Redis", "Postgres", "TestSupport"], swiftSettings: strict),
    ]
)
