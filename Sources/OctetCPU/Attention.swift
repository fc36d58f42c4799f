import COctetKernels
import Foundation

/// Which keys each query may attend to.
enum AttentionMask {
    /// Every key.
    case none
    /// Per sequence, the kept keys: nil when they are a prefix `0..<count` (the usual right padding). Masked keys
    /// are left out of the softmax entirely, which is exactly what adding the float minimum (PyTorch, ONNX exports)
    /// does after `exp` underflows to 0.
    case keys(lists: [[Int32]?], counts: [Int])
    /// An additive mask broadcast to [batch, heads, query, key]: `values` with `shape` of rank 4 whose first three
    /// dimensions are 1 or full. Masked positions may hold -inf; a row with every key at -inf yields zeros.
    case additive(values: [Float], shape: [Int])

    /// The key lists of a [batch, sequence] 0/1 mask.
    static func keys(mask: [Int32], batch: Int, sequence s: Int) -> AttentionMask {
        var lists: [[Int32]?] = []
        var counts: [Int] = []
        for seq in 0..<batch {
            let valid = (0..<s).filter { mask[seq * s + $0] != 0 }.map { Int32($0) }
            let isPrefix = valid.last.map { Int($0) == valid.count - 1 } ?? true
            lists.append(isPrefix ? nil : valid)
            counts.append(valid.count)
        }
        return .keys(lists: lists, counts: counts)
    }
}

/// Scaled-dot-product multi-head attention on the CPU, shared by the BERT engine and the graph executor's fused
/// `Attention` op: per (sequence, head), scores = Q·Kᵀ over the kept keys, softmax(scale·scores), context = P·V,
/// with the GEMM micro-kernel. Q, K and V are [batch·sequence, hidden] row blocks read with a leading dimension, so a
/// packed QKV projection needs no copy.
final class MultiHeadAttention: @unchecked Sendable {
    /// Per-worker scratch, sized for the longest sequence seen.
    private var scratch: [AttentionScratch] = []

    /// Computes `context[b·s + i, head·d ..< (head+1)·d]` for every sequence, head and query `i`.
    func apply(batch b: Int, sequence s: Int, heads: Int, headSize d: Int, scale: Float,
               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, ld: Int,
               mask: AttentionMask, probabilityScale: Float? = nil, unsignedProbabilities: Bool = false, context: UnsafeMutablePointer<Float>, ldc: Int,
               parallel: Parallel, observeProbabilities: ((UnsafeBufferPointer<Float>, Int) -> Void)? = nil) {
        let nr = Int(OCTET_GEMM_NR)
        let tasks = b * heads
        let workers = min(parallel.workers, tasks)
        if scratch.count < parallel.workers || scratch[0].sequenceLength < s {
            scratch = (0..<parallel.workers).map { _ in AttentionScratch(sequenceLength: s, headSize: d) }
        }
        let scratch = self.scratch
        Parallel(workers: workers).run { w in
            let (packedK, packedV, scores, gatheredK, gatheredV) = (scratch[w].packedK, scratch[w].packedV, scratch[w].scores,
                                                                    scratch[w].gatheredK, scratch[w].gatheredV)
            var task = w
            while task < tasks {
                defer { task += workers }
                let (seq, head) = (task / heads, task % heads)
                let offset = seq * s * ld + head * d
                let qh = q + offset
                var kh = k + offset, vh = v + offset
                var ldkv = ld
                let out = context + seq * s * ldc + head * d
                var n = s
                var additive: (values: [Float], shape: [Int])?
                switch mask {
                case .none: break
                case .keys(let lists, let counts):
                    n = counts[seq]
                    if let list = lists[seq] {
                        for (j, key) in list.enumerated() {
                            (gatheredK.p + j * d).update(from: kh + Int(key) * ld, count: d)
                            (gatheredV.p + j * d).update(from: vh + Int(key) * ld, count: d)
                        }
                        (kh, vh, ldkv) = (UnsafePointer(gatheredK.p), UnsafePointer(gatheredV.p), d)
                    }
                case .additive(let values, let shape): additive = (values, shape)
                }
                if n == 0 {
                    for i in 0..<s { (out + i * ldc).update(repeating: 0, count: d) }
                    continue
                }
                // scores[i, j] = q_i · k_j over the n kept keys; Kᵀ is the right-hand side.
                octet_pack_b(Int32(d), Int32(n), kh, 1, ldkv, packedK.p)
                octet_sgemm(Int32(s), Int32(n), Int32(d), qh, ld, packedK.p, 0, Int32((n + nr - 1) / nr), 0, nil, nil, 0, scores.p, n)
                if let (values, shape) = additive {
                    // scale·scores + mask, then a plain softmax; rows with no finite entry become zeros.
                    let strides = (shape[0] == 1 ? 0 : shape[1] * shape[2] * s, shape[1] == 1 ? 0 : shape[2] * s, shape[2] == 1 ? 0 : s)
                    values.withUnsafeBufferPointer { m in
                        for i in 0..<s {
                            let row = scores.p + i * n
                            let mrow = m.baseAddress! + seq * strides.0 + head * strides.1 + i * strides.2
                            var finite = false
                            for j in 0..<n {
                                row[j] = scale * row[j] + mrow[j]
                                finite = finite || row[j] > -Float.infinity
                            }
                            if finite { octet_softmax(1, Int32(n), Int32(n), row, n, 1) } else { row.update(repeating: 0, count: n) }
                        }
                    }
                } else {
                    octet_softmax(Int32(s), Int32(n), Int32(n), scores.p, n, scale)
                }
                // Calibration sees each (sequence, head)'s probabilities, and the zeros of the keys left out.
                observeProbabilities?(UnsafeBufferPointer(start: scores.p, count: s * n), (s - n) * s)
                if let ps = probabilityScale {
                    // Simulated 8-bit quantization of the probabilities: int8 symmetric (QDQBERT) or uint8 (they are
                    // in [0, 1], so uint8 has twice the resolution for the same range).
                    if unsignedProbabilities { octet_fake_quantize_u8(scores.p, s * n, ps, scores.p) } else { octet_fake_quantize_s8(scores.p, s * n, ps, scores.p) }
                }
                // context = P · V.
                octet_pack_b(Int32(n), Int32(d), vh, ldkv, 1, packedV.p)
                octet_sgemm(Int32(s), Int32(d), Int32(n), scores.p, n, packedV.p, 0, Int32((d + nr - 1) / nr), 0, nil, nil, 0, out, ldc)
            }
        }
    }
}

/// One worker's attention scratch: packed Kᵀ and V, the score matrix, and gathered keys for scattered masks.
private final class AttentionScratch: @unchecked Sendable {
    let sequenceLength: Int
    let packedK, packedV, scores, gatheredK, gatheredV: Buffer
    init(sequenceLength s: Int, headSize d: Int) {
        let nr = Int(OCTET_GEMM_NR)
        sequenceLength = s
        packedK = Buffer((s + nr - 1) / nr * nr * d)
        packedV = Buffer(s * ((d + nr - 1) / nr) * nr)
        (scores, gatheredK, gatheredV) = (Buffer(s * s), Buffer(s * d), Buffer(s * d))
    }
}
