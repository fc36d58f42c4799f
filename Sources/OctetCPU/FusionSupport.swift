import Foundation
import OctetCore
import OctetONNX

/// Lookups the fusion patterns need: who produces a value, who reads it, and constant values.
struct GraphIndex {
    let graph: ONNXGraph
    private let producers: [String: Node]
    private let readers: [String: [Node]]
    private let graphInputs: Set<String>

    init(_ graph: ONNXGraph) {
        self.graph = graph
        var producers: [String: Node] = [:]
        var readers: [String: [Node]] = [:]
        for node in graph.nodes {
            for o in node.outputs where !o.isEmpty { producers[o] = node }
            for i in Set(node.inputs) where !i.isEmpty { readers[i, default: []].append(node) }
        }
        for o in graph.outputs { readers[o.name, default: []].append(Node(name: "(graph output)", opType: "", inputs: [], outputs: [])) }
        self.producers = producers
        self.readers = readers
        graphInputs = Set(graph.inputs.map(\.name))
    }

    var path: String { graph.path }
    func producer(_ v: String) -> Node? { producers[v] }
    /// How many nodes (and graph outputs) read `v`.
    func consumers(_ v: String) -> Int { readers[v]?.count ?? 0 }
    func consumerNodes(_ v: String) -> [Node] { readers[v] ?? [] }
    func isGraphInput(_ v: String) -> Bool { graphInputs.contains(v) }
    func initializer(_ v: String) -> Initializer? { graph.initializers[v] }
    func isConstant(_ v: String) -> Bool { graph.initializers[v] != nil }

    /// The single value of a one-element floating-point or integer constant.
    func scalar(_ v: String) -> Float? {
        guard let t = graph.initializers[v], t.count == 1, let h = try? GraphExecutor.hostTensor(t, source: path) else { return nil }
        return h.floats[0]
    }

    func ints(_ v: String) -> [Int64]? {
        guard let t = graph.initializers[v], !t.dataType.isFloatingPoint else { return nil }
        return (try? GraphExecutor.hostTensor(t, source: path))?.ints
    }

    /// For a two-input node with exactly one constant input: (the other input, the constant).
    func splitConstant(_ node: Node) -> (String, String)? {
        guard node.inputs.count == 2 else { return nil }
        let (a, b) = (node.inputs[0], node.inputs[1])
        if isConstant(b) && !isConstant(a) { return (a, b) }
        if isConstant(a) && !isConstant(b) { return (b, a) }
        return nil
    }

    func intAttribute(_ node: Node, _ name: String, _ fallback: Int) -> Int {
        if case .int(let v)? = node.attributes[name] { return v }
        return fallback
    }

    func epsilon(_ node: Node) -> Float {
        if case .float(let v)? = node.attributes["epsilon"] { return v }
        return 1e-5
    }

    /// LayerNormalization over the last axis only.
    func isLastAxis(_ node: Node) -> Bool { intAttribute(node, "axis", -1) == -1 }

    /// ReduceMean over the last axis, keeping it.
    func isLastAxisMean(_ node: Node) -> Bool {
        guard node.opType == "ReduceMean", intAttribute(node, "keepdims", 1) == 1 else { return false }
        if case .ints(let axes)? = node.attributes["axes"] { return axes == [-1] }
        return node.inputs.count > 1 && ints(node.inputs[1]) == [-1]
    }

    /// Softmax over the last axis of a rank-4 tensor (opsets before 13 default to axis 1).
    func softmaxOverLastAxis(_ node: Node) -> Bool {
        let axis = intAttribute(node, "axis", (graph.opsets[""] ?? 13) >= 13 ? -1 : 1)
        return axis == -1 || axis == 3
    }

    /// True when `v` is a MatMul's output, possibly scaled by constants.
    func reachesMatMul(_ v: String) -> Bool {
        var v = v, scale: Float = 1
        return stripScale(&v, scale: &scale)?.opType == "MatMul"
    }

    /// Walks back from `v` through multiplications and divisions by scalar constants, folding them into `scale`;
    /// returns the first other producer (and leaves `v` at its output).
    func stripScale(_ v: inout String, scale: inout Float) -> Node? {
        while let p = producer(v) {
            guard p.opType == "Mul" || p.opType == "Div", let (x, c) = splitConstant(p), let k = scalar(c),
                  p.opType == "Mul" || p.inputs[1] == c else { return p }
            scale = p.opType == "Mul" ? scale * k : scale / k
            v = x
        }
        return nil
    }

    /// The scale of a symmetric int8 FakeQuant producing `v`, if one does.
    func symmetricInt8FakeQuant(_ v: String) -> Float? {
        guard let p = producer(v), p.domain == FusedOps.domain, p.opType == "FakeQuant", case .int(0)? = p.attributes["zero_point"],
              case .int(-128)? = p.attributes["qmin"], case .int(127)? = p.attributes["qmax"],
              case .float(let s)? = p.attributes["scale"] else { return nil }
        return s
    }

    /// The scale of a uint8 FakeQuant with zero point 0 producing `v`, if one does.
    func unsignedUInt8FakeQuant(_ v: String) -> Float? {
        guard let p = producer(v), p.domain == FusedOps.domain, p.opType == "FakeQuant", case .int(0)? = p.attributes["zero_point"],
              case .int(0)? = p.attributes["qmin"], case .int(255)? = p.attributes["qmax"],
              case .float(let s)? = p.attributes["scale"] else { return nil }
        return s
    }

    /// The [batch, sequence, hidden] value a head-split operand of an attention product comes from, its layout as
    /// symbolic axes, the constant scale applied on the way, and the scale of a symmetric int8 fake quantization on
    /// the way, expressed on the unscaled source (fq_s(c·x) = c·fq_{s/c}(x)).
    func headSource(_ v: String, facts: [String: ValueFacts]) -> (String, [[String]], Float, Float?)? {
        var chain: [Node] = []
        var v = v, scale: Float = 1
        var quantScale: Float?
        while let p = producer(v) {
            if p.opType == "Reshape" || p.opType == "Transpose" {
                chain.insert(p, at: 0)
                v = p.inputs[0]
            } else if (p.opType == "Mul" || p.opType == "Div"), let (x, c) = splitConstant(p), let k = scalar(c),
                      p.opType == "Mul" || p.inputs[1] == c {
                scale = p.opType == "Mul" ? scale * k : scale / k
                if let q = quantScale { quantScale = p.opType == "Mul" ? q / k : q * k }
                v = x
            } else if let s = symmetricInt8FakeQuant(v) {
                guard quantScale == nil else { return nil }
                quantScale = s
                v = p.inputs[0]
            } else {
                break
            }
        }
        guard !chain.isEmpty, let shape = facts[v]?.shape, shape.count == 3, shape[2]?.constant != nil else { return nil }
        var layout = AxisLayout(start: [["b"], ["s"], ["h"]], facts: facts, base: v)
        for node in chain { guard layout.apply(node, g: self, facts: facts) else { return nil } }
        return (v, layout.groups, scale, quantScale)
    }
}

/// A tensor's dimensions as groups of named axes, replayed through Reshape and Transpose.
///
/// The base value [batch, sequence, hidden] has axes `b`, `s` and `h`. A Reshape that splits an axis of constant size
/// N into m × N/m names the parts `A:0:m` (outer) and `A:1:N/m` (inner); a Reshape that merges groups them; a
/// Transpose permutes the groups. Two chains that end with equal groups put every element in the same place.
struct AxisLayout {
    var groups: [[String]]
    private var sizes: [String: SymbolicDim]

    init(start: [[String]], facts: [String: ValueFacts], base: String) {
        groups = start
        let shape = facts[base]?.shape ?? []
        sizes = [:]
        for (i, name) in ["b", "s", "h"].enumerated() where i < shape.count { if let d = shape[i] { sizes[name] = d } }
    }

    /// The outer size m of a split axis `A:0:m`.
    static func splitFactor(_ atom: String) -> Int? {
        let parts = atom.split(separator: ":")
        return parts.count >= 3 && parts[parts.count - 2] == "0" ? Int(parts.last!) : nil
    }

    private func size(_ atom: String) -> SymbolicDim? {
        if let s = sizes[atom] { return s }
        return Int(atom.split(separator: ":").last ?? "").map { SymbolicDim($0) }
    }

    mutating func apply(_ node: Node, g: GraphIndex, facts: [String: ValueFacts]) -> Bool {
        switch node.opType {
        case "Transpose":
            let perm: [Int]
            if case .ints(let p)? = node.attributes["perm"] { perm = p } else { perm = Array(groups.indices.reversed()) }
            guard perm.count == groups.count, Set(perm) == Set(groups.indices) else { return false }
            groups = perm.map { groups[$0] }
            return true
        case "Reshape":
            guard let shape = facts[node.outputs[0]]?.shape, shape.allSatisfy({ $0 != nil }) else { return false }
            var atoms = groups.flatMap { $0 }.filter { size($0) != SymbolicDim(1) }
            var result: [[String]] = []
            for dim in shape {
                var need = dim!
                var group: [String] = []
                while need != SymbolicDim(1) {
                    guard let atom = atoms.first, let s = size(atom) else { return false }
                    if let rest = need.dividing(by: s) {
                        group.append(atom)
                        atoms.removeFirst()
                        need = rest
                    } else if let n = need.constant, let total = s.constant, n > 0, total % n == 0, total > n {
                        // Split the axis: the outer part goes to this dimension, the inner stays for the next.
                        let outer = "\(atom):0:\(n)", inner = "\(atom):1:\(total / n)"
                        sizes[outer] = SymbolicDim(n)
                        sizes[inner] = SymbolicDim(total / n)
                        group.append(outer)
                        atoms[0] = inner
                        need = SymbolicDim(1)
                    } else {
                        return false
                    }
                }
                result.append(group)
            }
            guard atoms.isEmpty else { return false }
            groups = result
            return true
        default:
            return false
        }
    }
}

extension SymbolicDim {
    /// `self / divisor` when the divisor is a single term dividing every term exactly; nil otherwise.
    func dividing(by divisor: SymbolicDim) -> SymbolicDim? {
        guard divisor.terms.count == 1, let (monomial, c) = divisor.terms.first, c != 0 else { return nil }
        var result: [[String]: Int] = [:]
        for (m, k) in terms {
            guard k % c == 0 else { return nil }
            var rest = m
            for symbol in monomial {
                guard let i = rest.firstIndex(of: symbol) else { return nil }
                rest.remove(at: i)
            }
            result[rest, default: 0] += k / c
        }
        return SymbolicDim(terms: result)
    }
}
