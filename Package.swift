// swift-tools-version: 6.1
import PackageDescription

let package = Package(
    name: "baton",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "baton", targets: ["baton"]),
        // Started by the server in front of each sandboxed plan; ships beside `baton`.
        .executable(name: "baton-confine", targets: ["baton-confine"]),
        .library(name: "BatonCore", targets: ["BatonCore"]),
        .library(name: "BatonSQLite", targets: ["BatonSQLite"]),
        .library(name: "BatonPostgres", targets: ["BatonPostgres"]),
        .library(name: "BatonServer", targets: ["BatonServer"]),
        .library(name: "BatonClient", targets: ["BatonClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        // Without its default ConfigurationSupport trait, which would build swift-configuration.
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/apple/swift-crypto", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        // The CLI's HTTP client: streams Server-Sent Events, and the server tests build it anyway.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.21.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.81.0"),
        // The shared store of several nodes (design §10); it builds on the NIO, NIOSSL and
        // swift-crypto the server and client already build.
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(name: "CBatonProcess"),
        // Joins a plan's cgroups, sets its rlimits and builds its sandbox, then execs Python.
        // Every plan starts one, so it is C on system calls alone (Sources/baton-confine/runtime.h):
        // a static executable entered at its own start routine, which neither loads the Swift
        // runtime SwiftPM links in nor runs the C library's start-up.
        .executableTarget(
            name: "baton-confine",
            cSettings: [.unsafeFlags(["-ffreestanding", "-fno-stack-protector"])],
            linkerSettings: [.unsafeFlags(["-static-executable", "-nostartfiles", "-Xlinker", "-e", "-Xlinker", "baton_confine_start"])]
        ),
        .target(
            name: "BatonCore",
            dependencies: [
                "CBatonProcess",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                // SHA-256 names a plan's environment by its requirement set.
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The embedded default store: one SQLite file. The only module that imports CSQLite.
        .target(
            name: "BatonSQLite",
            dependencies: [
                "BatonCore",
                "CSQLite",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The store several nodes share: PostgreSQL through postgres-nio.
        .target(
            name: "BatonPostgres",
            dependencies: [
                "BatonCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "BatonServer",
            dependencies: [
                "BatonCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "BatonClient",
            dependencies: [
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "baton",
            dependencies: [
                "BatonCore",
                "BatonSQLite",
                "BatonPostgres",
                "BatonServer",
                "BatonClient",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // What every test target shares: `eventually`, gates, temporary directories, store helpers,
        // test databases on the PostgreSQL server of BATON_TEST_POSTGRES_URL.
        .target(
            name: "BatonTestSupport",
            dependencies: [
                "BatonCore",
                "BatonPostgres",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/BatonTestSupport"
        ),
        // One suite of store behaviour, run against every store (design §10).
        .testTarget(
            name: "BatonStoreConformanceTests",
            dependencies: [
                "BatonCore",
                "BatonSQLite",
                "BatonPostgres",
                "BatonTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "BatonPostgresTests",
            dependencies: [
                "BatonCore",
                "BatonPostgres",
                "BatonTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "BatonSQLiteTests",
            dependencies: [
                "BatonCore",
                "BatonSQLite",
                "BatonTestSupport",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "BatonCoreTests",
            dependencies: [
                "BatonCore",
                "BatonSQLite",
                "BatonTestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .testTarget(
            name: "BatonServerTests",
            dependencies: [
                "BatonServer",
                "BatonTestSupport",
                "BatonCore",
                "BatonSQLite",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "EndToEndTests",
            dependencies: [
                "BatonClient",
                "BatonTestSupport",
                "BatonCore",
                "BatonSQLite",
                "BatonPostgres",
                .product(name: "Subprocess", package: "swift-subprocess"),
            ]
        ),
    ]
)
