import Foundation
import OctetCore

/// One token of tokenized text: its id and the half-open range of Unicode scalars of the original text it came from.
public struct Token: Equatable, Sendable {
    public var id: Int32
    /// Start offset in Unicode scalars (code points) of the original text, as Python string indices count them.
    public var start: Int
    /// End offset (exclusive) in Unicode scalars.
    public var end: Int

    public init(id: Int32, start: Int, end: Int) {
        self.id = id
        self.start = start
        self.end = end
    }
}

/// The BERT tokenizer: Hugging Face's `BertNormalizer` + `BertPreTokenizer` + greedy longest-match WordPiece.
///
/// Normalization, in order: drop NUL, U+FFFD and control/format/unassigned/private-use characters, map whitespace to
/// a space; surround CJK ideographs with spaces; when stripping accents (`strip_accents`, defaulting to
/// `do_lower_case`), decompose (NFD) and drop non-spacing marks; when lower-casing, apply the full Unicode lower-case
/// mapping. Pre-tokenization splits on whitespace and isolates every punctuation character (ASCII punctuation and
/// Unicode P*). WordPiece then takes, from each word, the longest vocabulary entry at each position (`##` marking a
/// continuation); a word with no full cover, or longer than `maxInputCharactersPerWord`, is one `[UNK]`.
/// Every token carries the scalar offsets of the original text it covers. The special tokens (`[CLS]`, `[SEP]`,
/// `[PAD]`, `[UNK]`, `[MASK]`) written literally in the text are matched before normalization, case-sensitively,
/// as Hugging Face's added tokens are.
public struct BertTokenizer: Sendable {
    public let vocabulary: Vocabulary
    public let lowercase: Bool
    public let stripAccents: Bool
    public let handleChineseCharacters: Bool
    public let maxInputCharactersPerWord: Int
    public let unknownID: Int32
    public let classifierID: Int32
    public let separatorID: Int32
    public let paddingID: Int32
    /// Special tokens matched literally in raw text, as scalars, with their ids.
    private let specialTokens: [(scalars: [Unicode.Scalar], id: Int32)]

    public init(vocabulary: Vocabulary, lowercase: Bool = true, stripAccents: Bool? = nil,
                handleChineseCharacters: Bool = true, maxInputCharactersPerWord: Int = 100,
                source: String = "vocabulary") throws {
        self.vocabulary = vocabulary
        self.lowercase = lowercase
        self.stripAccents = stripAccents ?? lowercase
        self.handleChineseCharacters = handleChineseCharacters
        self.maxInputCharactersPerWord = maxInputCharactersPerWord
        unknownID = try vocabulary.require("[UNK]", source: source)
        classifierID = try vocabulary.require("[CLS]", source: source)
        separatorID = try vocabulary.require("[SEP]", source: source)
        paddingID = try vocabulary.require("[PAD]", source: source)
        specialTokens = ["[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"].compactMap { name in
            vocabulary.ids[name].map { (Array(name.unicodeScalars), $0) }
        }
    }

    /// Reads `vocab.txt` and `tokenizer_config.json` (optional; `do_lower_case`, `strip_accents`,
    /// `tokenize_chinese_chars`) from a model folder.
    public init(folder: String) throws {
        let vocabPath = (folder as NSString).appendingPathComponent("vocab.txt")
        let configPath = (folder as NSString).appendingPathComponent("tokenizer_config.json")
        let vocabulary = try Vocabulary(contentsOf: vocabPath)
        var lowercase = true, stripAccents: Bool? = nil, chinese = true
        if FileManager.default.fileExists(atPath: configPath) {
            let json = try FileIO.readJSONObject(configPath, what: "tokenizer config")
            if let v = json["do_lower_case"] as? Bool { lowercase = v }
            if let v = json["strip_accents"] as? Bool { stripAccents = v }
            if let v = json["tokenize_chinese_chars"] as? Bool { chinese = v }
            if let cls = json["tokenizer_class"] as? String, !["BertTokenizer", "BertTokenizerFast"].contains(cls) {
                throw OctetError.unsupported(configPath, "tokenizer_class '\(cls)' is not supported (supported: BertTokenizer, BertTokenizerFast)")
            }
        }
        try self.init(vocabulary: vocabulary, lowercase: lowercase, stripAccents: stripAccents,
                      handleChineseCharacters: chinese, source: vocabPath)
    }

    /// Tokenizes `text` without special tokens.
    public func tokenize(_ text: String) -> [Token] {
        let original = Array(text.unicodeScalars)
        var tokens: [Token] = []
        var word: [Unicode.Scalar] = []
        var origins: [Int] = []  // original scalar index of each normalized scalar of `word`
        func flush() {
            if !word.isEmpty { wordPiece(word, origins, into: &tokens) }
            word.removeAll(keepingCapacity: true)
            origins.removeAll(keepingCapacity: true)
        }
        var skipUntil = 0
        for (index, scalar) in original.enumerated() {
            if index < skipUntil { continue }
            if scalar == "[", let special = specialToken(at: index, in: original) {
                flush()
                let length = special.scalars.count
                tokens.append(Token(id: special.id, start: index, end: index + length))
                skipUntil = index + length
                continue
            }
            // clean_text
            if scalar.value == 0 || scalar.value == 0xFFFD || Self.isControl(scalar) { continue }
            if Self.isWhitespace(scalar) { flush(); continue }
            // handle_chinese_chars: the ideograph becomes a word of its own.
            let isolated = handleChineseCharacters && Self.isChineseCharacter(scalar)
            if isolated { flush() }
            for normalized in normalize(scalar) {
                // Characters produced by normalization are split on again, as the pre-tokenizer sees them.
                if Self.isWhitespace(normalized) { flush(); continue }
                if Self.isPunctuation(normalized) {
                    flush()
                    word.append(normalized)
                    origins.append(index)
                    flush()
                    continue
                }
                word.append(normalized)
                origins.append(index)
            }
            if isolated { flush() }
        }
        flush()
        return tokens
    }

    private func specialToken(at index: Int, in text: [Unicode.Scalar]) -> (scalars: [Unicode.Scalar], id: Int32)? {
        specialTokens.first { special in
            index + special.scalars.count <= text.count && text[index..<(index + special.scalars.count)].elementsEqual(special.scalars)
        }
    }

    // MARK: - Normalization

    private func normalize(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        if scalar.isASCII {
            if lowercase, scalar.value >= 65, scalar.value <= 90 { return [Unicode.Scalar(scalar.value + 32)!] }
            return [scalar]
        }
        var scalars = [scalar]
        if stripAccents {
            scalars = Self.canonicalDecomposition(scalar).filter { $0.properties.generalCategory != .nonspacingMark }
        }
        if lowercase {
            scalars = scalars.flatMap { Array($0.properties.lowercaseMapping.unicodeScalars) }
        }
        return scalars
    }

    private static func canonicalDecomposition(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
        Array(String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars)
    }

    // MARK: - WordPiece

    private func wordPiece(_ word: [Unicode.Scalar], _ origins: [Int], into tokens: inout [Token]) {
        if word.count > maxInputCharactersPerWord {
            tokens.append(Token(id: unknownID, start: origins.first!, end: origins.last! + 1))
            return
        }
        var pieces: [Token] = []
        var start = 0
        while start < word.count {
            var end = word.count
            var found: Int32? = nil
            while start < end {
                var candidate = String(String.UnicodeScalarView(word[start..<end]))
                if start > 0 { candidate = "##" + candidate }
                if let id = vocabulary.ids[candidate] { found = id; break }
                end -= 1
            }
            guard let id = found else {
                tokens.append(Token(id: unknownID, start: origins.first!, end: origins.last! + 1))
                return
            }
            pieces.append(Token(id: id, start: origins[start], end: origins[end - 1] + 1))
            start = end
        }
        tokens.append(contentsOf: pieces)
    }

    // MARK: - Character classes (as Hugging Face tokenizers defines them)

    /// Tab, newline and carriage return count as whitespace; otherwise Unicode White_Space.
    static func isWhitespace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x20, 0x09, 0x0A, 0x0D: return true
        case 0x21...0x7E: return false
        default: return s.properties.isWhitespace
        }
    }

    /// Categories Cc, Cf, Co, Cs, except tab, newline and carriage return.
    static func isControl(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09, 0x0A, 0x0D: return false
        case 0x20...0x7E: return false
        default:
            switch s.properties.generalCategory {
            // Unassigned code points (Cn) are kept, as Hugging Face tokenizers keeps them (they end up in [UNK]).
            case .control, .format, .privateUse, .surrogate: return true
            default: return false
            }
        }
    }

    /// ASCII punctuation (which includes symbols such as `$`, `+`, `^`) or Unicode category P*.
    static func isPunctuation(_ s: Unicode.Scalar) -> Bool {
        if s.isASCII { return s.isASCIIPunctuation }
        switch s.properties.generalCategory {
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
             .initialPunctuation, .finalPunctuation, .otherPunctuation:
            return true
        default:
            return false
        }
    }

    /// The CJK Unified Ideograph blocks BERT isolates (not Hangul, kana or other CJK scripts).
    static func isChineseCharacter(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0x20000...0x2A6DF, 0x2A700...0x2B73F, 0x2B740...0x2B81F,
             0x2B920...0x2CEAF, 0xF900...0xFAFF, 0x2F800...0x2FA1F:
            return true
        default:
            return false
        }
    }
}
