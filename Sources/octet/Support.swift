import ArgumentParser
import Foundation
import OctetCore
import OctetCPU
import OctetQuant
import OctetSQuAD

/// Paths of the shared reference data, relative to the repository root (`../shared` beside the checkout).
enum Defaults {
    static let model = "../shared/models/minilm-l6-squad"
    static let squadDev = "../shared/data/squad/dev-v1.1.json"
    static let squadTrain = "../shared/data/squad/train-v1.1.json"
    /// The reference model's quantization recipe (the README's `octet quantize` command's `--save-scales`).
    static let recipe = "recipes/minilm-l6-squad.json"
}

/// The quantization groups `--float` patterns name (`octet quantize`, `octet bench`); throws for a pattern that names none.
func floatGroups(_ patterns: [String], layers: Int) throws -> Set<String> {
    try patterns.reduce(into: Set<String>()) { groups, pattern in
        let matched = QuantizationGroup.matching(pattern, layers: layers)
        guard !matched.isEmpty else {
            throw OctetError.invalidArgument("--float \(pattern) matches no quantization group; groups look like layer.3.intermediate or layer.0.attention.qk")
        }
        groups.formUnion(matched)
    }
}

/// Runs `body`, turning Octet's typed errors into a one-line message on standard error and exit code 1.
func reportingErrors<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as OctetError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode.failure
    }
}

/// Writes a progress line to standard error: rewritten in place on a terminal, every 10% otherwise.
final class ProgressLine {
    private let label: String
    private let unit: String
    private let isTerminal = isatty(STDERR_FILENO) != 0
    private var lastDraw = 0.0
    private var lastDecile = -1

    init(label: String, unit: String) {
        self.label = label
        self.unit = unit
    }

    func update(_ p: OctetSQuAD.Progress) {
        let finished = p.done == p.total
        if isTerminal {
            guard finished || p.elapsed - lastDraw >= 0.25 else { return }
            lastDraw = p.elapsed
            let line = "\r\(label) \(p.done)/\(p.total) \(unit) · \(String(format: "%.1f", p.rate)) \(unit)/s · ETA \(Self.clock(p.eta))   "
            FileHandle.standardError.write(Data((line + (finished ? "\n" : "")).utf8))
        } else {
            let decile = p.total > 0 ? p.done * 10 / p.total : 10
            guard decile > lastDecile else { return }
            lastDecile = decile
            FileHandle.standardError.write(Data("\(label) \(p.done)/\(p.total) \(unit) · \(String(format: "%.1f", p.rate)) \(unit)/s · ETA \(Self.clock(p.eta))\n".utf8))
        }
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60)
            : String(format: "%dm%02ds", s / 60, s % 60)
    }
}

/// A plain-text table with aligned columns (numbers right-aligned).
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
        "| " + cells.enumerated().map { i, c in
            let pad = String(repeating: " ", count: widths[i] - c.count)
            return Double(c) != nil ? pad + c : c + pad
        }.joined(separator: " | ") + " |"
    }
    let rule = "|" + widths.map { String(repeating: "-", count: $0 + 2) }.joined(separator: "|") + "|"
    return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
}

extension GraphOptimization: ExpressibleByArgument {}
extension QuantizedArithmetic: ExpressibleByArgument {}
