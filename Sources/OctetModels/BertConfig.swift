import Foundation
import OctetCore

/// The hyper-parameters of a BERT encoder, read from a Hugging Face `config.json`.
public struct BertConfig: Sendable, Equatable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var layerCount: Int
    public var headCount: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEpsilon: Float
    /// The activation in the feed-forward block; Octet supports exact (erf) GELU, which "gelu" means in Hugging Face.
    public var hiddenActivation: String

    public init(vocabSize: Int, hiddenSize: Int, layerCount: Int, headCount: Int, intermediateSize: Int,
                maxPositionEmbeddings: Int = 512, typeVocabSize: Int = 2, layerNormEpsilon: Float = 1e-12,
                hiddenActivation: String = "gelu") {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.layerCount = layerCount
        self.headCount = headCount
        self.intermediateSize = intermediateSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize
        self.layerNormEpsilon = layerNormEpsilon
        self.hiddenActivation = hiddenActivation
    }

    /// Model types whose checkpoints use BERT's layout and math.
    public static let supportedModelTypes: Set<String> = ["bert"]

    /// Reads and validates `config.json` at `path`.
    public init(contentsOf path: String) throws {
        let json = try FileIO.readJSONObject(path, what: "model config")
        guard let modelType = json["model_type"] as? String else {
            throw OctetError.malformed(path, "has no \"model_type\"")
        }
        guard Self.supportedModelTypes.contains(modelType) else {
            throw OctetError.unsupported(path, "model_type '\(modelType)' is not supported (supported: \(Self.supportedModelTypes.sorted().joined(separator: ", ")))")
        }
        func integer(_ key: String, default value: Int? = nil) throws -> Int {
            if let n = json[key] as? NSNumber, n.doubleValue == n.doubleValue.rounded(), n.intValue > 0 { return n.intValue }
            if json[key] == nil, let value { return value }
            throw OctetError.malformed(path, "needs a positive integer \"\(key)\"")
        }
        self.init(
            vocabSize: try integer("vocab_size"),
            hiddenSize: try integer("hidden_size"),
            layerCount: try integer("num_hidden_layers"),
            headCount: try integer("num_attention_heads"),
            intermediateSize: try integer("intermediate_size"),
            maxPositionEmbeddings: try integer("max_position_embeddings", default: 512),
            typeVocabSize: try integer("type_vocab_size", default: 2),
            layerNormEpsilon: (json["layer_norm_eps"] as? NSNumber)?.floatValue ?? 1e-12,
            hiddenActivation: json["hidden_act"] as? String ?? "gelu")
        guard hiddenSize % headCount == 0 else {
            throw OctetError.malformed(path, "hidden_size \(hiddenSize) is not a multiple of num_attention_heads \(headCount)")
        }
        guard hiddenActivation == "gelu" else {
            throw OctetError.unsupported(path, "hidden_act '\(hiddenActivation)' is not supported (supported: gelu)")
        }
        if let position = json["position_embedding_type"] as? String, position != "absolute" {
            throw OctetError.unsupported(path, "position_embedding_type '\(position)' is not supported (supported: absolute)")
        }
    }

    /// Width of one attention head.
    public var headSize: Int { hiddenSize / headCount }
}
