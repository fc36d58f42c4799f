/// Turns per-feature start/end logits into one answer per question, as Hugging Face's
/// `postprocess_qa_predictions` does for SQuAD v1.1.
///
/// For every feature of an example: the `nBest` positions with the highest start logits and the `nBest` with the
/// highest end logits (over all positions, padding included, in descending order); every pair whose both ends lie in
/// the context, with end ≥ start and at most `maxAnswerLength` tokens, is a candidate scored start + end logit (in
/// float32). The answer is the text of the highest-scoring candidate over all features, the first one found on a tie;
/// "empty" when there is none.
public struct SQuADPostProcessor: Sendable {
    public var nBest: Int
    public var maxAnswerLength: Int

    public init(nBest: Int = 20, maxAnswerLength: Int = 30) {
        self.nBest = nBest
        self.maxAnswerLength = maxAnswerLength
    }

    /// The best candidate of one feature, or nil: (score, context scalar range).
    func bestSpan(feature: SQuADFeature, start: ArraySlice<Float>, end: ArraySlice<Float>) -> (score: Float, range: Range<Int>)? {
        let starts = topIndices(start)
        let ends = topIndices(end)
        var best: (score: Float, range: Range<Int>)? = nil
        let offsets = feature.contextOffsets
        for s in starts {
            guard let first = offsets[s] else { continue }
            for e in ends {
                guard let last = offsets[e], e >= s, e - s + 1 <= maxAnswerLength else { continue }
                let score = start[start.startIndex + s] + end[end.startIndex + e]
                if best == nil || score > best!.score {
                    best = (score, first.lowerBound..<max(first.lowerBound, last.upperBound))
                }
            }
        }
        return best
    }

    /// Indices of the `nBest` largest values, largest first; ties put the higher index first, as reversing
    /// NumPy's ascending argsort does.
    func topIndices(_ values: ArraySlice<Float>) -> [Int] {
        let base = values.startIndex
        var top: [Int] = []
        top.reserveCapacity(nBest + 1)
        for i in 0..<values.count {
            let v = values[base + i]
            if top.count == nBest, let last = top.last, !(v > values[base + last] || (v == values[base + last] && i > last)) { continue }
            var position = top.count
            while position > 0 {
                let other = top[position - 1]
                let ov = values[base + other]
                if v > ov || (v == ov && i > other) { position -= 1 } else { break }
            }
            top.insert(i, at: position)
            if top.count > nBest { top.removeLast() }
        }
        return top
    }

    /// Answers for every example that has features: question id → answer text.
    /// - Parameters:
    ///   - logits: for each feature, its start and end logits (`sequenceLength` each).
    public func predictions(dataset: SQuADDataset, features: [SQuADFeature], start: [[Float]], end: [[Float]]) -> [String: String] {
        var best: [Int: (score: Float, range: Range<Int>)] = [:]
        var seen = Set<Int>()
        for (f, feature) in features.enumerated() {
            seen.insert(feature.exampleIndex)
            guard let candidate = bestSpan(feature: feature, start: start[f][...], end: end[f][...]) else { continue }
            if let current = best[feature.exampleIndex], !(candidate.score > current.score) { continue }
            best[feature.exampleIndex] = candidate
        }
        var predictions: [String: String] = [:]
        for index in seen {
            let example = dataset.examples[index]
            guard let span = best[index]?.range else {
                predictions[example.id] = "empty"
                continue
            }
            let scalars = Array(dataset.contexts[example.contextIndex].unicodeScalars)
            let text = String(String.UnicodeScalarView(scalars[span]))
            predictions[example.id] = text
        }
        return predictions
    }
}
