import Foundation
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX

/// Collects what calibration needs at every quantization point: a fixed-size histogram of |x| (and the exact max).
///
/// Runs the float graph of `BertONNXExporter` node by node (every quantization point is a value there) and adds
/// each point's values to its histogram, so memory does not grow with the number of batches. Any `Calibrator`
/// then turns the histograms into amax values, and several calibrators can share one pass.
public struct ActivationCollector {
    public let exporter: BertONNXExporter
    private let executor: GraphExecutor
    private let points: [String]
    /// Histogram by observed value name (points that observe the same value share it).
    public private(set) var histograms: [String: AbsoluteHistogram] = [:]
    public private(set) var batches = 0

    public init(weights: BertWeights, threads: Int? = nil) throws {
        exporter = BertONNXExporter(weights: weights)
        executor = try GraphExecutor(graph: exporter.graph(), threads: threads)
        points = QuantizationPoint.all(layers: weights.config.layerCount)
    }

    /// Observes one batch of features.
    public mutating func observe(_ batch: TokenBatch) throws {
        let shape = [batch.batchSize, batch.sequenceLength]
        let feeds = [
            "input_ids": HostTensor(shape: shape, ints: batch.inputIDs.map { Int64($0) }),
            "attention_mask": HostTensor(shape: shape, ints: batch.attentionMask.map { Int64($0) }),
            "token_type_ids": HostTensor(shape: shape, ints: batch.tokenTypeIDs.map { Int64($0) }),
        ]
        let observed = Set(points.map(QuantizationPoint.observedValue))
        var histograms = self.histograms
        _ = try executor.run(feeds) { name, value in
            guard observed.contains(name) else { return }
            value.floats.withUnsafeBufferPointer { histograms[name, default: AbsoluteHistogram()].add($0) }
        }
        self.histograms = histograms
        batches += 1
    }

    /// amax of every quantization point by `calibrator`.
    public func scales(_ calibrator: Calibrator, perChannelWeights: Bool = true) throws -> QuantizationScales {
        var amax: [String: Float] = [:]
        var cache: [String: Float] = [:]
        for point in points {
            let value = QuantizationPoint.observedValue(point)
            guard let histogram = histograms[value] else { continue }
            if cache[value] == nil { cache[value] = try calibrator.amax(from: histogram) }
            amax[point] = cache[value]
        }
        return QuantizationScales(activations: amax, perChannelWeights: perChannelWeights, calibrator: calibrator.name)
    }
}
