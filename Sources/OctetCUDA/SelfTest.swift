import COctetKernels
import Foundation
import OctetCore

/// The CUDA kernel files embedded in the binary (`scripts/embed_kernels.py` writes them from `Kernels/*.cu`).
public enum CUDAKernels {
    public static var fileNames: [String] { KernelSources.files.keys.sorted() }
    /// The source text of a kernel file (without its final newline).
    public static func source(of file: String) -> String? { KernelSources.files[file] }
}

/// Checks every CUDA kernel against the CPU reference on fresh random inputs, each with its own tolerance.
///
/// Each check poisons its output before the launch (so an element the kernel never writes shows up), draws inputs
/// that exercise the edges (values on quantizer boundaries, saturation, a length that is not a multiple of the
/// vector width), and compares element by element.
public struct CUDASelfTest {
    /// One check's outcome.
    public struct Result: Sendable {
        public let name: String
        public let elements: Int
        /// Largest difference from the CPU reference (integers: count of differing elements).
        public let error: Double
        public let tolerance: Double
        public let detail: String
        public var passed: Bool { error <= tolerance }
    }

    public let device: CUDADevice
    public let compiler: NVRTC

    public init(device: CUDADevice, compiler: NVRTC) {
        self.device = device
        self.compiler = compiler
    }

    /// Compiles (or loads from the cache) one kernel file for this device.
    public func module(_ file: String) throws -> LoadedModule {
        guard let source = KernelSources.files[file] else { preconditionFailure("no kernel file \(file)") }
        return try device.load(try compiler.compile(file, source: source, architecture: device.architecture))
    }

    /// Runs every check.
    public func run() throws -> [Result] {
        [try quantize()]
    }

    /// quantize_i8 against `octet_quantize_s8`: identical integers (tolerance 0).
    func quantize() throws -> Result {
        let count = 1 << 20 | 3  // not a multiple of 4: the tail path runs too
        var generator = SystemRandomNumberGenerator()
        let scale: Float = 0.0371
        var x = (0..<count).map { _ in Float.random(in: -6...6, using: &generator) }
        // Exact .5 boundaries (round half to even), saturation both ways, and a NaN.
        for i in 0..<64 { x[i * 97] = (Float(i) - 32.5) * scale }
        x[5] = 1e9; x[6] = -1e9; x[7] = .nan
        var expected = [Int8](repeating: 0, count: count)
        octet_quantize_s8(x, count, scale, &expected)
        let module = try module("quantize_i8.cu")
        let input = try device.allocate(count * 4), output = try device.allocate(count)
        try input.upload(x)
        try output.fill(byte: 0x55)
        try module.launch("quantize_i8", grid: (min((count / 4 + 255) / 256, device.multiprocessors * 8), 1, 1), block: (256, 1, 1),
                          arguments: [.buffer(input), .buffer(output), .int32(Int32(count)), .float(scale)])
        let got = try output.download(Int8.self, count: count)
        let differing = zip(got, expected).filter { $0 != $1 }.count
        return Result(name: "quantize_i8", elements: count, error: Double(differing), tolerance: 0,
                      detail: differing == 0 ? "identical int8" : "\(differing) int8 values differ")
    }
}
