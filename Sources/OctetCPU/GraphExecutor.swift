import COctetKernels
import Foundation
import OctetCore
import OctetONNX

/// A tensor flowing through `GraphExecutor`: float32, int64 or bool elements, row-major.
public struct HostTensor: Sendable {
    public enum Storage: Sendable {
        case float([Float])
        case int([Int64])
        case bool([Bool])
    }

    public var shape: [Int]
    public var storage: Storage

    public init(shape: [Int], floats: [Float]) { self.shape = shape; storage = .float(floats) }
    public init(shape: [Int], ints: [Int64]) { self.shape = shape; storage = .int(ints) }
    public init(shape: [Int], bools: [Bool]) { self.shape = shape; storage = .bool(bools) }

    public var count: Int { shape.reduce(1, *) }

    public var floats: [Float] {
        switch storage {
        case .float(let v): v
        case .int(let v): v.map { Float($0) }
        case .bool(let v): v.map { $0 ? 1 : 0 }
        }
    }

    public var ints: [Int64] {
        switch storage {
        case .float(let v): v.map { $0.isFinite ? Int64($0) : 0 }
        case .int(let v): v
        case .bool(let v): v.map { $0 ? 1 : 0 }
        }
    }

    public var bools: [Bool] {
        switch storage {
        case .float(let v): v.map { $0 != 0 }
        case .int(let v): v.map { $0 != 0 }
        case .bool(let v): v
        }
    }
}

/// Runs an ONNX graph node by node on the CPU, reusing the CPU backend's kernels for MatMul, LayerNormalization,
/// Softmax and Erf. It is the reference path for imported models: every op of BERT-family exports from both PyTorch
/// exporters at opsets 13–21 that Octet has met so far.
///
/// Checks at load, before anything runs: every op is supported (all unsupported ones reported together, by op type
/// and node name), every input is defined, and the graph has no cycle (nodes are put in dependency order).
public final class GraphExecutor: @unchecked Sendable {
    public let graph: ONNXGraph
    /// Nodes in an order where every input is produced before it is used.
    let order: [Node]
    /// For each value, the index in `order` of its last use (values are freed after it).
    let lastUse: [String: Int]
    let parallel: Parallel
    private var constants: [String: HostTensor] = [:]
    private var packedWeights: [String: PackedMatrix] = [:]
    private var quantizedWeights: [String: [Int8]] = [:]
    /// When false, quantization is not simulated: QuantizeLinear/DequantizeLinear of computed values, FakeQuant and
    /// the quantization attributes of fused ops become identities, QDense multiplies in float, and casts to float16
    /// or bfloat16 (an fp16 residual stream's Cast pairs) keep float32. Fusion checks use this, because with
    /// quantization on, a float rounding difference anywhere can move a value across a rounding boundary of the next
    /// quantizer (or fp16 rounding), and the model's own quantization steps then dominate any comparison.
    var simulatesQuantization = true
    /// Sees the softmax output of every fused Attention node (by node name) as it is computed, per (sequence, head),
    /// with the number of zeros its left-out keys stand for. Called from worker threads at the same time.
    public var attentionProbabilityObserver: (@Sendable (String, UnsafeBufferPointer<Float>, Int) -> Void)?
    /// How QDense multiplies: in int32 on int8 operands, or simulated in float (fake quantization and the float
    /// GEMM, the fast path until the INT8 kernels of the CPU engine land).
    public var quantizedArithmetic: QuantizedArithmetic = .integer
    let attentionKernel = MultiHeadAttention()
    private let lock = NSLock()

    /// Op types this executor runs.
    public static let supportedOps: Set<String> = [
        "Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Reciprocal", "Neg", "Exp", "Log", "Tanh", "Relu", "Erf", "Abs",
        "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual", "And", "Or", "Not", "IsNaN", "IsInf", "Where",
        "Cast", "CastLike", "Constant", "ConstantOfShape", "Shape", "Size", "Gather", "Unsqueeze", "Squeeze",
        "Concat", "Reshape", "Transpose", "Slice", "Split", "Flatten", "Expand", "Range", "Identity", "Dropout",
        "MatMul", "Gemm", "Softmax", "LayerNormalization", "ReduceMean", "ReduceSum", "ReduceMax", "Min", "Max",
        "Clip", "Gelu", "CumSum", "GatherND", "QuantizeLinear", "DequantizeLinear",
    ]

    public init(graph: ONNXGraph, threads: Int? = nil) throws {
        self.graph = graph
        parallel = Parallel(workers: threads ?? ProcessInfo.processInfo.activeProcessorCount)
        let unsupported = graph.nodes.filter { node in
            node.domain == FusedOps.domain ? !FusedOps.names.contains(node.opType)
                : !((node.domain.isEmpty || node.domain == "ai.onnx") && Self.supportedOps.contains(node.opType))
        }
        if !unsupported.isEmpty {
            var byType: [String: [String]] = [:]
            for node in unsupported { byType[(node.domain.isEmpty ? "" : node.domain + ":") + node.opType, default: []].append(node.name) }
            let list = byType.keys.sorted().map { "\($0) (\(byType[$0]!.prefix(3).joined(separator: ", "))\(byType[$0]!.count > 3 ? ", …" : ""))" }
            throw OctetError.unsupported(graph.path, "uses operators Octet does not run: \(list.joined(separator: "; "))")
        }
        // Dependency order (Kahn); values come from graph inputs, initializers or node outputs.
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for output in node.outputs where !output.isEmpty {
                if producer[output] != nil || graph.initializers[output] != nil {
                    throw OctetError.malformed(graph.path, "value '\(output)' is produced twice (again by node '\(node.name)')")
                }
                producer[output] = i
            }
        }
        let available = Set(graph.inputs.map(\.name)).union(graph.initializers.keys)
        var waiting = [Int](repeating: 0, count: graph.nodes.count)
        var consumers: [Int: [Int]] = [:]
        for (i, node) in graph.nodes.enumerated() {
            for input in node.inputs where !input.isEmpty && !available.contains(input) {
                guard let p = producer[input] else {
                    throw OctetError.malformed(graph.path, "node '\(node.name)' reads '\(input)', which no initializer, graph input or node defines")
                }
                waiting[i] += 1
                consumers[p, default: []].append(i)
            }
        }
        var ready = (0..<graph.nodes.count).filter { waiting[$0] == 0 }.reversed().map { $0 }
        var order: [Node] = []
        while let i = ready.popLast() {
            order.append(graph.nodes[i])
            for c in consumers[i] ?? [] {
                waiting[c] -= 1
                if waiting[c] == 0 { ready.append(c) }
            }
        }
        guard order.count == graph.nodes.count else {
            // Nodes left waiting are on a cycle or downstream of one; peel off the downstream ones (no waiting
            // consumer) so the message names the cycle itself.
            var stuck = Set((0..<graph.nodes.count).filter { waiting[$0] > 0 })
            while let tail = stuck.first(where: { (consumers[$0] ?? []).allSatisfy { !stuck.contains($0) } }) { stuck.remove(tail) }
            let names = stuck.sorted().prefix(4).map { "'\(graph.nodes[$0].name)'" }
            throw OctetError.malformed(graph.path, "has a cycle: nodes \(names.joined(separator: ", ")) depend on their own outputs")
        }
        for output in graph.outputs where producer[output.name] == nil && !available.contains(output.name) {
            throw OctetError.malformed(graph.path, "graph output '\(output.name)' is not produced by any node")
        }
        self.order = order
        var lastUse: [String: Int] = [:]
        for (i, node) in order.enumerated() { for input in node.inputs where !input.isEmpty { lastUse[input] = i } }
        for output in graph.outputs { lastUse[output.name] = Int.max }
        self.lastUse = lastUse
    }

    /// Runs the graph on `inputs` (by graph input name) and returns every graph output by name.
    public func run(_ inputs: [String: HostTensor]) throws -> [String: HostTensor] {
        try run(inputs, observe: nil)
    }

    /// Runs the graph; `observe` sees every node output as it is computed (shape probing, calibration, debugging).
    public func run(_ inputs: [String: HostTensor], observe: ((String, HostTensor) -> Void)?) throws -> [String: HostTensor] {
        lock.lock()
        defer { lock.unlock() }
        var values: [String: HostTensor] = [:]
        for input in graph.inputs {
            guard let value = inputs[input.name] else {
                throw OctetError.invalidArgument("graph input '\(input.name)' of \(graph.path) was not given")
            }
            if let shape = input.shape {
                guard shape.count == value.shape.count, zip(shape, value.shape).allSatisfy({ d, n in
                    if case .fixed(let k) = d { return k == n } else { return true }
                }) else {
                    throw OctetError.invalidArgument("graph input '\(input.name)' has shape \(value.shape) but \(graph.path) declares [\(shape.map(\.description).joined(separator: ", "))]")
                }
            }
            values[input.name] = value
        }
        for (index, node) in order.enumerated() {
            let args = try node.inputs.map { name -> HostTensor? in
                if name.isEmpty { return nil }
                if let v = values[name] { return v }
                return try constant(name)
            }
            let outputs: [HostTensor]
            do {
                outputs = try evaluate(node, args)
            } catch let error as OpError {
                throw OctetError.malformed(graph.path, "node '\(node.name)' (\(node.opType)) failed: \(error.message)")
            }
            for (name, value) in zip(node.outputs, outputs) where !name.isEmpty {
                values[name] = value
                observe?(name, value)
            }
            for name in node.inputs where !name.isEmpty && lastUse[name] == index { values[name] = nil }
        }
        var result: [String: HostTensor] = [:]
        for output in graph.outputs { result[output.name] = try values[output.name] ?? constant(output.name) }
        return result
    }

    /// One node's outputs from its inputs: a standard op or one of Octet's fused ops.
    func evaluate(_ node: Node, _ args: [HostTensor?]) throws -> [HostTensor] {
        try node.domain == FusedOps.domain ? executeFused(node, args) : execute(node, args)
    }

    /// An initializer as a host tensor, converted once.
    private func constant(_ name: String) throws -> HostTensor {
        if let c = constants[name] { return c }
        guard let initializer = graph.initializers[name] else {
            throw OctetError.malformed(graph.path, "value '\(name)' is used before it is defined")
        }
        let tensor = try Self.hostTensor(initializer, source: graph.path)
        constants[name] = tensor
        return tensor
    }

    static func hostTensor(_ t: Initializer, source: String) throws -> HostTensor {
        let raw = t.bytes
        let n = t.count
        func load<T>(_ type: T.Type) -> [T] {
            (0..<n).map { raw.loadUnaligned(fromByteOffset: $0 * MemoryLayout<T>.size, as: T.self) }
        }
        switch t.dataType {
        case .float, .float16, .bfloat16, .double:
            return HostTensor(shape: t.shape, floats: t.view!.floats())
        case .int64: return HostTensor(shape: t.shape, ints: load(Int64.self))
        case .int32: return HostTensor(shape: t.shape, ints: load(Int32.self).map { Int64($0) })
        case .int16: return HostTensor(shape: t.shape, ints: load(Int16.self).map { Int64($0) })
        case .int8: return HostTensor(shape: t.shape, ints: load(Int8.self).map { Int64($0) })
        case .uint8: return HostTensor(shape: t.shape, ints: load(UInt8.self).map { Int64($0) })
        case .uint16: return HostTensor(shape: t.shape, ints: load(UInt16.self).map { Int64($0) })
        case .uint32: return HostTensor(shape: t.shape, ints: load(UInt32.self).map { Int64($0) })
        case .uint64: return HostTensor(shape: t.shape, ints: load(UInt64.self).map { Int64(bitPattern: $0) })
        case .bool: return HostTensor(shape: t.shape, bools: load(UInt8.self).map { $0 != 0 })
        default:
            throw OctetError.unsupported(source, "tensor '\(t.name)' has data type \(t.dataType.name), which the CPU graph executor does not run")
        }
    }

    /// The ONNX element type of a constant value: an initializer's, or a Constant node's tensor's.
    func elementType(of name: String) -> ONNXDataType? {
        if let t = graph.initializers[name] { return t.dataType }
        for node in graph.nodes where node.opType == "Constant" && node.outputs.first == name {
            if case .tensor(let t)? = node.attributes["value"] { return t.dataType }
        }
        return nil
    }

    /// An int8 weight as bytes, kept for the executor's life.
    func quantizedWeight(_ name: String, _ w: HostTensor) -> [Int8] {
        if let q = quantizedWeights[name] { return q }
        let q = w.ints.map { Int8(truncatingIfNeeded: $0) }
        quantizedWeights[name] = q
        return q
    }

    /// A packed right-hand side for MatMul with a constant weight, kept for the executor's life.
    func packed(_ name: String, _ b: HostTensor) -> PackedMatrix { packed(name) { b } }

    /// A packed right-hand side made by `make` the first time `name` is asked for.
    func packed(_ name: String, _ make: () -> HostTensor) -> PackedMatrix {
        if let p = packedWeights[name] { return p }
        let b = make()
        let p = b.floats.withUnsafeBufferPointer {
            PackedMatrix($0.baseAddress!, rows: b.shape[0], columns: b.shape[1], rowStride: b.shape[1], columnStride: 1)
        }
        packedWeights[name] = p
        return p
    }
}

/// How quantized products are computed.
public enum QuantizedArithmetic: String, Sendable, CaseIterable {
    /// int8 × int8 → int32, then scaled: what INT8 hardware computes.
    case integer
    /// Operands fake-quantized in float and multiplied with the float GEMM: the same values up to float rounding.
    case simulated
}

/// A failure inside one op, turned into an error naming the node by `run`.
struct OpError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}
