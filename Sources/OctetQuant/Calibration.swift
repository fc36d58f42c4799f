import Foundation
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX

/// Max calibration: amax of each quantization point = the largest magnitude it takes over the calibration batches.
///
/// Runs the float graph of `BertONNXExporter` node by node (every quantization point is a value there) and keeps
/// one running maximum per point, so memory does not grow with the number of batches.
public struct MaxCalibrator {
    public let exporter: BertONNXExporter
    private let executor: GraphExecutor
    private let points: [String]
    private var amax: [String: Float] = [:]

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
        var seen: [String: Float] = [:]
        _ = try executor.run(feeds) { name, value in
            guard observed.contains(name) else { return }
            seen[name] = value.floats.reduce(Float(0)) { max($0, abs($1)) }
        }
        for point in points {
            let value = QuantizationPoint.observedValue(point)
            guard let m = seen[value] else { continue }
            amax[point] = max(amax[point] ?? 0, m)
        }
    }

    /// The scales found so far.
    public func scales(perChannelWeights: Bool = true) -> QuantizationScales {
        QuantizationScales(activations: amax, perChannelWeights: perChannelWeights)
    }
}
