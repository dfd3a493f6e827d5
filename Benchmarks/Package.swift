// swift-tools-version: 6.0
import PackageDescription

// Benchmarks live in their own package so that `swift build` and `swift test` of Baton never
// build them. Run with `swift run -c release --package-path Benchmarks <name>`.
let package = Package(
    name: "baton-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "baton", path: ".."),
        .package(url: "https://github.com/swiftlang/swift-subprocess", from: "1.0.2"),
        .package(url: "https://github.com/apple/swift-system", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.30.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        .executableTarget(
            name: "StoreBenchmark",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "BatonCore", package: "baton"),
                .product(name: "BatonSQLite", package: "baton"),
                .product(name: "BatonPostgres", package: "baton"),
            ]
        ),
        .target(
            name: "BenchmarkSupport",
            dependencies: [
                .product(name: "BatonCore", package: "baton"),
                .product(name: "BatonPostgres", package: "baton"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .executableTarget(
            name: "RunnerBenchmark",
            dependencies: ["BenchmarkSupport", .product(name: "BatonCore", package: "baton"), .product(name: "BatonSQLite", package: "baton")]
        ),
        .executableTarget(
            name: "HTTPBenchmark",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "BatonCore", package: "baton"),
                .product(name: "BatonServer", package: "baton"),
                .product(name: "BatonSQLite", package: "baton"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "ClusterBenchmark",
            dependencies: [
                "BenchmarkSupport",
                .product(name: "BatonCore", package: "baton"),
                .product(name: "BatonClient", package: "baton"),
            ]
        ),
        .executableTarget(
            name: "OrchestratorBenchmark",
            dependencies: ["BenchmarkSupport", .product(name: "BatonCore", package: "baton"), .product(name: "BatonClient", package: "baton")]
        ),
    ]
)
