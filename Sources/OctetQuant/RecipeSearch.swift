import Foundation
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX

/// Per-group sensitivity and the automatic recipe: which quantization groups to keep in float so a model stays
/// within an accuracy budget with as much of its matrix-product work in INT8 as possible.
///
/// Sensitivity of a group: quantize that group alone (everything else float) and measure the mean absolute
/// difference of the start/end logits from float32 over the valid tokens of a set of features. The search then
/// starts from everything in INT8 and moves groups to float, most error per FLOP first (`order`), until `evaluate`
/// (the caller's accuracy measure, e.g. F1 on a held-out slice of SQuAD train) is within the budget of the float
/// model's.
/// INT8 is simulated (fake quantization with the float GEMM): the same int8 grid points as the integer kernels.
public struct RecipeSearch {
    public let weights: BertWeights
    /// Calibrated scales of every quantization point.
    public let scales: QuantizationScales
    public let threads: Int?

    public init(weights: BertWeights, scales: QuantizationScales, threads: Int? = nil) {
        self.weights = weights
        self.scales = scales
        self.threads = threads
    }

    /// A QA engine for the model with `floatGroups` kept float (nil: the float32 model).
    public func engine(floatGroups: Set<String>?) throws -> ONNXQuestionAnsweringEngine {
        let exporter = BertONNXExporter(weights: weights)
        var recipe = scales
        if let floatGroups { recipe.floatGroups = floatGroups }
        return try ONNXQuestionAnsweringEngine(graph: exporter.graph(scales: floatGroups == nil ? nil : recipe), threads: threads,
                                               quantizedArithmetic: .simulated)
    }

    /// The logit error of quantizing each group alone, largest first.
    public func sensitivities(on batches: [TokenBatch], progress: (Int, Int) -> Void = { _, _ in }) throws -> [(group: String, error: Double)] {
        let reference = try engine(floatGroups: nil)
        let baseline = try batches.map { try reference.spanLogits(for: $0) }
        let groups = QuantizationGroup.all(layers: weights.config.layerCount)
        var result: [(group: String, error: Double)] = []
        for (n, group) in groups.enumerated() {
            let model = try engine(floatGroups: Set(groups).subtracting([group]))
            var total = 0.0, count = 0
            for (batch, base) in zip(batches, baseline) {
                let logits = try model.spanLogits(for: batch)
                for i in 0..<batch.attentionMask.count where batch.attentionMask[i] != 0 {
                    total += Double(abs(logits.start[i] - base.start[i]) + abs(logits.end[i] - base.end[i])) / 2
                    count += 1
                }
            }
            result.append((group, total / Double(max(1, count))))
            progress(n + 1, groups.count)
        }
        return result.sorted { $0.error > $1.error }
    }

    /// One step of the search: the float groups tried and the accuracy they gave.
    public struct Step: Sendable {
        public let floatGroups: [String]
        public let accuracy: Double
        public let int8Share: Double
    }

    /// The order in which the search moves groups to float: most logit error removed per matrix-product FLOP kept
    /// out of INT8 first. A group with no products of its own (a residual add) counts as costing as much as the
    /// smallest product group, so it is preferred only when it matters as much.
    public static func order(_ sensitivities: [(group: String, error: Double)], config c: BertConfig, sequence: Int) -> [String] {
        let flops = { (g: String) in QuantizationGroup.gemmFlops(g, hidden: c.hiddenSize, intermediate: c.intermediateSize, sequence: sequence) }
        let floor = sensitivities.map { flops($0.group) }.filter { $0 > 0 }.min() ?? 1
        return sensitivities.enumerated()
            .map { (index: $0.offset, group: $0.element.group, priority: $0.element.error / Double(max(flops($0.element.group), floor))) }
            .sorted { $0.priority != $1.priority ? $0.priority > $1.priority : $0.index < $1.index }
            .map(\.group)
    }

    /// Moves groups to float one at a time in `order` until `evaluate` (accuracy of the model with those groups in
    /// float; nil: the float32 model) is at most `maxDrop` below the float model's. Returns every step tried; the last
    /// one meets the budget (or keeps everything in float).
    public static func search(order: [String], maxDrop: Double, share: (Set<String>) -> Double,
                              evaluate: (Set<String>?) throws -> Double,
                              progress: (Step, Double) -> Void = { _, _ in }) throws -> (baseline: Double, steps: [Step]) {
        let baseline = try evaluate(nil)
        var floatGroups: [String] = []
        var steps: [Step] = []
        var remaining = order[...]
        while true {
            let step = Step(floatGroups: floatGroups, accuracy: try evaluate(Set(floatGroups)), int8Share: share(Set(floatGroups)))
            steps.append(step)
            progress(step, baseline)
            guard baseline - step.accuracy > maxDrop, let next = remaining.popFirst() else { break }
            floatGroups.append(next)
        }
        return (baseline, steps)
    }

    /// `search` with this model's engines and INT8 share at `sequence`.
    public func search(order: [String], maxDrop: Double, sequence: Int,
                       evaluate: (any QuestionAnsweringEngine) throws -> Double,
                       progress: (Step, Double) -> Void = { _, _ in }) throws -> (baseline: Double, steps: [Step]) {
        let c = weights.config
        return try Self.search(order: order, maxDrop: maxDrop,
                               share: { QuantizationGroup.int8Share(floatGroups: $0, layers: c.layerCount, hidden: c.hiddenSize,
                                                                    intermediate: c.intermediateSize, sequence: sequence) },
                               evaluate: { try evaluate(try engine(floatGroups: $0)) }, progress: progress)
    }
}
