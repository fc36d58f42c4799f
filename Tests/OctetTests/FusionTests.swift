import Foundation
import Testing
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX

@Suite struct ShapeInferenceTests {
    @Test("Shape inference gives every value of the reference model a shape in batch and sequence")
    func referenceShapesAreSymbolic() throws {
        let graph = try GraphPasses.foldConstants(ONNXTests.graph)
        let facts = try ShapeInference.infer(graph)
        func shape(_ name: String) -> String { facts[name]!.shape.map { $0?.description ?? "?" }.joined(separator: ", ") }
        #expect(shape("/bert/encoder/layer.0/attention/self/Reshape_output_0") == "batch, sequence, 12, 32")
        #expect(shape("/bert/encoder/layer.0/attention/self/Transpose_2_output_0") == "batch, 12, 32, sequence")
        #expect(shape("/bert/encoder/layer.0/attention/self/MatMul_output_0") == "batch, 12, sequence, sequence")
        #expect(shape("/bert/encoder/layer.5/intermediate/dense/MatMul_output_0") == "batch, sequence, 1536")
        #expect(shape("start_logits") == "batch, sequence")
        #expect(facts["/bert/encoder/layer.0/attention/self/MatMul_output_0"]!.type == .float)
        #expect(facts["/bert/Cast_output_0"]!.type == .bool)
        #expect(facts.values.allSatisfy { $0.shape.allSatisfy { $0 != nil } })
    }

    @Test("Folding the exporters' shape arithmetic leaves a computed Reshape target only where no constant can say it",
          arguments: ["reference"] + ExportedModelTests.models)
    func shapeChainsFold(name: String) throws {
        let graph = name == "reference" ? ONNXTests.graph : try ONNXGraph(contentsOf: "\(ExportedModelTests.folder)/\(name).onnx")
        let folded = try GraphPasses.optimize(graph, level: .fold)
        let facts = try ShapeInference.infer(folded)
        var computed = 0
        for node in folded.nodes where node.opType == "Reshape" && folded.initializers[node.inputs[1]] == nil {
            // A constant target can copy input dimensions (0) and infer one more (-1); beyond that the target
            // has to be computed from the input's shape.
            let input = facts[node.inputs[0]]!.shape, output = facts[node.outputs[0]]!.shape
            let symbolic = output.enumerated().filter { i, d in d?.constant == nil && !(i < input.count && input[i] == d) }
            #expect(symbolic.count >= 2, "\(name): Reshape '\(node.name)' to \(output) could have a constant target")
            computed += 1
        }
        #expect(folded.nodes.count < graph.nodes.count)
        #expect(folded.opHistogram["Shape", default: 0] < graph.opHistogram["Shape", default: 0] || graph.opHistogram["Shape", default: 0] <= 5)
        print("\(name): \(graph.nodes.count) nodes → \(folded.nodes.count) after folding; \(computed) Reshape targets left computed")
    }
}

@Suite struct FusionTests {
    /// Op types that only move or compute from inputs and shapes, allowed beside the fused ops.
    static let dataMovement: Set<String> = ["Split", "Squeeze", "Unsqueeze", "Reshape", "Identity"]

    /// Checks that a fused graph holds the fused transformer ops and glue only: every standard op either reads no
    /// value computed by a fused op (input glue: masks, positions, shapes) or only moves data (output glue).
    static func expectOnlyFusedOpsAndGlue(_ graph: ONNXGraph, _ name: String) {
        var hidden = Set<String>()
        for node in graph.nodes where node.domain == FusedOps.domain { hidden.formUnion(node.outputs) }
        var changed = true
        while changed {
            changed = false
            for node in graph.nodes where node.domain != FusedOps.domain && node.opType != "Shape"
                && node.inputs.contains(where: hidden.contains) && !node.outputs.allSatisfy(hidden.contains) {
                hidden.formUnion(node.outputs)
                changed = true
            }
        }
        for node in graph.nodes where node.domain != FusedOps.domain && node.inputs.contains(where: hidden.contains) {
            #expect(node.opType == "Shape" || dataMovement.contains(node.opType),
                    "\(name): \(node.opType) '\(node.name)' computes on hidden states outside the fused ops")
        }
        for op in ["MatMul", "Gemm", "Softmax", "LayerNormalization", "Erf", "Transpose", "ReduceMean"] {
            #expect(graph.opHistogram[op] == nil, "\(name): \(op) left after fusion")
        }
    }

    @Test("The reference model fuses into embedding, attention, residual and dense ops and still matches ONNX Runtime")
    func referenceModelFuses() throws {
        let fused = try GraphPasses.optimize(ONNXTests.graph, level: .fuse)
        let histogram = fused.opHistogram
        print("fused reference model (\(fused.nodes.count) nodes): " + histogram.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
            .map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        #expect(histogram["octet:EmbedLayerNorm"] == 1)
        #expect(histogram["octet:Attention"] == 6)
        #expect(histogram["octet:SkipLayerNorm"] == 12)
        // Per layer: packed QKV, attention output, intermediate (+GELU), output; plus the QA head.
        #expect(histogram["octet:Dense"] == 6 * 4 + 1)
        Self.expectOnlyFusedOpsAndGlue(fused, "reference")
        let (inputs, start, end) = try ONNXTests.referenceIO()
        let error = ONNXTests.maxError(try GraphExecutor(graph: fused).run(inputs), start, end)
        #expect(error <= 1e-4, "max |fused octet − onnxruntime| = \(error)")
    }

    @Test("Every exported fixture fuses completely and matches ONNX Runtime within 1e-4", arguments: ExportedModelTests.models)
    func exportedModelsFuse(name: String) throws {
        let graph = try ONNXGraph(contentsOf: "\(ExportedModelTests.folder)/\(name).onnx")
        let fused = try GraphPasses.optimize(graph, level: .fuse)
        let histogram = fused.opHistogram
        #expect(histogram["octet:EmbedLayerNorm"] == 1, "\(name)")
        #expect(histogram["octet:Attention"] == 2, "\(name)")
        #expect(histogram["octet:SkipLayerNorm"] == 4, "\(name)")
        #expect(histogram["octet:Dense"] == 9, "\(name)")
        Self.expectOnlyFusedOpsAndGlue(fused, name)
        let io = try SafeTensorsFile(path: "\(ExportedModelTests.folder)/\(name).io.safetensors")
        let outputs = try GraphExecutor(graph: fused).run(try ExportedModelTests.inputs(of: graph, from: io))
        for output in ["start_logits", "end_logits"] {
            let expected = try io.tensor(output).floats()
            let error = zip(outputs[output]!.floats, expected).map { abs($0 - $1) }.max() ?? .infinity
            #expect(error <= 1e-4, "\(name) \(output): max |fused octet − onnxruntime| = \(error)")
        }
    }

    @Test("A fused graph written to ONNX and read back gives the same outputs bit for bit")
    func fusedGraphRoundTrips() throws {
        KernelPath.lock.lock()
        defer { KernelPath.lock.unlock() }
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let fused = try GraphPasses.optimize(ONNXTests.graph, level: .fuse)
        try fused.write(to: folder + "/fused.onnx")
        let reread = try ONNXGraph(contentsOf: folder + "/fused.onnx")
        #expect(reread.opsets[FusedOps.domain] == 1)
        let (inputs, _, _) = try ONNXTests.referenceIO()
        let (a, b) = (try GraphExecutor(graph: fused).run(inputs), try GraphExecutor(graph: reread).run(inputs))
        #expect(a["start_logits"]!.floats == b["start_logits"]!.floats)
        #expect(a["end_logits"]!.floats == b["end_logits"]!.floats)
    }
}

@Suite struct QuantizedFusionTests {
    /// x → Q → DQ → MatMul(·, DQ(int8 W, per-channel scales)) → + bias, with Octet's ops, on random data.
    static func quantizedLinearGraph(perChannel: Bool) -> (ONNXGraph, [String: HostTensor]) {
        var rng = SystemRandomNumberGenerator()
        let (k, n) = (48, 40)
        let weights = (0..<(k * n)).map { _ in Int8.random(in: -127...127, using: &rng) }
        let scales = (0..<(perChannel ? n : 1)).map { _ in Float.random(in: 0.001...0.01, using: &rng) }
        let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        func data(_ name: String, _ type: ONNXDataType, _ shape: [Int], _ bytes: Data) -> Initializer {
            ONNXGraph.owned(name, type, shape, bytes)
        }
        let initializers: [String: Initializer] = [
            "w": data("w", .int8, [k, n], Data(weights.map { UInt8(bitPattern: $0) })),
            "w_scale": .float32("w_scale", shape: perChannel ? [n] : [], scales),
            "x_scale": .float32("x_scale", shape: [], [0.02]),
            "x_zero": data("x_zero", .int8, [], Data([0])),
            "bias": .float32("bias", shape: [n], bias),
        ]
        let nodes = [
            Node(name: "q", opType: "QuantizeLinear", inputs: ["x", "x_scale", "x_zero"], outputs: ["xq"]),
            Node(name: "dq", opType: "DequantizeLinear", inputs: ["xq", "x_scale", "x_zero"], outputs: ["xd"]),
            Node(name: "dqw", opType: "DequantizeLinear", inputs: ["w", "w_scale"], outputs: ["wd"], attributes: ["axis": .int(1)]),
            Node(name: "mm", opType: "MatMul", inputs: ["xd", "wd"], outputs: ["y0"]),
            Node(name: "add", opType: "Add", inputs: ["y0", "bias"], outputs: ["y"]),
        ]
        let graph = ONNXGraph(path: "quantized-linear", opsets: ["": 17],
                              inputs: [ValueInfo(name: "x", elementType: .float, shape: [.symbol("batch"), .symbol("sequence"), .fixed(k)])],
                              outputs: [ValueInfo(name: "y", elementType: .float, shape: nil)], initializers: initializers, nodes: nodes)
        let x = HostTensor(shape: [3, 7, k], floats: (0..<(21 * k)).map { _ in Float.random(in: -3...3, using: &rng) })
        return (graph, ["x": x])
    }

    @Test("Q→DQ around MatMul + bias becomes QDense, computing what the Q/DQ graph computes", arguments: [false, true])
    func quantizedLinearFuses(perChannel: Bool) throws {
        let (graph, inputs) = Self.quantizedLinearGraph(perChannel: perChannel)
        let fused = try GraphPasses.optimize(graph, level: .fuse)
        #expect(fused.opHistogram == ["octet:QDense": 1])
        // QDense sums exact int32 products and scales once; the Q/DQ graph sums float products. Both are on the
        // same int8 grid, so they differ by float rounding only: about 1e-6 relative to the largest output.
        let expected = try GraphExecutor(graph: graph).run(inputs)["y"]!.floats
        let scale = expected.map(abs).max()!
        // Both ways QDense computes: int8 × int8 → int32 (real INT8), and fake quantization with the float GEMM
        // (simulation). Same int8 grid points, so again float rounding only.
        for arithmetic in QuantizedArithmetic.allCases {
            let executor = try GraphExecutor(graph: fused)
            executor.quantizedArithmetic = arithmetic
            let actual = try executor.run(inputs)["y"]!.floats
            let error = zip(actual, expected).map { abs($0 - $1) }.max()!
            #expect(error <= 1e-5 * scale, "\(arithmetic): max |QDense − Q/DQ MatMul| = \(error) (largest |y| \(scale))")
        }
    }

    @Test("Q→DQ on both inputs of an Add becomes QAdd, computing exactly what the Q/DQ graph computes")
    func quantizedAddFuses() throws {
        KernelPath.lock.lock()
        defer { KernelPath.lock.unlock() }
        var rng = SystemRandomNumberGenerator()
        let zero = ONNXGraph.owned("zero", .int8, [], Data([0]))
        let initializers: [String: Initializer] = ["sa": .float32("sa", shape: [], [0.03]), "sb": .float32("sb", shape: [], [0.05]), "zero": zero]
        var nodes: [Node] = []
        for (x, s) in [("a", "sa"), ("b", "sb")] {
            nodes.append(Node(name: "q" + x, opType: "QuantizeLinear", inputs: [x, s, "zero"], outputs: [x + "q"]))
            nodes.append(Node(name: "dq" + x, opType: "DequantizeLinear", inputs: [x + "q", s, "zero"], outputs: [x + "d"]))
        }
        nodes.append(Node(name: "add", opType: "Add", inputs: ["ad", "bd"], outputs: ["y"]))
        let shape: [OctetONNX.Dimension] = [.symbol("batch"), .fixed(16)]
        let graph = ONNXGraph(path: "quantized-add", opsets: ["": 17],
                              inputs: ["a", "b"].map { ValueInfo(name: $0, elementType: .float, shape: shape) },
                              outputs: [ValueInfo(name: "y", elementType: .float, shape: nil)], initializers: initializers, nodes: nodes)
        let fused = try GraphPasses.optimize(graph, level: .fuse)
        #expect(fused.opHistogram == ["octet:QAdd": 1])
        let inputs = ["a": HostTensor(shape: [5, 16], floats: (0..<80).map { _ in Float.random(in: -5...5, using: &rng) }),
                      "b": HostTensor(shape: [5, 16], floats: (0..<80).map { _ in Float.random(in: -8...8, using: &rng) })]
        #expect(try GraphExecutor(graph: fused).run(inputs)["y"]!.floats == GraphExecutor(graph: graph).run(inputs)["y"]!.floats)
    }

    @Test("ONNX Runtime's quantize_static model fuses its linear layers into QDense and folds the quantized weights")
    func quantizeStaticModelFuses() throws {
        let graph = try ONNXGraph(contentsOf: "\(ExportedModelTests.folder)/bert-qdq.onnx")
        let fused = try GraphPasses.optimize(graph, level: .fuse)
        let histogram = fused.opHistogram
        print("fused quantize_static model: " + histogram.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        // 2 layers × 6 linear layers + the QA head, all on int8 weights.
        #expect(histogram["octet:QDense"] == 13)
        #expect(histogram["MatMul", default: 0] == 4, "only the two attention products per layer stay MatMul")
        #expect(histogram["DequantizeLinear", default: 0] < graph.opHistogram["DequantizeLinear"]!)
    }
}
