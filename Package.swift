// swift-tools-version:6.0
import PackageDescription

/// Octet: INT8 transformer inference in Swift.
///
/// Modules by concern (each with a small public surface):
/// - `OctetCore`: dtypes, host tensors, the typed error, the `QuestionAnsweringEngine` protocol that backends implement.
/// - `OctetModels`: model files (safetensors, sharded checkpoints, `config.json`) and the BERT parameter layout.
/// - `OctetText`: the BERT WordPiece tokenizer with character offsets.
/// - `OctetSQuAD`: SQuAD v1.1 reading, feature building, post-processing and the official scoring.
/// - `OctetONNX`: ONNX protobuf reading and writing (generated swift-protobuf code, committed) into a graph IR.
/// - `OctetCPU`: the CPU backend, the numerical reference every other backend is tested against; it also executes
///   the graph IR.
/// - `OctetQuant`: quantization: QDQBERT's Q/DQ placement, calibration, and ONNX export of float and Q/DQ models.
/// - `OctetCUDA`: the CUDA layer, loaded with `dlopen` (driver, NVRTC with an on-disk cache), the embedded `.cu`
///   kernels and their self-test against the CPU reference.
/// - `COctetKernels`: the C shim with the vectorized CPU kernels (AVX-512 / AVX2 / portable, chosen at run time).
/// - `octet`: the command-line tool.
let package = Package(
    name: "Octet",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "octet", targets: ["octet"]),
        .library(name: "Octet", targets: ["OctetCore", "OctetModels", "OctetText", "OctetSQuAD", "OctetCPU", "OctetONNX", "OctetQuant", "OctetCUDA"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    ],
    targets: [
        .target(
            name: "COctetKernels",
            // Kernels are always optimized, even in debug builds: the test suite runs the real model.
            cSettings: [.unsafeFlags(["-O3", "-fno-math-errno"])]
        ),
        .target(name: "OctetCore"),
        .target(name: "OctetModels", dependencies: ["OctetCore"]),
        .target(name: "OctetText", dependencies: ["OctetCore"]),
        .target(name: "OctetSQuAD", dependencies: ["OctetCore", "OctetText"]),
        .target(
            name: "OctetONNX",
            dependencies: ["OctetCore", .product(name: "SwiftProtobuf", package: "swift-protobuf")]
        ),
        .target(name: "OctetCPU", dependencies: ["OctetCore", "OctetModels", "OctetONNX", "COctetKernels"]),
        .target(name: "OctetQuant", dependencies: ["OctetCore", "OctetModels", "OctetONNX", "OctetCPU"]),
        // CUDA is loaded with dlopen at run time: the package builds and tests on machines without it.
        .target(name: "OctetCUDA", dependencies: ["OctetCore", "OctetModels", "OctetQuant", "OctetCPU", "COctetKernels"], exclude: ["Kernels"]),
        .executableTarget(
            name: "octet",
            dependencies: [
                "OctetCore", "OctetModels", "OctetText", "OctetSQuAD", "OctetCPU", "OctetONNX", "OctetQuant", "OctetCUDA",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "OctetTests",
            // `octet` too: the bad-input tests run the command and check its exit code and message.
            dependencies: ["OctetCore", "OctetModels", "OctetText", "OctetSQuAD", "OctetCPU", "OctetONNX", "OctetQuant", "OctetCUDA", "octet"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
