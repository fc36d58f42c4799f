import Foundation
import OctetCore
import OctetONNX

extension GraphPasses {
    /// Folds the shape arithmetic the exporters emit (Shape → Gather → Unsqueeze → Concat → Reshape and kin).
    ///
    /// With the facts of `ShapeInference`:
    /// - a value computed from shapes only whose elements are the same for every input size becomes a constant;
    /// - a Reshape whose target depends on the input sizes gets a constant target instead, with 0 ("copy this
    ///   dimension") where the output keeps the input's dimension and -1 for one remaining symbolic dimension;
    /// - an Expand whose output has its input's shape, and Identity/Dropout, are removed.
    /// Then constant folding and dead-code removal run again, so what hung off the folded values goes too.
    public static func foldShapes(_ graph: ONNXGraph) throws -> ONNXGraph {
        let facts = try ShapeInference.infer(graph)
        var initializers = graph.initializers
        var nodes: [Node] = []
        var rename: [String: String] = [:]
        let graphOutputs = Set(graph.outputs.map(\.name))
        func resolved(_ name: String) -> String { rename[name] ?? name }
        for node in graph.nodes {
            let inputs = node.inputs.map(resolved)
            // Shape-only values that are the same at every size: constants.
            if node.outputs.allSatisfy({ o in o.isEmpty || (facts[o]?.isShapeOnly == true && constantValue(facts[o]) != nil) }),
               node.outputs.contains(where: { !$0.isEmpty }), node.opType != "Constant" {
                for output in node.outputs where !output.isEmpty {
                    let f = facts[output]!
                    let value = constantValue(f)!
                    let shape = f.shape.map { $0!.constant! }
                    initializers[output] = initializer(output, HostTensor(shape: shape, ints: value.map(Int64.init)), type: f.type)
                }
                continue
            }
            switch node.opType {
            case "Reshape" where inputs.count >= 2 && facts[inputs[1]]?.isShapeOnly == true && initializers[inputs[1]] == nil:
                if let target = reshapeTarget(node, input: facts[inputs[0]], output: facts[node.outputs[0]]) {
                    let name = node.outputs[0] + ".shape"
                    initializers[name] = initializer(name, HostTensor(shape: [target.count], ints: target.map(Int64.init)), type: .int64)
                    nodes.append(Node(name: node.name, opType: node.opType, domain: node.domain, inputs: [inputs[0], name],
                                      outputs: node.outputs, attributes: node.attributes.filter { $0.key != "allowzero" }))
                    continue
                }
            case "Expand", "Identity", "Dropout":
                let sameShape = node.opType != "Expand" || {
                    guard let a = facts[inputs[0]]?.shape, let b = facts[node.outputs[0]]?.shape else { return false }
                    return a.count == b.count && zip(a, b).allSatisfy { $0 != nil && $0 == $1 }
                }()
                if sameShape, !graphOutputs.contains(node.outputs[0]), node.outputs.dropFirst().allSatisfy(\.isEmpty) {
                    rename[node.outputs[0]] = inputs[0]
                    continue
                }
            default: break
            }
            nodes.append(Node(name: node.name, opType: node.opType, domain: node.domain, inputs: inputs, outputs: node.outputs,
                              attributes: node.attributes))
        }
        let folded = ONNXGraph(path: graph.path, irVersion: graph.irVersion, producer: graph.producer, opsets: graph.opsets,
                               inputs: graph.inputs, outputs: graph.outputs, initializers: initializers, nodes: nodes)
        return try foldConstants(folded)
    }

    /// The elements of a value when they are the same at every input size.
    static func constantValue(_ facts: ValueFacts?) -> [Int]? {
        guard let f = facts, let value = f.value, f.shape.allSatisfy({ $0?.constant != nil }) else { return nil }
        let constants = value.compactMap { $0?.constant }
        return constants.count == value.count ? constants : nil
    }

    /// A constant Reshape target giving the same output shape at every input size, or nil.
    static func reshapeTarget(_ node: Node, input: ValueFacts?, output: ValueFacts?) -> [Int]? {
        guard let input, let output, output.shape.allSatisfy({ $0 != nil }) else { return nil }
        var target: [Int] = []
        var inferred = false
        for (i, d) in output.shape.enumerated() {
            if let c = d!.constant, c > 0 {
                target.append(c)
            } else if i < input.shape.count, input.shape[i] == d {
                target.append(0)
            } else if !inferred, d!.constant == nil {
                target.append(-1)
                inferred = true
            } else {
                return nil
            }
        }
        return target
    }
}
