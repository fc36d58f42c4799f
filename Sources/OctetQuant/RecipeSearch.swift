import Foundation
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX

/// Per-group sensitivity and the automatic recipe: which quantization groups to keep in float so a model stays
/// within an accuracy budget with as much of its matrix-product work in INT8 as possible.
///
/// Sensitivity of a group: quantize that group alone (everything else float) and measure how far its start/end
/// answer distributions move from float32's (`answerDivergence`) over a set of features. The search then
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

    /// A QA engine for the model with `floatGroups` kept float besides the scales' own float groups (nil: the
    /// float32 model).
    public func engine(floatGroups: Set<String>?) throws -> ONNXQuestionAnsweringEngine {
        guard let floatGroups else { return try engine(scales: nil) }
        var recipe = scales
        recipe.floatGroups.formUnion(floatGroups)
        return try engine(scales: recipe)
    }

    /// How far `model`'s answer distributions are from `baseline`'s: the Kullback–Leibler divergence KL(p ‖ q) of
    /// the float model's softmax over each feature's valid tokens (p) from the quantized model's (q), start and end
    /// averaged, then averaged over features. Unlike a mean logit difference, it weighs tokens by how likely they
    /// are to be an answer's start or end, which is what decides the answer (and F1): errors on tokens far down the
    /// distribution barely count.
    public static func answerDivergence(_ model: any QuestionAnsweringEngine, _ batches: [TokenBatch], _ baseline: [SpanLogits]) throws -> Double {
        var total = 0.0, count = 0
        for (batch, base) in zip(batches, baseline) {
            let logits = try model.spanLogits(for: batch)
            let s = batch.sequenceLength
            for f in 0..<batch.batchSize {
                let valid = (f * s..<(f + 1) * s).filter { batch.attentionMask[$0] != 0 }
                for (p, q) in [(base.start, logits.start), (base.end, logits.end)] {
                    total += divergence(valid.map { Double(p[$0]) }, valid.map { Double(q[$0]) }) / 2
                }
                count += 1
            }
        }
        return total / Double(max(1, count))
    }

    /// KL(softmax(a) ‖ softmax(b)).
    public static func divergence(_ a: [Double], _ b: [Double]) -> Double {
        func logSoftmax(_ x: [Double]) -> [Double] {
            let m = x.max() ?? 0
            let log = Foundation.log(x.reduce(0) { $0 + exp($1 - m) }) + m
            return x.map { $0 - log }
        }
        let (la, lb) = (logSoftmax(a), logSoftmax(b))
        return zip(la, lb).reduce(0) { $0 + exp($1.0) * ($1.0 - $1.1) }
    }

    /// Kinds of quantization points that share a calibrator in `chooseCalibrators`, by point-name suffix: Q, K and V
    /// read one input (one kind, so their projections still merge into one GEMM), both QKᵀ operands are one kind, and
    /// each residual add's two inputs are one kind.
    public static let calibrationKinds: [(name: String, suffixes: [String])] = [
        ("attention.qkv.input", ["attention.query.input", "attention.key.input", "attention.value.input"]),
        ("attention.qk", ["attention.matmul_q", "attention.matmul_k"]),
        ("attention.probabilities", ["attention.matmul_a"]),
        ("attention.value", ["attention.matmul_v"]),
        ("attention.output.input", ["attention.output.input"]),
        ("attention.add", ["attention.add.local", "attention.add.residual"]),
        ("intermediate.input", ["intermediate.input"]),
        ("output.input", ["output.input"]),
        ("output.add", ["output.add.local", "output.add.residual"]),
    ]

    /// One decision of `chooseCalibrators`: the kind, the calibrator kept and the answer divergence with it.
    public struct CalibratorChoice: Sendable {
        public let kind: String
        public let calibrator: String
        public let error: Double
        /// Answer divergence with each candidate tried for this kind (the others as chosen so far).
        public let tried: [(calibrator: String, error: Double)]
    }

    /// Picks a calibrator per kind of quantization point (`calibrationKinds`), for all layers at once: starting from
    /// `scales` (the base calibrator everywhere), each kind in turn takes the candidate whose amax values give the
    /// smallest answer divergence from float32 on `batches`, the others held as chosen so far. `candidates` are the
    /// amax values of every calibrator from the same histograms. Returns the combined scales and the decisions.
    public func chooseCalibrators(_ candidates: [(name: String, scales: QuantizationScales)], on batches: [TokenBatch],
                                  progress: (Int, Int) -> Void = { _, _ in }) throws -> (scales: QuantizationScales, choices: [CalibratorChoice]) {
        let reference = try engine(floatGroups: nil)
        let baseline = try batches.map { try reference.spanLogits(for: $0) }
        var current = scales
        var choices: [CalibratorChoice] = []
        var kept = [String](repeating: current.calibrator, count: Self.calibrationKinds.count)
        var currentError = try Self.answerDivergence(try engine(scales: current), batches, baseline)
        let total = Self.calibrationKinds.count * candidates.count
        for (k, kind) in Self.calibrationKinds.enumerated() {
            var tried: [(calibrator: String, error: Double)] = []
            var best = (name: kept[k], scales: current, error: currentError)
            for (c, candidate) in candidates.enumerated() {
                var trial = current
                for point in trial.activations.keys where kind.suffixes.contains(where: { point.hasSuffix("." + $0) }) {
                    trial.activations[point] = candidate.scales.activations[point]
                }
                let error = trial == current ? currentError : try Self.answerDivergence(try engine(scales: trial), batches, baseline)
                tried.append((candidate.name, error))
                if error < best.error { best = (candidate.name, trial, error) }
                progress(k * candidates.count + c + 1, total)
            }
            (kept[k], current, currentError) = best
            choices.append(CalibratorChoice(kind: kind.name, calibrator: best.name, error: best.error, tried: tried))
        }
        current.calibrator = Self.calibrationKinds.indices.map { "\(Self.calibrationKinds[$0].name): \(kept[$0])" }.joined(separator: ", ")
        return (current, choices)
    }

    /// A QA engine for the model quantized with `scales` (nil: float32).
    func engine(scales: QuantizationScales?) throws -> ONNXQuestionAnsweringEngine {
        try ONNXQuestionAnsweringEngine(graph: BertONNXExporter(weights: weights).graph(scales: scales), threads: threads,
                                        quantizedArithmetic: .simulated)
    }

    /// The answer divergence of quantizing each group alone, largest first.
    public func sensitivities(on batches: [TokenBatch], progress: (Int, Int) -> Void = { _, _ in }) throws -> [(group: String, error: Double)] {
        let reference = try engine(floatGroups: nil)
        let baseline = try batches.map { try reference.spanLogits(for: $0) }
        // Groups the scales already keep in float have nothing to rank.
        let groups = QuantizationGroup.all(layers: weights.config.layerCount).filter { !scales.floatGroups.contains($0) }
        var result: [(group: String, error: Double)] = []
        for (n, group) in groups.enumerated() {
            let model = try engine(floatGroups: Set(groups).subtracting([group]))
            result.append((group, try Self.answerDivergence(model, batches, baseline)))
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

    /// The order in which the search moves groups to float: most answer divergence removed per matrix-product FLOP kept
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
    /// float; nil: the float32 model) is at most `maxDrop` below the float model's. `order` is asked for only when
    /// the starting point misses the budget (ranking groups costs a model run per group). Returns every step tried;
    /// the last one meets the budget (or keeps everything in float).
    public static func search(order: () throws -> [String], maxDrop: Double, share: (Set<String>) -> Double,
                              evaluate: (Set<String>?) throws -> Double,
                              progress: (Step, Double) -> Void = { _, _ in }) throws -> (baseline: Double, steps: [Step]) {
        let baseline = try evaluate(nil)
        var floatGroups: [String] = []
        var steps: [Step] = []
        var remaining: ArraySlice<String>?
        while true {
            let step = Step(floatGroups: floatGroups, accuracy: try evaluate(Set(floatGroups)), int8Share: share(Set(floatGroups)))
            steps.append(step)
            progress(step, baseline)
            guard baseline - step.accuracy > maxDrop else { break }
            if remaining == nil { remaining = try order()[...] }
            guard let next = remaining?.popFirst() else { break }
            floatGroups.append(next)
        }
        return (baseline, steps)
    }

    /// `search` with this model's engines and INT8 share at `sequence`.
    public func search(order: () throws -> [String], maxDrop: Double, sequence: Int,
                       evaluate: (any QuestionAnsweringEngine) throws -> Double,
                       progress: (Step, Double) -> Void = { _, _ in }) throws -> (baseline: Double, steps: [Step]) {
        let c = weights.config
        return try Self.search(order: order, maxDrop: maxDrop,
                               share: { QuantizationGroup.int8Share(floatGroups: $0.union(scales.floatGroups), layers: c.layerCount, hidden: c.hiddenSize,
                                                                    intermediate: c.intermediateSize, sequence: sequence) },
                               evaluate: { try evaluate(try engine(floatGroups: $0)) }, progress: progress)
    }
}
