/// A batch of tokenized sequences, all padded to one length, as BERT-family encoders take them.
public struct TokenBatch: Sendable {
    /// Sequences in the batch.
    public let batchSize: Int
    /// Tokens per sequence (after padding).
    public let sequenceLength: Int
    /// `batchSize × sequenceLength` token ids, row-major.
    public var inputIDs: [Int32]
    /// `batchSize × sequenceLength` segment ids (0 for the question, 1 for the context).
    public var tokenTypeIDs: [Int32]
    /// `batchSize × sequenceLength`: 1 for a real token, 0 for padding.
    public var attentionMask: [Int32]

    public init(batchSize: Int, sequenceLength: Int, inputIDs: [Int32], tokenTypeIDs: [Int32], attentionMask: [Int32]) {
        precondition(inputIDs.count == batchSize * sequenceLength, "inputIDs must hold batchSize × sequenceLength ids")
        precondition(tokenTypeIDs.count == inputIDs.count && attentionMask.count == inputIDs.count,
                     "token type ids and attention mask must match the input ids")
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.inputIDs = inputIDs
        self.tokenTypeIDs = tokenTypeIDs
        self.attentionMask = attentionMask
    }
}

/// Start and end logits for every position of every sequence of a batch.
public struct SpanLogits: Sendable {
    public let batchSize: Int
    public let sequenceLength: Int
    /// `batchSize × sequenceLength`, row-major.
    public var start: [Float]
    /// `batchSize × sequenceLength`, row-major.
    public var end: [Float]

    public init(batchSize: Int, sequenceLength: Int, start: [Float], end: [Float]) {
        self.batchSize = batchSize
        self.sequenceLength = sequenceLength
        self.start = start
        self.end = end
    }
}

extension SpanLogits {
    /// How far these logits are from `reference` over the real tokens (`attentionMask` 1, [batch × sequence]): the
    /// relative L2 error of the start and end logits together (infinity when one is NaN), and the number of rows whose
    /// best start and best end positions both agree. What the GPU self-test and the INT8 engine tests compare.
    public func difference(from reference: SpanLogits, attentionMask mask: [Int32]) -> (relativeError: Double, agreeingRows: Int) {
        let (b, s) = (batchSize, sequenceLength)
        precondition(reference.batchSize == b && reference.sequenceLength == s && mask.count == b * s, "span logits of different shapes")
        var squared = 0.0, norm = 0.0, agree = 0
        for (i, (x, y)) in zip(start + end, reference.start + reference.end).enumerated() where mask[i % (b * s)] == 1 {
            squared += Double(x - y) * Double(x - y)
            norm += Double(y) * Double(y)
        }
        for row in 0..<b {
            let real = (0..<s).filter { mask[row * s + $0] == 1 }.map { row * s + $0 }
            func best(_ v: [Float]) -> Int? { real.max { v[$0] < v[$1] } }
            if best(start) == best(reference.start) && best(end) == best(reference.end) { agree += 1 }
        }
        return (squared.isNaN ? .infinity : (squared / norm).squareRoot(), agree)
    }
}

/// An extractive question-answering model ready to run on one device.
///
/// Backends (the CPU reference, CUDA in a later module) implement this; SQuAD evaluation and benchmarks only see
/// this protocol.
public protocol QuestionAnsweringEngine: AnyObject, Sendable {
    /// A short name of the device and precision, e.g. "cpu float32 (avx512, 2 threads)".
    var label: String { get }
    /// The longest sequence the model accepts (its position-embedding count).
    var maxSequenceLength: Int { get }
    /// Runs the model on a batch and returns its start and end logits.
    func spanLogits(for batch: TokenBatch) throws -> SpanLogits
}

/// What an INT8 engine needs of a quantization recipe, without depending on how it was calibrated: the step of each
/// quantization point (QDQBERT's names, e.g. `layer.3.attention.matmul_q`) and which groups stay in float.
/// `OctetQuant.QuantizationScales` conforms; backends read recipes only through this.
public protocol QuantizationRecipe: Sendable {
    /// The quantization step of `point` (int8: amax/127; the probabilities `*.matmul_a` in uint8: amax/255), or nil
    /// when the point has no Q/DQ pair (no amax, or its group stays in float).
    func step(of point: String) -> Float?
    /// Whether the group (`layer.N.attention.query`, `layer.N.output.add`, …) stays in float.
    func keepsInFloat(_ group: String) -> Bool
    /// Weights quantized per output channel (else one scale per tensor).
    var perChannelWeights: Bool { get }
    /// Softmax probabilities quantized as uint8 rather than int8.
    var unsignedProbabilities: Bool { get }
    /// The residual stream kept in fp16: each LayerNorm's output and each sublayer output added to the stream are
    /// rounded to fp16 (the next quantizers and the QA head read the rounded values), as the GPU's INT8 engine then
    /// stores them; all arithmetic stays float32. False: the stream is float32.
    var halfPrecisionStream: Bool { get }
}
