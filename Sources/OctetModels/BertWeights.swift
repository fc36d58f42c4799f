import Foundation
import OctetCore

/// The parameters of a BERT question-answering model (`BertForQuestionAnswering`), by role, shape-checked.
///
/// Linear weights keep PyTorch's `[out, in]` layout. Views point into the checkpoint's mapping: nothing is copied
/// until an engine packs them into its own layout.
public struct BertWeights: Sendable {
    /// A linear layer `y = x·Wᵀ + b`.
    public struct Linear: Sendable {
        public let weight: TensorView  // [out, in]
        public let bias: TensorView    // [out]
    }

    /// A LayerNorm's scale and shift.
    public struct Norm: Sendable {
        public let gamma: TensorView
        public let beta: TensorView
    }

    /// One encoder layer.
    public struct Layer: Sendable {
        public let query: Linear
        public let key: Linear
        public let value: Linear
        public let attentionOutput: Linear
        public let attentionNorm: Norm
        public let intermediate: Linear
        public let output: Linear
        public let outputNorm: Norm
    }

    public let config: BertConfig
    public let wordEmbeddings: TensorView      // [vocab, hidden]
    public let positionEmbeddings: TensorView  // [positions, hidden]
    public let tokenTypeEmbeddings: TensorView // [types, hidden]
    public let embeddingNorm: Norm
    public let layers: [Layer]
    /// The QA head: `[2, hidden]`, start then end.
    public let qaOutputs: Linear

    /// Picks the parameters out of `tensors`, accepting names with or without the `bert.` prefix and the old
    /// `gamma`/`beta` LayerNorm names, and checks every shape against `config`.
    public init(config: BertConfig, tensors: [String: TensorView], source: String) throws {
        func find(_ name: String, _ shape: [Int]) throws -> TensorView {
            var candidates = ["bert." + name, name]
            if name.hasSuffix("LayerNorm.weight") {
                candidates += candidates.map { $0.replacingOccurrences(of: "LayerNorm.weight", with: "LayerNorm.gamma") }
            } else if name.hasSuffix("LayerNorm.bias") {
                candidates += candidates.map { $0.replacingOccurrences(of: "LayerNorm.bias", with: "LayerNorm.beta") }
            }
            guard let view = candidates.lazy.compactMap({ tensors[$0] }).first else {
                throw OctetError.malformed(source, "has no tensor '\(name)' (looked for \(candidates.map { "'\($0)'" }.joined(separator: ", ")))")
            }
            guard view.shape == shape else {
                throw OctetError.malformed(source, "tensor '\(view.name)' has shape \(view.shape) but the config needs \(shape)")
            }
            guard view.dtype.isFloatingPoint else {
                throw OctetError.unsupported(source, "tensor '\(view.name)' has dtype \(view.dtype.rawValue); BERT weights must be floating point")
            }
            return view
        }
        let h = config.hiddenSize, i = config.intermediateSize
        func linear(_ prefix: String, out: Int, in inputs: Int) throws -> Linear {
            Linear(weight: try find(prefix + ".weight", [out, inputs]), bias: try find(prefix + ".bias", [out]))
        }
        func norm(_ prefix: String) throws -> Norm {
            Norm(gamma: try find(prefix + ".weight", [h]), beta: try find(prefix + ".bias", [h]))
        }
        self.config = config
        wordEmbeddings = try find("embeddings.word_embeddings.weight", [config.vocabSize, h])
        positionEmbeddings = try find("embeddings.position_embeddings.weight", [config.maxPositionEmbeddings, h])
        tokenTypeEmbeddings = try find("embeddings.token_type_embeddings.weight", [config.typeVocabSize, h])
        embeddingNorm = try norm("embeddings.LayerNorm")
        layers = try (0..<config.layerCount).map { l in
            let p = "encoder.layer.\(l)."
            return Layer(
                query: try linear(p + "attention.self.query", out: h, in: h),
                key: try linear(p + "attention.self.key", out: h, in: h),
                value: try linear(p + "attention.self.value", out: h, in: h),
                attentionOutput: try linear(p + "attention.output.dense", out: h, in: h),
                attentionNorm: try norm(p + "attention.output.LayerNorm"),
                intermediate: try linear(p + "intermediate.dense", out: i, in: h),
                output: try linear(p + "output.dense", out: h, in: i),
                outputNorm: try norm(p + "output.LayerNorm"))
        }
        qaOutputs = try linear("qa_outputs", out: 2, in: h)
    }
}

/// A Hugging Face BERT question-answering model folder: config and weights.
public struct BertModelFolder: Sendable {
    public let folder: String
    public let config: BertConfig
    public let weights: BertWeights

    /// Reads `config.json` and the checkpoint in `folder`.
    public init(folder: String) throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw OctetError.fileNotFound(folder, "model folder")
        }
        let config = try BertConfig(contentsOf: (folder as NSString).appendingPathComponent("config.json"))
        let checkpoint = try Checkpoint(folder: folder)
        let source = checkpoint.files.count == 1 ? checkpoint.files[0] : folder
        self.folder = folder
        self.config = config
        self.weights = try BertWeights(config: config, tensors: checkpoint.tensors, source: source)
    }
}
