import Foundation
import OctetCore

/// Bytes owned by a tensor view made in memory (random weights), freed with the last view.
final class HostStorage: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(bytes: Int) { pointer = .allocate(byteCount: max(bytes, 1), alignment: 64) }
    deinit { pointer.deallocate() }
}

extension BertConfig {
    /// BERT-base (12 layers, hidden 768, 12 heads, intermediate 3072), uncased vocabulary.
    public static let base = BertConfig(vocabSize: 30522, hiddenSize: 768, layerCount: 12, headCount: 12, intermediateSize: 3072)
    /// BERT-large (24 layers, hidden 1024, 16 heads, intermediate 4096), uncased vocabulary.
    public static let large = BertConfig(vocabSize: 30522, hiddenSize: 1024, layerCount: 24, headCount: 16, intermediateSize: 4096)
}

extension BertWeights {
    /// Random weights of a BERT shape, for speed work (`octet bench bert-large`) and self-tests: matrices, embeddings
    /// and biases N(0, 0.02²) as BERT initializes them, LayerNorm γ = 1 + N(0, 0.1²) and β = N(0, 0.1²) (not 1 and 0,
    /// so a test notices if they are mixed up); float16 storage like the reference checkpoint. Deterministic in `seed`.
    public static func random(config: BertConfig, seed: UInt64 = 1) -> BertWeights {
        var generator = SplitMix64(state: seed &* 0x9E3779B97F4A7C15 | 1)
        func uniform() -> Float { (Float(generator.next() >> 40) + 0.5) / Float(1 << 24) }  // (0, 1)
        var tensors: [String: TensorView] = [:]
        func add(_ name: String, _ shape: [Int], mean: Float = 0, std: Float) {
            let count = shape.reduce(1, *)
            let storage = HostStorage(bytes: count * 2)
            let out = storage.pointer.bindMemory(to: UInt16.self, capacity: count)
            var i = 0
            while i < count {  // Box–Muller, two normals per pair of uniforms
                let r = (-2 * Foundation.log(uniform())).squareRoot(), a = 2 * Float.pi * uniform()
                out[i] = Float16(mean + std * r * Foundation.cos(a)).bitPattern
                if i + 1 < count { out[i + 1] = Float16(mean + std * r * Foundation.sin(a)).bitPattern }
                i += 2
            }
            tensors[name] = TensorView(name: name, dtype: .float16, shape: shape,
                                       bytes: UnsafeRawBufferPointer(start: storage.pointer, count: count * 2), owner: storage)
        }
        let h = config.hiddenSize, i = config.intermediateSize
        func linear(_ prefix: String, out: Int, in inputs: Int) {
            add(prefix + ".weight", [out, inputs], std: 0.02)
            add(prefix + ".bias", [out], std: 0.02)
        }
        func norm(_ prefix: String) {
            add(prefix + ".weight", [h], mean: 1, std: 0.1)
            add(prefix + ".bias", [h], std: 0.1)
        }
        add("embeddings.word_embeddings.weight", [config.vocabSize, h], std: 0.02)
        add("embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, h], std: 0.02)
        add("embeddings.token_type_embeddings.weight", [config.typeVocabSize, h], std: 0.02)
        norm("embeddings.LayerNorm")
        for l in 0..<config.layerCount {
            let p = "encoder.layer.\(l)."
            for name in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
                linear(p + name, out: h, in: h)
            }
            norm(p + "attention.output.LayerNorm")
            linear(p + "intermediate.dense", out: i, in: h)
            linear(p + "output.dense", out: h, in: i)
            norm(p + "output.LayerNorm")
        }
        linear("qa_outputs", out: 2, in: h)
        // The names and shapes are the ones `init` looks for, so this cannot fail.
        return try! BertWeights(config: config, tensors: tensors, source: "random weights")
    }
}
