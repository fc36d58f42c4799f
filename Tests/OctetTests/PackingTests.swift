import Testing
import OctetCore
@testable import OctetCUDA

/// Packing a padded batch to its real tokens (the CUDA engine's variable-sequence-length path): which batches pack,
/// where each sequence lands, how many rows run, and the logits' way back.
@Suite struct PackingTests {
    /// A batch of `lengths.count` sequences padded to `s`, token ids 1000·row + position, types 1 from position 2.
    static func batch(_ lengths: [Int], _ s: Int, mask: [Int32]? = nil) -> TokenBatch {
        let b = lengths.count
        return TokenBatch(batchSize: b, sequenceLength: s, inputIDs: (0..<(b * s)).map { Int32(1000 * ($0 / s) + $0 % s) },
                          tokenTypeIDs: (0..<(b * s)).map { Int32($0 % s >= 2 ? 1 : 0) },
                          attentionMask: mask ?? (0..<(b * s)).map { Int32($0 % s < lengths[$0 / s] ? 1 : 0) })
    }

    struct Case: CustomTestStringConvertible, Sendable {
        let lengths: [Int], s: Int
        let offsets: [Int32], rows: Int, longest: Int
        var testDescription: String { "\(lengths) in \(s)" }
    }

    @Test("Right-padded batches pack back to back; rows round up to a bucket, the longest to 64", arguments: [
        Case(lengths: [5, 3, 0], s: 8, offsets: [0, 5, 8, 8], rows: 24, longest: 64),  // 8 real: the bucket (64) is capped at b × s
        Case(lengths: [160, 100, 37], s: 160, offsets: [0, 160, 260, 297], rows: 320, longest: 192),
        Case(lengths: [384, 200], s: 384, offsets: [0, 384, 584], rows: 640, longest: 384),
        Case(lengths: Array(repeating: 200, count: 32), s: 384, offsets: (0...32).map { Int32(200 * $0) }, rows: 6656, longest: 256),
    ])
    func packsRightPaddedBatches(_ c: Case) throws {
        let packed = try #require(PackedBatch(Self.batch(c.lengths, c.s)))
        #expect(packed.lengths == c.lengths)
        #expect(packed.offsets == c.offsets)
        #expect(packed.tokens == c.lengths.reduce(0, +))
        #expect(packed.rows == c.rows)
        #expect(packed.longest == c.longest)
    }

    @Test("Batches without padding, all padding, or with a real token after padding, run padded")
    func leavesOtherBatchesPadded() {
        #expect(PackedBatch(Self.batch([8, 8], 8)) == nil)
        #expect(PackedBatch(Self.batch([0, 0], 8)) == nil)  // all padding
        // Left padding (0 0 1 1 …) and a hole (1 0 1 …): the mask must be ones then zeros in every row.
        #expect(PackedBatch(Self.batch([4, 4], 4, mask: [0, 0, 1, 1, 1, 1, 1, 1])) == nil)
        #expect(PackedBatch(Self.batch([4, 4], 4, mask: [1, 0, 1, 0, 1, 1, 1, 1])) == nil)
    }

    @Test("Buckets: multiples of 64 up to 1,024, then of an eighth of the power of two", arguments: [
        (1, 64), (64, 64), (65, 128), (1000, 1024), (1024, 1024), (1025, 1152), (2047, 2048), (6400, 6656), (49152, 49152),
    ])
    func bucketsRoundUpByAtMostAnEighth(_ pair: (Int, Int)) {
        let (tokens, rows) = pair
        #expect(PackedBatch.bucket(tokens) == rows)
        #expect(rows >= tokens && (rows <= 1024 || Double(rows) <= Double(tokens) * 1.125))
    }

    @Test("Inputs pack in sequence order with positions restarting at 0; logits unpack with −∞ at the padding")
    func packsInputsAndUnpacksLogits() throws {
        let batch = Self.batch([3, 1, 2], 4)
        let packed = try #require(PackedBatch(batch))
        #expect(packed.rows == 12)  // 6 real tokens: bucket 64, capped at 3 × 4
        #expect(packed.pack(batch.inputIDs, sequenceLength: 4) == [0, 1, 2, 1000, 2000, 2001, 0, 0, 0, 0, 0, 0])
        #expect(packed.pack(batch.tokenTypeIDs, sequenceLength: 4) == [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(packed.positions == [0, 1, 2, 0, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(packed.mask == [1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0])
        let rows = (0..<12).map(Float.init)
        let logits = packed.unpack(start: rows, end: rows.map { -$0 }, sequenceLength: 4)
        let x = -Float.infinity
        #expect(logits.start == [0, 1, 2, x, 3, x, x, x, 4, 5, x, x])
        #expect(logits.end == [0, -1, -2, x, -3, x, x, x, -4, -5, x, x])
    }
}
