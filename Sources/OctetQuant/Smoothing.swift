import Foundation
import OctetCore
import OctetModels

/// SmoothQuant (Xiao et al., 2023): per-input-channel factors that move the outliers of a linear layer's input into
/// its weights, where per-channel weight quantization absorbs them.
///
/// For a linear layer Y = X·W (X [tokens, K], W [K, N]) and factors s [K]: Y = (X·diag(1/s))·(diag(s)·W). With
/// s_j = max|X_j|^α / max|W_j|^(1−α) (X_j: channel j of the input over the calibration set; W_j: row j of every
/// weight reading that input), channels whose activations run large are divided down and their weight rows scaled
/// up, so one per-tensor activation scale wastes less of the int8 range on a few channels. α = 0.5 splits the
/// difficulty evenly; larger α moves more of it into the weights.
///
/// BERT is post-LayerNorm, and each LayerNorm output is also the next residual add's input, so 1/s cannot be folded
/// into LayerNorm's γ and β as in pre-LN models: the export writes it as a `Mul` by a constant vector in front of the
/// linear layers' Q/DQ pair (a kernel that quantizes its output folds it into a per-channel qScale). Q, K and V read
/// one input and share its factors; the attention output projection reads the attention context; the FFN's second
/// linear layer reads the GELU output. In float the smoothed model equals the original up to rounding.
public enum Smoothing {
    /// The inputs that can be smoothed in a `layers`-layer encoder: the value read, and the linear layers reading it
    /// (quantization group names).
    public static func sites(layers: Int) -> [(value: String, linears: [String])] {
        (0..<layers).flatMap { i -> [(value: String, linears: [String])] in
            let p = "layer.\(i)"
            return [(i == 0 ? "embeddings.output" : "layer.\(i - 1).output.norm", ["\(p).attention.query", "\(p).attention.key", "\(p).attention.value"]),
                    ("\(p).attention.context", ["\(p).attention.output"]),
                    ("\(p).attention.norm", ["\(p).intermediate"]),
                    ("\(p).gelu", ["\(p).output"])]
        }
    }

    /// The smoothing factors of every site: s_j = max|X_j|^α / max|W_j|^(1−α), clamped to [1e-5, 1e5] (a channel
    /// that never fires, or a weight row of zeros, keeps a finite factor).
    ///
    /// - Parameter channelMaxima: max |x| per channel (last axis) of each site's input over the calibration set.
    public static func factors(channelMaxima: [String: [Float]], weights: BertWeights, alpha: Float) throws -> [String: [Float]] {
        guard alpha >= 0, alpha <= 1 else { throw OctetError.invalidArgument("the SmoothQuant α must be in 0...1, not \(alpha)") }
        var result: [String: [Float]] = [:]
        for site in sites(layers: weights.config.layerCount) {
            guard let xMax = channelMaxima[site.value] else {
                throw OctetError.invalidArgument("calibration saw no per-channel maxima for \(site.value), which SmoothQuant needs")
            }
            var wMax = [Float](repeating: 0, count: xMax.count)
            for name in site.linears {
                let w = weights.linear(named: name).weight  // [out, in]
                guard w.shape[1] == xMax.count else { preconditionFailure("\(name) reads \(w.shape[1]) channels, not \(xMax.count)") }
                let values = w.floats()
                for o in 0..<w.shape[0] { for j in 0..<w.shape[1] { wMax[j] = max(wMax[j], abs(values[o * w.shape[1] + j])) } }
            }
            result[site.value] = zip(xMax, wMax).map { x, w in
                min(max(powf(max(x, 1e-5), alpha) / powf(max(w, 1e-5), 1 - alpha), 1e-5), 1e5)
            }
        }
        return result
    }
}

extension BertWeights {
    /// The encoder linear layer of a quantization group name (`layer.3.attention.key`, `layer.0.output`).
    func linear(named group: String) -> Linear {
        let parts = group.split(separator: ".")
        let layer = layers[Int(parts[1])!]
        switch parts.dropFirst(2).joined(separator: ".") {
        case "attention.query": return layer.query
        case "attention.key": return layer.key
        case "attention.value": return layer.value
        case "attention.output": return layer.attentionOutput
        case "intermediate": return layer.intermediate
        case "output": return layer.output
        default: preconditionFailure("\(group) is not a linear layer")
        }
    }
}
