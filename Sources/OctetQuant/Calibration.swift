import Foundation
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX

/// Collects what calibration needs at every quantization point: a fixed-size histogram of |x| (and the exact max).
///
/// Runs the *fused* float graph of `BertONNXExporter` (the fast path: about as fast as the BERT engine) and adds each
/// point's values to its histogram, so memory does not grow with the number of batches. Most points are values of
/// the fused graph under their exporter names; Q, K and V are the three column blocks of the packed QKV projection;
/// the attention probabilities come from the fused Attention op as it computes them, with the zeros of masked keys
/// counted without being materialized. Any `Calibrator` then turns the histograms into amax values, and several
/// calibrators can share one pass. It also keeps max |x| per channel of every linear layer's input, which SmoothQuant
/// needs (`Smoothing`); with `smoothing`, it runs the smoothed float model and the linear inputs' histograms are of
/// the smoothed values.
public final class ActivationCollector: @unchecked Sendable {
    public let exporter: BertONNXExporter
    /// The SmoothQuant factors the observed float model applies (empty: none).
    public let smoothing: [String: [Float]]
    private let executor: GraphExecutor
    private let points: [String]
    private let hidden: Int
    /// Histogram by observed value name of the float export (points that observe the same value share it).
    public private(set) var histograms: [String: AbsoluteHistogram] = [:]
    /// max |x| per channel (last axis) of each linear layer's (unsmoothed) input, by value name.
    public private(set) var channelMaxima: [String: [Float]] = [:]
    public private(set) var batches = 0
    private let lock = NSLock()
    /// amax by point per calibrator, for the histograms as they were after `batches` batches (entropy and MSE
    /// search every bin, and a recipe asks for the same calibrator several times).
    private var amaxCache: [Calibrator: (batches: Int, amax: [String: Float])] = [:]

    public init(weights: BertWeights, smoothing: [String: [Float]] = [:], threads: Int? = nil) throws {
        exporter = BertONNXExporter(weights: weights)
        self.smoothing = smoothing
        let fused = try GraphPasses.optimize(exporter.graph(smoothing: smoothing), level: .fuse)
        executor = try GraphExecutor(graph: fused, threads: threads)
        points = QuantizationPoint.all(layers: weights.config.layerCount)
        hidden = weights.config.hiddenSize
        guard fused.opHistogram["octet:Attention"] == weights.config.layerCount else {
            throw OctetError.unsupported(fused.path, "did not fuse into one Attention per layer, which calibration reads")
        }
        executor.attentionProbabilityObserver = { [unowned self] node, probabilities, zeros in
            // Attention node "layer.N.attention.context" → "layer.N.attention.probabilities".
            let name = node.replacingOccurrences(of: ".attention.context", with: ".attention.probabilities")
            lock.lock()
            defer { lock.unlock() }
            if histograms[name] == nil {
                // Probabilities are at most 1: a range fixed up front keeps the bins independent of the order the
                // worker threads deliver (sequence, head) blocks in, so calibration is deterministic.
                var histogram = AbsoluteHistogram()
                histogram.reserve(toHold: 1)
                histograms[name] = histogram
            }
            histograms[name, default: AbsoluteHistogram()].add(probabilities)
            histograms[name, default: AbsoluteHistogram()].addZeros(zeros)
        }
    }

    /// Observes one batch of features.
    public func observe(_ batch: TokenBatch) throws {
        let feeds = batch.graphInputs
        let smoothed = Set(smoothing.keys)
        let observed = Set(points.map { QuantizationPoint.observedValue($0, smoothed: smoothed) })
        let sites = Set(Smoothing.sites(layers: exporter.weights.config.layerCount).map(\.value))
        let h = hidden
        _ = try executor.run(feeds) { name, value in
            if name.hasSuffix(".attention.context.qkv") {
                // Packed [Q | K | V] rows: the three head-split operands, as values (layout does not change them).
                let layer = name.replacingOccurrences(of: ".attention.context.qkv", with: "")
                value.floats.withUnsafeBufferPointer { rows in
                    for (part, label) in ["query", "key", "value"].enumerated() {
                        var histogram = self.histograms["\(layer).attention.\(label).heads", default: AbsoluteHistogram()]
                        for r in 0..<(rows.count / (3 * h)) {
                            histogram.add(UnsafeBufferPointer(rebasing: rows[(r * 3 * h + part * h)..<(r * 3 * h + part * h + h)]))
                        }
                        self.histograms["\(layer).attention.\(label).heads"] = histogram
                    }
                }
            }
            if observed.contains(name) {
                value.floats.withUnsafeBufferPointer { self.histograms[name, default: AbsoluteHistogram()].add($0) }
            }
            if sites.contains(name), let channels = value.shape.last, channels > 0 {
                var maxima = self.channelMaxima[name] ?? [Float](repeating: 0, count: channels)
                value.floats.withUnsafeBufferPointer { x in
                    for r in 0..<(x.count / channels) {
                        for j in 0..<channels { maxima[j] = max(maxima[j], abs(x[r * channels + j])) }
                    }
                }
                self.channelMaxima[name] = maxima
            }
        }
        batches += 1
    }

    /// amax of every quantization point by `calibrator`.
    public func scales(_ calibrator: Calibrator, perChannelWeights: Bool = true) throws -> QuantizationScales {
        if let cached = amaxCache[calibrator], cached.batches == batches {
            return QuantizationScales(activations: cached.amax, perChannelWeights: perChannelWeights, calibrator: calibrator.description,
                                      smoothing: smoothing)
        }
        var amax: [String: Float] = [:]
        var cache: [String: Float] = [:]
        for point in points {
            let value = QuantizationPoint.observedValue(point, smoothed: Set(smoothing.keys))
            guard let histogram = histograms[value] else {
                throw OctetError.invalidArgument("calibration saw no values for quantization point '\(point)' (\(value))")
            }
            if cache[value] == nil { cache[value] = try calibrator.amax(from: histogram) }
            amax[point] = cache[value]
        }
        amaxCache[calibrator] = (batches, amax)
        return QuantizationScales(activations: amax, perChannelWeights: perChannelWeights, calibrator: calibrator.description,
                                  smoothing: smoothing)
    }
}
