import OctetCore
import OctetText

/// One model input window of a SQuAD example, built as Hugging Face's `run_qa.py` builds validation features.
public struct SQuADFeature: Sendable {
    /// Index of the example (question) in the dataset.
    public let exampleIndex: Int
    public let inputIDs: [Int32]
    public let tokenTypeIDs: [Int32]
    public let attentionMask: [Int32]
    /// For each position: the context's scalar range the token covers, or nil outside the context.
    public let contextOffsets: [Range<Int>?]
}

/// Builds features: `[CLS] question [SEP] context-window [SEP]`, padded to `maxSequenceLength`.
///
/// The question is left-stripped and never truncated. When the context does not fit, it is split into windows of
/// `maxSequenceLength − question tokens − 3` tokens starting every `window − docStride` tokens, the last one ending
/// at the context's end — the overflowing-token behaviour of Hugging Face tokenizers with `truncation="only_second"`
/// and `stride=docStride`.
///
/// Before windowing, the context is cut to its first `maxSequenceLength` tokens, extended to the end of the word the
/// cut falls in (`truncatesContext`, on by default). That is what the Hugging Face stack that produced the reference
/// predictions did (transformers 5.17; 5.24 windows the whole context): its 64 reference features, its feature counts
/// on SQuAD dev (10,753 at 384/128 and 18,881 at 128/32, against 10,784 and 22,538 without the cut) and its answers
/// that end in a word cut at the limit ("technology incidental", token 128 of its context) all show it.
public struct SQuADFeatureBuilder: Sendable {
    public let tokenizer: BertTokenizer
    public let maxSequenceLength: Int
    public let docStride: Int
    /// Whether the context is cut to `maxSequenceLength` tokens before windowing (see above).
    public let truncatesContext: Bool

    public init(tokenizer: BertTokenizer, maxSequenceLength: Int = 384, docStride: Int = 128, truncatesContext: Bool = true) throws {
        guard maxSequenceLength >= 8 else {
            throw OctetError.invalidArgument("--max-seq-length must be at least 8, not \(maxSequenceLength)")
        }
        guard docStride >= 0, docStride < maxSequenceLength else {
            throw OctetError.invalidArgument("--doc-stride must be in 0..<\(maxSequenceLength), not \(docStride)")
        }
        self.tokenizer = tokenizer
        self.maxSequenceLength = maxSequenceLength
        self.docStride = docStride
        self.truncatesContext = truncatesContext
    }

    /// Features for every example of `dataset`, in order; contexts are tokenized once each.
    public func features(for dataset: SQuADDataset) throws -> [SQuADFeature] {
        var contextTokens: [Int: [Token]] = [:]
        var features: [SQuADFeature] = []
        features.reserveCapacity(dataset.examples.count + dataset.examples.count / 20)
        for (index, example) in dataset.examples.enumerated() {
            let context: [Token]
            if let cached = contextTokens[example.contextIndex] {
                context = cached
            } else {
                context = tokenizer.tokenize(dataset.contexts[example.contextIndex])
                contextTokens[example.contextIndex] = context
            }
            features += try self.features(question: example.question, contextTokens: context, exampleIndex: index, id: example.id)
        }
        return features
    }

    /// Features for one question over an already tokenized context.
    public func features(question: String, contextTokens allContextTokens: [Token], exampleIndex: Int, id: String) throws -> [SQuADFeature] {
        var q = tokenizer.tokenize(String(question.drop(while: { $0.unicodeScalars.allSatisfy(\.isPythonWhitespace) })))
        var contextTokens = allContextTokens[...]
        if truncatesContext {
            q = Array(q.prefix(maxSequenceLength))
            contextTokens = contextTokens.prefix(wholeWordLength(contextTokens, atLeast: maxSequenceLength))
        }
        let budget = maxSequenceLength - q.count - 3
        guard budget > 0 else {
            throw OctetError.invalidArgument("question \(id) has \(q.count) tokens, too many for --max-seq-length \(maxSequenceLength)")
        }
        var windows: [Range<Int>] = []
        if contextTokens.count <= budget {
            windows = [0..<contextTokens.count]
        } else {
            guard docStride < budget else {
                throw OctetError.invalidArgument("question \(id) leaves \(budget) context tokens per window, not more than --doc-stride \(docStride)")
            }
            var start = 0
            while true {
                let stop = min(start + budget, contextTokens.count)
                windows.append(start..<stop)
                if stop == contextTokens.count { break }
                start += budget - docStride
            }
        }
        return windows.map { window in
            var ids: [Int32] = [tokenizer.classifierID] + q.map(\.id) + [tokenizer.separatorID]
            var types = [Int32](repeating: 0, count: ids.count)
            var offsets = [Range<Int>?](repeating: nil, count: ids.count)
            for token in contextTokens[window] {
                ids.append(token.id)
                types.append(1)
                offsets.append(token.start..<token.end)
            }
            ids.append(tokenizer.separatorID)
            types.append(1)
            offsets.append(nil)
            let real = ids.count
            let pad = maxSequenceLength - real
            ids += [Int32](repeating: tokenizer.paddingID, count: pad)
            types += [Int32](repeating: 0, count: pad)
            offsets += [Range<Int>?](repeating: nil, count: pad)
            let mask = [Int32](repeating: 1, count: real) + [Int32](repeating: 0, count: pad)
            return SQuADFeature(exampleIndex: exampleIndex, inputIDs: ids, tokenTypeIDs: types, attentionMask: mask, contextOffsets: offsets)
        }
    }

    /// `count`, extended past the `##` continuations of the word that token `count − 1` starts or continues.
    func wholeWordLength(_ tokens: ArraySlice<Token>, atLeast count: Int) -> Int {
        guard tokens.count > count else { return tokens.count }
        var end = count
        let vocabulary = tokenizer.vocabulary.tokens
        while end < tokens.count, vocabulary[Int(tokens[tokens.startIndex + end].id)].hasPrefix("##") { end += 1 }
        return end
    }

}
