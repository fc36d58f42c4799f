import Foundation
import OctetCore
import OctetONNX

/// An extractive QA model from an ONNX file, run by `GraphExecutor` on the CPU.
///
/// The graph takes `input_ids`, `attention_mask` and (when it has one) `token_type_ids` as int64 `[batch, sequence]`
/// and returns `start_logits` and `end_logits` (or, failing those names, its first two outputs).
public final class ONNXQuestionAnsweringEngine: QuestionAnsweringEngine, @unchecked Sendable {
    public let executor: GraphExecutor
    public let label: String
    public let maxSequenceLength: Int
    private let startName: String
    private let endName: String

    /// Reads the model and optimizes it (by default: folding and fusion into Octet's transformer ops).
    public convenience init(path: String, threads: Int? = nil, maxSequenceLength: Int = 512, optimization: GraphOptimization = .fuse,
                            quantizedArithmetic: QuantizedArithmetic = .integer) throws {
        try self.init(graph: try ONNXGraph(contentsOf: path), threads: threads, maxSequenceLength: maxSequenceLength,
                      optimization: optimization, quantizedArithmetic: quantizedArithmetic)
    }

    /// Optimizes a graph in memory and runs it.
    public init(graph original: ONNXGraph, threads: Int? = nil, maxSequenceLength: Int = 512, optimization: GraphOptimization = .fuse,
                quantizedArithmetic: QuantizedArithmetic = .integer) throws {
        let path = original.path
        let graph = try GraphPasses.optimize(original, level: optimization)
        let names = Set(graph.inputs.map(\.name))
        guard names.contains("input_ids"), names.contains("attention_mask"),
              names.isSubset(of: ["input_ids", "attention_mask", "token_type_ids"]) else {
            throw OctetError.unsupported(path, "has inputs \(graph.inputs.map(\.name)); a question-answering model takes input_ids, attention_mask and optionally token_type_ids")
        }
        let outputs = graph.outputs.map(\.name)
        if outputs.contains("start_logits"), outputs.contains("end_logits") {
            (startName, endName) = ("start_logits", "end_logits")
        } else if outputs.count >= 2 {
            (startName, endName) = (outputs[0], outputs[1])
        } else {
            throw OctetError.unsupported(path, "has \(outputs.count) output; a question-answering model returns start and end logits")
        }
        executor = try GraphExecutor(graph: graph, threads: threads)
        executor.quantizedArithmetic = quantizedArithmetic
        let quantized = graph.nodes.contains { $0.opType == "QDense" } ? ", int8 \(quantizedArithmetic == .integer ? "integer" : "simulated")" : ""
        label = "cpu onnx graph, \(optimization == .fuse ? "fused" : optimization == .fold ? "folded" : "as exported")\(quantized) (\(executor.parallel.workers) threads)"
        self.maxSequenceLength = maxSequenceLength
    }

    public func spanLogits(for batch: TokenBatch) throws -> SpanLogits {
        var feeds = batch.graphInputs
        if !executor.graph.inputs.contains(where: { $0.name == "token_type_ids" }) { feeds["token_type_ids"] = nil }
        let outputs = try executor.run(feeds)
        guard let start = outputs[startName], let end = outputs[endName], start.count == batch.inputIDs.count, end.count == start.count else {
            throw OctetError.malformed(executor.graph.path, "returned logits that are not [batch, sequence]")
        }
        return SpanLogits(batchSize: batch.batchSize, sequenceLength: batch.sequenceLength, start: start.floats, end: end.floats)
    }
}

extension TokenBatch {
    /// The batch as a QA graph's int64 [batch, sequence] inputs: `input_ids`, `attention_mask`, `token_type_ids`.
    public var graphInputs: [String: HostTensor] {
        let shape = [batchSize, sequenceLength]
        return ["input_ids": HostTensor(shape: shape, ints: inputIDs.map { Int64($0) }),
                "attention_mask": HostTensor(shape: shape, ints: attentionMask.map { Int64($0) }),
                "token_type_ids": HostTensor(shape: shape, ints: tokenTypeIDs.map { Int64($0) })]
    }
}
