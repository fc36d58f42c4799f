import Foundation
import Testing
import COctetKernels
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX
import OctetQuant

/// The project's Python (`.venv`, made by `scripts/python-env.sh`, which the test command `scripts/test.sh` runs).
enum Python {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let executable = repository + "/.venv/bin/python"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    /// Runs a script of `scripts/` and returns its exit status and combined output.
    static func run(_ script: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = [repository + "/scripts/" + script] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}

/// Quantization placement and export, checked against the graph itself and against PyPI's onnx and onnxruntime.
@Suite(.serialized) struct QDQExportTests {
    /// Reference features at s128: calibration uses the first 8, comparisons the next 4.
    static func batch(_ range: Range<Int>) throws -> TokenBatch {
        let reference = try Shared.referenceFeatures(128)
        let (a, b) = (range.lowerBound * 128, range.upperBound * 128)
        return TokenBatch(batchSize: range.count, sequenceLength: 128,
                          inputIDs: Array(try reference.tensor("input_ids").int32s()[a..<b]),
                          tokenTypeIDs: Array(try reference.tensor("token_type_ids").int32s()[a..<b]),
                          attentionMask: Array(try reference.tensor("attention_mask").int32s()[a..<b]))
    }

    static let scales: QuantizationScales = {
        let collector = try! ActivationCollector(weights: ReferenceModel.folder.weights, threads: 2)
        try! collector.observe(try! batch(0..<8))
        return try! collector.scales(.max)
    }()

    static func feeds(_ batch: TokenBatch) -> [String: HostTensor] { batch.graphInputs }

    static func maxDifference(_ a: [Float], _ b: [Float]) -> Float { zip(a, b).map { abs($0 - $1) }.max() ?? .infinity }

    @Test("Q/DQ sit where QDQBERT puts them: both inputs of every encoder MatMul and residual Add, none in the QA head")
    func placementFollowsQDQBERT() throws {
        let graph = BertONNXExporter(weights: ReferenceModel.folder.weights).graph(scales: Self.scales)
        let producer = Dictionary(graph.nodes.flatMap { n in n.outputs.map { ($0, n) } }, uniquingKeysWith: { a, _ in a })
        func dequantized(_ v: String) -> Bool { producer[v]?.opType == "DequantizeLinear" }
        let layers = ReferenceModel.folder.config.layerCount
        #expect(Self.scales.activations.count == QuantizationPoint.all(layers: layers).count)
        #expect(Self.scales.activations.values.allSatisfy { $0 > 0 && $0.isFinite })
        let matmuls = graph.nodes.filter { $0.opType == "MatMul" }
        // 6 linear layers and 2 attention products per layer, and the float QA head.
        #expect(matmuls.count == layers * 8 + 1)
        for node in matmuls {
            let quantized = node.inputs.allSatisfy(dequantized)
            #expect(quantized == !node.name.hasPrefix("qa_outputs"), "MatMul '\(node.name)'")
        }
        let residualAdds = graph.nodes.filter { $0.opType == "Add" && ($0.name.hasSuffix("attention.add") || $0.name.hasSuffix("output.add")) }
        #expect(residualAdds.count == 2 * layers)
        #expect(residualAdds.allSatisfy { $0.inputs.allSatisfy(dequantized) })
        // Weights: int8, per output channel, zero point 0, behind a DequantizeLinear on axis 1.
        let weightDQ = graph.nodes.filter { $0.opType == "DequantizeLinear" && graph.initializers[$0.inputs[0]]?.dataType == .int8 }
        #expect(weightDQ.count == layers * 6)
        for node in weightDQ {
            let w = graph.initializers[node.inputs[0]]!, s = graph.initializers[node.inputs[1]]!
            #expect(s.count == w.shape[1])
            if case .int(let axis)? = node.attributes["axis"] { #expect(axis == 1) } else { Issue.record("no axis on \(node.name)") }
        }
        // LayerNorm, softmax and GELU read float values, never a DequantizeLinear.
        for node in graph.nodes where ["LayerNormalization", "Softmax", "Erf"].contains(node.opType) {
            #expect(!dequantized(node.inputs[0]), "\(node.opType) '\(node.name)' reads a dequantized value")
        }
    }

    @Test("Octet's exports pass onnx.checker's full check, load in ONNX Runtime and match Octet's simulation",
          .enabled(if: Python.available, "needs .venv from scripts/python-env.sh (scripts/test.sh makes it)"),
          arguments: ["float32", "qdq", "qdq-smoothquant-uint8-probabilities", "qdq-fp16-stream"])
    func exportsRunInOnnxRuntime(variant: String) throws {
        let quantized = variant != "float32"
        var scales = Self.scales
        if variant == "qdq-smoothquant-uint8-probabilities" {
            let c = ReferenceModel.folder.config
            scales.smoothing = SmoothQuantTests.arbitraryFactors(c.layerCount, hidden: c.hiddenSize, intermediate: c.intermediateSize)
            scales.unsignedProbabilities = true
        }
        // The residual stream rounded to fp16 by Cast pairs (float16, then float) after each LayerNorm and each sublayer
        // output the adds read: ONNX Runtime's Cast is the reference for Octet's rounding.
        if variant == "qdq-fp16-stream" { scales.halfPrecisionStream = true }
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/model.onnx"
        let exporter = BertONNXExporter(weights: ReferenceModel.folder.weights)
        try exporter.graph(scales: quantized ? scales : nil, path: path).write(to: path)
        let batch = try Self.batch(8..<12)
        let feeds = Self.feeds(batch)
        try SafeTensorsWriter.write(feeds.keys.sorted().map { name in
            SafeTensorsWriter.Entry(name: name, dtype: .int64, shape: feeds[name]!.shape, bytes: feeds[name]!.ints.withUnsafeBytes { Data($0) })
        }, to: folder + "/inputs.safetensors")
        let (status, output) = try Python.run("check_onnx.py", [path, folder + "/inputs.safetensors", folder + "/ort.safetensors"])
        #expect(status == 0, "check_onnx.py: \(output)")
        guard status == 0 else { return }
        print("check_onnx.py: \(output.trimmingCharacters(in: .whitespacesAndNewlines))")
        let ort = try SafeTensorsFile(path: folder + "/ort.safetensors")
        let graph = try ONNXGraph(contentsOf: path)
        var values: [SafeTensorsWriter.Entry] = feeds.keys.sorted().map { name in
            SafeTensorsWriter.Entry(name: name, dtype: .float32, shape: feeds[name]!.shape, bytes: feeds[name]!.floats.withUnsafeBytes { Data($0) })
        }
        let literal = try GraphExecutor(graph: graph).run(feeds) { name, value in
            values.append(SafeTensorsWriter.Entry(name: name, dtype: .float32, shape: value.shape, bytes: value.floats.withUnsafeBytes { Data($0) }))
        }
        let fused = try GraphExecutor(graph: try GraphPasses.optimize(graph, level: .fuse)).run(feeds)
        for name in ["start_logits", "end_logits"] {
            let ortLiteral = try ort.tensor(name + "_unfused").floats(), ortOptimized = try ort.tensor(name).floats()
            let literalError = Self.maxDifference(literal[name]!.floats, ortLiteral)
            let fusedError = Self.maxDifference(fused[name]!.floats, ortOptimized)
            let ortSelf = Self.maxDifference(ortLiteral, ortOptimized)
            print("\(variant) \(name): max |octet − onnxruntime| literal \(literalError), fused vs optimized \(fusedError); onnxruntime literal vs optimized \(ortSelf)")
            if !quantized {
                #expect(literalError <= 1e-4, "\(name): float32 export, Octet vs ONNX Runtime")
                #expect(fusedError <= 1e-4, "\(name): float32 export fused, Octet vs ONNX Runtime")
            }
        }
        guard quantized else {
            // The float export computes what the safetensors engine computes.
            let engine = try CPUBertEngine(weights: ReferenceModel.folder.weights).spanLogits(for: batch)
            #expect(Self.maxDifference(literal["start_logits"]!.floats + literal["end_logits"]!.floats, engine.start + engine.end) <= 1e-4)
            return
        }
        // End to end, a quantized model cannot be compared element by element: a float sum that lands within
        // rounding error of a quantizer's .5 boundary rounds one way in one runtime and the other way in the other,
        // and later coarse quantizers amplify the flip (ONNX Runtime differs from itself, literal vs optimized, in
        // the same way). So every op of Octet's simulation is checked against ONNX Runtime on the inputs Octet saw.
        try SafeTensorsWriter.write(values, to: folder + "/values.safetensors")
        let (opsStatus, opsOutput) = try Python.run("check_ops.py", [path, folder + "/values.safetensors"])
        #expect(opsStatus == 0, "check_ops.py: \(opsOutput)")
        guard opsStatus == 0, let line = opsOutput.split(separator: "\n").last,
              let report = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: [String: Any]] else { return }
        for (op, entry) in report.sorted(by: { $0.key < $1.key }) {
            let difference = (entry["max_relative_difference"] as? Double) ?? .infinity
            let nodes = (entry["nodes"] as? Int) ?? 0
            print("op \(op): \(nodes) nodes, max relative difference \(difference) at \(entry["worst_node"] ?? "")")
            switch op {
            case "QuantizeLinear", "DequantizeLinear":
                // Same scale, rounding (half to even) and saturation: identical integers and values.
                #expect(difference == 0 && (entry["integers_differing"] as? Int) == 0, "\(op) differs from ONNX Runtime's")
            default:
                // Summation order (MatMul) and the erf/exp approximations (≤ 5e-7, elementwise.c).
                #expect(difference <= 5e-6, "\(op) differs from ONNX Runtime's by \(difference) (relative)")
            }
        }
        #expect(report["QuantizeLinear"]?["nodes"] as? Int == QuantizationPoint.all(layers: 6).count)
        #expect(report["MatMul"]?["nodes"] as? Int == 49)
    }
}

@Suite struct QuantizeStaticInteropTests {
    @Test("ONNX Runtime's quantize_static Q/DQ model of the reference model runs in Octet as ONNX Runtime runs it",
          .enabled(if: Python.available, "needs .venv from scripts/python-env.sh (scripts/test.sh makes it)"))
    func referenceQuantizeStaticMatches() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/reference-qdq.onnx"
        // quantize_static (QDQ, per-channel, symmetric int8, MinMax over 17 batches) and ONNX Runtime's outputs.
        let (status, output) = try Python.run("make_qdq_fixture.py", [ONNXTests.onnxPath, Shared.onnxIO, path])
        #expect(status == 0, "make_qdq_fixture.py: \(output)")
        guard status == 0 else { return }
        let graph = try ONNXGraph(contentsOf: path)
        let io = try SafeTensorsFile(path: folder + "/reference-qdq.io.safetensors")
        let inputs = try ExportedModelTests.inputs(of: graph, from: io)
        // Literal Q/DQ semantics: the same int8 grid points as ONNX Runtime, both run literally and optimized. ONNX
        // Runtime's optimized run is exact only where its fused integer kernels are: on x86 CPUs without VNNI its u8s8
        // kernels add byte products in pairs into saturating 16-bit lanes (vpmaddubsw; ONNX Runtime's quantization guide
        // names the saturation and suggests reduce_range or U8U8 for such CPUs), and the logits there moved by
        // about 3 from its own literal run (an AMD EPYC with AVX2 only, session 35). So the literal run is the
        // reference everywhere, and the optimized one wherever ONNX Runtime agrees with itself; a disagreement on a
        // CPU with VNNI, where its kernels are exact, fails.
        let outputs = try GraphExecutor(graph: try GraphPasses.optimize(graph, level: .fold)).run(inputs)
        let vnni = octet_int8_path_supported(Int32(OCTET_I8_AVXVNNI)) == 1 || octet_int8_path_supported(Int32(OCTET_I8_AVX512VNNI)) == 1
        for name in ["start_logits", "end_logits"] {
            let literal = try io.tensor(name + "_unfused").floats(), optimized = try io.tensor(name).floats()
            let error = QDQExportTests.maxDifference(outputs[name]!.floats, literal)
            #expect(error <= 1e-6, "\(name)_unfused: max |octet − onnxruntime| = \(error)")
            let selfDifference = QDQExportTests.maxDifference(optimized, literal)
            if selfDifference <= 1e-6 {
                let error = QDQExportTests.maxDifference(outputs[name]!.floats, optimized)
                #expect(error <= 1e-6, "\(name): max |octet − onnxruntime| = \(error)")
            } else {
                #expect(!vnni, "\(name): ONNX Runtime's optimized run differs from its literal one by \(selfDifference) on a CPU with VNNI")
                print("\(name): ONNX Runtime's optimized run differs from its literal run by \(selfDifference) (no VNNI: saturating u8s8 kernels); checked against the literal run only")
            }
        }
        // Fused, every MatMul with an int8 weight runs as QDense.
        let fused = try GraphPasses.optimize(graph, level: .fuse)
        #expect(fused.opHistogram["octet:QDense", default: 0] >= 36)
    }
}
