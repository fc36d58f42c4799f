import Foundation
import OctetCore
import OctetModels
import OctetONNX

/// Writes a BERT question-answering model as an ONNX graph (opset 17), in float32 or with QDQBERT's Q/DQ placement.
///
/// The graph is what PyTorch's exporter produces for `BertForQuestionAnswering` in spirit, written plainly: inputs
/// `input_ids`, `attention_mask`, `token_type_ids` (int64 [batch, sequence]); outputs `start_logits`, `end_logits`
/// (float [batch, sequence]); the attention mask as (1 − mask)·float32.min added to the scores; exact erf GELU.
///
/// With `QuantizationScales`, every quantization point of `QuantizationPoint` gets a QuantizeLinear →
/// DequantizeLinear pair (symmetric int8, zero point 0, scale amax/127), and every encoder linear layer's weight is
/// stored as int8 with a per-output-channel (or per-tensor) scale behind a DequantizeLinear — as QDQBERT places them
/// and as TensorRT and ONNX Runtime read them. Values carry the quantization point names, so calibration can observe
/// them in the float graph and the same names find their scales.
public struct BertONNXExporter: Sendable {
    public let weights: BertWeights

    public init(weights: BertWeights) { self.weights = weights }

    /// The ONNX graph; quantized when `scales` is given. Encoder linear inputs named in `smoothing` (default: the
    /// scales' SmoothQuant factors) are divided by their factors and the weight rows reading them multiplied.
    public func graph(scales: QuantizationScales? = nil, smoothing: [String: [Float]]? = nil, path: String = "octet-export.onnx") -> ONNXGraph {
        var b = Builder()
        let smoothing = smoothing ?? scales?.smoothing ?? [:]
        var smoothedValues: [String: String] = [:]
        /// x · (1/s), made once per value and shared by the linear layers reading it.
        func smoothed(_ x: String, _ s: [Float]) -> String {
            if let made = smoothedValues[x] { return made }
            let made = b.node("Mul", [x, b.constant(x + ".smoothing", s.map { 1 / $0 }, shape: [s.count])], x + ".smoothed")
            smoothedValues[x] = made
            return made
        }
        let c = weights.config
        let (h, heads) = (c.hiddenSize, c.headCount)
        let d = h / heads
        func fq(_ value: String, _ point: String) -> String {
            guard let scales, scales.quantizes(point), let amax = scales.activations[point] else { return value }
            if scales.unsignedProbabilities, point.hasSuffix(".attention.matmul_a") {
                return b.quantizeDequantize(value, scale: QuantizationScales.scale(amax: amax, unsigned: true), name: point, unsigned: true)
            }
            return b.quantizeDequantize(value, scale: QuantizationScales.scale(amax: amax), name: point)
        }
        func linear(_ x: String, _ l: BertWeights.Linear, _ point: String, quantized: Bool, encoder: Bool = true) -> String {
            var w = l.weight.floats() // [out, in]
            let (n, k) = (l.weight.shape[0], l.weight.shape[1])
            let s = encoder ? smoothing[x] : nil
            precondition(s == nil || s!.count == k, "smoothing factors of \(x): \(s!.count) for \(k) channels")
            if let s { for o in 0..<n { for i in 0..<k { w[o * k + i] *= s[i] } } }
            let x = s.map { smoothed(x, $0) } ?? x
            let weight: String
            if quantized, let scales, !scales.floatGroups.contains(point) {
                let input = fq(x, point + ".input")
                weight = b.quantizedWeight(point + ".weight", rows: w, n: n, k: k, perChannel: scales.perChannelWeights)
                let product = b.node("MatMul", [input, weight], point + ".matmul")
                return b.node("Add", [product, b.constant(point + ".bias", l.bias.floats(), shape: [n])], point + ".output")
            }
            var transposed = [Float](repeating: 0, count: k * n)
            for o in 0..<n { for i in 0..<k { transposed[i * n + o] = w[o * k + i] } }
            weight = b.constant(point + ".weight", transposed, shape: [k, n])
            let product = b.node("MatMul", [x, weight], point + ".matmul")
            return b.node("Add", [product, b.constant(point + ".bias", l.bias.floats(), shape: [n])], point + ".output")
        }
        func layerNorm(_ x: String, _ norm: BertWeights.Norm, _ point: String) -> String {
            b.node("LayerNormalization", [x, b.constant(point + ".gamma", norm.gamma.floats(), shape: [h]),
                                          b.constant(point + ".beta", norm.beta.floats(), shape: [h])],
                   point, attributes: ["axis": .int(-1), "epsilon": .float(c.layerNormEpsilon)])
        }
        let quantized = scales != nil
        /// The recipe's fp16 residual stream: `x` rounded to fp16 by a Cast pair (float16, then float), else `x`.
        func stream(_ x: String) -> String {
            guard scales?.halfPrecisionStream == true else { return x }
            let half = b.node("Cast", [x], x + ".float16", attributes: ["to": .int(ONNXDataType.float16.rawValue)])
            return b.node("Cast", [half], x + ".stream", attributes: ["to": .int(ONNXDataType.float.rawValue)])
        }
        // Embeddings: word + token type, then + position (positions 0..<sequence sliced from a constant row).
        let word = b.node("Gather", [b.constant("embeddings.word", weights.wordEmbeddings.floats(), shape: weights.wordEmbeddings.shape), "input_ids"], "embeddings.word_lookup")
        let type = b.node("Gather", [b.constant("embeddings.token_type", weights.tokenTypeEmbeddings.floats(), shape: weights.tokenTypeEmbeddings.shape), "token_type_ids"], "embeddings.token_type_lookup")
        let sequence = b.node("Shape", ["input_ids"], "embeddings.sequence_length", attributes: ["start": .int(1), "end": .int(2)])
        let positions = b.node("Slice", [b.int64("embeddings.position_ids", (0..<Int64(c.maxPositionEmbeddings)).map { $0 }, shape: [1, c.maxPositionEmbeddings]),
                                         b.int64("embeddings.slice_start", [0], shape: [1]), sequence,
                                         b.int64("embeddings.slice_axis", [1], shape: [1])], "embeddings.positions")
        let position = b.node("Gather", [b.constant("embeddings.position", weights.positionEmbeddings.floats(), shape: weights.positionEmbeddings.shape), positions], "embeddings.position_lookup")
        var x = stream(layerNorm(b.node("Add", [b.node("Add", [word, type], "embeddings.sum"), position], "embeddings.sum_positions"),
                                 weights.embeddingNorm, "embeddings.output"))
        // Additive mask [batch, 1, 1, sequence]: 0 where attended, float32.min where masked.
        let maskFloat = b.node("Cast", ["attention_mask"], "mask.float", attributes: ["to": .int(ONNXDataType.float.rawValue)])
        let inverted = b.node("Sub", [b.constant("mask.one", [1], shape: []), maskFloat], "mask.inverted")
        let additive = b.node("Mul", [inverted, b.constant("mask.min", [-Float.greatestFiniteMagnitude], shape: [])], "mask.additive")
        let mask = b.node("Unsqueeze", [additive, b.int64("mask.axes", [1, 2], shape: [2])], "mask")
        let headShape = b.int64("attention.head_shape", [0, 0, Int64(heads), Int64(d)], shape: [4])
        let mergedShape = b.int64("attention.merged_shape", [0, 0, Int64(h)], shape: [3])
        for (i, layer) in weights.layers.enumerated() {
            let p = "layer.\(i)"
            let q = linear(x, layer.query, "\(p).attention.query", quantized: quantized)
            let k = linear(x, layer.key, "\(p).attention.key", quantized: quantized)
            let v = linear(x, layer.value, "\(p).attention.value", quantized: quantized)
            func heads(_ t: String, _ perm: [Int], _ label: String) -> String {
                b.node("Transpose", [b.node("Reshape", [t, headShape], "\(p).attention.\(label).split")], "\(p).attention.\(label).heads",
                       attributes: ["perm": .ints(perm)])
            }
            let qh = fq(heads(q, [0, 2, 1, 3], "query"), "\(p).attention.matmul_q")
            let kt = fq(heads(k, [0, 2, 3, 1], "key"), "\(p).attention.matmul_k")
            let vh = fq(heads(v, [0, 2, 1, 3], "value"), "\(p).attention.matmul_v")
            let scores = b.node("Div", [b.node("MatMul", [qh, kt], "\(p).attention.qk"),
                                        b.constant("\(p).attention.sqrt_d", [Float(d).squareRoot()], shape: [])], "\(p).attention.scores")
            let probabilities = b.node("Softmax", [b.node("Add", [scores, mask], "\(p).attention.masked_scores")],
                                       "\(p).attention.probabilities", attributes: ["axis": .int(-1)])
            let context = b.node("MatMul", [fq(probabilities, "\(p).attention.matmul_a"), vh], "\(p).attention.context_heads")
            let merged = b.node("Reshape", [b.node("Transpose", [context], "\(p).attention.context_transposed",
                                                   attributes: ["perm": .ints([0, 2, 1, 3])]), mergedShape], "\(p).attention.context")
            let attended = linear(merged, layer.attentionOutput, "\(p).attention.output", quantized: quantized)
            let sum1 = b.node("Add", [fq(stream(attended), "\(p).attention.add.local"), fq(x, "\(p).attention.add.residual")], "\(p).attention.add")
            let h1 = stream(layerNorm(sum1, layer.attentionNorm, "\(p).attention.norm"))
            let pre = linear(h1, layer.intermediate, "\(p).intermediate", quantized: quantized)
            // Exact GELU as PyTorch's exporter writes it: x · ½ · (1 + erf(x / √2)).
            let erf = b.node("Erf", [b.node("Div", [pre, b.constant("\(p).gelu.sqrt2", [Float(2).squareRoot()], shape: [])], "\(p).gelu.scaled")], "\(p).gelu.erf")
            let onePlus = b.node("Add", [erf, b.constant("\(p).gelu.one", [1], shape: [])], "\(p).gelu.one_plus")
            let gelu = b.node("Mul", [b.node("Mul", [pre, onePlus], "\(p).gelu.product"), b.constant("\(p).gelu.half", [0.5], shape: [])], "\(p).gelu")
            let out = linear(gelu, layer.output, "\(p).output", quantized: quantized)
            let sum2 = b.node("Add", [fq(stream(out), "\(p).output.add.local"), fq(h1, "\(p).output.add.residual")], "\(p).output.add")
            x = stream(layerNorm(sum2, layer.outputNorm, "\(p).output.norm"))
        }
        // The QA head stays in float: two logits per token.
        let logits = linear(x, weights.qaOutputs, "qa_outputs", quantized: false, encoder: false)
        let parts = b.split(logits, into: ["qa_outputs.start", "qa_outputs.end"], sizes: [1, 1])
        let axes = b.int64("qa_outputs.squeeze_axes", [-1], shape: [1])
        _ = b.node("Squeeze", [parts[0], axes], "start_logits")
        _ = b.node("Squeeze", [parts[1], axes], "end_logits")
        let dims: [OctetONNX.Dimension] = [.symbol("batch"), .symbol("sequence")]
        return ONNXGraph(path: path, irVersion: 8, producer: "octet", opsets: ["": 17],
                         inputs: ["input_ids", "attention_mask", "token_type_ids"].map { ValueInfo(name: $0, elementType: .int64, shape: dims) },
                         outputs: ["start_logits", "end_logits"].map { ValueInfo(name: $0, elementType: .float, shape: dims) },
                         initializers: b.initializers, nodes: b.nodes)
    }
}

/// Collects nodes and initializers; a node's output value is named after the node.
private struct Builder {
    var nodes: [Node] = []
    var initializers: [String: Initializer] = [:]

    mutating func node(_ op: String, _ inputs: [String], _ output: String, attributes: [String: Attribute] = [:]) -> String {
        nodes.append(Node(name: output, opType: op, inputs: inputs, outputs: [output], attributes: attributes))
        return output
    }

    mutating func split(_ x: String, into outputs: [String], sizes: [Int64]) -> [String] {
        let s = int64(outputs[0] + ".sizes", sizes, shape: [sizes.count])
        nodes.append(Node(name: outputs[0] + ".split", opType: "Split", inputs: [x, s], outputs: outputs, attributes: ["axis": .int(-1)]))
        return outputs
    }

    mutating func constant(_ name: String, _ values: [Float], shape: [Int]) -> String {
        initializers[name] = .float32(name, shape: shape, values)
        return name
    }

    mutating func int64(_ name: String, _ values: [Int64], shape: [Int]) -> String {
        initializers[name] = ONNXGraph.owned(name, .int64, shape, values.withUnsafeBytes { Data($0) })
        return name
    }

    /// QuantizeLinear → DequantizeLinear, int8 (or uint8) with zero point 0; returns the dequantized value `<name>.dq`.
    mutating func quantizeDequantize(_ x: String, scale: Float, name: String, unsigned: Bool = false) -> String {
        let s = constant(name + ".scale", [scale], shape: [])
        let zero = name + ".zero_point"
        initializers[zero] = ONNXGraph.owned(zero, unsigned ? .uint8 : .int8, [], Data([0]))
        let q = node("QuantizeLinear", [x, s, zero], name + ".q")
        return node("DequantizeLinear", [q, s, zero], name + ".dq")
    }

    /// An int8 weight stored [K, N] (MatMul's layout) from W [N, K], quantized per output channel (or per tensor) by
    /// `SymmetricInt8.quantizeWeight`, behind a DequantizeLinear.
    mutating func quantizedWeight(_ name: String, rows w: [Float], n: Int, k: Int, perChannel: Bool) -> String {
        let (values, scales) = SymmetricInt8.quantizeWeight(w, rows: n, columns: k, perRow: perChannel)
        var q = [UInt8](repeating: 0, count: k * n)
        for j in 0..<n { for i in 0..<k { q[i * n + j] = UInt8(bitPattern: values[j * k + i]) } }
        initializers[name + ".int8"] = ONNXGraph.owned(name + ".int8", .int8, [k, n], Data(q))
        let scale = constant(name + ".scale", scales, shape: perChannel ? [n] : [])
        let zero = name + ".zero_point"
        initializers[zero] = ONNXGraph.owned(zero, .int8, perChannel ? [n] : [], Data(repeating: 0, count: perChannel ? n : 1))
        return node("DequantizeLinear", [name + ".int8", scale, zero], name, attributes: perChannel ? ["axis": .int(1)] : [:])
    }
}
