import Foundation
import OctetCore
import OctetModels
import OctetSQuAD

/// An "engine" that serves logits computed elsewhere (a peer runtime), feature by feature in order.
///
/// Peers are scored on exactly Octet's features and post-processing: `octet eval squad --save-features F` writes the
/// features, the peer computes `start_logits`/`end_logits` [features, sequence] for them, and
/// `octet eval squad --logits L` scores those. Each batch's token ids are checked against the file's, so logits of
/// other features cannot be scored by mistake.
final class PrecomputedLogitsEngine: QuestionAnsweringEngine, @unchecked Sendable {
    let label: String
    let maxSequenceLength = Int.max
    private let path: String
    private let inputIDs: [Int32]
    private let start: [Float]
    private let end: [Float]
    private let sequenceLength: Int
    private var next = 0

    init(path: String) throws {
        let file = try SafeTensorsFile(path: path)
        let ids = try file.tensor("input_ids"), s = try file.tensor("start_logits"), e = try file.tensor("end_logits")
        guard ids.shape.count == 2, s.shape == ids.shape, e.shape == ids.shape else {
            throw OctetError.malformed(path, "must hold input_ids, start_logits and end_logits of one [features, sequence] shape")
        }
        self.path = path
        inputIDs = ids.int32s()
        start = s.floats()
        end = e.floats()
        sequenceLength = ids.shape[1]
        label = "logits from \(file.metadata["producer"] ?? (path as NSString).lastPathComponent)"
    }

    func spanLogits(for batch: TokenBatch) throws -> SpanLogits {
        let s = sequenceLength
        guard batch.sequenceLength == s else {
            throw OctetError.invalidArgument("\(path) has logits for sequence length \(s), not \(batch.sequenceLength)")
        }
        let range = (next * s)..<((next + batch.batchSize) * s)
        guard range.upperBound <= inputIDs.count, Array(inputIDs[range]) == batch.inputIDs else {
            throw OctetError.malformed(path, "holds logits for other features than features \(next)..<\(next + batch.batchSize) of this run")
        }
        next += batch.batchSize
        return SpanLogits(batchSize: batch.batchSize, sequenceLength: s, start: Array(start[range]), end: Array(end[range]))
    }
}

/// Writes features' model inputs as int64 [features, sequence] tensors for a peer runtime.
func writeFeatures(_ features: [SQuADFeature], sequenceLength s: Int, to path: String) throws {
    func tensor(_ name: String, _ values: [Int32]) -> SafeTensorsWriter.Entry {
        SafeTensorsWriter.Entry(name: name, dtype: .int64, shape: [values.count / s, s], bytes: values.map { Int64($0) }.withUnsafeBytes { Data($0) })
    }
    try SafeTensorsWriter.write([tensor("input_ids", features.flatMap(\.inputIDs)), tensor("token_type_ids", features.flatMap(\.tokenTypeIDs)),
                                 tensor("attention_mask", features.flatMap(\.attentionMask))], to: path)
}
