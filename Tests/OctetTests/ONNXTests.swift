import Foundation
import Testing
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX

@Suite(.serialized) struct ONNXTests {
    static let onnxPath = Shared.root + "/onnx/minilm-l6-squad.onnx"
    static let graph = try! ONNXGraph(contentsOf: onnxPath)

    /// The 2 × 37 batch that ONNX Runtime ran, and its outputs.
    static func referenceIO() throws -> (inputs: [String: HostTensor], start: [Float], end: [Float]) {
        let io = try SafeTensorsFile(path: Shared.onnxIO)
        var inputs: [String: HostTensor] = [:]
        for name in ["input_ids", "attention_mask", "token_type_ids"] {
            let t = try io.tensor(name)
            inputs[name] = HostTensor(shape: t.shape, ints: t.int32s().map { Int64($0) })
        }
        return (inputs, try io.tensor("start_logits").floats(), try io.tensor("end_logits").floats())
    }

    static func maxError(_ outputs: [String: HostTensor], _ start: [Float], _ end: [Float]) -> Float {
        let s = outputs["start_logits"]!.floats, e = outputs["end_logits"]!.floats
        return zip(s + e, start + end).map { abs($0 - $1) }.max()!
    }

    @Test("The PyTorch-exported reference model reads with its inputs, outputs and operators")
    func referenceModelReads() throws {
        let g = Self.graph
        #expect(g.inputs.map(\.name) == ["input_ids", "attention_mask", "token_type_ids"])
        #expect(g.inputs.allSatisfy { $0.elementType == .int64 && $0.shape?.count == 2 })
        #expect(g.outputs.map(\.name) == ["start_logits", "end_logits"])
        #expect(g.opsets[""] == 17)
        // 6 layers × (Q, K, V, attention output, intermediate, output, QKᵀ, P·V) + the QA head.
        #expect(g.opHistogram["MatMul"] == 49)
        #expect(g.opHistogram["LayerNormalization"] == 13)
        #expect(g.opHistogram["Erf"] == 6)
    }

    @Test("The reference ONNX model runs in Octet within 1e-4 of ONNX Runtime")
    func referenceModelMatchesOnnxRuntime() throws {
        let (inputs, start, end) = try Self.referenceIO()
        let executor = try GraphExecutor(graph: Self.graph)
        let error = Self.maxError(try executor.run(inputs), start, end)
        #expect(error <= 1e-4, "max |octet − onnxruntime| = \(error)")
    }

    @Test("Import → export → import keeps outputs bitwise identical, with and without external data")
    func roundTripKeepsOutputs() throws {
        KernelPath.lock.lock()
        defer { KernelPath.lock.unlock() }
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let (inputs, _, _) = try Self.referenceIO()
        let before = try GraphExecutor(graph: Self.graph).run(inputs)
        for (file, external) in [("inline.onnx", ONNXGraph.ExternalData.never), ("external.onnx", .always(location: "external.onnx.data"))] {
            try Self.graph.write(to: folder + "/" + file, externalData: external)
            let reread = try ONNXGraph(contentsOf: folder + "/" + file)
            #expect(reread.nodes.count == Self.graph.nodes.count)
            #expect(reread.initializers.count == Self.graph.initializers.count)
            let after = try GraphExecutor(graph: reread).run(inputs)
            for name in ["start_logits", "end_logits"] {
                #expect(after[name]!.floats == before[name]!.floats, "\(file): \(name)")
            }
        }
        let size = try FileManager.default.attributesOfItem(atPath: folder + "/external.onnx")[.size] as! Int
        #expect(size < 1_000_000, "external.onnx keeps its weights outside (\(size) bytes)")
    }

    /// A Cast pair float → float16 (or bfloat16) → float rounds to the narrow type's grid, to nearest even; the
    /// expected values are worked out by hand from the formats (fp16: 10 fraction bits; bf16: 7).
    static let halfValues: [Float] = [0.1, 1 + 0x1p-11, 1 + 3 * 0x1p-11, 65519, 65520, -2.5e-8, 3e-8]
    static let halfRounded: [Float] = [0.0999755859375, 1, 1 + 0x1p-9, 65504, .infinity, -0.0, 0x1p-24]
    static let bfloatValues: [Float] = [0.1, 1 + 0x1p-8, 1 + 3 * 0x1p-8, 1 + 0x1p-8 + 0x1p-20]
    static let bfloatRounded: [Float] = [0.10009765625, 1, 1 + 0x1p-6, 1 + 0x1p-7]
    static let castCases: [(ONNXDataType, [Float], [Float])] = [(.float16, halfValues, halfRounded), (.bfloat16, bfloatValues, bfloatRounded)]

    @Test("A Cast to float16 or bfloat16 and back rounds to that type, ties to even", arguments: castCases)
    func castRoundsToNarrowFloats(type: ONNXDataType, values: [Float], expected: [Float]) throws {
        let n = values.count
        let graph = ONNXGraph(path: "/tmp/cast.onnx", opsets: ["": 17],
                              inputs: [ValueInfo(name: "x", elementType: .float, shape: [.fixed(n)])],
                              outputs: [ValueInfo(name: "y", elementType: .float, shape: [.fixed(n)])], initializers: [:],
                              nodes: [Node(name: "narrow", opType: "Cast", inputs: ["x"], outputs: ["h"], attributes: ["to": .int(type.rawValue)]),
                                      Node(name: "widen", opType: "Cast", inputs: ["h"], outputs: ["y"], attributes: ["to": .int(ONNXDataType.float.rawValue)])])
        let y = try GraphExecutor(graph: graph).run(["x": HostTensor(shape: [n], floats: values)])["y"]!.floats
        #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "\(y) for \(values)")
    }

    @Test("Malformed protobuf is a clear error naming the file")
    func malformedProtobufIsReported() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/bad.onnx"
        try Data([0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F, 0x01]).write(to: URL(fileURLWithPath: path))
        do {
            _ = try ONNXGraph(contentsOf: path)
            Issue.record("a malformed file was accepted")
        } catch let error as OctetError {
            #expect(error.description.hasPrefix("\(path): is not a valid ONNX model: the protobuf does not decode"))
        }
    }

    @Test("Truncated external data is a clear error naming the data file and the tensor")
    func truncatedExternalDataIsReported() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.tinyGraph(folder).write(to: folder + "/m.onnx", externalData: .always(location: "m.data", threshold: 16))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: folder + "/m.data"))
        try handle.truncate(atOffset: 10)
        try handle.close()
        #expect(throws: OctetError.malformed(folder + "/m.data", "is truncated: tensor 'b' needs bytes 0..<16 but the file has 10")) {
            try ONNXGraph(contentsOf: folder + "/m.onnx")
        }
    }

    /// x[1, 4] · w[4, 4] + b → y.
    static func tinyGraph(_ folder: String, nodes: [Node]? = nil) -> ONNXGraph {
        ONNXGraph(path: folder + "/m.onnx", opsets: ["": 17],
                  inputs: [ValueInfo(name: "x", elementType: .float, shape: [.symbol("batch"), .fixed(4)])],
                  outputs: [ValueInfo(name: "y", elementType: .float, shape: [.symbol("batch"), .fixed(4)])],
                  initializers: ["w": .float32("w", shape: [4, 4], (0..<16).map { Float($0) }), "b": .float32("b", shape: [4], [1, 2, 3, 4])],
                  nodes: nodes ?? [Node(name: "mm", opType: "MatMul", inputs: ["x", "w"], outputs: ["h"]),
                                   Node(name: "add", opType: "Add", inputs: ["h", "b"], outputs: ["y"])])
    }

    static let cycle: [Node] = [
        Node(name: "a", opType: "Add", inputs: ["x", "q"], outputs: ["p"]),
        Node(name: "b", opType: "Relu", inputs: ["p"], outputs: ["q"]),
        Node(name: "c", opType: "Identity", inputs: ["q"], outputs: ["y"]),
    ]
    static let missing: [Node] = [Node(name: "a", opType: "MatMul", inputs: ["x", "w2"], outputs: ["y"])]
    static let unsupported: [Node] = [
        Node(name: "n1", opType: "NonMaxSuppression", inputs: ["x"], outputs: ["y"]),
        Node(name: "n2", opType: "Loop", inputs: ["x"], outputs: ["z"]),
    ]
    static let badGraphs: [(kind: String, nodes: [Node], message: String)] = [
        ("cycle", cycle, "has a cycle: nodes 'a', 'b' depend on their own outputs."),
        ("missing", missing, "node 'a' reads 'w2', which no initializer, graph input or node defines."),
        ("unsupported", unsupported, "uses operators Octet does not run: Loop (n2); NonMaxSuppression (n1)."),
    ]

    @Test("A cycle, a missing initializer and unsupported ops are reported at load, naming the nodes", arguments: 0..<3)
    func badGraphsAreReported(index: Int) throws {
        let (kind, nodes, message) = Self.badGraphs[index]
        let graph = Self.tinyGraph("/tmp", nodes: nodes)
        do {
            _ = try GraphExecutor(graph: graph)
            Issue.record("\(kind) was accepted")
        } catch let error as OctetError {
            #expect(error.description == "/tmp/m.onnx: " + message)
        }
    }

    @Test("A shape mismatch fails naming the node and the shapes")
    func shapeMismatchIsReported() throws {
        let executor = try GraphExecutor(graph: Self.tinyGraph("/tmp"))
        #expect(throws: OctetError.invalidArgument("graph input 'x' has shape [1, 5] but /tmp/m.onnx declares [batch, 4]")) {
            try executor.run(["x": HostTensor(shape: [1, 5], floats: [Float](repeating: 1, count: 5))])
        }
        let y = try executor.run(["x": HostTensor(shape: [1, 4], floats: [1, 0, 0, 1])])["y"]!
        // y[n] = w[0][n] + w[3][n] + b[n] = n + (12 + n) + (n + 1), with w[k][n] = 4k + n.
        let expected: [Float] = (0..<4).map { n in Float(n + (12 + n) + (n + 1)) }
        #expect(y.floats == expected)
    }

    @Test("Random byte mutations of a model file never crash the reader")
    func fuzzedModelsNeverCrash() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Self.tinyGraph(folder).write(to: folder + "/m.onnx", externalData: .never)
        let original = try Data(contentsOf: URL(fileURLWithPath: folder + "/m.onnx"))
        var generator = SystemRandomNumberGenerator()
        var accepted = 0
        for _ in 0..<500 {
            var bytes = [UInt8](original)
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                switch Int.random(in: 0..<3, using: &generator) {
                case 0: bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                case 1: bytes.removeSubrange(Int.random(in: 0..<bytes.count, using: &generator)...)
                default: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: Int.random(in: 0..<bytes.count, using: &generator))
                }
                if bytes.isEmpty { bytes = [0] }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: folder + "/f.onnx"))
            if let graph = try? ONNXGraph(contentsOf: folder + "/f.onnx"), (try? GraphExecutor(graph: graph)) != nil { accepted += 1 }
        }
        #expect(accepted < 500)
    }
}

/// Small random-weight models exported by both PyTorch exporters (`scripts/make_onnx_fixtures.py`, run on the GPU
/// machine with torch 2.11, transformers 5.17, onnxruntime 1.30), each with ONNX Runtime's outputs on a padded batch.
@Suite struct ExportedModelTests {
    static let folder = Bundle.module.url(forResource: "onnx", withExtension: nil, subdirectory: "Fixtures")!.path
    static let models = ["bert-torchscript", "bert-dynamo", "bert-external", "roberta-torchscript", "roberta-dynamo",
                         "distilbert-torchscript", "distilbert-dynamo", "electra-torchscript", "electra-dynamo"]

    /// The graph's inputs, read from a fixture's io file as int64 tensors.
    static func inputs(of graph: ONNXGraph, from io: SafeTensorsFile) throws -> [String: HostTensor] {
        var inputs: [String: HostTensor] = [:]
        for input in graph.inputs {
            let t = try io.tensor(input.name)
            inputs[input.name] = HostTensor(shape: t.shape, ints: t.int32s().map { Int64($0) })
        }
        return inputs
    }

    @Test("Models exported by the TorchScript and dynamo exporters match ONNX Runtime within 1e-5", arguments: models)
    func exportedModelMatchesOnnxRuntime(name: String) throws {
        let graph = try ONNXGraph(contentsOf: "\(Self.folder)/\(name).onnx")
        let io = try SafeTensorsFile(path: "\(Self.folder)/\(name).io.safetensors")
        let inputs = try ExportedModelTests.inputs(of: graph, from: io)
        let outputs = try GraphExecutor(graph: graph).run(inputs)
        for output in ["start_logits", "end_logits"] {
            let expected = try io.tensor(output).floats()
            let error = zip(outputs[output]!.floats, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(outputs[output]!.count == expected.count)
            #expect(error <= 1e-5, "\(name) \(output): max |octet − onnxruntime| = \(error)")
        }
    }
}

@Suite struct QDQImportTests {
    @Test("ONNX Runtime's quantize_static Q/DQ model runs in Octet exactly as ONNX Runtime runs it")
    func quantizeStaticModelMatchesOnnxRuntime() throws {
        let folder = ExportedModelTests.folder
        let graph = try ONNXGraph(contentsOf: "\(folder)/bert-qdq.onnx")
        #expect(graph.opHistogram["QuantizeLinear", default: 0] > 20)
        let io = try SafeTensorsFile(path: "\(folder)/bert-qdq.io.safetensors")
        let inputs = try ExportedModelTests.inputs(of: graph, from: io)
        let outputs = try GraphExecutor(graph: graph).run(inputs)
        // Both ways ONNX Runtime runs it — each Q/DQ literally (optimizations off) and fused into integer kernels —
        // give the same logits here, and Octet's float simulation of the Q/DQ semantics (x / scale, round half to
        // even, saturate; NaN to the type's minimum as ONNX Runtime does) lands on the same int8 grid points.
        for output in ["start_logits", "end_logits"] {
            for reference in [output, output + "_unfused"] {
                let expected = try io.tensor(reference).floats()
                let error = zip(outputs[output]!.floats, expected).map { abs($0 - $1) }.max() ?? .infinity
                #expect(error <= 1e-6, "\(reference): max |octet − onnxruntime| = \(error)")
            }
        }
    }
}

@Suite struct ONNXEngineTests {
    @Test("The ONNX path and the safetensors path give the same logits on reference features (1e-4)")
    func onnxEngineMatchesSafetensorsEngine() throws {
        let reference = try Shared.referenceFeatures(128)
        let n = 4 * 128
        let batch = TokenBatch(batchSize: 4, sequenceLength: 128,
                               inputIDs: Array(try reference.tensor("input_ids").int32s()[0..<n]),
                               tokenTypeIDs: Array(try reference.tensor("token_type_ids").int32s()[0..<n]),
                               attentionMask: Array(try reference.tensor("attention_mask").int32s()[0..<n]))
        let onnx = try ONNXQuestionAnsweringEngine(path: ONNXTests.onnxPath).spanLogits(for: batch)
        let safetensors = try CPUBertEngine(weights: ReferenceModel.folder.weights).spanLogits(for: batch)
        let error = zip(onnx.start + onnx.end, safetensors.start + safetensors.end).map { abs($0 - $1) }.max()!
        #expect(error <= 1e-4, "max |onnx − safetensors| = \(error)")
    }
}

@Suite struct GraphPassTests {
    @Test("Constant folding and dead-code removal keep the outputs bit for bit and leave no Constant node")
    func foldingKeepsOutputs() throws {
        KernelPath.lock.lock()
        defer { KernelPath.lock.unlock() }
        let graph = ONNXTests.graph
        let folded = try GraphPasses.foldConstants(graph)
        print("nodes \(graph.nodes.count) → \(folded.nodes.count); ops after folding: \(folded.opHistogram.sorted { $0.key < $1.key })")
        #expect(folded.nodes.count < graph.nodes.count)
        #expect(folded.opHistogram["Constant"] == nil)
        let (inputs, _, _) = try ONNXTests.referenceIO()
        let before = try GraphExecutor(graph: graph).run(inputs)
        let after = try GraphExecutor(graph: folded).run(inputs)
        for name in ["start_logits", "end_logits"] {
            #expect(after[name]!.floats == before[name]!.floats)
        }
    }

    @Test("A folded graph written to ONNX and read back still runs", arguments: ExportedModelTests.models)
    func foldedExportsRoundTrip(name: String) throws {
        KernelPath.lock.lock()
        defer { KernelPath.lock.unlock() }
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let graph = try ONNXGraph(contentsOf: "\(ExportedModelTests.folder)/\(name).onnx")
        let folded = try GraphPasses.foldConstants(graph)
        try folded.write(to: folder + "/folded.onnx")
        let reread = try ONNXGraph(contentsOf: folder + "/folded.onnx")
        let io = try SafeTensorsFile(path: "\(ExportedModelTests.folder)/\(name).io.safetensors")
        let inputs = try ExportedModelTests.inputs(of: graph, from: io)
        let expected = try GraphExecutor(graph: graph).run(inputs)
        let outputs = try GraphExecutor(graph: reread).run(inputs)
        for output in ["start_logits", "end_logits"] {
            #expect(outputs[output]!.floats == expected[output]!.floats, "\(name) \(output)")
        }
    }
}
