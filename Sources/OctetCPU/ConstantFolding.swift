import Foundation
import OctetCore
import OctetONNX

/// Graph passes that need to evaluate ops, so they live beside the executor that evaluates them.
public enum GraphPasses {
    /// Tensors above this many elements are left to be computed at run time rather than stored.
    static let foldLimit = 1 << 22

    /// Constant folding and dead-code removal.
    ///
    /// Every node whose inputs are all constants (initializers, or outputs of nodes already folded) is evaluated once
    /// with the executor's own op code, so a folded graph computes bit for bit what the original computes; its
    /// outputs become initializers. Then every node that no graph output depends on is dropped, and so is every
    /// initializer no remaining node reads.
    ///
    /// With `keepQuantizedWeights` (the default), DequantizeLinear of a constant stays: fusion turns it and the
    /// MatMul it feeds into an INT8 operation on the quantized weights themselves.
    public static func foldConstants(_ graph: ONNXGraph, keepQuantizedWeights: Bool = true) throws -> ONNXGraph {
        let executor = try GraphExecutor(graph: graph, threads: 1)
        var constants: [String: HostTensor] = [:]
        var types: [String: ONNXDataType] = [:]
        var remaining: [Node] = []
        func isConstant(_ name: String) -> Bool { name.isEmpty || constants[name] != nil || graph.initializers[name] != nil }
        for node in executor.order {
            guard node.inputs.allSatisfy(isConstant), !(keepQuantizedWeights && node.opType == "DequantizeLinear") else {
                remaining.append(node)
                continue
            }
            let args = try node.inputs.map { name -> HostTensor? in
                if name.isEmpty { return nil }
                if let c = constants[name] { return c }
                return try GraphExecutor.hostTensor(graph.initializers[name]!, source: graph.path)
            }
            let outputs: [HostTensor]
            do {
                outputs = try executor.evaluate(node, args)
            } catch let error as OpError {
                throw OctetError.malformed(graph.path, "node '\(node.name)' (\(node.opType)) failed on constant inputs: \(error.message)")
            }
            guard outputs.allSatisfy({ $0.count <= foldLimit }) else { remaining.append(node); continue }
            for (name, value) in zip(node.outputs, outputs) where !name.isEmpty {
                constants[name] = value
                types[name] = outputType(node, value, executor: executor)
            }
        }
        // Dead code: walk back from the graph outputs.
        var needed = Set(graph.outputs.map(\.name))
        var kept: [Node] = []
        for node in remaining.reversed() where node.outputs.contains(where: { needed.contains($0) }) {
            kept.append(node)
            for input in node.inputs where !input.isEmpty { needed.insert(input) }
        }
        kept.reverse()
        var initializers: [String: Initializer] = [:]
        for name in needed {
            if let original = graph.initializers[name] {
                initializers[name] = original
            } else if let value = constants[name] {
                initializers[name] = initializer(name, value, type: types[name] ?? .float)
            }
        }
        return ONNXGraph(path: graph.path, irVersion: graph.irVersion, producer: graph.producer, opsets: graph.opsets,
                         inputs: graph.inputs, outputs: graph.outputs, initializers: initializers, nodes: kept)
    }

    /// The ONNX type of a folded value: a Constant's tensor type, a Cast's target, else by storage (float32, int64,
    /// bool).
    static func outputType(_ node: Node, _ value: HostTensor, executor: GraphExecutor) -> ONNXDataType {
        if node.opType == "Constant", case .tensor(let t)? = node.attributes["value"] { return t.dataType }
        if node.opType == "Cast", case .int(let to)? = node.attributes["to"], let type = ONNXDataType(rawValue: to) { return type }
        switch value.storage {
        case .float: return .float
        case .int: return .int64
        case .bool: return .bool
        }
    }

    static func initializer(_ name: String, _ value: HostTensor, type: ONNXDataType) -> Initializer {
        var data = Data()
        switch type {
        case .int32: value.ints.map { Int32(truncatingIfNeeded: $0) }.withUnsafeBytes { data.append(contentsOf: $0) }
        case .int8: data.append(contentsOf: value.ints.map { UInt8(bitPattern: Int8(truncatingIfNeeded: $0)) })
        case .uint8: data.append(contentsOf: value.ints.map { UInt8(truncatingIfNeeded: $0) })
        case .bool: data.append(contentsOf: value.bools.map { $0 ? 1 : 0 })
        case .float: value.floats.withUnsafeBytes { data.append(contentsOf: $0) }
        case .int64: value.ints.withUnsafeBytes { data.append(contentsOf: $0) }
        default:
            // Other types are stored as what the executor holds them in.
            switch value.storage {
            case .float: return initializer(name, value, type: .float)
            case .int: return initializer(name, value, type: .int64)
            case .bool: return initializer(name, value, type: .bool)
            }
        }
        return ONNXGraph.owned(name, type, value.shape, data)
    }
}
