// swift-tools-version:6.0
import PackageDescription

// Dependencies point down the list (see docs/DESIGN.md): C shims and libsystemd at the bottom,
// then JSON, Systemd and ProcessRunner (no gateway knowledge), then GatewayWire (the control
// contract), then GatewayCore, then the executables. gatewayctl stays above GatewayWire, JSON and
// the blocking varlink client only. Sources/ holds only what ships; benchmarks live in
// Benchmarks/, the test helper and shared test code in Tests/ (each named with `path:`).
/// How the shipped executables are linked in release builds (the installed, static-runtime ones).
/// - lld with packed relative relocations (DT_RELR, glibc 2.36+): the loader no longer reads
///   1.7 MB of .rela.dyn at every start, and the read-only data sits apart from the code. Idle RSS
///   of the static build 21.1-21.7 -> 19.5-19.8 MiB (gold, the default, cannot pack relocations).
/// - `--no-export-dynamic`: the toolchain's static-stdlib link flags export every symbol of the
///   executable's own objects (37,283 dynamic symbols for gatewayd, 506 without). Nothing looks
///   them up (no plugins, no dlsym), but the loader searches that table for every symbol of every
///   shared library at each start, which faults in ~4 MiB of it: idle RSS 24.1-24.2 -> 19.7-20.0
///   MiB, measured with the same objects linked both ways. (Backtraces name the frames from
///   `.symtab` instead, which contrib/install.sh keeps for gatewayd.) With DT_RELR, the binaries
///   need glibc 2.36 or later (Debian 12).
let shippedLinkerSettings: [LinkerSetting] = [
    .unsafeFlags(["-Xclang-linker", "-fuse-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                  "-Xlinker", "--no-export-dynamic"],
                 .when(platforms: [.linux], configuration: .release)),
]

/// The package's directory, for linker flags that name a file in it (the linker's working
/// directory is the caller's, not necessarily this one).
let packageDirectory = String(#filePath.dropLast("/Package.swift".count))

/// gatewayd's release link lays out first the functions its start and an idle daemon run
/// (Sources/gatewayd/gatewayd.order, made by contrib/generate-start-order): idle, the static
/// gatewayd touched 11 MiB of its 22 MiB of code a page here and there; together, idle RSS
/// 20.0 -> 17.0-17.7 MiB (19.7-20.3 -> 17.1-17.4 with the metrics listener). A name the code no
/// longer has is skipped without a warning: a stale list costs memory, never a build.
let startOrderSettings: [LinkerSetting] = [
    .unsafeFlags(["-Xlinker", "--symbol-ordering-file=\(packageDirectory)/Sources/gatewayd/gatewayd.order",
                  "-Xlinker", "--no-warn-symbol-ordering"],
                 .when(platforms: [.linux], configuration: .release)),
]

let package = Package(
    name: "gatewayd",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "gatewayd", targets: ["gatewayd"]),
        .executable(name: "gatewayctl", targets: ["gatewayctl"]),
        .executable(name: "gatewayd-runner-bench", targets: ["ProcessRunnerBench"]),
        .executable(name: "gatewayd-dispatch-bench", targets: ["DispatchBench"]),
        .executable(name: "gatewayd-control-bench", targets: ["ControlBench"]),
        .executable(name: "gatewayd-bench", targets: ["GatewaydBench"]),
        .executable(name: "gatewayd-start-window", targets: ["StartWindow"]),
        .executable(name: "gatewayd-agent-bench", targets: ["AgentBench"]),
        .executable(name: "gatewayd-fuzz-json", targets: ["FuzzJSON"]),
        .executable(name: "gatewayd-fuzz-config", targets: ["FuzzConfig"]),
        .executable(name: "gatewayd-fuzz-varlink", targets: ["FuzzVarlink"]),
        .executable(name: "gatewayd-fuzz-sse", targets: ["FuzzSSE"]),
        .executable(name: "gatewayd-fuzz-irc", targets: ["FuzzIRC"]),
        .executable(name: "gatewayd-fuzz-webhook", targets: ["FuzzWebhook"]),
        .executable(name: "gatewayd-fuzz-telegram", targets: ["FuzzTelegram"]),
        .executable(name: "gatewayd-fuzz-matrix", targets: ["FuzzMatrix"]),
        .executable(name: "gatewayd-fuzz-ircstate", targets: ["FuzzIRCState"]),
        .executable(name: "gatewayd-store-bench", targets: ["StateStoreBench"]),
        .executable(name: "gatewayd-webhook-bench", targets: ["WebhookBench"]),
        .executable(name: "gatewayd-irc-bench", targets: ["IRCBench"]),
        .executable(name: "gatewayd-llama-bench", targets: ["LlamaBench"]),
        .executable(name: "gatewayd-telegram-bench", targets: ["TelegramBench"]),
        .executable(name: "gatewayd-soak", targets: ["Soak"]),
        .executable(name: "gatewayd-matrix-bench", targets: ["MatrixBench"]),
        .executable(name: "gatewayd-test-helper", targets: ["GatewayTestHelper"]),
        .library(name: "Systemd", targets: ["Systemd"]),
        .library(name: "ProcessRunner", targets: ["ProcessRunner"]),
        // Preloaded into a gatewayd by EarlyStopTests: SIGTERM from a library's initialiser.
        .library(name: "gatewayd-test-early-term", type: .dynamic, targets: ["CTestEarlyTerm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        // The webhook's HMAC-SHA256 (see HMACSHA256 for why not the system's libcrypto).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        // TLS for IRC (`tls: true`): BoringSSL inside, no Foundation on Linux.
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        // The daemon's services (control socket, adapters, watchdog, sd_notify) and their
        // graceful shutdown in reverse start order.
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        // The OpenAI-compatible agent's HTTP client: streaming bodies, connection pooling, TLS
        // against the system roots, proxies, read timeouts and cancellation that closes the
        // connection.
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
    ],
    targets: [
        // MARK: What ships (Sources/): the product targets and the modules they are built from.

        .systemLibrary(
            name: "CSystemd",
            pkgConfig: "libsystemd",
            providers: [.apt(["libsystemd-dev", "pkg-config"])]
        ),
        // libyaml (Debian's libyaml-dev) parses the config; see YAMLNode for why not Yams.
        .systemLibrary(
            name: "CYAML",
            pkgConfig: "yaml-0.1",
            providers: [.apt(["libyaml-dev"])]
        ),
        // SQLite (Debian's libsqlite3-dev) keeps the durable queue; see StateStore for why not GRDB.
        .systemLibrary(
            name: "CSQLite",
            pkgConfig: "sqlite3",
            providers: [.apt(["libsqlite3-dev"])]
        ),
        .target(name: "CGatewayShims"),
        // gatewayd's lifecycle signals blocked by a constructor, before the Swift runtime starts.
        .target(name: "CGatewaydStart"),
        .target(
            name: "Systemd",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "CSystemd", "CGatewayShims",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .target(name: "ProcessRunner", dependencies: ["CGatewayShims", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        // JSON values, parsed and written (no Foundation): varlink, webhooks, the agent's stdin.
        .target(name: "JSON"),
        // io.gatewayd.Gateway as Swift types, with the socket's place and the shared names: what
        // gatewayd and gatewayctl agree on (no NIO, no Foundation, no GatewayCore).
        .target(name: "GatewayWire", dependencies: ["JSON"]),
        // The varlink protocol without any I/O: calls, replies, their JSON, the standard errors.
        .target(name: "VarlinkProtocol", dependencies: ["JSON"]),
        // A blocking varlink client (for command-line tools and tests: no event loop to start).
        .target(name: "VarlinkClient", dependencies: ["VarlinkProtocol", "JSON", "CGatewayShims"]),
        .target(
            name: "GatewayCore",
            dependencies: ["ProcessRunner", "CYAML", "JSON", "GatewayWire", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .target(name: "StateStore", dependencies: ["GatewayCore", "CSQLite", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        // The varlink server on SwiftNIO: framing, connections, the org.varlink.service interface.
        .target(
            name: "Varlink",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "VarlinkProtocol", "JSON", "CGatewayShims",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // io.gatewayd.Gateway: the interface file and its handlers over the Dispatcher.
        .target(
            name: "GatewayControl",
            dependencies: ["Varlink", "VarlinkProtocol", "JSON", "GatewayWire", "GatewayCore",
                           .product(name: "Logging", package: "swift-log"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            resources: [.embedInCode("io.gatewayd.Gateway.varlink")]
        ),
        // Chat platform adapters (IRC, the webhook), on SwiftNIO.
        .target(
            name: "Platforms",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "GatewayCore", "JSON",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
            ]
        ),
        // The OpenAI wire format without any I/O: the server-sent-events parser, the request body
        // and the streamed chunks' JSON. Apart from OpenAIBackend so that its fuzz target builds
        // without AsyncHTTPClient (a sanitized build of that and its TLS is slow and large).
        .target(name: "OpenAIProtocol", dependencies: ["GatewayCore", "JSON"]),
        // The OpenAI-compatible agent backend (`agent.backend: openai`): chat completions streamed
        // over server-sent events, retries, fallbacks and a circuit breaker per endpoint.
        .target(
            name: "OpenAIBackend",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "GatewayCore", "JSON", "OpenAIProtocol",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "gatewayd",
            dependencies: [
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                "Systemd", "GatewayCore", "StateStore", "Platforms", "OpenAIBackend", "GatewayControl", "Varlink", "ProcessRunner", "CGatewayShims",
                "CGatewaydStart",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // The metrics listener (`metrics.listen`).
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            exclude: ["gatewayd.order"],
            linkerSettings: shippedLinkerSettings + startOrderSettings
        ),
        // Starts in a few milliseconds: the contract, JSON, the blocking client; no NIO, no
        // Foundation, no GatewayCore.
        .executableTarget(
            name: "gatewayctl",
            dependencies: [
                "GatewayWire", "JSON", "VarlinkProtocol", "VarlinkClient",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            linkerSettings: shippedLinkerSettings
        ),

        // MARK: Benchmarks (Benchmarks/): not shipped. In this package, not a package of their
        // own (as swift-nio's is), because they call the modules' `package`-access API, which
        // only targets of the same package can see.

        // C floors and load generators the benchmarks measure against.
        .target(name: "CSpawnBaseline", dependencies: ["CGatewayShims"], path: "Benchmarks/CSpawnBaseline"),
        .target(name: "CControlBaseline", dependencies: ["CGatewayShims", "CGatewayTestShims"], path: "Benchmarks/CControlBaseline"),
        .target(name: "CAllocCounter", path: "Benchmarks/CAllocCounter"),
        .target(name: "CHTTPLoad", path: "Benchmarks/CHTTPLoad"),
        .target(name: "CIRCLoad", path: "Benchmarks/CIRCLoad"),
        // `gatewayd-start-window GATEWAYD`: how long after exec a SIGTERM can still kill it, against
        // a C floor that blocks the signal as early (C alone: the floor is this program itself).
        .executableTarget(name: "StartWindow", path: "Benchmarks/StartWindow"),
        // `swift run -c release gatewayd-runner-bench`: the runner against a C posix_spawn baseline.
        .executableTarget(
            name: "ProcessRunnerBench",
            dependencies: ["ProcessRunner", "CSpawnBaseline"],
            path: "Benchmarks/ProcessRunnerBench"
        ),
        // `swift run -c release gatewayd-dispatch-bench`: messages/s and allocations per message.
        .executableTarget(
            name: "DispatchBench",
            dependencies: ["GatewayCore", "GatewayWire", "CAllocCounter", "CGatewayShims"],
            path: "Benchmarks/DispatchBench"
        ),
        // `swift run -c release gatewayd-control-bench`: GetStatus against a C socket floor.
        .executableTarget(
            name: "ControlBench",
            dependencies: ["GatewayControl", "GatewayCore", "GatewayWire", "Varlink", "VarlinkClient", "ProcessRunner",
                           "CControlBaseline", "CGatewayShims",
                           .product(name: "NIOCore", package: "swift-nio")],
            path: "Benchmarks/ControlBench"
        ),
        // `swift run -c release gatewayd-store-bench`: append latency and durable messages/s.
        .executableTarget(
            name: "StateStoreBench",
            dependencies: ["StateStore", "GatewayCore", "CGatewayShims"],
            path: "Benchmarks/StateStoreBench"
        ),
        // `swift run -c release gatewayd-webhook-bench`: webhook requests/s with 16 clients.
        .executableTarget(
            name: "WebhookBench",
            dependencies: ["Platforms", "GatewayCore", "CHTTPLoad"],
            path: "Benchmarks/WebhookBench"
        ),
        // `swift run -c release gatewayd-irc-bench`: IRC adapter messages/s against ngircd.
        .executableTarget(
            name: "IRCBench",
            dependencies: ["Platforms", "GatewayCore", "CIRCLoad", "CGatewayShims", "CGatewayTestShims"],
            path: "Benchmarks/IRCBench"
        ),
        // `swift build -c release && .build/release/gatewayd-llama-bench`: time to the first part
        // through gatewayd's openai backend against a direct client of the same real llama.cpp
        // server (the tests' LlamaServer, IRCServer and HTTP client, hence GatewayTestSupport).
        .executableTarget(
            name: "LlamaBench",
            dependencies: ["GatewayTestSupport", "GatewayCore"],
            path: "Benchmarks/LlamaBench"
        ),
        // `swift build -c release && .build/release/gatewayd-matrix-bench`: replies/s and latency
        // through gatewayd's Matrix adapter against a real Synapse (the tests' SynapseServer and
        // client, hence GatewayTestSupport), beside Synapse's own round trip with an echo client.
        .executableTarget(
            name: "MatrixBench",
            dependencies: ["BenchSupport", "GatewayTestSupport", "CGatewayTestShims"],
            path: "Benchmarks/MatrixBench"
        ),
        // `swift build -c release && .build/release/gatewayd-bench`: the whole daemon.
        .executableTarget(
            name: "GatewaydBench",
            dependencies: ["CControlBaseline", "CSpawnBaseline", "CGatewayShims", "CGatewayTestShims"],
            path: "Benchmarks/GatewaydBench"
        ),

        // `swift build -c release && .build/release/gatewayd-agent-bench`: the openai backend's
        // added latency and turns/s against a direct client of the same fake server.
        .executableTarget(
            name: "AgentBench",
            dependencies: ["BenchSupport", "GatewayTestSupport", "JSON", "VarlinkClient", "VarlinkProtocol", "CGatewayShims", "CGatewayTestShims"],
            path: "Benchmarks/AgentBench"
        ),

        // What the daemon benchmarks share: starting the gatewayd beside them, medians, load.
        .target(name: "BenchSupport", dependencies: ["CGatewayShims", "CGatewayTestShims", "GatewayTestSupport"], path: "Benchmarks/BenchSupport"),
        // `swift build -c release && .build/release/gatewayd-telegram-bench`: messages/s and latency
        // through the Telegram adapter against a fake Bot API, and a minimal bot on the same fake.
        .executableTarget(
            name: "TelegramBench",
            dependencies: ["BenchSupport", "GatewayTestSupport", "JSON", "CGatewayShims"],
            path: "Benchmarks/TelegramBench"
        ),

        // `swift build -c release && .build/release/gatewayd-soak 1h`: the daemon under mixed load
        // (IRC, webhook, control socket, exec, reloads, drains), sampled, with slopes per hour.
        .executableTarget(
            name: "Soak",
            dependencies: ["BenchSupport", "GatewayTestSupport", "Platforms", "JSON", "VarlinkClient", "VarlinkProtocol", "CGatewayShims", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            path: "Benchmarks/Soak"
        ),

        // MARK: Fuzz targets (Fuzz/): libFuzzer entry points when built by `Fuzz/run` (with
        // -sanitize=fuzzer,address -DFUZZING), replayers of the committed corpus otherwise.
        .target(name: "FuzzReplay", path: "Fuzz/FuzzReplay"),
        .executableTarget(name: "FuzzJSON", dependencies: ["JSON", "FuzzReplay"], path: "Fuzz/FuzzJSON"),
        .executableTarget(name: "FuzzConfig", dependencies: ["GatewayCore", "FuzzReplay"], path: "Fuzz/FuzzConfig"),
        .executableTarget(name: "FuzzVarlink", dependencies: ["Varlink", "VarlinkProtocol", "JSON", "FuzzReplay",
                                                             .product(name: "NIOCore", package: "swift-nio")],
                          path: "Fuzz/FuzzVarlink"),
        .executableTarget(name: "FuzzSSE", dependencies: ["OpenAIProtocol", "FuzzReplay"], path: "Fuzz/FuzzSSE"),
        .executableTarget(name: "FuzzIRC", dependencies: ["Platforms", "FuzzReplay",
                                                         .product(name: "NIOCore", package: "swift-nio"),
                                                         .product(name: "NIOEmbedded", package: "swift-nio")],
                          path: "Fuzz/FuzzIRC"),
        .executableTarget(name: "FuzzWebhook", dependencies: ["Platforms", "GatewayCore", "JSON", "FuzzReplay",
                                                             .product(name: "NIOCore", package: "swift-nio"),
                                                             .product(name: "NIOEmbedded", package: "swift-nio")],
                          path: "Fuzz/FuzzWebhook"),
        .executableTarget(name: "FuzzTelegram", dependencies: ["Platforms", "GatewayCore", "JSON", "FuzzReplay"],
                          path: "Fuzz/FuzzTelegram"),
        // The Matrix adapter's sync handling with a transport that answers from the input
        // (`MatrixTransport`, whose requests are AsyncHTTPClient's).
        .executableTarget(name: "FuzzMatrix", dependencies: ["Platforms", "GatewayCore", "JSON", "FuzzReplay",
                                                            .product(name: "AsyncHTTPClient", package: "async-http-client"),
                                                            .product(name: "Logging", package: "swift-log"),
                                                            .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
                          path: "Fuzz/FuzzMatrix"),
        // The IRC adapter itself on a testing channel (`IRCAdapter.Connector`).
        .executableTarget(name: "FuzzIRCState", dependencies: ["Platforms", "GatewayCore", "FuzzReplay",
                                                              .product(name: "Logging", package: "swift-log"),
                                                              .product(name: "NIOCore", package: "swift-nio"),
                                                              .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
                          path: "Fuzz/FuzzIRCState"),

        // MARK: Tests (Tests/): not shipped.

        // C shims only tests and benchmarks call (binding sockets, a fake notify socket's
        // credentials, a pid-exact sleeper), kept out of the shipped CGatewayShims.
        .target(name: "CGatewayTestShims", dependencies: ["CGatewayShims"], path: "Tests/CGatewayTestShims"),
        // A shared library whose initialiser TERMs its process (EarlyStopTests, with LD_PRELOAD).
        .target(name: "CTestEarlyTerm", path: "Tests/CTestEarlyTerm"),

        // What every test target shares: spawned children, the `.ownThread` trait, paths.
        .target(
            name: "GatewayTestSupport",
            dependencies: ["CGatewayShims", "CGatewayTestShims", .product(name: "Logging", package: "swift-log"),
                           .product(name: "Crypto", package: "swift-crypto"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")],
            path: "Tests/GatewayTestSupport"
        ),
        // Driven by the tests inside a real systemd manager / journald; not installed.
        .executableTarget(
            name: "GatewayTestHelper",
            dependencies: [
                "Systemd", "ProcessRunner", "CGatewayShims", "CGatewayTestShims", "GatewayCore",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/GatewayTestHelper"
        ),
        .testTarget(name: "JSONTests", dependencies: ["JSON"]),
        .testTarget(
            name: "SystemdTests",
            dependencies: [
                "Systemd", "CGatewayShims", "CGatewayTestShims", "GatewayTestSupport", "GatewayTestHelper",
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        .testTarget(
            name: "ProcessRunnerTests",
            dependencies: ["ProcessRunner", "CGatewayShims", "CGatewayTestShims", "GatewayTestSupport", "GatewayTestHelper", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .testTarget(name: "GatewayWireTests", dependencies: ["GatewayWire", "JSON"]),
        .testTarget(
            name: "VarlinkTests",
            dependencies: ["Varlink", "VarlinkProtocol", "VarlinkClient", "JSON", "CGatewayShims", "CGatewayTestShims", "GatewayTestSupport",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .testTarget(
            name: "GatewayCoreTests",
            dependencies: ["GatewayCore", "ProcessRunner", "StateStore", "GatewayTestSupport", "GatewayTestHelper", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .testTarget(name: "StateStoreTests", dependencies: ["StateStore", "GatewayCore", "GatewayTestSupport"]),
        .testTarget(
            name: "GatewayControlTests",
            dependencies: ["GatewayControl", "GatewayWire", "Varlink", "VarlinkProtocol", "VarlinkClient", "JSON", "GatewayCore",
                           "GatewayTestSupport", "gatewayctl", "gatewayd",
                           .product(name: "Logging", package: "swift-log"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        .testTarget(name: "PlatformsTests", dependencies: ["Platforms", "GatewayCore", "GatewayTestSupport",
                                                           .product(name: "NIOCore", package: "swift-nio"),
                                                           .product(name: "NIOEmbedded", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]),
        .testTarget(
            name: "OpenAIBackendTests",
            dependencies: ["OpenAIBackend", "OpenAIProtocol", "GatewayCore", "StateStore", "JSON", "GatewayTestSupport",
                           .product(name: "Logging", package: "swift-log"),
                           .product(name: "NIOCore", package: "swift-nio"),
                           .product(name: "NIOPosix", package: "swift-nio"),
                           .product(name: "NIOHTTP1", package: "swift-nio"), .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
        // Spawns the built gatewayd; depends on it so that `swift test` builds it first.
        .testTarget(
            name: "DaemonTests",
            dependencies: ["GatewayTestSupport", "CGatewayTestShims", "CGatewayShims", "GatewayCore", "gatewayd", "gatewayctl",
                           "JSON", "VarlinkClient", "VarlinkProtocol",
                           "FuzzJSON", "FuzzConfig", "FuzzVarlink", "FuzzSSE", "FuzzIRC", "FuzzWebhook", "FuzzTelegram",
                           "FuzzMatrix", "FuzzIRCState", .product(name: "NIOConcurrencyHelpers", package: "swift-nio")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
