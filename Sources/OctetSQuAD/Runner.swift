import Foundation
import OctetCore
import OctetText

/// Progress of a long run, reported after every batch.
public struct Progress: Sendable {
    public let done: Int
    public let total: Int
    public let elapsed: Double

    public init(done: Int, total: Int, elapsed: Double) {
        self.done = done
        self.total = total
        self.elapsed = elapsed
    }

    /// Items per second so far.
    public var rate: Double { elapsed > 0 ? Double(done) / elapsed : 0 }
    /// Seconds left at the current rate.
    public var eta: Double { rate > 0 ? Double(total - done) / rate : 0 }
}

/// The result of evaluating a model on SQuAD.
public struct SQuADRunResult: Sendable {
    public let score: SQuADScore
    public let predictions: [String: String]
    public let featureCount: Int
    /// Seconds spent in the model (excluding tokenization and post-processing).
    public let modelSeconds: Double
    public var featuresPerSecond: Double { modelSeconds > 0 ? Double(featureCount) / modelSeconds : 0 }
}

/// Runs an engine over a SQuAD dataset: features, batched inference, post-processing, official scoring.
public struct SQuADRunner: Sendable {
    public let builder: SQuADFeatureBuilder
    public let postProcessor: SQuADPostProcessor
    public let batchSize: Int

    public init(builder: SQuADFeatureBuilder, postProcessor: SQuADPostProcessor = SQuADPostProcessor(), batchSize: Int) throws {
        guard batchSize >= 1 else { throw OctetError.invalidArgument("--batch must be at least 1, not \(batchSize)") }
        self.builder = builder
        self.postProcessor = postProcessor
        self.batchSize = batchSize
    }

    public func run(engine: any QuestionAnsweringEngine, dataset: SQuADDataset,
                    progress: (Progress) -> Void = { _ in }) throws -> SQuADRunResult {
        let features = try builder.features(for: dataset)
        let s = builder.maxSequenceLength
        guard s <= engine.maxSequenceLength else {
            throw OctetError.invalidArgument("--max-seq-length \(s) exceeds the model's \(engine.maxSequenceLength) positions")
        }
        var starts: [[Float]] = []
        var ends: [[Float]] = []
        starts.reserveCapacity(features.count)
        ends.reserveCapacity(features.count)
        let clock = ContinuousClock()
        let began = clock.now
        var modelTime = Duration.zero
        for first in stride(from: 0, to: features.count, by: batchSize) {
            let slice = features[first..<min(first + batchSize, features.count)]
            let batch = TokenBatch(batchSize: slice.count, sequenceLength: s,
                                   inputIDs: slice.flatMap(\.inputIDs), tokenTypeIDs: slice.flatMap(\.tokenTypeIDs),
                                   attentionMask: slice.flatMap(\.attentionMask))
            let t0 = clock.now
            let logits = try engine.spanLogits(for: batch)
            modelTime += clock.now - t0
            for i in 0..<slice.count {
                starts.append(Array(logits.start[(i * s)..<((i + 1) * s)]))
                ends.append(Array(logits.end[(i * s)..<((i + 1) * s)]))
            }
            progress(Progress(done: starts.count, total: features.count, elapsed: (clock.now - began).seconds))
        }
        let predictions = postProcessor.predictions(dataset: dataset, features: features, start: starts, end: ends)
        return SQuADRunResult(score: SQuADEvaluator.evaluate(dataset: dataset, predictions: predictions),
                              predictions: predictions, featureCount: features.count, modelSeconds: modelTime.seconds)
    }
}
