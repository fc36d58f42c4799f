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
               parallel: Parallel, observeProbabilities: ((UnsafeBufferPointer<Float>, Int) -> Void)? = nil,
               integerSteps: (q: Float, k: Float, v: Float)? = nil) {
        // With `integerSteps` (and `probabilityScale`): Q, K, V and the probabilities are quantized here with those
        // steps (their Q/DQ pairs), and QKᵀ and P·V run as exact integer products on the VNNI GEMM, the steps folded
        // into one multiplier each — the CPU reference's integer Q/DQ arithmetic, not its float simulation.
        let integer = probabilityScale.flatMap { ps in integerSteps.map { (steps: $0, p: ps) } }
        let nr = Int(OCTET_GEMM_NR)
        let tasks = b * heads
        let workers = min(parallel.workers, tasks)
        if scratch.count < parallel.workers || scratch[0].sequenceLength < s || scratch[0].headSize != d {
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
                if let integer {
                    scratch[w].integerScores(s: s, n: n, d: d, q: qh, ldq: ld, k: kh, ldk: ldkv, steps: integer.steps, into: scores.p)
                } else {
                    octet_pack_b(Int32(d), Int32(n), kh, 1, ldkv, packedK.p)
                    octet_sgemm(Int32(s), Int32(n), Int32(d), qh, ld, packedK.p, 0, Int32((n + nr - 1) / nr), 0, nil, nil, 0, scores.p, n)
                }
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
                if let ps = probabilityScale, integer == nil {  // the integer path quantizes them itself
                    // Simulated 8-bit quantization of the probabilities: int8 symmetric (QDQBERT) or uint8 (they are
                    // in [0, 1], so uint8 has twice the resolution for the same range).
                    if unsignedProbabilities { octet_fake_quantize_u8(scores.p, s * n, ps, scores.p) } else { octet_fake_quantize_s8(scores.p, s * n, ps, scores.p) }
                }
                // context = P · V.
                if let integer {
                    scratch[w].integerContext(s: s, n: n, d: d, probabilities: scores.p, pStep: integer.p, unsigned: unsignedProbabilities,
                                              v: vh, ldv: ldkv, vStep: integer.steps.v, into: out, ldc: ldc)
                    continue
                }
                octet_pack_b(Int32(n), Int32(d), vh, ldkv, 1, packedV.p)
                octet_sgemm(Int32(s), Int32(d), Int32(n), scores.p, n, packedV.p, 0, Int32((d + nr - 1) / nr), 0, nil, nil, 0, out, ldc)
            }
        }
    }
}

/// One worker's attention scratch: packed Kᵀ and V, the score matrix, and gathered keys for scattered masks; for
/// the integer path, the int8 operands, their packed forms and the int32 products.
private final class AttentionScratch: @unchecked Sendable {
    let sequenceLength: Int
    let headSize: Int
    let packedK, packedV, scores, gatheredK, gatheredV: Buffer
    private let bytes: UnsafeMutableRawPointer
    private let q8, k8, vT8, p8, packedK8, packedV8: UnsafeMutableRawPointer
    private let colsumK, colsumV, sums: UnsafeMutablePointer<Int32>
    private let vRow: UnsafeMutablePointer<Int8>

    init(sequenceLength s: Int, headSize d: Int) {
        let nr = Int(OCTET_GEMM_NR)
        sequenceLength = s
        headSize = d
        packedK = Buffer((s + nr - 1) / nr * nr * d)
        packedV = Buffer(s * ((d + nr - 1) / nr) * nr)
        (scores, gatheredK, gatheredV) = (Buffer(s * s), Buffer(s * d), Buffer(s * d))
        // Byte scratch, each piece 64-byte aligned.
        let sizes = [s * d, s * d, s * d, s * s, octet_packed_s8_size(Int32(d), Int32(s)), octet_packed_s8_size(Int32(s), Int32(d)),
                     4 * s, 4 * d, 4 * s * max(s, d), d]
        let rounded = sizes.map { ($0 + 63) / 64 * 64 }
        bytes = UnsafeMutableRawPointer.allocate(byteCount: rounded.reduce(0, +), alignment: 64)
        var offsets: [Int] = [], cursor = 0
        for r in rounded { offsets.append(cursor); cursor += r }
        (q8, k8, vT8, p8) = (bytes + offsets[0], bytes + offsets[1], bytes + offsets[2], bytes + offsets[3])
        (packedK8, packedV8) = (bytes + offsets[4], bytes + offsets[5])
        colsumK = (bytes + offsets[6]).bindMemory(to: Int32.self, capacity: s)
        colsumV = (bytes + offsets[7]).bindMemory(to: Int32.self, capacity: d)
        sums = (bytes + offsets[8]).bindMemory(to: Int32.self, capacity: s * max(s, d))
        vRow = (bytes + offsets[9]).bindMemory(to: Int8.self, capacity: d)
    }

    deinit { bytes.deallocate() }

    /// scores[i, j] = (Σ_d q8[i, d]·k8[j, d]) · qStep·kStep for the n kept keys (float, ready for the scaled softmax).
    func integerScores(s: Int, n: Int, d: Int, q: UnsafePointer<Float>, ldq: Int, k: UnsafePointer<Float>, ldk: Int,
                       steps: (q: Float, k: Float, v: Float), into scores: UnsafeMutablePointer<Float>) {
        let q8 = q8.assumingMemoryBound(to: UInt8.self), k8 = k8.assumingMemoryBound(to: Int8.self)
        for i in 0..<s { octet_quantize_u8_shifted(q + i * ldq, d, steps.q, q8 + i * d) }
        for j in 0..<n { octet_quantize_s8(k + j * ldk, d, steps.k, k8 + j * d) }
        octet_pack_s8(Int32(d), Int32(n), k8, d, packedK8.assumingMemoryBound(to: Int8.self), colsumK)
        octet_gemm_u8s8(Int32(s), Int32(n), Int32(d), q8, d, packedK8.assumingMemoryBound(to: Int8.self), colsumK, sums, n)
        octet_dequantize_s32(sums, s * n, steps.q * steps.k, scores)
    }

    /// context[i, :] = (Σ_j p8[i, j]·v8[j, :]) · pStep·vStep, p8 = the probabilities on their uint8 (or int8) grid.
    func integerContext(s: Int, n: Int, d: Int, probabilities p: UnsafeMutablePointer<Float>, pStep: Float, unsigned: Bool,
                        v: UnsafePointer<Float>, ldv: Int, vStep: Float, into out: UnsafeMutablePointer<Float>, ldc: Int) {
        let p8 = p8.assumingMemoryBound(to: UInt8.self), vT8 = vT8.assumingMemoryBound(to: Int8.self)
        octet_quantize_u8(p, s * n, pStep, unsigned ? 255 : 127, p8)
        // Vᵀ [d, n] as the GEMM's weight rows.
        for j in 0..<n {
            octet_quantize_s8(v + j * ldv, d, vStep, vRow)
            for c in 0..<d { vT8[c * n + j] = vRow[c] }
        }
        octet_pack_s8(Int32(n), Int32(d), vT8, n, packedV8.assumingMemoryBound(to: Int8.self), colsumV)
        // The GEMM subtracts 128·colsum for shifted activations; p8 has zero point 0, so add it back.
        octet_gemm_u8s8(Int32(s), Int32(d), Int32(n), p8, n, packedV8.assumingMemoryBound(to: Int8.self), colsumV, sums, d)
        let dq = pStep * vStep
        for i in 0..<s {
            for c in 0..<d { out[i * ldc + c] = Float(sums[i * d + c] + 128 * colsumV[c]) * dq }
        }
    }
}
