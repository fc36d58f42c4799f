import Foundation
import OctetCore
import OctetONNX

// Fusion of exported transformer graphs into Octet's fused ops (`FusedOps`).
//
// Each rewrite matches a pattern ending at one node and replaces that node alone with the fused op producing the same
// output value; dead-code removal then drops the pattern's other nodes. A pattern node whose output is also used
// elsewhere simply stays alive, so a rewrite can cost duplicate work in an odd graph but never changes a result.
// Layout-changing chains (Reshape/Transpose between the projections and the attention products) are checked by
// replaying them on symbolic axes (`AxisLayout`) with the shapes from `ShapeInference`, and the whole fused graph is
// run against the unfused one on probe inputs before it is returned.

extension GraphPasses {
    /// Fuses a folded graph (see `foldShapes`) into embedding + LayerNorm, multi-head attention with its mask,
    /// residual + LayerNorm, and MatMul + bias (+ GELU) operations, with Q, K and V projections merged into one.
    ///
    /// Tolerance: the fused graph's outputs are checked against the unfused graph's on two probe input sizes, with
    /// quantization simulation off in both (see `GraphExecutor.simulatesQuantization`); a difference above 1e-4
    /// (relative to the output's largest magnitude, or absolute below 1) is an error. The quantized numerics of the
    /// fused ops themselves are tested op by op against QuantizeLinear/DequantizeLinear.
    public static func fuse(_ graph: ONNXGraph) throws -> ONNXGraph {
        let facts = try ShapeInference.infer(graph)
        var g = graph
        g = try rewrite(g) { index, node in try canonicalLayerNorm(index, node) }
        g = try rewrite(g) { index, node in canonicalGelu(index, node) }
        g = try rewrite(g) { index, node in fakeQuant(index, node) }
        g = try rewrite(g) { index, node in dense(index, node) }
        // Quantized weights no INT8 op took are dequantized once, and their MatMuls become float Dense ops.
        g = try foldConstants(g, keepQuantizedWeights: false)
        g = try rewrite(g) { index, node in dense(index, node) }
        g = try rewrite(g) { index, node in attention(index, node, facts: facts) }
        g = try rewrite(g) { index, node in skipLayerNorm(index, node, facts: facts) }
        g = try rewrite(g) { index, node in quantizedAdd(index, node) }
        g = try rewrite(g) { index, node in try embedLayerNorm(index, node) }
        g = try mergeProjections(g)
        try verify(g, against: graph)
        return g
    }

    /// Applies `match` to every node; a non-nil result replaces the node. Then removes dead code.
    static func rewrite(_ graph: ONNXGraph, _ match: (GraphIndex, Node) throws -> Rewrite?) throws -> ONNXGraph {
        let index = GraphIndex(graph)
        var initializers = graph.initializers
        var nodes: [Node] = []
        for node in graph.nodes {
            if let r = try match(index, node) {
                nodes += r.extra
                nodes.append(r.node)
                for (name, t) in r.initializers { initializers[name] = t }
            } else {
                nodes.append(node)
            }
        }
        return removeDeadCode(ONNXGraph(path: graph.path, irVersion: graph.irVersion, producer: graph.producer,
                                        opsets: graph.opsets, inputs: graph.inputs, outputs: graph.outputs,
                                        initializers: initializers, nodes: nodes))
    }

    /// A replacement node and any initializers it adds.
    struct Rewrite {
        var node: Node
        var initializers: [String: Initializer] = [:]
        /// Nodes the replacement needs, placed before it.
        var extra: [Node] = []
    }

    /// Drops nodes no graph output depends on, and initializers no node reads.
    static func removeDeadCode(_ graph: ONNXGraph) -> ONNXGraph {
        var producer: [String: Int] = [:]
        for (i, node) in graph.nodes.enumerated() { for o in node.outputs where !o.isEmpty { producer[o] = i } }
        var needed = Set(graph.outputs.map(\.name))
        var live = Set<Int>()
        var stack = Array(needed)
        while let v = stack.popLast() {
            guard let i = producer[v], live.insert(i).inserted else { continue }
            for input in graph.nodes[i].inputs where !input.isEmpty && needed.insert(input).inserted { stack.append(input) }
        }
        let nodes = graph.nodes.indices.filter { live.contains($0) }.map { graph.nodes[$0] }
        let used = Set(nodes.flatMap(\.inputs)).union(graph.outputs.map(\.name))
        var opsets = graph.opsets
        if nodes.contains(where: { $0.domain == FusedOps.domain }) { opsets[FusedOps.domain] = 1 }
        return ONNXGraph(path: graph.path, irVersion: graph.irVersion, producer: graph.producer, opsets: opsets,
                         inputs: graph.inputs, outputs: graph.outputs,
                         initializers: graph.initializers.filter { used.contains($0.key) }, nodes: nodes)
    }

    // MARK: - Canonical forms

    /// ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div/Mul/Add (the TorchScript exporter's LayerNorm before opset 17)
    /// → LayerNormalization. Matched at the final Add.
    static func canonicalLayerNorm(_ g: GraphIndex, _ node: Node) throws -> Rewrite? {
        guard node.opType == "Add", let (scaled, beta) = g.splitConstant(node), g.isConstant(beta),
              let mul = g.producer(scaled), mul.opType == "Mul", let (normalized, gamma) = g.splitConstant(mul),
              let div = g.producer(normalized), div.opType == "Div",
              let sqrt = g.producer(div.inputs[1]), sqrt.opType == "Sqrt",
              let addEps = g.producer(sqrt.inputs[0]), addEps.opType == "Add", let (variance, epsName) = g.splitConstant(addEps),
              let epsilon = g.scalar(epsName),
              let varMean = g.producer(variance), g.isLastAxisMean(varMean),
              let pow = g.producer(varMean.inputs[0]), pow.opType == "Pow", g.scalar(pow.inputs[1]) == 2,
              pow.inputs[0] == div.inputs[0],
              let sub = g.producer(div.inputs[0]), sub.opType == "Sub",
              let mean = g.producer(sub.inputs[1]), g.isLastAxisMean(mean), mean.inputs[0] == sub.inputs[0]
        else { return nil }
        return Rewrite(node: Node(name: node.name, opType: "LayerNormalization", inputs: [sub.inputs[0], gamma, beta],
                                  outputs: node.outputs, attributes: ["axis": .int(-1), "epsilon": .float(epsilon)]))
    }

    /// x·½·(1 + erf(x/√2)) in any of the exporters' association orders → octet Gelu. Matched at the last Mul.
    static func canonicalGelu(_ g: GraphIndex, _ node: Node) -> Rewrite? {
        guard node.opType == "Mul" else { return nil }
        // Find the (1 + erf(x/√2)) factor and x among the operands of this Mul and of a Mul feeding it.
        func onePlusErf(_ v: String) -> String? {
            guard let add = g.producer(v), add.opType == "Add", let (e, one) = g.splitConstant(add), g.scalar(one) == 1,
                  let erf = g.producer(e), erf.opType == "Erf", let scale = g.producer(erf.inputs[0]) else { return nil }
            if scale.opType == "Div", let c = g.scalar(scale.inputs[1]), abs(c - 1.4142135) < 1e-4 { return scale.inputs[0] }
            if scale.opType == "Mul", let (x, cName) = g.splitConstant(scale), let c = g.scalar(cName), abs(c - 0.70710678) < 1e-5 { return x }
            return nil
        }
        func isHalf(_ v: String) -> Bool { g.scalar(v) == 0.5 }
        // Leaves of the product tree (this Mul and Muls directly under it), at most three.
        var leaves: [String] = []
        for input in node.inputs {
            if let m = g.producer(input), m.opType == "Mul", g.consumers(input) == 1 { leaves += m.inputs } else { leaves.append(input) }
        }
        guard leaves.count == 3, let half = leaves.firstIndex(where: isHalf) else { return nil }
        leaves.remove(at: half)
        for (a, b) in [(leaves[0], leaves[1]), (leaves[1], leaves[0])] {
            if let x = onePlusErf(a), x == b {
                return Rewrite(node: Node(name: node.name, opType: "Gelu", domain: FusedOps.domain, inputs: [x], outputs: node.outputs))
            }
        }
        return nil
    }

    /// QuantizeLinear → DequantizeLinear with one per-tensor scale and zero point → FakeQuant (quantization
    /// simulated in float, with the integer type's range). Matched at the DequantizeLinear.
    static func fakeQuant(_ g: GraphIndex, _ node: Node) -> Rewrite? {
        guard node.opType == "DequantizeLinear", let q = g.producer(node.inputs[0]), q.opType == "QuantizeLinear",
              let scale = g.scalar(node.inputs[1]), g.scalar(q.inputs[1]) == scale, scale > 0, scale.isFinite else { return nil }
        let zp = node.inputs.count > 2 && !node.inputs[2].isEmpty ? node.inputs[2] : ""
        let qzp = q.inputs.count > 2 && !q.inputs[2].isEmpty ? q.inputs[2] : ""
        let zeroPoint = zp.isEmpty ? 0 : g.scalar(zp).map { Int($0) }
        guard let zeroPoint, (qzp.isEmpty ? 0 : g.scalar(qzp).map { Int($0) }) == zeroPoint else { return nil }
        let type: ONNXDataType
        if case .int(let t)? = q.attributes["output_dtype"], t != 0, let ty = ONNXDataType(rawValue: t) { type = ty }
        else { type = qzp.isEmpty ? .uint8 : g.initializer(qzp)?.dataType ?? .uint8 }
        guard let range = GraphExecutor.integerRange(type) else { return nil }
        return Rewrite(node: Node(name: node.name, opType: "FakeQuant", domain: FusedOps.domain, inputs: [q.inputs[0]],
                                  outputs: node.outputs, attributes: [
                                      "scale": .float(scale), "zero_point": .int(zeroPoint),
                                      "qmin": .int(Int(range.lowerBound)), "qmax": .int(Int(range.upperBound)),
                                  ]))
    }

    // MARK: - Fused ops

    /// MatMul by a constant matrix, plus a constant bias, optionally followed by GELU → Dense. Matched at the last
    /// node of the three.
    static func dense(_ g: GraphIndex, _ node: Node) -> Rewrite? {
        var activation = "none"
        var top = node
        if node.domain == FusedOps.domain, node.opType == "Gelu", let p = g.producer(node.inputs[0]) {
            activation = "gelu"
            top = p
        }
        var bias = ""
        var matmul = top
        if top.opType == "Add", let (product, b) = g.splitConstant(top), let p = g.producer(product), p.opType == "MatMul" {
            bias = b
            matmul = p
        }
        if matmul.opType == "MatMul", let quantized = qdense(g, node, matmul: matmul, bias: bias, activation: activation) {
            return quantized
        }
        guard matmul.opType == "MatMul", let weight = g.initializer(matmul.inputs[1]), weight.shape.count == 2,
              weight.dataType.isFloatingPoint else { return nil }
        if !bias.isEmpty {
            guard let b = g.initializer(bias), b.count == weight.shape[1], b.shape.count == 1 else { return nil }
        } else if activation == "gelu" || node.opType != "MatMul" {
            return nil
        } else if g.consumerNodes(node.outputs[0]).contains(where: { $0.opType == "Add" }) {
            // A bias Add follows: the match at that Add takes this MatMul.
            return nil
        }
        return Rewrite(node: Node(name: node.name, opType: "Dense", domain: FusedOps.domain,
                                  inputs: [matmul.inputs[0], matmul.inputs[1]] + (bias.isEmpty ? [] : [bias]),
                                  outputs: node.outputs, attributes: ["activation": .string(activation)]))
    }

    /// MatMul(FakeQuant(x), DequantizeLinear(int8 weight)) with symmetric int8 activations and per-tensor or
    /// per-output-channel weight scales → QDense, which runs the product in integers.
    static func qdense(_ g: GraphIndex, _ node: Node, matmul: Node, bias: String, activation: String) -> Rewrite? {
        guard let fq = g.producer(matmul.inputs[0]), fq.domain == FusedOps.domain, fq.opType == "FakeQuant",
              case .int(0)? = fq.attributes["zero_point"], case .int(-128)? = fq.attributes["qmin"], case .int(127)? = fq.attributes["qmax"],
              case .float(let xScale)? = fq.attributes["scale"],
              let dq = g.producer(matmul.inputs[1]), dq.opType == "DequantizeLinear", let w = g.initializer(dq.inputs[0]),
              w.dataType == .int8, w.shape.count == 2, let ws = g.initializer(dq.inputs[1]), ws.dataType == .float,
              ws.count == 1 || (ws.count == w.shape[1] && [1, -1].contains(g.intAttribute(dq, "axis", 1))),
              dq.inputs.count < 3 || dq.inputs[2].isEmpty || g.ints(dq.inputs[2])?.allSatisfy({ $0 == 0 }) == true else { return nil }
        if !bias.isEmpty { guard let b = g.initializer(bias), b.count == w.shape[1] else { return nil } }
        if bias.isEmpty && activation == "none" && node.opType != "MatMul" { return nil }
        if node.opType == "MatMul", g.consumerNodes(node.outputs[0]).contains(where: { $0.opType == "Add" }) { return nil }
        return Rewrite(node: Node(name: node.name, opType: "QDense", domain: FusedOps.domain,
                                  inputs: [fq.inputs[0], dq.inputs[0], dq.inputs[1]] + (bias.isEmpty ? [] : [bias]),
                                  outputs: node.outputs, attributes: ["activation": .string(activation), "x_scale": .float(xScale)]))
    }

    /// LayerNormalization over the last axis of the sum of two computed tensors of one shape → SkipLayerNorm.
    static func skipLayerNorm(_ g: GraphIndex, _ node: Node, facts: [String: ValueFacts]) -> Rewrite? {
        guard node.opType == "LayerNormalization", g.isLastAxis(node), let add = g.producer(node.inputs[0]), add.opType == "Add",
              add.inputs.count == 2, !g.isConstant(add.inputs[0]), !g.isConstant(add.inputs[1]) else { return nil }
        // Same shape on both sides (no broadcasting), as far as inference can tell; embeddings are left to
        // `embedLayerNorm`.
        if [add.inputs[0], add.inputs[1]].contains(where: { g.producer($0)?.opType == "Gather" }) { return nil }
        guard let a = facts[add.inputs[0]]?.shape, let b = facts[add.inputs[1]]?.shape,
              a.count == b.count, zip(a, b).allSatisfy({ $0 != nil && $0 == $1 }) else { return nil }
        // Fake-quantized inputs (QDQBERT quantizes both inputs of each residual add) become scale attributes.
        var inputs = [add.inputs[0], add.inputs[1]]
        var attributes: [String: Attribute] = ["epsilon": .float(g.epsilon(node))]
        for (i, key) in ["x_scale", "skip_scale"].enumerated() {
            if let scale = g.symmetricInt8FakeQuant(inputs[i]) {
                attributes[key] = .float(scale)
                inputs[i] = g.producer(inputs[i])!.inputs[0]
            }
        }
        return Rewrite(node: Node(name: node.name, opType: "SkipLayerNorm", domain: FusedOps.domain,
                                  inputs: inputs + Array(node.inputs.dropFirst()), outputs: node.outputs, attributes: attributes))
    }

    /// Add of two symmetric-int8 FakeQuant values (a Q→DQ pair on each input, not followed by LayerNorm) → QAdd.
    static func quantizedAdd(_ g: GraphIndex, _ node: Node) -> Rewrite? {
        guard node.opType == "Add", node.inputs.count == 2, let a = g.symmetricInt8FakeQuant(node.inputs[0]),
              let b = g.symmetricInt8FakeQuant(node.inputs[1]) else { return nil }
        return Rewrite(node: Node(name: node.name, opType: "QAdd", domain: FusedOps.domain,
                                  inputs: node.inputs.map { g.producer($0)!.inputs[0] }, outputs: node.outputs,
                                  attributes: ["a_scale": .float(a), "b_scale": .float(b)]))
    }

    /// LayerNormalization of a sum of two or three embedding lookups (word, position, segment) → EmbedLayerNorm.
    static func embedLayerNorm(_ g: GraphIndex, _ node: Node) throws -> Rewrite? {
        guard node.opType == "LayerNormalization", g.isLastAxis(node) else { return nil }
        var lookups: [Node] = []
        var stack = [node.inputs[0]]
        while let v = stack.popLast() {
            guard let p = g.producer(v) else { return nil }
            if p.opType == "Add", p.inputs.count == 2 {
                stack += p.inputs
            } else if p.opType == "Gather", g.intAttribute(p, "axis", 0) == 0, let t = g.initializer(p.inputs[0]), t.shape.count == 2 {
                lookups.append(p)
            } else {
                return nil
            }
        }
        guard lookups.count == 2 || lookups.count == 3 else { return nil }
        // Position lookup: indices that are a slice of a constant 0, 1, 2, … row, or named so, or computed.
        func arangeSlice(_ v: String) -> Bool {
            guard let s = g.producer(v), s.opType == "Slice", let table = g.initializer(s.inputs[0]), table.count <= 1 << 16,
                  let values = try? GraphExecutor.hostTensor(table, source: g.path).ints,
                  values.enumerated().allSatisfy({ Int64($0.offset) == $0.element }),
                  s.inputs.count > 1, g.ints(s.inputs[1])?.allSatisfy({ $0 == 0 }) == true,
                  s.inputs.count < 5 || g.ints(s.inputs[4])?.allSatisfy({ $0 == 1 }) == true else { return false }
            return true
        }
        let positionIndex = lookups.firstIndex { arangeSlice($0.inputs[1]) }
            ?? lookups.firstIndex { $0.inputs[1].lowercased().contains("position") }
            ?? lookups.firstIndex { !g.isGraphInput($0.inputs[1]) }
        guard let pi = positionIndex else { return nil }
        let position = lookups.remove(at: pi)
        lookups.sort { g.initializer($0.inputs[0])!.shape[0] > g.initializer($1.inputs[0])!.shape[0] }
        let word = lookups[0], segment = lookups.count > 1 ? lookups[1] : nil
        let positionIDs = arangeSlice(position.inputs[1]) ? "" : position.inputs[1]
        var inputs = [word.inputs[1], segment?.inputs[1] ?? "", word.inputs[0], position.inputs[0], segment?.inputs[0] ?? "",
                      node.inputs[1], node.inputs.count > 2 ? node.inputs[2] : ""]
        if !positionIDs.isEmpty { inputs.append(positionIDs) }
        return Rewrite(node: Node(name: node.name, opType: "EmbedLayerNorm", domain: FusedOps.domain, inputs: inputs,
                                  outputs: node.outputs, attributes: ["epsilon": .float(g.epsilon(node))]))
    }

    /// Softmax(scale·(Q·Kᵀ) + mask)·V with its head split and merge → Attention. Matched at the last node of the
    /// head merge (the value of shape [batch, sequence, hidden]).
    static func attention(_ g: GraphIndex, _ node: Node, facts: [String: ValueFacts]) -> Rewrite? {
        // Walk back from the merge's end through the layout chain to P·V.
        var chain: [Node] = []
        var cursor = node
        while cursor.opType == "Reshape" || cursor.opType == "Transpose", let p = g.producer(cursor.inputs[0]) {
            chain.insert(cursor, at: 0)
            cursor = p
        }
        guard !chain.isEmpty, cursor.opType == "MatMul", let output = facts[node.outputs[0]]?.shape, output.count == 3,
              let hidden = output[2]?.constant else { return nil }
        let pv = cursor
        // P: Softmax over the last axis, optionally with the NaN guard Where(IsNaN(P), 0, P).
        var probabilities = pv.inputs[0]
        var attributes: [String: Attribute] = [:]
        if let scale = g.symmetricInt8FakeQuant(probabilities) {
            attributes["probs_scale"] = .float(scale)
            probabilities = g.producer(probabilities)!.inputs[0]
        } else if let scale = g.unsignedUInt8FakeQuant(probabilities) {
            attributes["probs_scale"] = .float(scale)
            attributes["probs_unsigned"] = .int(1)
            probabilities = g.producer(probabilities)!.inputs[0]
        }
        if let w = g.producer(probabilities), w.opType == "Where", let isNaN = g.producer(w.inputs[0]), isNaN.opType == "IsNaN",
           isNaN.inputs[0] == w.inputs[2], g.scalar(w.inputs[1]) == 0 {
            probabilities = w.inputs[2]
        }
        guard let softmax = g.producer(probabilities), softmax.opType == "Softmax", g.softmaxOverLastAxis(softmax) else { return nil }
        // Scores + mask.
        var scores = softmax.inputs[0]
        var mask = ""
        if let add = g.producer(scores), add.opType == "Add" {
            let side = add.inputs.firstIndex { g.reachesMatMul($0) }
            guard let side else { return nil }
            scores = add.inputs[side]
            mask = add.inputs[1 - side]
            if let w = g.producer(mask), w.opType == "Where", g.scalar(w.inputs[1]) == 0, let low = g.scalar(w.inputs[2]), low <= -1e30 {
                mask = w.inputs[0]
            }
        }
        var scale: Float = 1
        guard let qk = g.stripScale(&scores, scale: &scale), qk.opType == "MatMul" else { return nil }
        // The three projections and their head layouts.
        guard let (q, qLayout, qScale, qQuant) = g.headSource(qk.inputs[0], facts: facts),
              let (k, kLayout, kScale, kQuant) = g.headSource(qk.inputs[1], facts: facts),
              let (v, vLayout, vScale, vQuant) = g.headSource(pv.inputs[1], facts: facts), vScale == 1 else { return nil }
        scale *= qScale * kScale
        for (key, value) in [("q_scale", qQuant), ("k_scale", kQuant), ("v_scale", vQuant)] {
            if let value { attributes[key] = .float(value) }
        }
        // Expected: Q and V as [b, heads, s, d], Kᵀ as [b, heads, d, s], with the same split of hidden.
        guard qLayout.count == 4, qLayout[0] == ["b"], qLayout[2] == ["s"], qLayout[1].count == 1, qLayout[3].count == 1,
              kLayout == [qLayout[0], qLayout[1], qLayout[3], qLayout[2]], vLayout == qLayout,
              let heads = AxisLayout.splitFactor(qLayout[1][0]) else { return nil }
        // The merge must bring [b, heads, s, d] back to [b, s, hidden].
        var layout = AxisLayout(start: qLayout, facts: facts, base: q)
        for c in chain { guard layout.apply(c, g: g, facts: facts) else { return nil } }
        guard layout.groups == [["b"], ["s"], [qLayout[1][0], qLayout[3][0]]], hidden % heads == 0 else { return nil }
        return Rewrite(node: Node(name: node.name, opType: "Attention", domain: FusedOps.domain,
                                  inputs: [q, k, v] + (mask.isEmpty ? [] : [mask]), outputs: node.outputs,
                                  attributes: attributes.merging(["heads": .int(heads), "scale": .float(scale)]) { $1 }))
    }

    /// Three Dense (or QDense) projections of one input, without activation, read only by one Attention as Q, K and
    /// V → one projection with the weights side by side, and the Attention reading the packed result. QDense
    /// projections merge when they quantize their input with the same scale; their weight scales become per column.
    static func mergeProjections(_ graph: ONNXGraph) throws -> ONNXGraph {
        try rewrite(graph) { g, node in
            guard node.domain == FusedOps.domain, node.opType == "Attention", node.inputs.count >= 3 else { return nil }
            let projections = node.inputs[0..<3].compactMap { g.producer($0) }
            guard projections.count == 3, let op = projections.first?.opType, op == "Dense" || op == "QDense",
                  projections.allSatisfy({ p in
                      guard p.domain == FusedOps.domain, p.opType == op, case .string("none")? = p.attributes["activation"] else { return false }
                      return p.inputs[0] == projections[0].inputs[0] && g.consumers(p.outputs[0]) == 1
                  }) else { return nil }
            let quantized = op == "QDense"
            if quantized {
                guard case .float(let s)? = projections[0].attributes["x_scale"],
                      projections.allSatisfy({ if case .float(s)? = $0.attributes["x_scale"] { true } else { false } }) else { return nil }
            }
            let biasIndex = quantized ? 3 : 2
            guard projections.allSatisfy({ $0.inputs.count == biasIndex + 1 }),
                  let weights = try? projections.map({ try GraphExecutor.hostTensor(g.initializer($0.inputs[1])!, source: g.path) }),
                  let biases = try? projections.map({ try GraphExecutor.hostTensor(g.initializer($0.inputs[biasIndex])!, source: g.path) }),
                  weights.allSatisfy({ $0.shape == weights[0].shape && $0.shape.count == 2 }) else { return nil }
            let (k, n) = (weights[0].shape[0], weights[0].shape[1])
            let prefix = node.name.isEmpty ? node.outputs[0] : node.name
            let (wName, bName, qkv) = (prefix + ".qkv.weight", prefix + ".qkv.bias", prefix + ".qkv")
            var initializers = [bName: Initializer.float32(bName, shape: [3 * n], biases.flatMap(\.floats))]
            var inputs = [projections[0].inputs[0], wName]
            if quantized {
                let w = weights.map(\.ints)
                var packed = [UInt8](repeating: 0, count: k * 3 * n)
                for r in 0..<k { for p in 0..<3 { for c in 0..<n { packed[r * 3 * n + p * n + c] = UInt8(bitPattern: Int8(w[p][r * n + c])) } } }
                initializers[wName] = ONNXGraph.owned(wName, .int8, [k, 3 * n], Data(packed))
                guard let scales = try? projections.map({ try GraphExecutor.hostTensor(g.initializer($0.inputs[2])!, source: g.path).floats }),
                      scales.allSatisfy({ $0.count == 1 || $0.count == n }) else { return nil }
                let sName = prefix + ".qkv.weight_scale"
                initializers[sName] = .float32(sName, shape: [3 * n], scales.flatMap { $0.count == 1 ? [Float](repeating: $0[0], count: n) : $0 })
                inputs.append(sName)
            } else {
                let w = weights.map(\.floats)
                var packed = [Float](repeating: 0, count: k * 3 * n)
                for r in 0..<k { for p in 0..<3 { for c in 0..<n { packed[r * 3 * n + p * n + c] = w[p][r * n + c] } } }
                initializers[wName] = .float32(wName, shape: [k, 3 * n], packed)
            }
            let dense = Node(name: prefix + ".qkv", opType: op, domain: FusedOps.domain, inputs: inputs + [bName], outputs: [qkv],
                             attributes: projections[0].attributes)
            let attention = Node(name: node.name, opType: "Attention", domain: FusedOps.domain,
                                 inputs: [qkv, "", ""] + node.inputs.dropFirst(3), outputs: node.outputs, attributes: node.attributes)
            return Rewrite(node: attention, initializers: initializers, extra: [dense])
        }
    }

    /// Runs `fused` and `original` on probe inputs of two sizes and checks every output.
    static func verify(_ fused: ONNXGraph, against original: ONNXGraph) throws {
        let (a, b) = (try GraphExecutor(graph: fused, threads: 1), try GraphExecutor(graph: original, threads: 1))
        a.simulatesQuantization = false
        b.simulatesQuantization = false
        for (batch, sequence) in [(2, 5), (3, 7)] {
            var inputs: [String: HostTensor] = [:]
            for input in original.inputs {
                let shape = (input.shape ?? []).enumerated().map { i, d -> Int in
                    if case .fixed(let n) = d { return n }
                    return i == 0 ? batch : sequence
                }
                inputs[input.name] = ShapeInference.probeInput(input, shape: shape)
            }
            let (x, y) = (try a.run(inputs), try b.run(inputs))
            for output in original.outputs {
                guard let p = x[output.name], let q = y[output.name], p.shape == q.shape else {
                    throw OctetError.malformed(original.path, "fusion changed the shape of output '\(output.name)'")
                }
                let (pf, qf) = (p.floats, q.floats)
                let scale = max(1, qf.map(abs).max() ?? 0)
                let diff = zip(pf, qf).map { abs($0 - $1) }.max() ?? 0
                guard diff <= 1e-4 * scale else {
                    throw OctetError.malformed(original.path, "fusion changed output '\(output.name)' by \(diff) on probe inputs (limit \(1e-4 * scale)); run without fusion (--optimize fold)")
                }
            }
        }
    }
}
