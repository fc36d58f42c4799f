import Foundation
import Testing
import OctetCore
import OctetText

/// One text of the golden file: what Hugging Face's `tokenizers` made of it.
private struct GoldenItem: Decodable {
    let text: String
    let ids: [Int32]
    let offsets: [[Int]]
    let name: String?
}

private struct Golden: Decodable {
    let questions: [GoldenItem]
    let contexts: [GoldenItem]
    let edge_cases: [GoldenItem]

    static let shared: Golden = {
        let url = Bundle.module.url(forResource: "tokenizer-golden", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Golden.self, from: Data(contentsOf: url))
    }()
}

@Suite struct TokenizerTests {
    static let tokenizer = try! BertTokenizer(folder: Shared.model)

    /// Compares ids and offsets item by item; reports the first few mismatches in full.
    private func check(_ items: [GoldenItem], _ kind: String) {
        var mismatches = 0
        for (i, item) in items.enumerated() {
            let tokens = Self.tokenizer.tokenize(item.text)
            let ids = tokens.map(\.id)
            let offsets = tokens.map { [$0.start, $0.end] }
            if ids != item.ids || offsets != item.offsets {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("\(kind) \(i) \(item.name ?? ""): \(item.text.debugDescription)\n  octet ids \(ids) offsets \(offsets)\n  hf    ids \(item.ids) offsets \(item.offsets)")
                }
            }
        }
        #expect(mismatches == 0, "\(mismatches) of \(items.count) \(kind) differ from Hugging Face tokenizers")
    }

    @Test("Ids and offsets equal Hugging Face tokenizers on 5,000 SQuAD train questions")
    func questionsMatchGolden() {
        #expect(Golden.shared.questions.count >= 5000)
        check(Golden.shared.questions, "question")
    }

    @Test("Ids and offsets equal Hugging Face tokenizers on 1,000 SQuAD train contexts")
    func contextsMatchGolden() {
        #expect(Golden.shared.contexts.count >= 1000)
        check(Golden.shared.contexts, "context")
    }

    @Test("Ids and offsets equal Hugging Face tokenizers on Unicode edge cases")
    func edgeCasesMatchGolden() {
        check(Golden.shared.edge_cases, "edge case")
    }

    @Test("Words over 100 characters become one [UNK] covering the word")
    func longWordsBecomeUnknown() throws {
        let word = String(repeating: "a", count: 101)
        let tokens = Self.tokenizer.tokenize("x \(word) y")
        #expect(tokens.count == 3)
        #expect(tokens[1] == Token(id: Self.tokenizer.unknownID, start: 2, end: 103))
    }

    @Test("Without lower-casing, case and accents are kept")
    func casedTokenizerKeepsCase() throws {
        let vocabulary = Vocabulary(tokens: ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "Café", "café", "cafe", "##s"])
        let cased = try BertTokenizer(vocabulary: vocabulary, lowercase: false)
        #expect(cased.tokenize("Café cafés").map(\.id) == [5, 6, 8])
        let uncased = try BertTokenizer(vocabulary: vocabulary, lowercase: true)
        #expect(uncased.tokenize("Café").map(\.id) == [7])
    }
}
