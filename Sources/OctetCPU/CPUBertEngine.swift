import COctetKernels
import Foundation
import OctetCore
import OctetModels

/// The CPU BERT question-answering engine: in float32, Octet's numerical reference; with a quantization recipe, INT8.
///
/// It computes what PyTorch's `BertForQuestionAnswering` computes in float32: embeddings (word + position + token
/// type) and LayerNorm; per layer fused QKV projection, masked scaled-dot-product attention, output projection with
/// residual and LayerNorm, exact-GELU feed-forward with residual and LayerNorm; then the two-logit QA head.
/// Masked keys are left out of the softmax entirely (PyTorch adds the dtype's minimum, which underflows to exactly 0),
/// while padded query positions are still computed, because SQuAD post-processing ranks every position's logits.
///
/// Tolerance: within 1e-3 of PyTorch's float32 logits (tests check the 64 reference features); the differences come
/// from summation order and the erf/exp approximations (see `elementwise.c`).
///
/// With a `QuantizationRecipe`, the linear layers whose group the recipe quantizes run in INT8 (`QuantizedLinear`:
/// VNNI on CPUs that have it), and the attention products' and residual adds' Q/DQ pairs are applied to their float
/// inputs as the recipe places them: the same model as Octet's Q/DQ export of that recipe, executed directly. A recipe
/// with an fp16 residual stream (`halfPrecisionStream`) rounds the stream's values to fp16 where the export's Cast
/// pairs do.
public final class CPUBertEngine: QuestionAnsweringEngine, @unchecked Sendable {
    public let config: BertConfig
    public let threads: Int
    public var label: String {
        recipe == nil ? "cpu float32 (\(String(cString: octet_isa_name(octet_active_isa()))), \(threads) threads)"
                      : "cpu int8 (\(String(cString: octet_int8_path_name(octet_int8_path()))), \(threads) threads)"
    }
    /// The quantization recipe, nil for float32.
    public let recipe: QuantizationRecipe?
    public var maxSequenceLength: Int { config.maxPositionEmbeddings }

    private struct Layer {
        let qkv: any LinearLayer
        let attentionOutput: any LinearLayer
        let attentionNorm: (gamma: [Float], beta: [Float])
        let intermediate: any LinearLayer
        let output: any LinearLayer
        let outputNorm: (gamma: [Float], beta: [Float])
        /// The recipe's Q/DQ steps around the attention and the residual adds (nil: float).
        var qStep, kStep, vStep, pStep: Float?
        var attentionAdd: (local: Float, residual: Float)?, outputAdd: (local: Float, residual: Float)?
    }

    private let wordEmbeddings: [Float]
    private let positionEmbeddings: [Float]
    private let tokenTypeEmbeddings: [Float]
    private let embeddingNorm: (gamma: [Float], beta: [Float])
    private let layers: [Layer]
    private let qaOutputs: PackedLinear
    private let parallel: Parallel
    private let lock = NSLock()
    /// Activations of the last batch shape, reused while batches fit (fresh pages would cost a fault each per call).
    private var workspace: Workspace?
    private let attentionKernel = MultiHeadAttention()

    /// Builds the engine: widens the weights to float32 and packs every linear layer once (quantized to int8 where
    /// `recipe` quantizes its group).
    /// - Parameter threads: worker threads (default: every core).
    public init(weights: BertWeights, recipe: QuantizationRecipe? = nil, threads: Int? = nil) {
        config = weights.config
        self.recipe = recipe
        self.threads = max(1, threads ?? ProcessInfo.processInfo.activeProcessorCount)
        parallel = Parallel(workers: self.threads)
        func linear(_ l: BertWeights.Linear) -> BertWeightsLinear {
            BertWeightsLinear(weight: l.weight.floats(), bias: l.bias.floats(), outputs: l.weight.shape[0], inputs: l.weight.shape[1])
        }
        func norm(_ n: BertWeights.Norm) -> (gamma: [Float], beta: [Float]) { (n.gamma.floats(), n.beta.floats()) }
        wordEmbeddings = weights.wordEmbeddings.floats()
        positionEmbeddings = weights.positionEmbeddings.floats()
        tokenTypeEmbeddings = weights.tokenTypeEmbeddings.floats()
        embeddingNorm = norm(weights.embeddingNorm)
        let scratch = Int8Scratch()
        /// INT8 when the recipe quantizes the group and its input, else float32. (Q, K and V share one GEMM: INT8 only
        /// when all three are quantized with one step, as a calibrator gives the one tensor they read; otherwise they
        /// run in float.)
        func layer(_ w: BertWeightsLinear, groups: [String], inputs: [String]) -> any LinearLayer {
            let steps = inputs.map { recipe?.step(of: $0) }
            if let recipe, let step = steps[0], steps.allSatisfy({ $0 == step }), groups.allSatisfy({ !recipe.keepsInFloat($0) }) {
                return QuantizedLinear(weight: w.weight, bias: w.bias, outputs: w.outputs, inputs: w.inputs, inputStep: step,
                                       perChannel: recipe.perChannelWeights, scratch: scratch)
            }
            return PackedLinear(w)
        }
        layers = weights.layers.enumerated().map { i, l in
            // Q, K and V as one [3H, H] projection: one GEMM reads the activations once.
            let q = linear(l.query), k = linear(l.key), v = linear(l.value)
            let qkv = BertWeightsLinear(weight: q.weight + k.weight + v.weight, bias: q.bias + k.bias + v.bias,
                                        outputs: 3 * q.outputs, inputs: q.inputs)
            let p = "layer.\(i)"
            var result = Layer(
                qkv: layer(qkv, groups: ["query", "key", "value"].map { "\(p).attention.\($0)" }, inputs: ["query", "key", "value"].map { "\(p).attention.\($0).input" }),
                attentionOutput: layer(linear(l.attentionOutput), groups: ["\(p).attention.output"], inputs: ["\(p).attention.output.input"]),
                attentionNorm: norm(l.attentionNorm),
                intermediate: layer(linear(l.intermediate), groups: ["\(p).intermediate"], inputs: ["\(p).intermediate.input"]),
                output: layer(linear(l.output), groups: ["\(p).output"], inputs: ["\(p).output.input"]),
                outputNorm: norm(l.outputNorm))
            if let recipe {
                result.qStep = recipe.step(of: "\(p).attention.matmul_q")
                result.kStep = recipe.step(of: "\(p).attention.matmul_k")
                result.vStep = recipe.step(of: "\(p).attention.matmul_v")
                result.pStep = recipe.step(of: "\(p).attention.matmul_a")
                if let a = recipe.step(of: "\(p).attention.add.local"), let b = recipe.step(of: "\(p).attention.add.residual") { result.attentionAdd = (a, b) }
                if let a = recipe.step(of: "\(p).output.add.local"), let b = recipe.step(of: "\(p).output.add.residual") { result.outputAdd = (a, b) }
            }
            return result
        }
        qaOutputs = PackedLinear(linear(weights.qaOutputs))
    }

    /// Reads a Hugging Face model folder and builds the engine.
    public convenience init(folder: String, recipe: QuantizationRecipe? = nil, threads: Int? = nil) throws {
        self.init(weights: try BertModelFolder(folder: folder).weights, recipe: recipe, threads: threads)
    }

    public func spanLogits(for batch: TokenBatch) throws -> SpanLogits {
        let s = batch.sequenceLength
        guard s >= 1, s <= config.maxPositionEmbeddings else {
            throw OctetError.invalidArgument("sequence length \(s) is outside 1...\(config.maxPositionEmbeddings), the model's position-embedding count")
        }
        for (i, id) in batch.inputIDs.enumerated() where id < 0 || Int(id) >= config.vocabSize {
            throw OctetError.invalidArgument("input id \(id) at position \(i) is outside the vocabulary 0..<\(config.vocabSize)")
        }
        for (i, t) in batch.tokenTypeIDs.enumerated() where t < 0 || Int(t) >= config.typeVocabSize {
            throw OctetError.invalidArgument("token type id \(t) at position \(i) is outside 0..<\(config.typeVocabSize)")
        }
        lock.lock()
        defer { lock.unlock() }
        return run(batch)
    }

    // MARK: - Forward pass

    private func run(_ batch: TokenBatch) -> SpanLogits {
        let (b, s) = (batch.batchSize, batch.sequenceLength)
        let (h, inter, t) = (config.hiddenSize, config.intermediateSize, b * s)
        if (workspace?.tokens ?? 0) < t { workspace = Workspace(tokens: t, hidden: h, intermediate: inter) }
        let w = workspace!
        let (x, qkv, context, sum, hidden, logits) = (w.x, w.qkv, w.context, w.sum, w.hidden, w.logits)
        let addScratch = w.addScratch.p
        embed(batch, into: x.p)
        for layer in layers {
            layer.qkv.apply(rows: t, a: x.p, lda: h, c: qkv.p, ldc: 3 * h, gelu: false, residual: nil, ldr: 0, parallel: parallel)
            // The attention products' Q/DQ pairs on the heads of Q, K and V: the integer attention (all four inputs
            // quantized) quantizes them itself; otherwise they are applied here, in float.
            let integerSteps = layer.pStep == nil ? nil : layer.qStep.flatMap { q in layer.kStep.flatMap { k in layer.vStep.map { (q, k, $0) } } }
            if integerSteps == nil {
                for (offset, step) in [(0, layer.qStep), (h, layer.kStep), (2 * h, layer.vStep)] {
                    guard let step else { continue }
                    parallel.forEachRange(t) { r in
                        for row in r { octet_fake_quantize_s8(qkv.p + row * 3 * h + offset, h, step, qkv.p + row * 3 * h + offset) }
                    }
                }
            }
            attention(batch, qkv: qkv.p, probabilityStep: layer.pStep, integerSteps: integerSteps, into: context.p)
            residualLinear(layer.attentionOutput, rows: t, a: context.p, lda: h, into: sum.p, residual: x.p, add: layer.attentionAdd,
                           scratch: addScratch, norm: layer.attentionNorm)
            layer.intermediate.apply(rows: t, a: x.p, lda: h, c: hidden.p, ldc: inter, gelu: true, residual: nil, ldr: 0, parallel: parallel)
            residualLinear(layer.output, rows: t, a: hidden.p, lda: inter, into: sum.p, residual: x.p, add: layer.outputAdd,
                           scratch: addScratch, norm: layer.outputNorm)
        }
        qaOutputs.apply(rows: t, a: x.p, lda: h, c: logits.p, ldc: 2, parallel: parallel)
        var start = [Float](repeating: 0, count: t), end = [Float](repeating: 0, count: t)
        for i in 0..<t {
            start[i] = logits.p[2 * i]
            end[i] = logits.p[2 * i + 1]
        }
        return SpanLogits(batchSize: b, sequenceLength: s, start: start, end: end)
    }

    private func embed(_ batch: TokenBatch, into x: UnsafeMutablePointer<Float>) {
        let (s, h) = (batch.sequenceLength, config.hiddenSize)
        let t = batch.batchSize * s
        wordEmbeddings.withUnsafeBufferPointer { word in
            positionEmbeddings.withUnsafeBufferPointer { position in
                tokenTypeEmbeddings.withUnsafeBufferPointer { type in
                    for i in 0..<t {
                        let w = word.baseAddress! + Int(batch.inputIDs[i]) * h
                        let p = position.baseAddress! + (i % s) * h
                        let y = type.baseAddress! + Int(batch.tokenTypeIDs[i]) * h
                        let out = x + i * h
                        // PyTorch adds word + token type first, then position.
                        for j in 0..<h { out[j] = (w[j] + y[j]) + p[j] }
                    }
                }
            }
        }
        layerNorm(rows: t, x, embeddingNorm, into: x)
        roundToStream(x, count: t * config.hiddenSize)
    }

    /// With the recipe's fp16 residual stream, rounds `count` values to fp16 in place (what the GPU stores); else
    /// nothing.
    private func roundToStream(_ values: UnsafeMutablePointer<Float>, count: Int) {
        guard recipe?.halfPrecisionStream == true else { return }
        let h = config.hiddenSize
        parallel.forEachRange(count / h) { r in
            let first = values + r.lowerBound * h
            octet_round_to_half(first, r.count * h, first)
        }
    }

    private func layerNorm(rows: Int, _ input: UnsafeMutablePointer<Float>, _ norm: (gamma: [Float], beta: [Float]),
                           into output: UnsafeMutablePointer<Float>) {
        let h = config.hiddenSize
        withRowNorm(norm, into: output) { $0.apply(rows: rows, n: h, c: input, ldc: h, parallel: parallel) }
    }

    /// `norm` as a `RowNorm` writing rows of width H into `output`, valid inside `body`.
    private func withRowNorm(_ norm: (gamma: [Float], beta: [Float]), into output: UnsafeMutablePointer<Float>, _ body: (RowNorm) -> Void) {
        norm.gamma.withUnsafeBufferPointer { g in
            norm.beta.withUnsafeBufferPointer { b in
                body(RowNorm(gamma: g.baseAddress!, beta: b.baseAddress!, epsilon: config.layerNormEpsilon, output: output, ldo: config.hiddenSize))
            }
        }
    }

    /// `residual = LayerNorm(linear(a) + residual)` through `sum`, with the residual add's own Q/DQ pairs on both inputs
    /// when the recipe quantizes it (`scratch`: room for `t` rows, the quantized residual). Without those pairs the add
    /// and the LayerNorm run in the linear layer's epilogue, on each worker's rows while they are in cache.
    private func residualLinear(_ linear: any LinearLayer, rows t: Int, a: UnsafePointer<Float>, lda: Int, into sum: UnsafeMutablePointer<Float>,
                                residual: UnsafeMutablePointer<Float>, add: (local: Float, residual: Float)?,
                                scratch: UnsafeMutablePointer<Float>, norm: (gamma: [Float], beta: [Float])) {
        let h = config.hiddenSize
        if recipe?.halfPrecisionStream == true {
            // The fp16 stream: the sublayer's output rounded to fp16 before the add (and its Q/DQ), the LayerNorm's
            // output rounded after it; the epilogue fusion below would add the unrounded output.
            defer { roundToStream(residual, count: t * h) }
            linear.apply(rows: t, a: a, lda: lda, c: sum, ldc: h, gelu: false, residual: nil, ldr: 0, parallel: parallel)
            roundToStream(sum, count: t * h)
            if let add {
                addQuantized(sum, residual, rows: t, steps: add, scratch: scratch)
            } else {
                parallel.forEachRange(t) { r in
                    for i in (r.lowerBound * h)..<(r.upperBound * h) { sum[i] += residual[i] }
                }
            }
            layerNorm(rows: t, sum, norm, into: residual)
            return
        }
        guard let add else {
            withRowNorm(norm, into: residual) { rowNorm in
                linear.apply(rows: t, a: a, lda: lda, c: sum, ldc: h, gelu: false, residual: residual, ldr: h, norm: rowNorm, parallel: parallel)
            }
            return
        }
        defer { layerNorm(rows: t, sum, norm, into: residual) }
        linear.apply(rows: t, a: a, lda: lda, c: sum, ldc: h, gelu: false, residual: nil, ldr: 0, parallel: parallel)
        addQuantized(sum, residual, rows: t, steps: add, scratch: scratch)
    }

    /// `sum = dq(q(sum)) + dq(q(residual))`: the residual add with its own Q/DQ pairs on both inputs.
    private func addQuantized(_ sum: UnsafeMutablePointer<Float>, _ residual: UnsafePointer<Float>, rows t: Int,
                              steps add: (local: Float, residual: Float), scratch: UnsafeMutablePointer<Float>) {
        let h = config.hiddenSize
        parallel.forEachRange(t) { r in
            let n = r.count * h, offset = r.lowerBound * h
            octet_fake_quantize_s8(sum + offset, n, add.local, sum + offset)
            octet_fake_quantize_s8(residual + offset, n, add.residual, scratch + offset)
            for i in offset..<(offset + n) { sum[i] += scratch[i] }
        }
    }

    /// Multi-head attention over the packed QKV rows, with only the unmasked keys.
    private func attention(_ batch: TokenBatch, qkv: UnsafeMutablePointer<Float>, probabilityStep: Float? = nil,
                           integerSteps: (q: Float, k: Float, v: Float)? = nil, into context: UnsafeMutablePointer<Float>) {
        let (b, s, h) = (batch.batchSize, batch.sequenceLength, config.hiddenSize)
        let mask = AttentionMask.keys(mask: batch.attentionMask, batch: b, sequence: s)
        attentionKernel.apply(batch: b, sequence: s, heads: config.headCount, headSize: config.headSize,
                              scale: 1 / Float(config.headSize).squareRoot(), q: qkv, k: qkv + h, v: qkv + 2 * h, ld: 3 * h,
                              mask: mask, probabilityScale: probabilityStep, unsignedProbabilities: recipe?.unsignedProbabilities ?? false,
                              context: context, ldc: h, parallel: parallel, integerSteps: integerSteps)
    }
}

/// A LayerNorm applied to a linear layer's output rows: `output[m, :] = LayerNorm(c[m, :])·gamma + beta`.
struct RowNorm {
    let gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>
    let epsilon: Float
    let output: UnsafeMutablePointer<Float>
    let ldo: Int

    /// Normalizes rows `rows` of `c` (width `n`, stride `ldc`) into `output`.
    func apply(_ rows: Range<Int>, n: Int, c: UnsafePointer<Float>, ldc: Int) {
        octet_layernorm(Int32(rows.count), Int32(n), c + rows.lowerBound * ldc, ldc, gamma, beta, epsilon, output + rows.lowerBound * ldo, ldo)
    }

    /// Normalizes the first `rows` rows of `c`, the rows split over `parallel`'s workers.
    func apply(rows: Int, n: Int, c: UnsafePointer<Float>, ldc: Int, parallel: Parallel) {
        parallel.forEachRange(rows) { apply($0, n: n, c: c, ldc: ldc) }
    }
}

/// A linear layer the engine runs: float32 (`PackedLinear`) or INT8 (`QuantizedLinear`). With `norm`, the output rows
/// then go through that LayerNorm (in the epilogue where the layer splits work by rows, else as a second pass).
protocol LinearLayer: AnyObject, Sendable {
    func apply(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int, gelu: Bool,
               residual: UnsafePointer<Float>?, ldr: Int, norm: RowNorm?, parallel: Parallel)
}

extension LinearLayer {
    func apply(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int, gelu: Bool,
               residual: UnsafePointer<Float>?, ldr: Int, parallel: Parallel) {
        apply(rows: rows, a: a, lda: lda, c: c, ldc: ldc, gelu: gelu, residual: residual, ldr: ldr, norm: nil, parallel: parallel)
    }
}

extension PackedLinear: LinearLayer {
    func apply(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int, gelu: Bool,
               residual: UnsafePointer<Float>?, ldr: Int, norm: RowNorm?, parallel: Parallel) {
        apply(rows: rows, a: a, lda: lda, c: c, ldc: ldc, gelu: gelu, residual: residual, ldr: ldr, parallel: parallel)
        guard let norm else { return }
        // The float GEMM may split by column panels, so whole rows are only ready after it.
        norm.apply(rows: rows, n: weight.n, c: c, ldc: ldc, parallel: parallel)
    }
}
extension QuantizedLinear: LinearLayer {}

/// The activations of one forward pass (and the quantized residual of a recipe that quantizes the adds).
private final class Workspace {
    let tokens: Int
    let x, qkv, context, sum, hidden, logits, addScratch: Buffer
    init(tokens t: Int, hidden h: Int, intermediate i: Int) {
        tokens = t
        (x, qkv, context, sum, hidden, logits) = (Buffer(t * h), Buffer(t * 3 * h), Buffer(t * h), Buffer(t * h), Buffer(t * i), Buffer(t * 2))
        addScratch = Buffer(t * h)
    }
}

/// A 64-byte aligned scratch buffer of floats, freed with its owner.
final class Buffer: @unchecked Sendable {
    let p: UnsafeMutablePointer<Float>
    init(_ count: Int) {
        guard let p = octet_alloc_floats(count) else { preconditionFailure("out of memory allocating \(count) floats") }
        self.p = p
    }
    deinit { octet_free(p) }
}
