// swift-tools-version:6.0
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "jira-integration",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "jira-worker", targets: ["JiraWorkerCLI"]),
        .library(name: "JiraStore", targets: ["JiraStore"]),
    ],
    targets: [
        // C shims: Debian's libpq, found through pkg-config.
        .systemLibrary(
            name: "CLibpq",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        // A thin, safe Swift layer over libpq.
        .target(name: "Postgres", dependencies: ["CLibpq"], swiftSettings: strict),
        // Models, migrations and JiraIntegrationStore.
        .target(name: "JiraStore", dependencies: ["Postgres"], swiftSettings: strict),
        // The `jira-worker` command line.
        .executableTarget(
            name: "JiraWorkerCLI",
            dependencies: ["JiraStore", "Postgres"],
            swiftSettings: strict
        ),
        // Helpers shared by the test targets: the real servers that scripts/test starts.
        .target(name: "TestSupport", dependencies: ["Postgres"], path: "Tests/TestSupport", swiftSettings: strict),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"], swiftSettings: strict),
        .testTarget(name: "JiraStoreTests", dependencies: ["JiraStore", "Postgres", "TestSupport"], swiftSettings: strict),
    ]
)
