import Foundation
import OctetCore

/// A kernel module compiled for one GPU architecture.
public struct CompiledModule: Sendable {
    public let name: String
    public let cubin: Data
    /// Whether it came from the disk cache rather than a compile.
    public let cached: Bool
}

/// NVRTC, loaded from the CUDA toolkit at run time, compiling CUDA C source to a cubin for the device's exact
/// architecture, with an on-disk cache.
///
/// The cache key hashes everything that changes the output: the source, the options, the architecture and the
/// NVRTC version. So an edited kernel, a new flag or a toolkit upgrade compiles afresh, and a stale cubin is never
/// loaded. Entries are written to a temporary file and renamed, so a crash never leaves a half-written cubin.
public final class NVRTC: @unchecked Sendable {
    typealias Program = OpaquePointer?
    let library: DynamicLibrary
    let nvrtcVersion: @convention(c) (UnsafeMutablePointer<Int32>, UnsafeMutablePointer<Int32>) -> Int32
    let nvrtcCreateProgram: @convention(c) (UnsafeMutablePointer<Program>, UnsafePointer<CChar>, UnsafePointer<CChar>, Int32,
                                            UnsafePointer<UnsafePointer<CChar>?>?, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    let nvrtcCompileProgram: @convention(c) (Program, Int32, UnsafePointer<UnsafePointer<CChar>?>?) -> Int32
    let nvrtcGetProgramLogSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Int32
    let nvrtcGetProgramLog: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Int32
    let nvrtcGetCUBINSize: @convention(c) (Program, UnsafeMutablePointer<Int>) -> Int32
    let nvrtcGetCUBIN: @convention(c) (Program, UnsafeMutablePointer<CChar>) -> Int32
    let nvrtcDestroyProgram: @convention(c) (UnsafeMutablePointer<Program>) -> Int32
    let nvrtcGetErrorString: @convention(c) (Int32) -> UnsafePointer<CChar>?
    /// "13.0".
    public let version: String
    /// Where compiled modules are cached: `OCTET_CACHE`/nvrtc, else `~/.cache/octet/nvrtc`.
    public let cacheFolder: String

    public init() throws {
        DynamicLibrary.preloadNVRTCBuiltins()
        let l = try DynamicLibrary("NVRTC", candidates: DynamicLibrary.toolkitCandidates("libnvrtc.so.13") + DynamicLibrary.toolkitCandidates("libnvrtc.so"))
        library = l
        nvrtcVersion = try l.symbol("nvrtcVersion")
        nvrtcCreateProgram = try l.symbol("nvrtcCreateProgram")
        nvrtcCompileProgram = try l.symbol("nvrtcCompileProgram")
        nvrtcGetProgramLogSize = try l.symbol("nvrtcGetProgramLogSize")
        nvrtcGetProgramLog = try l.symbol("nvrtcGetProgramLog")
        nvrtcGetCUBINSize = try l.symbol("nvrtcGetCUBINSize")
        nvrtcGetCUBIN = try l.symbol("nvrtcGetCUBIN")
        nvrtcDestroyProgram = try l.symbol("nvrtcDestroyProgram")
        nvrtcGetErrorString = try l.symbol("nvrtcGetErrorString")
        var (major, minor): (Int32, Int32) = (0, 0)
        _ = nvrtcVersion(&major, &minor)
        version = "\(major).\(minor)"
        let environment = ProcessInfo.processInfo.environment
        cacheFolder = environment["OCTET_CACHE"].map { $0 + "/nvrtc" }
            ?? (environment["HOME"] ?? NSTemporaryDirectory()) + "/.cache/octet/nvrtc"
    }

    private func check(_ result: Int32, _ call: String, _ name: String) throws {
        guard result != 0 else { return }
        let text = nvrtcGetErrorString(result).map { String(cString: $0) } ?? "NVRTC error"
        throw OctetError.device("\(call) failed for \(name): \(text) (\(result))")
    }

    /// The cache key of a compile: a 128-bit hash (two FNV-1a 64 passes) of source, headers, options, architecture
    /// and NVRTC version.
    public static func cacheKey(source: String, headers: [String: String] = [:], options: [String], architecture: String,
                                version: String) -> String {
        let headerText = headers.keys.sorted().flatMap { [$0, headers[$0]!] }
        let text = Array(([source] + headerText + options + [architecture, version]).joined(separator: "\u{0}").utf8)
        func fnv(_ basis: UInt64) -> UInt64 {
            text.reduce(basis) { ($0 ^ UInt64($1)) &* 0x100000001b3 }
        }
        return String(format: "%016llx%016llx", fnv(0xcbf29ce484222325), fnv(0x84222325cbf29ce4))
    }

    /// Compiles `source` (file name `name`) for `architecture` (e.g. "sm_90a"), or reads the cached cubin. `headers`
    /// (include name → text) are what `#include "name"` finds.
    public func compile(_ name: String, source: String, headers: [String: String] = [:], architecture: String,
                        options extra: [String] = []) throws -> CompiledModule {
        let options = ["--gpu-architecture=\(architecture)", "--std=c++17", "-default-device"] + extra
        let key = Self.cacheKey(source: source, headers: headers, options: options, architecture: architecture, version: version)
        let path = "\(cacheFolder)/\(name.replacingOccurrences(of: "/", with: "_"))-\(key).cubin"
        if let data = FileManager.default.contents(atPath: path), !data.isEmpty {
            return CompiledModule(name: name, cubin: data, cached: true)
        }
        var program: Program = nil
        let includeNames = headers.keys.sorted()
        let cHeaders = includeNames.map { strdup(headers[$0]!) }, cNames = includeNames.map { strdup($0) }
        defer { (cHeaders + cNames).forEach { free($0) } }
        let created = cHeaders.map { UnsafePointer($0) }.withUnsafeBufferPointer { texts in
            cNames.map { UnsafePointer($0) }.withUnsafeBufferPointer { names in
                nvrtcCreateProgram(&program, source, name, Int32(includeNames.count), texts.baseAddress, names.baseAddress)
            }
        }
        try check(created, "nvrtcCreateProgram", name)
        defer { _ = nvrtcDestroyProgram(&program) }
        let cOptions = options.map { strdup($0) }
        defer { cOptions.forEach { free($0) } }
        let compiled = cOptions.map { UnsafePointer($0) }.withUnsafeBufferPointer { nvrtcCompileProgram(program, Int32(options.count), $0.baseAddress) }
        if compiled != 0 {
            var size = 0
            _ = nvrtcGetProgramLogSize(program, &size)
            var log = [CChar](repeating: 0, count: max(size, 1))
            _ = nvrtcGetProgramLog(program, &log)
            let text = String(decoding: log.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw OctetError.device("nvrtcCompileProgram failed for \(name) (\(architecture)): \(text.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        var size = 0
        try check(nvrtcGetCUBINSize(program, &size), "nvrtcGetCUBINSize", name)
        var bytes = [CChar](repeating: 0, count: size)
        try check(nvrtcGetCUBIN(program, &bytes), "nvrtcGetCUBIN", name)
        let data = bytes.withUnsafeBytes { Data($0) }
        // The cache is an optimization: failing to write it is not an error.
        try? FileManager.default.createDirectory(atPath: cacheFolder, withIntermediateDirectories: true)
        let temporary = path + ".\(getpid()).tmp"
        if FileManager.default.createFile(atPath: temporary, contents: data) { _ = rename(temporary, path) }
        return CompiledModule(name: name, cubin: data, cached: false)
    }
}
