import ArgumentParser
import Foundation
import OctetCore
import OctetModels
import OctetCPU
import OctetONNX

/// `octet inspect`: what a model file holds.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show a model's inputs and outputs, operators, quantized tensors and parameter count.",
        discussion: "MODEL is an .onnx file (external data is read from beside it) or a Hugging Face model folder.")

    @Argument(help: "An .onnx file or a Hugging Face model folder.")
    var model: String

    @Option(help: "Also write the summary as JSON here.")
    var json: String?

    @Option(help: "Optimize the ONNX graph first: none, fold (constants, shape arithmetic) or fuse (also transformer-op fusion).")
    var optimize: GraphOptimization = .none

    @Option(help: "Write the (optimized) ONNX graph here.")
    var save: String?

    func run() throws {
        try reportingErrors {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: model, isDirectory: &isDirectory), isDirectory.boolValue {
                try inspectFolder()
            } else {
                try inspectONNX()
            }
        }
    }

    private func inspectFolder() throws {
        let folder = try BertModelFolder(folder: model)
        let c = folder.config
        let weights = folder.weights
        var parameters = [weights.wordEmbeddings, weights.positionEmbeddings, weights.tokenTypeEmbeddings,
                          weights.embeddingNorm.gamma, weights.embeddingNorm.beta, weights.qaOutputs.weight, weights.qaOutputs.bias]
        for l in weights.layers {
            for linear in [l.query, l.key, l.value, l.attentionOutput, l.intermediate, l.output] { parameters += [linear.weight, linear.bias] }
            parameters += [l.attentionNorm.gamma, l.attentionNorm.beta, l.outputNorm.gamma, l.outputNorm.beta]
        }
        let count = parameters.reduce(0) { $0 + $1.count }
        let dtypes = Set(parameters.map(\.dtype.rawValue)).sorted().joined(separator: ", ")
        print("model: \(model) (BertForQuestionAnswering)")
        print(table(["layers", "hidden", "heads", "intermediate", "vocab", "positions", "parameters", "dtype"],
                    [["\(c.layerCount)", "\(c.hiddenSize)", "\(c.headCount)", "\(c.intermediateSize)", "\(c.vocabSize)",
                      "\(c.maxPositionEmbeddings)", "\(count)", dtypes]]))
        if let json {
            try FileIO.writeJSON(["model": model, "architecture": "BertForQuestionAnswering", "layers": c.layerCount,
                                  "hidden_size": c.hiddenSize, "heads": c.headCount, "intermediate_size": c.intermediateSize,
                                  "vocab_size": c.vocabSize, "parameters": count, "dtypes": dtypes] as [String: Any], to: json)
        }
    }

    private func inspectONNX() throws {
        let graph = try GraphPasses.optimize(try ONNXGraph(contentsOf: model), level: optimize)
        if let save { try graph.write(to: save) }
        func describe(_ v: ValueInfo) -> [String] {
            [v.name, v.elementType?.name ?? "?", v.shape.map { "[" + $0.map(\.description).joined(separator: ", ") + "]" } ?? "?"]
        }
        print("model: \(model)")
        print("ir version \(graph.irVersion) · producer \(graph.producer.isEmpty ? "?" : graph.producer) · opsets " +
              graph.opsets.sorted { $0.key < $1.key }.map { "\($0.key.isEmpty ? "ai.onnx" : $0.key) \($0.value)" }.joined(separator: ", "))
        print("\ninputs")
        print(table(["name", "type", "shape"], graph.inputs.map(describe)))
        print("\noutputs")
        print(table(["name", "type", "shape"], graph.outputs.map(describe)))
        let histogram = graph.opHistogram.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
        print("\noperators (\(graph.nodes.count) nodes)")
        print(table(["op", "count"], histogram.map { [$0.key, "\($0.value)"] }))
        let quantized = quantizedTensors(graph)
        if !quantized.isEmpty {
            print("\nquantized tensors (\(quantized.count))")
            print(table(["tensor", "op", "scale", "zero point"], quantized.map { [$0.tensor, $0.op, $0.scale, $0.zeroPoint] }))
        }
        print("\ninitializers: \(graph.initializers.count) · parameters: \(graph.parameterCount)")
        if let json {
            try FileIO.writeJSON([
                "model": model, "ir_version": graph.irVersion, "producer": graph.producer,
                "opsets": graph.opsets.reduce(into: [String: Int]()) { $0[$1.key.isEmpty ? "ai.onnx" : $1.key] = $1.value },
                "inputs": graph.inputs.map { ["name": $0.name, "type": $0.elementType?.name ?? "?", "shape": $0.shape?.map(\.description) ?? []] },
                "outputs": graph.outputs.map { ["name": $0.name, "type": $0.elementType?.name ?? "?", "shape": $0.shape?.map(\.description) ?? []] },
                "operators": graph.opHistogram, "nodes": graph.nodes.count, "initializers": graph.initializers.count,
                "parameters": graph.parameterCount,
                "quantized_tensors": quantized.map { ["tensor": $0.tensor, "op": $0.op, "scale": $0.scale, "zero_point": $0.zeroPoint] },
            ] as [String: Any], to: json)
        }
    }

    /// The input of every QuantizeLinear/DequantizeLinear node with its scale and zero point, summarized.
    private func quantizedTensors(_ graph: ONNXGraph) -> [(tensor: String, op: String, scale: String, zeroPoint: String)] {
        graph.nodes.filter { $0.opType == "QuantizeLinear" || $0.opType == "DequantizeLinear" }.map { node in
            func summary(_ name: String?) -> String {
                guard let name, !name.isEmpty else { return "0" }
                guard let t = graph.initializers[name], let values = t.view?.floats() else { return "(computed)" }
                if values.count == 1 { return String(format: "%.6g", values[0]) }
                return "\(values.count) values in [\(String(format: "%.4g", values.min()!)), \(String(format: "%.4g", values.max()!))]"
            }
            let axis: String
            if case .int(let a)? = node.attributes["axis"], (graph.initializers[node.inputs[1]]?.count ?? 1) > 1 { axis = " (axis \(a))" } else { axis = "" }
            return (node.inputs[0], node.opType, summary(node.inputs.count > 1 ? node.inputs[1] : nil) + axis,
                    summary(node.inputs.count > 2 ? node.inputs[2] : nil))
        }
    }
}
