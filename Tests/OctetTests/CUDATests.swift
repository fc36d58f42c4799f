import Foundation
import Testing
import OctetCore
import OctetCUDA

/// Whether this machine has a CUDA driver and GPU (CI has neither).
enum GPU {
    static let available: Bool = (try? CUDADevice()) != nil
}

@Suite struct CUDATests {
    @Test("Without a GPU, selftest --device cuda says so plainly and exits 1",
          .enabled(if: !GPU.available, "a GPU is present: `octet selftest --device cuda` runs the real checks"))
    func selftestWithoutGPU() throws {
        let result = try CommandResult.octet(["selftest", "--device", "cuda"])
        #expect(result.status == 1)
        #expect(result.stderr.hasPrefix("error: no CUDA driver: could not load libcuda.so.1, libcuda.so ("), "\(result.stderr)")
        #expect(result.stdout.isEmpty)
    }

    @Test("The embedded kernel sources are the .cu files of Sources/OctetCUDA/Kernels (scripts/embed_kernels.py was run)")
    func embeddedKernelsMatchSources() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let folder = root.appendingPathComponent("Sources/OctetCUDA/Kernels")
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".cu") }.sorted()
        #expect(!files.isEmpty)
        #expect(CUDAKernels.fileNames == files)
        for file in files {
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(CUDAKernels.source(of: file) == text.trimmingCharacters(in: .newlines), "\(file) changed: run python3 scripts/embed_kernels.py")
        }
    }

    @Test("The NVRTC cache key changes with the source, the options, the architecture and the NVRTC version")
    func cacheKeyCoversEverythingThatChangesTheCubin() {
        let base = NVRTC.cacheKey(source: "k", options: ["-O3"], architecture: "sm_90a", version: "13.0")
        #expect(base.count == 32)
        #expect(base == NVRTC.cacheKey(source: "k", options: ["-O3"], architecture: "sm_90a", version: "13.0"))
        for other in [NVRTC.cacheKey(source: "k2", options: ["-O3"], architecture: "sm_90a", version: "13.0"),
                      NVRTC.cacheKey(source: "k", options: ["-O2"], architecture: "sm_90a", version: "13.0"),
                      NVRTC.cacheKey(source: "k", options: ["-O3"], architecture: "sm_90", version: "13.0"),
                      NVRTC.cacheKey(source: "k", options: ["-O3"], architecture: "sm_90a", version: "13.1")] {
            #expect(other != base)
        }
    }
}
