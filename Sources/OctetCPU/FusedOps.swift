import COctetKernels
import Foundation
import OctetCore
import OctetONNX

/// Octet's fused transformer operations, in the ONNX domain `octet`. `GraphPasses.fuse` rewrites exported graphs
/// into them; the graph executor runs them with the same kernels as the BERT engine.
///
/// - `EmbedLayerNorm(input_ids, segment_ids?, word_embeddings, position_embeddings, segment_embeddings?, gamma,
///   beta, position_ids?)`, attribute `epsilon`: LayerNorm(word[ids] + segment[segment_ids] + position[pos]), with
///   `pos` = 0..<sequence when `position_ids` is omitted. Output [batch, sequence, hidden].
/// - `Dense(x, weight[K, N], bias[N]?)`, attribute `activation` ("none" or "gelu", exact erf GELU): x·W + b.
/// - `Attention(q, k, v, mask?)`, attributes `heads`, `scale`: multi-head scaled-dot-product attention of
///   [batch, sequence, hidden] projections; with `k` and `v` omitted, `q` is the packed [batch, sequence, 3·hidden]
///   Q|K|V projection. `mask` is boolean (true = attend) or additive float, broadcastable to
///   [batch, heads, query, key]. Output [batch, sequence, hidden].
/// - `SkipLayerNorm(x, skip, gamma, beta)`, attribute `epsilon`: LayerNorm(x + skip) over the last axis.
/// - `Gelu(x)`: exact GELU.
/// - `FakeQuant(x)`, attributes `scale`, `zero_point`, `qmin`, `qmax`: QuantizeLinear then DequantizeLinear with one
///   scale, in float: (clamp(round_half_even(x / scale) + zero_point, qmin, qmax) − zero_point) · scale.
/// - `QDense(x, weight[K, N] int8, weight_scale[N] or [1], bias[N]?)`, attributes `x_scale`, `activation`: x quantized
///   to int8 with `x_scale` (symmetric), the product in int32, then · x_scale · weight_scale[n] + bias.
/// - `QAdd(a, b)`, attributes `a_scale`, `b_scale`: both inputs quantized to int8 (symmetric) and dequantized, then
///   added (numpy broadcasting).
///
/// Quantization attributes of the other ops (symmetric int8, zero point 0, simulated in float): `Attention` takes
/// `q_scale`, `k_scale`, `v_scale` (on the projections before the products) and `probs_scale` (on the softmax output
/// before ·V; uint8 with zero point 0 instead when `probs_unsigned` is 1); `SkipLayerNorm` takes `x_scale` and `skip_scale` (on the two inputs of the residual add).
public enum FusedOps {
    public static let domain = "octet"
    public static let names: Set<String> = ["EmbedLayerNorm", "Dense", "QDense", "Attention", "SkipLayerNorm", "Gelu", "FakeQuant", "QAdd"]

    /// Simulated int8 quantization: round half to even, saturate to `range`, dequantize.
    static func fakeQuantize(_ x: inout [Float], scale: Float, zeroPoint: Float = 0, range: ClosedRange<Float> = -128...127) {
        if zeroPoint == 0 && range == -128...127 {
            x.withUnsafeMutableBufferPointer { octet_fake_quantize_s8($0.baseAddress, $0.count, scale, $0.baseAddress) }
            return
        }
        for i in x.indices {
            let r = (x[i] / scale).rounded(.toNearestOrEven) + zeroPoint
            let q = r.isNaN ? range.lowerBound : min(max(r, range.lowerBound), range.upperBound)
            x[i] = (q - zeroPoint) * scale
        }
    }
}

extension GraphExecutor {
    func executeFused(_ node: Node, _ args: [HostTensor?]) throws -> [HostTensor] {
        func arg(_ i: Int) throws -> HostTensor {
            guard i < args.count, let a = args[i] else { throw OpError("input \(i) is missing") }
            return a
        }
        func optionalArg(_ i: Int) -> HostTensor? { i < args.count ? args[i] : nil }
        func floatAttr(_ name: String, _ fallback: Float) -> Float {
            if case .float(let v)? = node.attributes[name] { return v }
            return fallback
        }
        switch node.opType {
        case "Dense":
            let (x, w) = (try arg(0), try arg(1))
            guard w.shape.count == 2, let k = x.shape.last, k == w.shape[0] else {
                throw OpError("Dense of \(x.shape) with a weight of \(w.shape)")
            }
            let n = w.shape[1], rows = x.count / max(1, k)
            let weight = packed(node.inputs[1], w)
            let bias = optionalArg(2)?.floats
            guard bias == nil || bias!.count == n else { throw OpError("Dense bias has \(bias!.count) values for \(n) outputs") }
            var flags = bias == nil ? 0 : Int(OCTET_EPI_BIAS)
            if case .string("gelu")? = node.attributes["activation"] { flags |= Int(OCTET_EPI_GELU) }
            let a = x.floats
            let out = [Float](unsafeUninitializedCapacity: rows * n) { buffer, count in
                a.withUnsafeBufferPointer { a in
                    (bias ?? []).withUnsafeBufferPointer { b in
                        weight.multiply(rows: rows, a: a.baseAddress!, lda: k, c: buffer.baseAddress!, ldc: n, epilogue: Int32(flags),
                                        bias: b.baseAddress, parallel: parallel)
                    }
                }
                count = rows * n
            }
            return [HostTensor(shape: Array(x.shape.dropLast()) + [n], floats: out)]
        case "QDense":
            return [try qdense(node, args)]
        case "QAdd":
            var (a, b) = (try arg(0), try arg(1))
            if simulatesQuantization {
                for (i, key) in ["a_scale", "b_scale"].enumerated() {
                    guard case .float(let scale)? = node.attributes[key] else { continue }
                    var values = (i == 0 ? a : b).floats
                    FusedOps.fakeQuantize(&values, scale: scale)
                    if i == 0 { a = HostTensor(shape: a.shape, floats: values) } else { b = HostTensor(shape: b.shape, floats: values) }
                }
            }
            return [try Self.arithmetic("Add", a, b)]
        case "FakeQuant":
            let a = try arg(0)
            guard simulatesQuantization else { return [a] }
            var out = a.floats
            func intAttr(_ name: String) -> Float { if case .int(let v)? = node.attributes[name] { return Float(v) } else { return 0 } }
            FusedOps.fakeQuantize(&out, scale: floatAttr("scale", 1), zeroPoint: intAttr("zero_point"), range: intAttr("qmin")...intAttr("qmax"))
            return [HostTensor(shape: a.shape, floats: out)]
        case "Gelu":
            let a = try arg(0)
            var out = a.floats
            octet_gelu(&out, out.count)
            return [HostTensor(shape: a.shape, floats: out)]
        case "SkipLayerNorm":
            let (x, skip, gamma) = (try arg(0), try arg(1), try arg(2))
            guard x.shape == skip.shape, let n = x.shape.last, gamma.count == n else {
                throw OpError("SkipLayerNorm of \(x.shape) and \(skip.shape) with \(gamma.count) scales")
            }
            let beta = optionalArg(3)?.floats ?? [Float](repeating: 0, count: n)
            var sum = x.floats
            var s = skip.floats
            if simulatesQuantization, case .float(let scale)? = node.attributes["x_scale"] { FusedOps.fakeQuantize(&sum, scale: scale) }
            if simulatesQuantization, case .float(let scale)? = node.attributes["skip_scale"] { FusedOps.fakeQuantize(&s, scale: scale) }
            for i in sum.indices { sum[i] += s[i] }
            let rows = sum.count / n
            let g = gamma.floats
            sum.withUnsafeMutableBufferPointer { y in
                let y = y.baseAddress!
                parallel.forEachRange(rows) { r in
                    octet_layernorm(Int32(r.count), Int32(n), y + r.lowerBound * n, n, g, beta, floatAttr("epsilon", 1e-12),
                                    y + r.lowerBound * n, n)
                }
            }
            return [HostTensor(shape: x.shape, floats: sum)]
        case "EmbedLayerNorm":
            return [try embedLayerNorm(node, args, epsilon: floatAttr("epsilon", 1e-12))]
        case "Attention":
            return [try attention(node, args)]
        default:
            throw OpError("unknown fused op \(node.opType)")
        }
    }

    /// The INT8 product: quantize x, multiply in int32, dequantize with the combined scales, add bias, activate.
    private func qdense(_ node: Node, _ args: [HostTensor?]) throws -> HostTensor {
        guard let x = args[0], args.count >= 3, let w = args[1], let ws = args[2], w.shape.count == 2,
              let k = x.shape.last, k == w.shape[0] else { throw OpError("QDense needs x, an int8 [K, N] weight and its scales") }
        guard case .float(let xScale)? = node.attributes["x_scale"] else { throw OpError("QDense needs x_scale") }
        let n = w.shape[1], rows = x.count / max(1, k)
        let weight = quantizedWeight(node.inputs[1], w)
        let wScales = ws.floats
        guard wScales.count == 1 || wScales.count == n else { throw OpError("QDense weight scales: \(wScales.count) for \(n) outputs") }
        let bias = args.count > 3 ? args[3]?.floats : nil
        if quantizedArithmetic == .simulated || !simulatesQuantization {
            // Fake quantization in float: x on its int8 grid times the dequantized weight, with the float GEMM.
            // Differs from the integer product by float summation rounding only (about 1e-6 relative). With
            // quantization simulation off (fusion checks), x stays as it is.
            var xq = x.floats
            if simulatesQuantization { FusedOps.fakeQuantize(&xq, scale: xScale) }
            let deq = packed(node.inputs[1] + "#dequantized") {
                let wq = w.ints
                return HostTensor(shape: w.shape, floats: (0..<wq.count).map { Float(wq[$0]) * wScales[wScales.count == 1 ? 0 : $0 % n] })
            }
            var flags = bias == nil ? 0 : Int(OCTET_EPI_BIAS)
            if case .string("gelu")? = node.attributes["activation"] { flags |= Int(OCTET_EPI_GELU) }
            let out = [Float](unsafeUninitializedCapacity: rows * n) { buffer, count in
                xq.withUnsafeBufferPointer { a in
                    (bias ?? []).withUnsafeBufferPointer { b in
                        deq.multiply(rows: rows, a: a.baseAddress!, lda: k, c: buffer.baseAddress!, ldc: n, epilogue: Int32(flags),
                                     bias: b.baseAddress, parallel: parallel)
                    }
                }
                count = rows * n
            }
            return HostTensor(shape: Array(x.shape.dropLast()) + [n], floats: out)
        }
        let combined = (0..<n).map { xScale * wScales[wScales.count == 1 ? 0 : $0] }
        let gelu: Bool
        if case .string("gelu")? = node.attributes["activation"] { gelu = true } else { gelu = false }
        let a = x.floats
        var out = [Float](repeating: 0, count: rows * n)
        a.withUnsafeBufferPointer { a in
            out.withUnsafeMutableBufferPointer { y in
                let (a, y) = (a.baseAddress!, y.baseAddress!)
                parallel.forEachRange(rows, granularity: 4) { r in
                    var qa = [Int8](repeating: 0, count: r.count * k)
                    var acc = [Int32](repeating: 0, count: r.count * n)
                    octet_quantize_s8(a + r.lowerBound * k, r.count * k, xScale, &qa)
                    weight.withUnsafeBufferPointer { b in
                        octet_gemm_s8(Int32(r.count), Int32(n), Int32(k), qa, k, b.baseAddress, n, &acc, n)
                    }
                    for i in 0..<r.count {
                        let row = y + (r.lowerBound + i) * n
                        for j in 0..<n { row[j] = Float(acc[i * n + j]) * combined[j] + (bias?[j] ?? 0) }
                        if gelu { octet_gelu(row, n) }
                    }
                }
            }
        }
        return HostTensor(shape: Array(x.shape.dropLast()) + [n], floats: out)
    }

    private func embedLayerNorm(_ node: Node, _ args: [HostTensor?], epsilon: Float) throws -> HostTensor {
        guard let ids = args[0], args.count >= 7, let word = args[2], let position = args[3], let gamma = args[5] else {
            throw OpError("EmbedLayerNorm needs input ids, word and position tables and gamma")
        }
        let h = word.shape.last ?? 0
        guard ids.shape.count == 2, word.shape.count == 2, position.shape.count == 2, position.shape[1] == h, gamma.count == h else {
            throw OpError("EmbedLayerNorm shapes: ids \(ids.shape), word \(word.shape), position \(position.shape)")
        }
        let (b, s) = (ids.shape[0], ids.shape[1])
        let t = b * s
        let tokens = ids.ints
        let segments = args[1]?.ints, segmentTable = args[4]?.floats
        let positions: [Int64]
        if args.count > 7, let p = args[7] {
            let values = p.ints
            guard values.count == t || values.count == s else { throw OpError("position ids of \(p.shape) for \(ids.shape)") }
            positions = values.count == t ? values : (0..<t).map { values[$0 % s] }
        } else {
            positions = (0..<t).map { Int64($0 % s) }
        }
        let (w, p) = (word.floats, position.floats)
        let (vocab, maxPositions) = (word.shape[0], position.shape[0])
        let segmentCount = (segmentTable?.count ?? 0) / max(1, h)
        var out = [Float](repeating: 0, count: t * h)
        for i in 0..<t {
            let id = Int(tokens[i]), pos = Int(positions[i])
            guard id >= 0, id < vocab else { throw OpError("input id \(id) is outside the vocabulary 0..<\(vocab)") }
            guard pos >= 0, pos < maxPositions else { throw OpError("position \(pos) is outside 0..<\(maxPositions)") }
            let o = i * h
            for j in 0..<h { out[o + j] = w[id * h + j] }
            if let segments, let segmentTable {
                let seg = Int(segments[i])
                guard seg >= 0, seg < segmentCount else { throw OpError("segment id \(seg) is outside 0..<\(segmentCount)") }
                for j in 0..<h { out[o + j] += segmentTable[seg * h + j] }
            }
            for j in 0..<h { out[o + j] += p[pos * h + j] }
        }
        let beta = args[6]?.floats ?? [Float](repeating: 0, count: h)
        let g = gamma.floats
        out.withUnsafeMutableBufferPointer { y in
            octet_layernorm(Int32(t), Int32(h), y.baseAddress, h, g, beta, epsilon, y.baseAddress, h)
        }
        return HostTensor(shape: [b, s, h], floats: out)
    }

    private func attention(_ node: Node, _ args: [HostTensor?]) throws -> HostTensor {
        guard let q = args[0], q.shape.count == 3 else { throw OpError("Attention needs a [batch, sequence, hidden] input") }
        guard case .int(let heads)? = node.attributes["heads"], heads > 0 else { throw OpError("Attention needs a heads attribute") }
        let scale: Float
        if case .float(let v)? = node.attributes["scale"] { scale = v } else { scale = 1 }
        let (b, s) = (q.shape[0], q.shape[1])
        let packed = args.count < 3 || args[1] == nil
        let h = packed ? q.shape[2] / 3 : q.shape[2]
        guard h % heads == 0 else { throw OpError("hidden size \(h) is not a multiple of \(heads) heads") }
        var storage: [Float]
        let ld: Int
        if packed {
            storage = q.floats
            ld = 3 * h
        } else {
            guard let k = args[1], let v = args[2], k.shape == q.shape, v.shape == q.shape else {
                throw OpError("Attention q, k and v shapes differ")
            }
            // Interleave into packed rows so one code path serves both forms.
            storage = [Float](repeating: 0, count: b * s * 3 * h)
            let (qf, kf, vf) = (q.floats, k.floats, v.floats)
            for r in 0..<(b * s) {
                for j in 0..<h {
                    storage[r * 3 * h + j] = qf[r * h + j]
                    storage[r * 3 * h + h + j] = kf[r * h + j]
                    storage[r * 3 * h + 2 * h + j] = vf[r * h + j]
                }
            }
            ld = 3 * h
        }
        // Simulated quantization of the projections, each over its third of the packed rows.
        for (part, key) in ["q_scale", "k_scale", "v_scale"].enumerated() where simulatesQuantization {
            guard case .float(let qs)? = node.attributes[key] else { continue }
            storage.withUnsafeMutableBufferPointer { x in
                for r in 0..<(b * s) {
                    let row = x.baseAddress! + r * ld + part * h
                    octet_fake_quantize_s8(row, h, qs, row)
                }
            }
        }
        var probsScale: Float?
        if simulatesQuantization, case .float(let ps)? = node.attributes["probs_scale"] { probsScale = ps }
        let unsignedProbabilities: Bool
        if case .int(1)? = node.attributes["probs_unsigned"] { unsignedProbabilities = true } else { unsignedProbabilities = false }
        let mask = try attentionMask(args.count > 3 ? args[3] : nil, batch: b, heads: heads, sequence: s)
        var out = [Float](repeating: 0, count: b * s * h)
        storage.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                attentionKernel.apply(batch: b, sequence: s, heads: heads, headSize: h / heads, scale: scale,
                                      q: x.baseAddress!, k: x.baseAddress! + h, v: x.baseAddress! + 2 * h, ld: ld,
                                      mask: mask, probabilityScale: probsScale, unsignedProbabilities: unsignedProbabilities, context: o.baseAddress!, ldc: h, parallel: parallel,
                                      observeProbabilities: attentionProbabilityObserver.map { observe in { observe(node.name, $0, $1) } })
            }
        }
        return HostTensor(shape: [b, s, h], floats: out)
    }

    /// The kernel's mask: key lists when every query row of a sequence keeps the same keys and masked entries are
    /// false or at most -1e30 (whose `exp` underflows to exactly 0), else the additive form.
    private func attentionMask(_ mask: HostTensor?, batch b: Int, heads: Int, sequence s: Int) throws -> AttentionMask {
        guard let mask else { return .none }
        guard mask.shape.count <= 4 else { throw OpError("attention mask of rank \(mask.shape.count)") }
        let shape = [Int](repeating: 1, count: 4 - mask.shape.count) + mask.shape
        guard (shape[0] == 1 || shape[0] == b), (shape[1] == 1 || shape[1] == heads), (shape[2] == 1 || shape[2] == s), shape[3] == s else {
            throw OpError("attention mask \(mask.shape) does not broadcast to [\(b), \(heads), \(s), \(s)]")
        }
        let additive: [Float]
        switch mask.storage {
        case .bool(let v): additive = v.map { $0 ? 0 : -.infinity }
        default: additive = mask.floats
        }
        let perBatch = shape[1] * shape[2] * s
        var keep: [Int32] = []
        for seq in 0..<b {
            let base = (shape[0] == 1 ? 0 : seq) * perBatch
            for j in 0..<s {
                let m = additive[base + j]
                guard m == 0 || m <= -1e30 else { return .additive(values: additive, shape: shape) }
                keep.append(m == 0 ? 1 : 0)
            }
            for r in 1..<(shape[1] * shape[2]) {
                for j in 0..<s where additive[base + r * s + j] != additive[base + j] {
                    return .additive(values: additive, shape: shape)
                }
            }
        }
        return AttentionMask.keys(mask: keep, batch: b, sequence: s)
    }
}
