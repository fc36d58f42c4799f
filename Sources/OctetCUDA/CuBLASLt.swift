import Foundation
import OctetCore

/// cuBLASLt, loaded from the CUDA toolkit at run time (`libcublasLt.so.13`): the library GEMMs Octet compares its own
/// kernels with and uses where they are faster. Only the calls Octet makes; every status checked by `check`, the one
/// place where a cublasStatus_t becomes a Swift error ("cublasLtMatmul failed for 16384×4096×1024 fp16:
/// CUBLAS_STATUS_NOT_SUPPORTED (15).").
///
/// Handles and descriptors are opaque pointers as in `cublasLt.h`; enum arguments are their C values (the header's
/// names are in the comments where they are used).
public final class CuBLASLt: @unchecked Sendable {
    typealias Handle = OpaquePointer?
    typealias Status = Int32

    let library: DynamicLibrary
    let cublasLtCreate: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    let cublasLtDestroy: @convention(c) (Handle) -> Status
    let cublasLtGetVersion: @convention(c) () -> Int
    let cublasLtMatmulDescCreate: @convention(c) (UnsafeMutablePointer<Handle>, Int32, Int32) -> Status
    let cublasLtMatmulDescSetAttribute: @convention(c) (Handle, UInt32, UnsafeRawPointer, Int) -> Status
    let cublasLtMatmulDescDestroy: @convention(c) (Handle) -> Status
    let cublasLtMatrixLayoutCreate: @convention(c) (UnsafeMutablePointer<Handle>, Int32, UInt64, UInt64, Int64) -> Status
    let cublasLtMatrixLayoutDestroy: @convention(c) (Handle) -> Status
    let cublasLtMatmulPreferenceCreate: @convention(c) (UnsafeMutablePointer<Handle>) -> Status
    let cublasLtMatmulPreferenceSetAttribute: @convention(c) (Handle, UInt32, UnsafeRawPointer, Int) -> Status
    let cublasLtMatmulPreferenceDestroy: @convention(c) (Handle) -> Status
    let cublasLtMatmulAlgoGetHeuristic: @convention(c) (Handle, Handle, Handle, Handle, Handle, Handle, Handle, Int32,
                                                        UnsafeMutableRawPointer, UnsafeMutablePointer<Int32>) -> Status
    let cublasLtMatmul: @convention(c) (Handle, Handle, UnsafeRawPointer, UnsafeRawPointer?, Handle, UnsafeRawPointer?, Handle,
                                        UnsafeRawPointer, UnsafeRawPointer?, Handle, UnsafeMutableRawPointer?, Handle,
                                        UnsafeRawPointer?, UnsafeMutableRawPointer?, Int, OpaquePointer?) -> Status
    let handle: Handle
    /// The library's version, e.g. 130000 for 13.0.0.
    public let version: Int

    /// Loads cuBLASLt from the toolkit folders (`DynamicLibrary.toolkitFolders`) and creates a handle; throws
    /// `OctetError.device` when the library or a symbol is missing.
    public init() throws {
        let l = try DynamicLibrary("cuBLASLt", candidates: ["libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"].flatMap(DynamicLibrary.toolkitCandidates))
        library = l
        cublasLtCreate = try l.symbol("cublasLtCreate")
        cublasLtDestroy = try l.symbol("cublasLtDestroy")
        cublasLtGetVersion = try l.symbol("cublasLtGetVersion")
        cublasLtMatmulDescCreate = try l.symbol("cublasLtMatmulDescCreate")
        cublasLtMatmulDescSetAttribute = try l.symbol("cublasLtMatmulDescSetAttribute")
        cublasLtMatmulDescDestroy = try l.symbol("cublasLtMatmulDescDestroy")
        cublasLtMatrixLayoutCreate = try l.symbol("cublasLtMatrixLayoutCreate")
        cublasLtMatrixLayoutDestroy = try l.symbol("cublasLtMatrixLayoutDestroy")
        cublasLtMatmulPreferenceCreate = try l.symbol("cublasLtMatmulPreferenceCreate")
        cublasLtMatmulPreferenceSetAttribute = try l.symbol("cublasLtMatmulPreferenceSetAttribute")
        cublasLtMatmulPreferenceDestroy = try l.symbol("cublasLtMatmulPreferenceDestroy")
        cublasLtMatmulAlgoGetHeuristic = try l.symbol("cublasLtMatmulAlgoGetHeuristic")
        cublasLtMatmul = try l.symbol("cublasLtMatmul")
        version = cublasLtGetVersion()
        var h: Handle = nil
        let status = cublasLtCreate(&h)
        handle = h
        try Self.check(status, "cublasLtCreate")
    }

    deinit { _ = cublasLtDestroy(handle) }

    /// cublasStatus_t names (cublas_api.h).
    static let statusNames: [Int32: String] = [
        1: "CUBLAS_STATUS_NOT_INITIALIZED", 3: "CUBLAS_STATUS_ALLOC_FAILED", 7: "CUBLAS_STATUS_INVALID_VALUE",
        8: "CUBLAS_STATUS_ARCH_MISMATCH", 11: "CUBLAS_STATUS_MAPPING_ERROR", 13: "CUBLAS_STATUS_EXECUTION_FAILED",
        14: "CUBLAS_STATUS_INTERNAL_ERROR", 15: "CUBLAS_STATUS_NOT_SUPPORTED", 16: "CUBLAS_STATUS_LICENSE_ERROR"]

    /// Turns a cublasStatus_t into a Swift error naming the call, what it was for, and the status's name and number.
    static func check(_ status: Status, _ call: String, for subject: String? = nil) throws {
        guard status != 0 else { return }
        throw OctetError.device("\(call) failed\(subject.map { " for \($0)" } ?? ""): \(statusNames[status] ?? "cuBLAS error") (\(status))")
    }
}

/// One FP16 GEMM shape planned on cuBLASLt with Octet's layout and epilogue: C[m, n] = A[m, k] · W[n, k]ᵀ + bias[n],
/// fp16 inputs, float32 accumulation, fp16 output, row-major as the engine stores them (A's rows `lda` elements apart, C
/// contiguous). cuBLASLt is column-major, so the plan computes Cᵀ = W · Aᵀ: its "A" is W read as a k × n column-major
/// matrix and transposed, its "B" is A read as k × m, and D is n × m with leading dimension n, which is C row-major; the
/// bias runs along D's rows, one per output feature. The algorithm is cuBLASLt's first heuristic choice for the shape
/// with `workspaceBytes` of workspace, picked once here.
///
/// The bias is float32 when cuBLASLt offers an algorithm for it (Octet's buffers are float32); the caller passes an
/// fp16 copy otherwise (`biasIsHalf`).
public final class LtHalfGemm: @unchecked Sendable {
    let lt: CuBLASLt
    let operation: CuBLASLt.Handle  // the matmul descriptor
    let layouts: [CuBLASLt.Handle]  // W, A, C/D
    /// The chosen algorithm (cublasLtMatmulAlgo_t: 64 opaque bytes).
    let algorithm: UnsafeMutableRawPointer
    public let m: Int, n: Int, k: Int
    /// Whether the bias pointer must point to fp16 values (cuBLASLt had no algorithm with a float32 bias).
    public let biasIsHalf: Bool
    let label: String

    /// Plans the shape; `bias` is the float32 bias's device address and `halfBias` the address of an fp16 copy (used only
    /// when no algorithm takes float32; 0: none). Throws `OctetError.device` when cuBLASLt has no algorithm for it either way.
    public init(_ lt: CuBLASLt, m: Int, n: Int, k: Int, lda: Int, bias: UInt64, halfBias: UInt64, workspaceBytes: Int) throws {
        self.lt = lt
        (self.m, self.n, self.k) = (m, n, k)
        label = "\(m)×\(n)×\(k) fp16"
        algorithm = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
        var layouts: [CuBLASLt.Handle] = []
        var operation: CuBLASLt.Handle = nil
        do {
            for (rows, columns, ld) in [(k, n, k), (k, m, lda), (n, m, n)] {
                var layout: CuBLASLt.Handle = nil
                try CuBLASLt.check(lt.cublasLtMatrixLayoutCreate(&layout, 2 /* CUDA_R_16F */, UInt64(rows), UInt64(columns), Int64(ld)),
                                   "cublasLtMatrixLayoutCreate", for: label)
                layouts.append(layout)
            }
            var chosen: Bool?
            for half in halfBias == 0 ? [false] : [false, true] {
                if let d = operation { _ = lt.cublasLtMatmulDescDestroy(d); operation = nil }
                try CuBLASLt.check(lt.cublasLtMatmulDescCreate(&operation, 68 /* CUBLAS_COMPUTE_32F */, 0 /* CUDA_R_32F */),
                                   "cublasLtMatmulDescCreate", for: label)
                let subject = label
                try Self.set(lt, operation, 3, Int32(1), "\(subject) (TRANSA = CUBLAS_OP_T)")
                try Self.set(lt, operation, 4, Int32(0), "\(subject) (TRANSB = CUBLAS_OP_N)")
                try Self.set(lt, operation, 7, UInt32(4), "\(subject) (EPILOGUE = CUBLASLT_EPILOGUE_BIAS)")
                try Self.set(lt, operation, 8, half ? halfBias : bias, "\(subject) (BIAS_POINTER)")
                try Self.set(lt, operation, 26, Int32(half ? 2 : 0), "\(subject) (BIAS_DATA_TYPE)")
                if try Self.heuristic(lt, operation: operation, layouts: layouts, workspaceBytes: workspaceBytes, into: algorithm, label: label) {
                    chosen = half
                    break
                }
            }
            guard let chosen else {
                throw OctetError.device("cublasLtMatmulAlgoGetHeuristic found no algorithm for \(label) with a bias epilogue")
            }
            biasIsHalf = chosen
        } catch {
            layouts.forEach { _ = lt.cublasLtMatrixLayoutDestroy($0) }
            if let operation { _ = lt.cublasLtMatmulDescDestroy(operation) }
            algorithm.deallocate()
            throw error
        }
        self.operation = operation
        self.layouts = layouts
    }

    deinit {
        layouts.forEach { _ = lt.cublasLtMatrixLayoutDestroy($0) }
        _ = lt.cublasLtMatmulDescDestroy(operation)
        algorithm.deallocate()
    }

    /// Sets one matmul-descriptor attribute to `value`'s bytes.
    private static func set<T>(_ lt: CuBLASLt, _ operation: CuBLASLt.Handle, _ attribute: UInt32, _ value: T, _ subject: String) throws {
        var v = value
        try CuBLASLt.check(withUnsafeBytes(of: &v) { lt.cublasLtMatmulDescSetAttribute(operation, attribute, $0.baseAddress!, $0.count) },
                           "cublasLtMatmulDescSetAttribute", for: subject)
    }

    /// cuBLASLt's first heuristic result for the descriptors, copied to `algorithm`; false when it has none.
    private static func heuristic(_ lt: CuBLASLt, operation: CuBLASLt.Handle, layouts: [CuBLASLt.Handle], workspaceBytes: Int,
                                  into algorithm: UnsafeMutableRawPointer, label: String) throws -> Bool {
        var preference: CuBLASLt.Handle = nil
        try CuBLASLt.check(lt.cublasLtMatmulPreferenceCreate(&preference), "cublasLtMatmulPreferenceCreate", for: label)
        defer { _ = lt.cublasLtMatmulPreferenceDestroy(preference) }
        var bytes = UInt64(workspaceBytes)
        try CuBLASLt.check(lt.cublasLtMatmulPreferenceSetAttribute(preference, 1 /* MAX_WORKSPACE_BYTES */, &bytes, 8),
                           "cublasLtMatmulPreferenceSetAttribute", for: label)
        // cublasLtMatmulHeuristicResult_t: algo (64 bytes), workspaceSize (size_t), state (cublasStatus_t), wavesCount
        // (float), reserved int[4]: 96 bytes.
        let result = UnsafeMutableRawPointer.allocate(byteCount: 96, alignment: 8)
        defer { result.deallocate() }
        var count: Int32 = 0
        let status = lt.cublasLtMatmulAlgoGetHeuristic(lt.handle, operation, layouts[0], layouts[1], layouts[2], layouts[2], preference, 1,
                                                       result, &count)
        if status == 15 /* NOT_SUPPORTED */ || count == 0 { return false }
        try CuBLASLt.check(status, "cublasLtMatmulAlgoGetHeuristic", for: label)
        guard result.load(fromByteOffset: 72, as: Int32.self) == 0 else { return false }
        algorithm.copyMemory(from: result, byteCount: 64)
        return true
    }

    /// Queues the GEMM on `device`'s stream: `a` the activations, `weight` W, `output` C (device addresses), with the
    /// engine's cuBLASLt workspace.
    public func run(on device: CUDADevice, a: UInt64, weight: UInt64, output: UInt64, workspace: UInt64, workspaceBytes: Int) throws {
        var alpha: Float = 1, beta: Float = 0
        let pointer = { (address: UInt64) in UnsafeMutableRawPointer(bitPattern: UInt(address)) }
        try CuBLASLt.check(lt.cublasLtMatmul(lt.handle, operation, &alpha, pointer(weight), layouts[0], pointer(a), layouts[1], &beta,
                                             pointer(output), layouts[2], pointer(output), layouts[2], algorithm, pointer(workspace),
                                             workspaceBytes, device.stream), "cublasLtMatmul", for: label)
    }
}
