import Foundation
import OctetCore
import OctetONNX

/// A dimension as a polynomial in the graph's symbolic input dimensions: a constant plus multiples of each symbol
/// and of each product of two symbols (`batch*sequence` is what a flattened [batch, sequence, hidden] has).
public struct SymbolicDim: Hashable, Sendable, CustomStringConvertible {
    /// Coefficient by monomial; a monomial is a sorted list of symbol names, `[]` for the constant term.
    public let terms: [[String]: Int]

    public init(_ constant: Int) { terms = constant == 0 ? [:] : [[]: constant] }
    public init(symbol: String) { terms = [[symbol]: 1] }
    init(terms: [[String]: Int]) { self.terms = terms.filter { $0.value != 0 } }

    /// The value when the dimension does not depend on any symbol.
    public var constant: Int? { terms.keys.allSatisfy(\.isEmpty) ? terms[[]] ?? 0 : nil }

    public var description: String {
        if let c = constant { return "\(c)" }
        let parts = terms.sorted { ($0.key.count, $0.key.joined()) > ($1.key.count, $1.key.joined()) }.map { monomial, c in
            let name = monomial.joined(separator: "*")
            return name.isEmpty ? "\(c)" : c == 1 ? name : "\(c)*\(name)"
        }
        return parts.joined(separator: "+").replacingOccurrences(of: "+-", with: "-")
    }
}

/// What shape inference knows about one value.
public struct ValueFacts: Sendable {
    /// The ONNX element type.
    public var type: ONNXDataType
    /// The shape; a nil dimension is one no polynomial of the input symbols describes.
    public var shape: [SymbolicDim?]
    /// The elements of a small integer tensor computed from shapes and constants only (the exporters' shape
    /// arithmetic), each as a polynomial of the input symbols; nil otherwise.
    public var value: [SymbolicDim?]?
    /// True when the value depends on the graph inputs' shapes only, never on their contents.
    public var isShapeOnly: Bool
}

/// Shape and type inference by probing.
///
/// Types follow each op's static rule. Shapes are found by running the graph with the executor's own op code on
/// several tiny inputs (the symbolic dimensions of the graph inputs set to different small sizes per probe) and
/// fitting every output dimension, and every element of every small shape-derived integer tensor, as a polynomial
/// in the symbols (constant, linear and pairwise-product terms). A fit is accepted only when it reproduces every
/// probe exactly, and there are two more probes than unknown coefficients, so an accepted fit is not a coincidence
/// of the chosen sizes. Probing with the executor rather than per-op shape rules means inference and execution can
/// never disagree, whatever ops and opsets the graph uses.
public enum ShapeInference {
    /// Tensors with at most this many elements have their values tracked.
    static let valueLimit = 64

    /// Facts for every value of `graph`: graph inputs, initializers and node outputs.
    public static func infer(_ graph: ONNXGraph) throws -> [String: ValueFacts] {
        let executor = try GraphExecutor(graph: graph, threads: 1)
        return try infer(graph, executor: executor)
    }

    static func infer(_ graph: ONNXGraph, executor: GraphExecutor) throws -> [String: ValueFacts] {
        // The symbols: every named or unknown input dimension.
        var symbols: [String] = []
        var inputDims: [String: [(symbol: String?, size: Int)]] = [:]
        for input in graph.inputs {
            guard let shape = input.shape else {
                throw OctetError.unsupported(graph.path, "graph input '\(input.name)' has no shape, so Octet cannot infer shapes")
            }
            inputDims[input.name] = shape.enumerated().map { i, d in
                switch d {
                case .fixed(let n): return (nil, n)
                case .symbol(let s):
                    if !symbols.contains(s) { symbols.append(s) }
                    return (s, 0)
                case .unknown:
                    let s = "\(input.name).\(i)"
                    symbols.append(s)
                    return (s, 0)
                }
            }
        }
        var monomials: [[String]] = [[]] + symbols.map { [$0] }
        for i in symbols.indices { for j in symbols.indices where j > i { monomials.append([symbols[i], symbols[j]].sorted()) } }
        let probes = symbols.isEmpty ? 1 : monomials.count + 2
        // Sizes 2...9, different per probe and per symbol.
        let sizes: [[String: Int]] = (0..<probes).map { p in
            Dictionary(uniqueKeysWithValues: symbols.enumerated().map { j, s in (s, 2 + (p * (3 + 2 * j) + 5 * j + p * p) % 8) })
        }
        let types = elementTypes(graph)
        var shapes: [String: [[Int]]] = [:]
        var values: [String: [[Int64]]] = [:]
        func record(_ name: String, _ t: HostTensor) {
            shapes[name, default: []].append(t.shape)
            if t.count <= valueLimit, case .int(let v) = t.storage { values[name, default: []].append(v) }
        }
        for p in 0..<probes {
            var inputs: [String: HostTensor] = [:]
            for input in graph.inputs {
                let shape = inputDims[input.name]!.map { $0.symbol.map { sizes[p][$0]! } ?? $0.size }
                let tensor = probeInput(input, shape: shape)
                inputs[input.name] = tensor
                record(input.name, tensor)
            }
            do {
                _ = try executor.run(inputs, observe: record)
            } catch let error as OctetError {
                throw OctetError.unsupported(graph.path, "could not infer shapes: a probe run failed (\(error.description))")
            }
        }
        let shapeOnly = shapeOnlyValues(graph)
        let fit = Fitter(monomials: monomials, probes: sizes)
        var facts: [String: ValueFacts] = [:]
        for (name, initializer) in graph.initializers {
            let value: [SymbolicDim?]? = initializer.count <= valueLimit && !initializer.dataType.isFloatingPoint
                ? (try? GraphExecutor.hostTensor(initializer, source: graph.path))?.ints.map { SymbolicDim(Int($0)) } : nil
            facts[name] = ValueFacts(type: initializer.dataType, shape: initializer.shape.map { SymbolicDim($0) }, value: value, isShapeOnly: true)
        }
        for (name, observed) in shapes {
            guard let rank = observed.first?.count, observed.allSatisfy({ $0.count == rank }) else { continue }
            let shape = (0..<rank).map { d in fit.polynomial(observed.map { Int64($0[d]) }) }
            var value: [SymbolicDim?]?
            if let v = values[name], v.count == observed.count, let n = v.first?.count, v.allSatisfy({ $0.count == n }),
               shapeOnly.contains(name) {
                value = (0..<n).map { i in fit.polynomial(v.map { $0[i] }) }
            }
            facts[name] = ValueFacts(type: types[name] ?? .float, shape: shape, value: value, isShapeOnly: shapeOnly.contains(name))
        }
        return facts
    }

    /// A probe input: ids small enough for any vocabulary, token types 0, masks with a padded last position in odd
    /// rows (so masking is exercised), floats in [-1, 1).
    static func probeInput(_ input: ValueInfo, shape: [Int]) -> HostTensor {
        let n = shape.reduce(1, *)
        let name = input.name.lowercased()
        let last = shape.last ?? 1
        switch input.elementType ?? .float {
        case .bool:
            return HostTensor(shape: shape, bools: (0..<n).map { i in !((i / last) % 2 == 1 && i % last == last - 1 && last > 1) })
        case let t where t.isFloatingPoint:
            return HostTensor(shape: shape, floats: (0..<n).map { Float(($0 * 37 + 11) % 64) / 32 - 1 })
        default:
            if name.contains("mask") {
                return HostTensor(shape: shape, ints: (0..<n).map { i in (i / last) % 2 == 1 && i % last == last - 1 && last > 1 ? 0 : 1 })
            }
            if name.contains("type") || name.contains("segment") { return HostTensor(shape: shape, ints: [Int64](repeating: 0, count: n)) }
            if name.contains("position") { return HostTensor(shape: shape, ints: (0..<n).map { Int64($0 % last) }) }
            return HostTensor(shape: shape, ints: (0..<n).map { Int64(2 + ($0 * 7 + 3) % 16) })
        }
    }

    /// Values computed from constants and graph-input shapes only (never from input contents).
    static func shapeOnlyValues(_ graph: ONNXGraph) -> Set<String> {
        var result = Set(graph.initializers.keys)
        var changed = true
        while changed {
            changed = false
            for node in graph.nodes where !node.outputs.allSatisfy({ $0.isEmpty || result.contains($0) }) {
                let ok = node.opType == "Shape" || node.opType == "Size" || node.inputs.allSatisfy { $0.isEmpty || result.contains($0) }
                if ok {
                    for output in node.outputs where !output.isEmpty { result.insert(output) }
                    changed = true
                }
            }
        }
        return result
    }

    /// Each value's ONNX element type by the ops' static rules.
    public static func elementTypes(_ graph: ONNXGraph) -> [String: ONNXDataType] {
        var types: [String: ONNXDataType] = [:]
        for input in graph.inputs { types[input.name] = input.elementType ?? .float }
        for (name, t) in graph.initializers { types[name] = t.dataType }
        let executor = try? GraphExecutor(graph: graph, threads: 1)
        for node in executor?.order ?? graph.nodes {
            func type(_ i: Int) -> ONNXDataType { i < node.inputs.count ? types[node.inputs[i]] ?? .float : .float }
            let result: ONNXDataType
            switch node.opType {
            case "Cast":
                if case .int(let to)? = node.attributes["to"] { result = ONNXDataType(rawValue: to) ?? .float } else { result = .float }
            case "CastLike": result = type(1)
            case "Shape", "Size": result = .int64
            case "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Not", "IsNaN", "IsInf": result = .bool
            case "Constant":
                if case .tensor(let t)? = node.attributes["value"] { result = t.dataType }
                else if node.attributes["value_int"] != nil || node.attributes["value_ints"] != nil { result = .int64 }
                else { result = .float }
            case "ConstantOfShape":
                if case .tensor(let t)? = node.attributes["value"] { result = t.dataType } else { result = .float }
            case "QuantizeLinear": result = executor?.quantizedType(of: node) ?? .uint8
            case "DequantizeLinear": result = type(1)
            case "Where": result = type(1)
            case "EmbedLayerNorm": result = type(2)
            default: result = type(0)
            }
            for output in node.outputs where !output.isEmpty { types[output] = result }
        }
        return types
    }
}

/// Fits per-probe integers as a polynomial of the symbols, exactly or not at all.
private struct Fitter {
    let monomials: [[String]]
    /// Rows of the design matrix: each monomial's value at each probe.
    let rows: [[Double]]

    init(monomials: [[String]], probes: [[String: Int]]) {
        self.monomials = monomials
        rows = probes.map { sizes in monomials.map { m in Double(m.reduce(1) { $0 * sizes[$1]! }) } }
    }

    func polynomial(_ observed: [Int64]) -> SymbolicDim? {
        guard let first = observed.first else { return nil }
        if observed.allSatisfy({ $0 == first }) { return SymbolicDim(Int(first)) }
        // Least squares by the normal equations (tiny systems), then round and check every probe exactly.
        let m = monomials.count
        var a = [[Double]](repeating: [Double](repeating: 0, count: m + 1), count: m)
        for (row, y) in zip(rows, observed) {
            for i in 0..<m {
                for j in 0..<m { a[i][j] += row[i] * row[j] }
                a[i][m] += row[i] * Double(y)
            }
        }
        for col in 0..<m {
            guard let pivot = (col..<m).max(by: { abs(a[$0][col]) < abs(a[$1][col]) }), abs(a[pivot][col]) > 1e-9 else { return nil }
            a.swapAt(col, pivot)
            for r in 0..<m where r != col {
                let f = a[r][col] / a[col][col]
                if f != 0 { for c in col...m { a[r][c] -= f * a[col][c] } }
            }
        }
        let coefficients = (0..<m).map { Int((a[$0][m] / a[$0][$0]).rounded()) }
        for (row, y) in zip(rows, observed) {
            guard zip(row, coefficients).reduce(0, { $0 + Int($1.0) * $1.1 }) == Int(y) else { return nil }
        }
        return SymbolicDim(terms: Dictionary(uniqueKeysWithValues: zip(monomials, coefficients)))
    }
}
