// swift-tools-version: 6.0
import PackageDescription

// Benchmarks live in their own package so that `swift build` and `swift test` of Baton never
// build them. Run with `swift run -c release --package-path Benchmarks <name>`.
let package = Package(
    name: "baton-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "baton", path: ".."),
    ],
    targets: [
        .executableTarget(
            name: "StoreBenchmark",
            dependencies: [.product(name: "BatonCore", package: "baton")]
        ),
    ]
)
