/// SQuAD v1.1 scores, computed exactly as the official `evaluate-v1.1.py` computes them.
public struct SQuADScore: Sendable, Equatable {
    /// Exact match, in percent of all questions.
    public let exactMatch: Double
    /// Mean token-overlap F1, in percent of all questions.
    public let f1: Double
    /// Questions in the dataset (all counted, answered or not).
    public let total: Int
    /// Questions without a prediction (each scored 0).
    public let unanswered: Int
}

/// The official SQuAD v1.1 evaluation.
///
/// Answers are normalized by lower-casing (Python's `str.lower`, final sigma included), removing ASCII punctuation,
/// replacing the whole words "a", "an" and "the" by a space (word characters as Python's `\w`: letters, numbers,
/// underscore), and collapsing whitespace (Python's `str.split`). Exact match compares normalized strings code point
/// by code point; F1 is the harmonic mean of token precision and recall (multiset overlap). Each question takes its
/// best score over the gold answers; sums run in file order in double precision, as Python's do.
public enum SQuADEvaluator {
    public static func evaluate(dataset: SQuADDataset, predictions: [String: String]) -> SQuADScore {
        var exact = 0
        var f1 = 0.0
        var unanswered = 0
        for example in dataset.examples {
            guard let prediction = predictions[example.id] else {
                unanswered += 1
                continue
            }
            let predicted = normalize(prediction)
            let golds = example.answers.map(normalize)
            if golds.contains(where: { $0 == predicted }) { exact += 1 }
            f1 += golds.map { f1Score(predicted, $0) }.max() ?? 0
        }
        let total = dataset.examples.count
        return SQuADScore(exactMatch: 100.0 * Double(exact) / Double(total), f1: 100.0 * f1 / Double(total),
                          total: total, unanswered: unanswered)
    }

    /// Normalized answer as code points (Swift `String` equality would treat canonically equivalent text as equal;
    /// Python does not).
    public static func normalize(_ text: String) -> [Unicode.Scalar] {
        let lowered = pythonLower(Array(text.unicodeScalars))
        let noPunctuation = lowered.filter { !$0.isASCIIPunctuation }
        // Remove articles: maximal runs of word characters equal to a/an/the become one space.
        var withoutArticles: [Unicode.Scalar] = []
        var i = 0
        while i < noPunctuation.count {
            if isWordCharacter(noPunctuation[i]) {
                var j = i
                while j < noPunctuation.count, isWordCharacter(noPunctuation[j]) { j += 1 }
                let run = noPunctuation[i..<j]
                if run.elementsEqual("a".unicodeScalars) || run.elementsEqual("an".unicodeScalars) || run.elementsEqual("the".unicodeScalars) {
                    withoutArticles.append(" ")
                } else {
                    withoutArticles.append(contentsOf: run)
                }
                i = j
            } else {
                withoutArticles.append(noPunctuation[i])
                i += 1
            }
        }
        return tokens(withoutArticles).joined(separator: [" "]).map { $0 }
    }

    /// F1 of two normalized answers.
    static func f1Score(_ prediction: [Unicode.Scalar], _ gold: [Unicode.Scalar]) -> Double {
        let p = tokens(prediction).map { $0.map(\.value) }
        let g = tokens(gold).map { $0.map(\.value) }
        var counts: [[UInt32]: Int] = [:]
        for t in g { counts[t, default: 0] += 1 }
        var same = 0
        for t in p {
            if let c = counts[t], c > 0 {
                same += 1
                counts[t] = c - 1
            }
        }
        if same == 0 { return 0 }
        let precision = 1.0 * Double(same) / Double(p.count)
        let recall = 1.0 * Double(same) / Double(g.count)
        return (2 * precision * recall) / (precision + recall)
    }

    /// Python's `str.split()`: runs of whitespace separate tokens; none are empty.
    static func tokens(_ text: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
        text.split(whereSeparator: \.isPythonWhitespace)
    }

    /// Python's `\w` for str patterns: alphanumeric (letters L*, or a numeric value) or underscore.
    static func isWordCharacter(_ s: Unicode.Scalar) -> Bool {
        if s.value < 128 {
            let v = s.value
            return (48...57).contains(v) || (65...90).contains(v) || (97...122).contains(v) || v == 95
        }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return true
        default:
            return s.properties.numericType != nil
        }
    }

    /// Python's `str.lower`: full lower-case mappings, with capital sigma becoming final sigma at the end of a word.
    static func pythonLower(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        var out: [Unicode.Scalar] = []
        out.reserveCapacity(text.count)
        for (i, s) in text.enumerated() {
            if s.value < 128 {
                out.append((65...90).contains(s.value) ? Unicode.Scalar(s.value + 32)! : s)
            } else if s.value == 0x3A3 {
                out.append(isFinalSigma(text, i) ? "\u{3C2}" : "\u{3C3}")
            } else {
                out.append(contentsOf: s.properties.lowercaseMapping.unicodeScalars)
            }
        }
        return out
    }

    /// CPython's rule: cased (case-ignorable)* Σ and not followed by (case-ignorable)* cased.
    private static func isFinalSigma(_ text: [Unicode.Scalar], _ i: Int) -> Bool {
        var j = i - 1
        while j >= 0, text[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0, text[j].properties.isCased else { return false }
        var k = i + 1
        while k < text.count, text[k].properties.isCaseIgnorable { k += 1 }
        return k == text.count || !text[k].properties.isCased
    }
}
