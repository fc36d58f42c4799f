import Foundation
import OctetCore

/// A WordPiece vocabulary: `vocab.txt`, one token per line, the line number being its id.
public struct Vocabulary: Sendable {
    public let tokens: [String]
    public let ids: [String: Int32]

    public init(tokens: [String]) {
        self.tokens = tokens
        var ids: [String: Int32] = [:]
        ids.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where ids[t] == nil { ids[t] = Int32(i) }
        self.ids = ids
    }

    /// Reads `vocab.txt`; a missing or empty file names the path.
    public init(contentsOf path: String) throws {
        let data = try FileIO.read(path, what: "vocabulary")
        guard let text = String(data: data, encoding: .utf8) else {
            throw OctetError.malformed(path, "is not UTF-8 text")
        }
        var lines = text.components(separatedBy: "\n").map { $0.hasSuffix("\r") ? String($0.dropLast()) : $0 }
        if lines.last == "" { lines.removeLast() }
        guard !lines.isEmpty else { throw OctetError.malformed(path, "holds no tokens") }
        self.init(tokens: lines)
    }

    public var count: Int { tokens.count }

    /// The id of `token`, or an error naming the vocabulary if it lacks a required special token.
    func require(_ token: String, source: String) throws -> Int32 {
        guard let id = ids[token] else { throw OctetError.malformed(source, "has no '\(token)' token") }
        return id
    }
}
