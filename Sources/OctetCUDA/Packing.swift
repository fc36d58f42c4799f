import OctetCore

/// A padded batch packed to its real tokens, back to back (TensorRT's variable-sequence-length BERT layout), so the
/// GEMMs, LayerNorms and attention spend nothing on padding.
///
/// Sequence b's tokens become rows `offsets[b] ..< offsets[b + 1]`; the embedding reads each row's position from
/// `positions` and the attention finds its sequence from `offsets` (attention_mma.cu, `sequence_span`). The engine
/// computes `rows` rows: `tokens` rounded up to a bucket, so one CUDA graph and one set of GEMM tactics serve every
/// batch whose real tokens fall in the bucket; the rows past `tokens` belong to no sequence (the attention never
/// writes them and nothing reads their results). A batch packs only when every row of its mask is ones then zeros
/// (right padding, as tokenizers pad) and it has some padding and some real tokens; otherwise it runs padded with its
/// mask. The logits of padding positions are not computed: they come back as −∞. A post-processor that ranks all
/// positions, padding included (Hugging Face's, `SQuADPostProcessor`), can then rank a context position where the
/// padded run ranked a padding one; on the full SQuAD dev set the answers were the same (docs/PERFORMANCE.md).
struct PackedBatch: Equatable {
    /// Real tokens per sequence.
    let lengths: [Int]
    /// Each sequence's first row, and the total at the end (`lengths.count + 1` values).
    let offsets: [Int32]
    /// The real tokens of the batch.
    var tokens: Int { Int(offsets.last!) }
    /// The rows the engine computes: `tokens` rounded up to its bucket (`PackedBatch.bucket`).
    let rows: Int
    /// The longest sequence rounded up to a multiple of 64 (the attention's query and key blocks): the attention grid
    /// and kernel are chosen for it.
    let longest: Int

    /// The packing of `batch`, or nil when it would save nothing (no padding) or the mask is not right-padded.
    init?(_ batch: TokenBatch) {
        let (b, s) = (batch.batchSize, batch.sequenceLength)
        var lengths: [Int] = []
        lengths.reserveCapacity(b)
        for row in 0..<b {
            let mask = batch.attentionMask[(row * s)..<((row + 1) * s)]
            let length = mask.firstIndex(of: 0).map { $0 - row * s } ?? s
            guard mask[(row * s + length)...].allSatisfy({ $0 == 0 }) else { return nil }  // a one after a zero
            lengths.append(length)
        }
        let tokens = lengths.reduce(0, +)
        // All padding: nothing to pack (and an attention grid of zero blocks cannot launch); it runs padded.
        guard tokens > 0 && tokens < b * s else { return nil }
        self.lengths = lengths
        var offsets: [Int32] = [0]
        for length in lengths { offsets.append(offsets.last! + Int32(length)) }
        self.offsets = offsets
        rows = min(Self.bucket(tokens), b * s)
        longest = (lengths.max()! + 63) / 64 * 64
    }

    /// `tokens` rounded up to a multiple of 64 below 1,024 and of an eighth of its power of two above (at most 12.5%
    /// extra rows), so the buckets a workload meets stay few: each costs one graph capture and one GEMM tuning.
    static func bucket(_ tokens: Int) -> Int {
        guard tokens > 0 else { return 64 }
        let power = Int.bitWidth - 1 - tokens.leadingZeroBitCount  // ⌊log₂ tokens⌋
        let granule = max(64, 1 << max(0, power - 3))
        return (tokens + granule - 1) / granule * granule
    }

    /// Calls `body` for every real token: its packed row, its sequence and its position in the sequence.
    private func forEachToken(_ body: (_ row: Int, _ sequence: Int, _ position: Int) -> Void) {
        for (b, length) in lengths.enumerated() {
            let first = Int(offsets[b])
            for j in 0..<length { body(first + j, b, j) }
        }
    }

    /// A per-token input (ids, token types) of `batch` in packed order, zeros in the rows past `tokens`.
    func pack(_ values: [Int32], sequenceLength s: Int) -> [Int32] {
        var packed = [Int32](repeating: 0, count: rows)
        forEachToken { row, b, j in packed[row] = values[b * s + j] }
        return packed
    }

    /// Each row's position in its sequence (0 past `tokens`).
    var positions: [Int32] {
        var positions = [Int32](repeating: 0, count: rows)
        forEachToken { row, _, j in positions[row] = Int32(j) }
        return positions
    }

    /// The mask of the packed rows: ones for the real tokens, zeros past them.
    var mask: [Int32] { (0..<rows).map { $0 < tokens ? 1 : 0 } }

    /// Packed per-row logits back in the padded layout; padding positions, which were not computed, hold −∞ (no
    /// answer can start or end there).
    func unpack(start: [Float], end: [Float], sequenceLength s: Int) -> SpanLogits {
        var paddedStart = [Float](repeating: -.infinity, count: lengths.count * s), paddedEnd = paddedStart
        forEachToken { row, b, j in
            paddedStart[b * s + j] = start[row]
            paddedEnd[b * s + j] = end[row]
        }
        return SpanLogits(batchSize: lengths.count, sequenceLength: s, start: paddedStart, end: paddedEnd)
    }
}
