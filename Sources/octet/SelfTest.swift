import ArgumentParser
import Foundation
import OctetCore
import OctetCUDA
import OctetModels
import OctetQuant

/// `octet selftest`: every GPU kernel against the CPU reference, with per-op tolerances.
struct SelfTest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check a device's kernels against the CPU reference; exit code 1 on any mismatch or when the device is missing.")

    @Option(help: "The device to check: cuda.")
    var device: String = "cuda"

    @Option(help: "A model folder to check end to end besides the random models (skipped when it does not exist).")
    var model: String = Defaults.model

    @Option(help: "The quantization scales to run --model in INT8 with (skipped when the file does not exist).")
    var scales: String = Defaults.recipe

    @Option(help: "SQuAD features (safetensors: input_ids, token_type_ids, attention_mask) to run --model on (default: the shared reference's first 64 dev features; random tokens when missing).")
    var features: String = "../shared/reference/minilm-l6-squad/reference_s384.safetensors"

    @Option(help: "Write the results as JSON here.")
    var json: String?

    @Flag(help: "Only the whole-model checks (random BERTs and --model against the CPU), not every kernel variant.")
    var modelsOnly = false

    @Option(help: "Compile every kernel for this architecture (e.g. sm_90a) into the NVRTC cache and check nothing: needs NVRTC, not a GPU (to ship a warm cache).")
    var compileOnly: String?

    func run() throws {
        if let architecture = compileOnly {
            try reportingErrors {
                guard architecture.wholeMatch(of: /sm_[0-9]+a?/) != nil else {
                    throw OctetError.invalidArgument("--compile-only takes a GPU architecture such as sm_90a, not '\(architecture)'")
                }
                let compiler = try NVRTC()
                for file in CUDAKernels.fileNames where file.hasSuffix(".cu") {
                    let module = try CUDAKernels.compile(file, compiler: compiler, architecture: architecture)
                    print("\(file): \(module.cubin.count) bytes\(module.cached ? " (cached)" : "") in \(compiler.cacheFolder)")
                }
            }
            return
        }
        let failed = try reportingErrors { () throws -> Bool in
            guard device == "cuda" else { throw OctetError.invalidArgument("--device must be cuda, not \(device)") }
            let gpu = try CUDADevice()
            let compiler = try NVRTC()
            print("device: \(gpu.name) (\(gpu.architecture), \(gpu.multiprocessors) SMs, \(gpu.memoryBytes >> 20) MiB); " +
                  "driver CUDA \(try gpu.driver.version()); NVRTC \(compiler.version); cache \(compiler.cacheFolder)")
            var real: (weights: BertWeights, scales: QuantizationScales?, name: String)?
            if FileManager.default.fileExists(atPath: model) {
                let folder = try BertModelFolder(folder: model)
                let recipe = FileManager.default.fileExists(atPath: scales) ? try QuantizationScales(contentsOf: scales) : nil
                real = (folder.weights, recipe, (model as NSString).lastPathComponent)
            } else {
                print("note: \(model) does not exist; checking random models only")
            }
            let batch = real != nil && FileManager.default.fileExists(atPath: features) ? try TokenBatch(safetensors: features, count: 16) : nil
            let results = try CUDASelfTest(device: gpu, compiler: compiler, model: real, features: batch).run(modelsOnly: modelsOnly)
            print(table(["check", "elements", "error", "tolerance", "result", "detail"], results.map { r in
                [r.name, "\(r.elements)", String(format: "%.3g", r.error), String(format: "%.3g", r.tolerance), r.passed ? "pass" : "FAIL", r.detail]
            }))
            if let json {
                try FileIO.writeJSON(["device": gpu.name, "architecture": gpu.architecture, "nvrtc": compiler.version,
                                      "checks": results.map { ["name": $0.name, "elements": $0.elements, "error": $0.error,
                                                               "tolerance": $0.tolerance, "passed": $0.passed] as [String: Any] }] as [String: Any],
                                     to: json)
            }
            return results.contains { !$0.passed }
        }
        if failed { throw ExitCode(1) }
    }
}
