import Foundation
import OctetCore

/// The calibrated ranges of a quantized model: amax (the largest magnitude kept) per quantization point, and how
/// weights are quantized. Saved as JSON (`{"activations": {point: amax}, "per_channel_weights": true, "calibrator":
/// "percentile 99.99"}`) and reusable.
public struct QuantizationScales: Sendable, Equatable {
    /// amax by quantization point name (see `QuantizationPoint`).
    public var activations: [String: Float]
    /// Per-output-channel weight scales (else one per tensor).
    public var perChannelWeights: Bool
    /// The calibrator that chose the amax values ("max", "percentile 99.99", …), for the record.
    public var calibrator: String
    /// Quantization groups (`QuantizationGroup`) kept in float: their Q/DQ pairs and int8 weights are left out.
    public var floatGroups: Set<String>
    /// SmoothQuant factors by the value they divide (see `Smoothing`); the activation amax of a smoothed linear
    /// input is that of the smoothed value. Empty: no smoothing.
    public var smoothing: [String: [Float]]
    /// Softmax probabilities (the P·V input) quantized as uint8 (scale amax/255, zero point 0) instead of QDQBERT's
    /// symmetric int8: they are never negative, so int8 wastes half its grid on them.
    public var unsignedProbabilities: Bool
    /// The residual stream in fp16 (`QuantizationRecipe.halfPrecisionStream`): the export adds a Cast pair (float16,
    /// then float) after each LayerNorm and after each sublayer output that the residual adds read.
    public var halfPrecisionStream: Bool

    public init(activations: [String: Float], perChannelWeights: Bool = true, calibrator: String = "max",
                floatGroups: Set<String> = [], smoothing: [String: [Float]] = [:], unsignedProbabilities: Bool = false,
                halfPrecisionStream: Bool = false) {
        self.activations = activations
        self.perChannelWeights = perChannelWeights
        self.calibrator = calibrator
        self.floatGroups = floatGroups
        self.smoothing = smoothing
        self.unsignedProbabilities = unsignedProbabilities
        self.halfPrecisionStream = halfPrecisionStream
    }

    /// Whether `point` gets a Q/DQ pair: it has an amax and its group is not kept in float.
    public func quantizes(_ point: String) -> Bool {
        activations[point] != nil && !floatGroups.contains(QuantizationGroup.of(point))
    }

    /// Clips every layer's GELU output (the input of the FFN's second linear layer) at `amax`: its amax becomes at
    /// most that (NVIDIA's `--clip-gelu` for QDQBERT).
    public mutating func clipGeluOutput(at amax: Float) {
        for point in activations.keys where point.hasSuffix(".output.input") { activations[point] = min(activations[point]!, amax) }
    }

    /// Gives the Q, K and V projections' outputs (the attention products' inputs) of each layer one amax, the
    /// largest of the three, as a fused QKV GEMM with one int8 output scale needs (FasterTransformer's INT8 BERT).
    public mutating func shareQKVAmax() {
        let layers = Set(activations.keys.compactMap { $0.hasSuffix(".attention.matmul_q") ? $0.dropLast(".attention.matmul_q".count) : nil })
        for layer in layers {
            let points = ["q", "k", "v"].map { "\(layer).attention.matmul_\($0)" }
            guard let shared = points.compactMap({ activations[$0] }).max() else { continue }
            for point in points where activations[point] != nil { activations[point] = shared }
        }
    }

    /// amax values of the right size for a random-weight BERT's activations (`BertWeights.random`: LayerNorm outputs
    /// about N(0, 1), projections and the GELU output well under 2, probabilities up to 1), for speed work and
    /// self-tests on models that were never calibrated. Not a calibration: accuracy means nothing with these.
    public static func synthetic(layers: Int) -> QuantizationScales {
        var amax: [String: Float] = [:]
        for point in QuantizationPoint.all(layers: layers) {
            if point.hasSuffix(".matmul_a") {
                amax[point] = 1
            } else if ["query.input", "key.input", "value.input", "intermediate.input", ".residual"].contains(where: { point.hasSuffix($0) }) {
                amax[point] = 4.5
            } else {
                amax[point] = 1.5
            }
        }
        return QuantizationScales(activations: amax, perChannelWeights: true, calibrator: "synthetic")
    }

    /// The symmetric int8 scale for an amax: amax / 127 (a zero range gets a tiny positive scale, never 0).
    public static func scale(amax: Float) -> Float { SymmetricInt8.step(amax: amax) }

    /// The scale for an amax: amax / 127 for int8, amax / 255 for uint8 with zero point 0.
    public static func scale(amax: Float, unsigned: Bool) -> Float { unsigned ? max(amax, 1e-8) / 255 : scale(amax: amax) }

    public func write(to path: String) throws {
        try FileIO.writeJSON(["activations": activations.mapValues { Double($0) }, "per_channel_weights": perChannelWeights,
                              "calibrator": calibrator, "float_groups": floatGroups.sorted(),
                              "smoothing": smoothing.mapValues { $0.map(Double.init) },
                              "unsigned_probabilities": unsignedProbabilities, "half_precision_stream": halfPrecisionStream] as [String: Any], to: path)
    }

    public init(contentsOf path: String) throws {
        let json = try FileIO.readJSONObject(path)
        guard let activations = json["activations"] as? [String: Any] else {
            throw OctetError.malformed(path, "has no \"activations\" object of quantization point → amax")
        }
        var values: [String: Float] = [:]
        for (point, v) in activations {
            guard let amax = (v as? NSNumber)?.floatValue, amax.isFinite, amax >= 0 else {
                throw OctetError.malformed(path, "gives quantization point '\(point)' an amax that is not a finite number ≥ 0")
            }
            values[point] = amax
        }
        var smoothing: [String: [Float]] = [:]
        for (value, v) in (json["smoothing"] as? [String: Any]) ?? [:] {
            guard let factors = (v as? [NSNumber])?.map(\.floatValue), factors.allSatisfy({ $0.isFinite && $0 > 0 }) else {
                throw OctetError.malformed(path, "gives '\(value)' smoothing factors that are not a list of finite numbers > 0")
            }
            smoothing[value] = factors
        }
        self.init(activations: values, perChannelWeights: (json["per_channel_weights"] as? Bool) ?? true,
                  calibrator: (json["calibrator"] as? String) ?? "max", floatGroups: Set((json["float_groups"] as? [String]) ?? []),
                  smoothing: smoothing, unsignedProbabilities: (json["unsigned_probabilities"] as? Bool) ?? false,
                  halfPrecisionStream: (json["half_precision_stream"] as? Bool) ?? false)
    }
}

/// The units a recipe keeps in float or quantizes, per layer: each linear layer with its input (`attention.query`,
/// `attention.key`, `attention.value`, `attention.output`, `intermediate`, `output`), each attention product with
/// both inputs (`attention.qk`, `attention.pv`) and each residual add with both inputs (`attention.add`,
/// `output.add`). Names are prefixed by `layer.N.`.
public enum QuantizationGroup {
    static let kinds = ["attention.query", "attention.key", "attention.value", "attention.qk", "attention.pv",
                        "attention.output", "attention.add", "intermediate", "output", "output.add"]

    public static func all(layers: Int) -> [String] {
        (0..<layers).flatMap { i in kinds.map { "layer.\(i).\($0)" } }
    }

    /// The group of a quantization point.
    public static func of(_ point: String) -> String {
        let parts = point.split(separator: ".").map(String.init)
        let layer = parts.prefix(2).joined(separator: ".")
        switch parts.dropFirst(2).joined(separator: ".") {
        case "attention.matmul_q", "attention.matmul_k": return layer + ".attention.qk"
        case "attention.matmul_a", "attention.matmul_v": return layer + ".attention.pv"
        case "attention.add.local", "attention.add.residual": return layer + ".attention.add"
        case "output.add.local", "output.add.residual": return layer + ".output.add"
        case let rest: return layer + "." + rest.replacingOccurrences(of: ".input", with: "")
        }
    }

    /// Groups matching a pattern where `*` stands for any run of characters: `layer.5.*`, `*.attention.add`,
    /// `layer.3.intermediate`.
    public static func matching(_ pattern: String, layers: Int) -> [String] {
        all(layers: layers).filter { glob(pattern, matches: $0) }
    }

    /// Whether `name` matches `pattern`, where `*` stands for any run of characters.
    public static func glob(_ pattern: String, matches name: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false).map(String.init)
        var rest = Substring(name)
        for (i, part) in parts.enumerated() {
            if i == 0 {
                guard rest.hasPrefix(part) else { return false }
                rest = rest.dropFirst(part.count)
            } else if i == parts.count - 1 {
                return rest.hasSuffix(part) && rest.count >= part.count
            } else {
                guard let r = rest.range(of: part) else { return false }
                rest = rest[r.upperBound...]
            }
        }
        return rest.isEmpty
    }

    /// Multiply-add FLOPs (2 per multiply-add) of a group's matrix products per token at sequence length `s`.
    public static func gemmFlops(_ group: String, hidden h: Int, intermediate i: Int, sequence s: Int) -> Int {
        switch group.split(separator: ".").dropFirst(2).joined(separator: ".") {
        case "attention.query", "attention.key", "attention.value", "attention.output": return 2 * h * h
        case "intermediate", "output": return 2 * h * i
        case "attention.qk", "attention.pv": return 2 * s * h
        default: return 0
        }
    }

    /// The share of the encoder's and QA head's matrix-product FLOPs that run in INT8 when `floatGroups` stay
    /// float (the QA head always does).
    public static func int8Share(floatGroups: Set<String>, layers: Int, hidden h: Int, intermediate i: Int, sequence s: Int) -> Double {
        var int8 = 0, total = 2 * h * 2
        for group in all(layers: layers) {
            let flops = gemmFlops(group, hidden: h, intermediate: i, sequence: s)
            total += flops
            if !floatGroups.contains(group) { int8 += flops }
        }
        return Double(int8) / Double(total)
    }
}

/// QDQBERT's quantization points for a BERT encoder of `layers` layers: the inputs of every linear layer (Q, K, V,
/// attention output, intermediate, output), both inputs of both attention products (QKᵀ: `matmul_q`, `matmul_k`;
/// probabilities·V: `matmul_a`, `matmul_v`) and both inputs of both residual adds (`add.local`, `add.residual`).
/// Embeddings, LayerNorm, softmax, GELU and the QA head stay in float.
public enum QuantizationPoint {
    public static func all(layers: Int) -> [String] {
        (0..<layers).flatMap { i -> [String] in
            let p = "layer.\(i)"
            return ["\(p).attention.query.input", "\(p).attention.key.input", "\(p).attention.value.input",
                    "\(p).attention.matmul_q", "\(p).attention.matmul_k", "\(p).attention.matmul_a", "\(p).attention.matmul_v",
                    "\(p).attention.output.input", "\(p).attention.add.local", "\(p).attention.add.residual",
                    "\(p).intermediate.input", "\(p).output.input", "\(p).output.add.local", "\(p).output.add.residual"]
        }
    }

    /// The float graph's value each point observes (the exporter names values after the nodes producing them). A
    /// linear layer's input point whose value is in `smoothed` observes the smoothed value `<value>.smoothed`.
    public static func observedValue(_ point: String, smoothed: Set<String>) -> String {
        let value = observedValue(point)
        let linearInputs = ["attention.query.input", "attention.key.input", "attention.value.input", "attention.output.input",
                            "intermediate.input", "output.input"]
        guard smoothed.contains(value), linearInputs.contains(where: { point.hasSuffix("." + $0) }) else { return value }
        return value + ".smoothed"
    }

    /// The float graph's value each point observes (the exporter names values after the nodes producing them).
    public static func observedValue(_ point: String) -> String {
        let p = point.split(separator: ".").prefix(2).joined(separator: ".")  // "layer.N"
        let layer = Int(point.split(separator: ".")[1])!
        let previousOutput = layer == 0 ? "embeddings.output" : "layer.\(layer - 1).output.norm"
        switch String(point.dropFirst(p.count + 1)) {
        case "attention.query.input", "attention.key.input", "attention.value.input", "attention.add.residual": return previousOutput
        case "attention.matmul_q": return "\(p).attention.query.heads"
        case "attention.matmul_k": return "\(p).attention.key.heads"
        case "attention.matmul_v": return "\(p).attention.value.heads"
        case "attention.matmul_a": return "\(p).attention.probabilities"
        case "attention.output.input": return "\(p).attention.context"
        case "attention.add.local": return "\(p).attention.output.output"
        case "intermediate.input", "output.add.residual": return "\(p).attention.norm"
        case "output.input": return "\(p).gelu"
        case "output.add.local": return "\(p).output.output"
        default: preconditionFailure("unknown quantization point \(point)")
        }
    }
}

extension QuantizationScales: QuantizationRecipe {
    public func step(of point: String) -> Float? {
        guard quantizes(point), let amax = activations[point] else { return nil }
        return Self.scale(amax: amax, unsigned: unsignedProbabilities && point.hasSuffix(".attention.matmul_a"))
    }

    public func keepsInFloat(_ group: String) -> Bool { floatGroups.contains(group) }
}
