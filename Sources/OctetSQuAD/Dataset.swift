import Foundation
import OctetCore

/// One SQuAD question with its context and gold answers.
public struct SQuADExample: Sendable {
    public let id: String
    public let question: String
    /// Index of the context in `SQuADDataset.contexts` (questions of a paragraph share it).
    public let contextIndex: Int
    /// Gold answer texts (several annotators in dev).
    public let answers: [String]
}

/// A SQuAD v1.1 file: `{"data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}`.
public struct SQuADDataset: Sendable {
    public let path: String
    public let version: String?
    /// Every paragraph's context, in file order.
    public let contexts: [String]
    /// Every question, in file order (the order the official evaluation counts them).
    public let examples: [SQuADExample]

    /// Reads and validates a SQuAD v1.1 JSON file; a missing field names the file and where it is missing.
    public init(contentsOf path: String) throws {
        let json = try FileIO.readJSONObject(path, what: "SQuAD file")
        guard let articles = json["data"] as? [Any] else {
            throw OctetError.malformed(path, "has no \"data\" list of articles")
        }
        var contexts: [String] = []
        var examples: [SQuADExample] = []
        for (a, articleValue) in articles.enumerated() {
            guard let article = articleValue as? [String: Any], let paragraphs = article["paragraphs"] as? [Any] else {
                throw OctetError.malformed(path, "data[\(a)] has no \"paragraphs\" list")
            }
            for (p, paragraphValue) in paragraphs.enumerated() {
                let place = "data[\(a)].paragraphs[\(p)]"
                guard let paragraph = paragraphValue as? [String: Any] else {
                    throw OctetError.malformed(path, "\(place) is not an object")
                }
                guard let context = paragraph["context"] as? String else {
                    throw OctetError.malformed(path, "\(place) has no \"context\" string")
                }
                guard let qas = paragraph["qas"] as? [Any] else {
                    throw OctetError.malformed(path, "\(place) has no \"qas\" list")
                }
                let contextIndex = contexts.count
                contexts.append(context)
                for (q, qaValue) in qas.enumerated() {
                    let qaPlace = "\(place).qas[\(q)]"
                    guard let qa = qaValue as? [String: Any] else {
                        throw OctetError.malformed(path, "\(qaPlace) is not an object")
                    }
                    guard let id = qa["id"] as? String else {
                        throw OctetError.malformed(path, "\(qaPlace) has no \"id\" string")
                    }
                    guard let question = qa["question"] as? String else {
                        throw OctetError.malformed(path, "\(qaPlace) (id \(id)) has no \"question\" string")
                    }
                    guard let answers = qa["answers"] as? [Any] else {
                        throw OctetError.malformed(path, "\(qaPlace) (id \(id)) has no \"answers\" list")
                    }
                    let texts = try answers.enumerated().map { (n, answer) -> String in
                        guard let text = (answer as? [String: Any])?["text"] as? String else {
                            throw OctetError.malformed(path, "\(qaPlace).answers[\(n)] (id \(id)) has no \"text\" string")
                        }
                        return text
                    }
                    examples.append(SQuADExample(id: id, question: question, contextIndex: contextIndex, answers: texts))
                }
            }
        }
        self.path = path
        self.version = json["version"] as? String
        self.contexts = contexts
        self.examples = examples
    }

    private init(path: String, version: String?, contexts: [String], examples: [SQuADExample]) {
        self.path = path
        self.version = version
        self.contexts = contexts
        self.examples = examples
    }

    /// The first `count` questions (with every context, so indices stay valid).
    public func prefix(_ count: Int) -> SQuADDataset {
        SQuADDataset(path: path, version: version, contexts: contexts, examples: Array(examples.prefix(count)))
    }

    /// The questions in `range` (clamped to the dataset).
    public func examples(in range: Range<Int>) -> SQuADDataset {
        let r = min(range.lowerBound, examples.count)..<min(range.upperBound, examples.count)
        return SQuADDataset(path: path, version: version, contexts: contexts, examples: Array(examples[r]))
    }
}

/// Reads and writes prediction files: a JSON object of question id → answer text.
public enum SQuADPredictions {
    public static func read(_ path: String) throws -> [String: String] {
        let json = try FileIO.readJSONObject(path, what: "predictions file")
        var predictions: [String: String] = [:]
        for (id, value) in json {
            guard let text = value as? String else {
                throw OctetError.malformed(path, "the prediction for '\(id)' is not a string")
            }
            predictions[id] = text
        }
        return predictions
    }

    public static func write(_ predictions: [String: String], to path: String) throws {
        try FileIO.writeJSON(predictions, to: path)
    }
}
