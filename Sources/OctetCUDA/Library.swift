import Foundation
import OctetCore

/// A shared library opened with `dlopen` at run time, so Octet builds, links and runs on machines with no CUDA: the
/// driver (`libcuda.so.1`), NVRTC and cuBLASLt are looked up only when a GPU is asked for.
final class DynamicLibrary: @unchecked Sendable {
    let path: String
    private let handle: UnsafeMutableRawPointer

    /// Opens the first of `candidates` that loads; the error lists what was tried and `dlerror`'s last reason.
    init(_ what: String, candidates: [String]) throws {
        var reasons: [String] = []
        for candidate in candidates {
            if let handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) {
                self.handle = handle
                path = candidate
                return
            }
            reasons.append(String(cString: dlerror()))
        }
        throw OctetError.device("no \(what): could not load \(candidates.joined(separator: ", ")) (\(reasons.last ?? "no candidates"))")
    }

    /// The C function `name` as `T` (a `@convention(c)` function type).
    func symbol<T>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard let address = dlsym(handle, name) else {
            throw OctetError.device("\(path) has no \(name) (a CUDA older than Octet needs?)")
        }
        return unsafeBitCast(address, to: type)
    }

    /// The CUDA toolkit's library folders to search besides the loader's path: `OCTET_CUDA_LIB` first, then
    /// `CUDA_HOME`/`CUDA_PATH`, then the usual install locations.
    static var toolkitFolders: [String] {
        let environment = ProcessInfo.processInfo.environment
        var folders: [String] = []
        if let folder = environment["OCTET_CUDA_LIB"] { folders.append(folder) }
        for key in ["CUDA_HOME", "CUDA_PATH"] { if let home = environment[key] { folders.append(home + "/lib64") } }
        return folders + ["/usr/local/cuda/lib64", "/usr/local/cuda-13/lib64", "/usr/local/cuda-13.0/lib64", "/usr/lib/x86_64-linux-gnu"]
    }

    static func toolkitCandidates(_ soname: String) -> [String] {
        [soname] + toolkitFolders.map { $0 + "/" + soname }
    }

    /// Loads NVRTC's builtins library (`libnvrtc-builtins.so.*`) from the toolkit folders with RTLD_GLOBAL when one is
    /// there: NVRTC opens it by name at compile time, which finds it only on the loader's path unless it is already
    /// loaded (a toolkit outside the loader's path, e.g. PyPI's nvidia-cuda-nvrtc, would fail every compile).
    static func preloadNVRTCBuiltins() {
        for folder in toolkitFolders {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: folder) else { continue }
            for name in names.sorted() where name.hasPrefix("libnvrtc-builtins.so") && !name.contains(".alt.") {
                if dlopen(folder + "/" + name, RTLD_NOW | RTLD_GLOBAL) != nil { return }
            }
        }
    }
}
