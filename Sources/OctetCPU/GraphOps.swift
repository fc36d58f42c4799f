import COctetKernels
import Foundation
import OctetCore
import OctetONNX

// The ops of `GraphExecutor`. Shapes follow ONNX's rules (numpy broadcasting, negative axes counted from the end);
// a shape or argument an op cannot take throws `OpError`, which `run` reports with the node's name.

extension GraphExecutor {
    func execute(_ node: Node, _ args: [HostTensor?]) throws -> [HostTensor] {
        func arg(_ i: Int) throws -> HostTensor {
            guard i < args.count, let a = args[i] else { throw OpError("input \(i) is missing") }
            return a
        }
        func optionalArg(_ i: Int) -> HostTensor? { i < args.count ? args[i] : nil }
        func intAttr(_ name: String, _ fallback: Int) -> Int {
            if case .int(let v)? = node.attributes[name] { return v }
            return fallback
        }
        func floatAttr(_ name: String, _ fallback: Float) -> Float {
            if case .float(let v)? = node.attributes[name] { return v }
            return fallback
        }
        func intsAttr(_ name: String) -> [Int]? {
            if case .ints(let v)? = node.attributes[name] { return v }
            return nil
        }

        switch node.opType {
        // MARK: elementwise arithmetic
        case "Add", "Sub", "Mul", "Div", "Pow", "Min", "Max":
            var result = try arg(0)
            for i in 1..<max(2, args.count) {
                result = try Self.arithmetic(node.opType, result, try arg(i))
            }
            return [result]
        case "Sqrt": return [try Self.unary(try arg(0)) { $0.squareRoot() }]
        case "Reciprocal": return [try Self.unary(try arg(0)) { 1 / $0 }]
        case "Neg":
            let a = try arg(0)
            if case .int(let v) = a.storage { return [HostTensor(shape: a.shape, ints: v.map { -$0 })] }
            return [try Self.unary(a) { -$0 }]
        case "Abs":
            let a = try arg(0)
            if case .int(let v) = a.storage { return [HostTensor(shape: a.shape, ints: v.map { abs($0) })] }
            return [try Self.unary(a) { abs($0) }]
        case "Exp": return [try Self.unary(try arg(0)) { Foundation.exp($0) }]
        case "Log": return [try Self.unary(try arg(0)) { Foundation.log($0) }]
        case "Tanh": return [try Self.unary(try arg(0)) { Foundation.tanh($0) }]
        case "Relu": return [try Self.unary(try arg(0)) { max(0, $0) }]
        case "Erf":
            let a = try arg(0)
            var out = [Float](repeating: 0, count: a.count)
            a.floats.withUnsafeBufferPointer { x in octet_erf_array(x.baseAddress, &out, a.count) }
            return [HostTensor(shape: a.shape, floats: out)]
        case "Gelu":
            let a = try arg(0)
            if case .string(let approximation)? = node.attributes["approximate"], approximation == "tanh" {
                return [try Self.unary(a) { x in 0.5 * x * (1 + Foundation.tanh(0.7978845608 * (x + 0.044715 * x * x * x))) }]
            }
            var out = a.floats
            octet_gelu(&out, out.count)
            return [HostTensor(shape: a.shape, floats: out)]
        case "Clip":
            let a = try arg(0)
            let lo = optionalArg(1)?.floats.first ?? -.infinity, hi = optionalArg(2)?.floats.first ?? .infinity
            return [try Self.unary(a) { min(max($0, lo), hi) }]

        // MARK: comparisons and logic
        case "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual":
            return [try Self.compare(node.opType, try arg(0), try arg(1))]
        case "And", "Or":
            let (a, b) = (try arg(0), try arg(1))
            let shape = try Self.broadcastShape(a.shape, b.shape)
            let x = Self.expand(a.bools, from: a.shape, to: shape), y = Self.expand(b.bools, from: b.shape, to: shape)
            return [HostTensor(shape: shape, bools: node.opType == "And" ? zip(x, y).map { $0 && $1 } : zip(x, y).map { $0 || $1 })]
        case "Not":
            let a = try arg(0)
            return [HostTensor(shape: a.shape, bools: a.bools.map { !$0 })]
        case "IsNaN":
            let a = try arg(0)
            return [HostTensor(shape: a.shape, bools: a.floats.map { $0.isNaN })]
        case "IsInf":
            let a = try arg(0)
            return [HostTensor(shape: a.shape, bools: a.floats.map { $0.isInfinite })]
        case "Where":
            let (c, x, y) = (try arg(0), try arg(1), try arg(2))
            let shape = try Self.broadcastShape(try Self.broadcastShape(c.shape, x.shape), y.shape)
            let cond = Self.expand(c.bools, from: c.shape, to: shape)
            switch (x.storage, y.storage) {
            case (.int, .int):
                let a = Self.expand(x.ints, from: x.shape, to: shape), b = Self.expand(y.ints, from: y.shape, to: shape)
                return [HostTensor(shape: shape, ints: (0..<cond.count).map { cond[$0] ? a[$0] : b[$0] })]
            default:
                let a = Self.expand(x.floats, from: x.shape, to: shape), b = Self.expand(y.floats, from: y.shape, to: shape)
                return [HostTensor(shape: shape, floats: (0..<cond.count).map { cond[$0] ? a[$0] : b[$0] })]
            }

        // MARK: types and constants
        case "Cast":
            let a = try arg(0)
            guard let to = ONNXDataType(rawValue: intAttr("to", 1)) else { throw OpError("Cast to an unknown type") }
            // Without quantization simulation (fusion checks) a cast to a narrower float type keeps float32: its
            // rounding, like a quantizer's, would turn the fused ops' float rounding differences into steps.
            if !simulatesQuantization && (to == .float16 || to == .bfloat16) { return [a] }
            return [Self.cast(a, to: to)]
        case "CastLike":
            let (a, like) = (try arg(0), try arg(1))
            switch like.storage {
            case .float: return [Self.cast(a, to: .float)]
            case .int: return [Self.cast(a, to: .int64)]
            case .bool: return [Self.cast(a, to: .bool)]
            }
        case "Constant":
            if case .tensor(let t)? = node.attributes["value"] { return [try Self.hostTensor(t, source: graph.path)] }
            if case .float(let f)? = node.attributes["value_float"] { return [HostTensor(shape: [], floats: [f])] }
            if case .floats(let f)? = node.attributes["value_floats"] { return [HostTensor(shape: [f.count], floats: f)] }
            if case .int(let i)? = node.attributes["value_int"] { return [HostTensor(shape: [], ints: [Int64(i)])] }
            if case .ints(let i)? = node.attributes["value_ints"] { return [HostTensor(shape: [i.count], ints: i.map { Int64($0) })] }
            throw OpError("Constant has no value attribute Octet reads")
        case "ConstantOfShape":
            let shape = try arg(0).ints.map { Int($0) }
            let n = shape.reduce(1, *)
            if case .tensor(let t)? = node.attributes["value"] {
                let v = try Self.hostTensor(t, source: graph.path)
                switch v.storage {
                case .float(let f): return [HostTensor(shape: shape, floats: [Float](repeating: f.first ?? 0, count: n))]
                case .int(let i): return [HostTensor(shape: shape, ints: [Int64](repeating: i.first ?? 0, count: n))]
                case .bool(let b): return [HostTensor(shape: shape, bools: [Bool](repeating: b.first ?? false, count: n))]
                }
            }
            return [HostTensor(shape: shape, floats: [Float](repeating: 0, count: n))]
        case "Range":
            let (start, limit, delta) = (try arg(0), try arg(1), try arg(2))
            if case .float = start.storage {
                let (s, l, d) = (start.floats[0], limit.floats[0], delta.floats[0])
                guard d != 0 else { throw OpError("Range delta is 0") }
                let n = max(0, Int(((l - s) / d).rounded(.up)))
                return [HostTensor(shape: [n], floats: (0..<n).map { s + Float($0) * d })]
            }
            let (s, l, d) = (start.ints[0], limit.ints[0], delta.ints[0])
            guard d != 0 else { throw OpError("Range delta is 0") }
            let n = max(0, Int((Double(l - s) / Double(d)).rounded(.up)))
            return [HostTensor(shape: [n], ints: (0..<n).map { s + Int64($0) * d })]
        case "Identity", "Dropout":
            let a = try arg(0)
            return node.outputs.count > 1 ? [a, HostTensor(shape: a.shape, bools: [Bool](repeating: true, count: a.count))] : [a]

        // MARK: shapes
        case "Shape":
            let shape = try arg(0).shape
            let rank = shape.count
            func clamp(_ i: Int) -> Int { min(max(i < 0 ? i + rank : i, 0), rank) }
            let start = clamp(intAttr("start", 0)), end = clamp(intAttr("end", rank))
            return [HostTensor(shape: [max(0, end - start)], ints: start < end ? shape[start..<end].map { Int64($0) } : [])]
        case "Size":
            return [HostTensor(shape: [], ints: [Int64(try arg(0).count)])]
        case "Reshape":
            let (a, target) = (try arg(0), try arg(1).ints.map { Int($0) })
            let allowZero = intAttr("allowzero", 0) == 1
            var shape = target.enumerated().map { i, d in d == 0 && !allowZero ? (i < a.shape.count ? a.shape[i] : 0) : d }
            if let unknown = shape.firstIndex(of: -1) {
                let known = shape.enumerated().filter { $0.offset != unknown }.reduce(1) { $0 * $1.element }
                guard known > 0, a.count % known == 0 else { throw OpError("cannot reshape \(a.shape) to \(target)") }
                shape[unknown] = a.count / known
            }
            guard shape.reduce(1, *) == a.count, shape.allSatisfy({ $0 >= 0 }) else { throw OpError("cannot reshape \(a.shape) to \(target)") }
            return [HostTensor(shape: shape, storage: a.storage)]
        case "Flatten":
            let a = try arg(0)
            var axis = intAttr("axis", 1)
            if axis < 0 { axis += a.shape.count }
            let outer = a.shape.prefix(axis).reduce(1, *)
            return [HostTensor(shape: [outer, a.count / max(1, outer)], storage: a.storage)]
        case "Unsqueeze":
            let a = try arg(0)
            let axes = try optionalArg(1)?.ints.map { Int($0) } ?? intsAttr("axes") ?? { throw OpError("Unsqueeze needs axes") }()
            let rank = a.shape.count + axes.count
            let normalized = Set(axes.map { $0 < 0 ? $0 + rank : $0 })
            var shape: [Int] = []
            var source = a.shape.makeIterator()
            for i in 0..<rank { shape.append(normalized.contains(i) ? 1 : source.next() ?? 1) }
            return [HostTensor(shape: shape, storage: a.storage)]
        case "Squeeze":
            let a = try arg(0)
            let axes = optionalArg(1)?.ints.map { Int($0) } ?? intsAttr("axes")
            let drop = Set((axes ?? a.shape.indices.filter { a.shape[$0] == 1 }).map { $0 < 0 ? $0 + a.shape.count : $0 })
            return [HostTensor(shape: a.shape.indices.filter { !drop.contains($0) }.map { a.shape[$0] }, storage: a.storage)]
        case "Expand":
            let (a, target) = (try arg(0), try arg(1).ints.map { Int($0) })
            let shape = try Self.broadcastShape(a.shape, target)
            switch a.storage {
            case .float(let v): return [HostTensor(shape: shape, floats: Self.expand(v, from: a.shape, to: shape))]
            case .int(let v): return [HostTensor(shape: shape, ints: Self.expand(v, from: a.shape, to: shape))]
            case .bool(let v): return [HostTensor(shape: shape, bools: Self.expand(v, from: a.shape, to: shape))]
            }
        case "Transpose":
            let a = try arg(0)
            let perm = intsAttr("perm") ?? Array(a.shape.indices.reversed())
            return [Self.transpose(a, perm)]
        case "Concat":
            let parts = args.compactMap { $0 }
            guard let first = parts.first else { throw OpError("Concat of nothing") }
            var axis = intAttr("axis", 0)
            if axis < 0 { axis += first.shape.count }
            return [try Self.concat(parts, axis: axis)]
        case "Gather":
            let (a, indices) = (try arg(0), try arg(1))
            var axis = intAttr("axis", 0)
            if axis < 0 { axis += a.shape.count }
            return [try Self.gather(a, indices, axis: axis)]
        case "Slice":
            let a = try arg(0)
            let starts = try arg(1).ints, ends = try arg(2).ints
            let axes = optionalArg(3)?.ints.map { Int($0) } ?? Array(0..<starts.count)
            let steps = optionalArg(4)?.ints ?? [Int64](repeating: 1, count: starts.count)
            return [try Self.slice(a, starts: starts, ends: ends, axes: axes, steps: steps)]
        case "Split":
            let a = try arg(0)
            var axis = intAttr("axis", 0)
            if axis < 0 { axis += a.shape.count }
            let parts: [Int]
            if let s = optionalArg(1) { parts = s.ints.map { Int($0) } }
            else if let s = intsAttr("split") { parts = s }
            else {
                let n = intAttr("num_outputs", node.outputs.count)
                let size = (a.shape[axis] + n - 1) / n
                parts = (0..<n).map { min(size, a.shape[axis] - $0 * size) }
            }
            var offset: Int64 = 0
            return try parts.map { size in
                defer { offset += Int64(size) }
                return try Self.slice(a, starts: [offset], ends: [offset + Int64(size)], axes: [axis], steps: [1])
            }

        case "CumSum":
            let a = try arg(0)
            var axis = Int(try arg(1).ints.first ?? 0)
            if axis < 0 { axis += a.shape.count }
            guard axis >= 0, axis < a.shape.count else { throw OpError("CumSum axis \(axis) is outside rank \(a.shape.count)") }
            let exclusive = intAttr("exclusive", 0) == 1, reverse = intAttr("reverse", 0) == 1
            return [Self.cumulativeSum(a, axis: axis, exclusive: exclusive, reverse: reverse)]
        case "GatherND":
            return [try Self.gatherND(try arg(0), try arg(1), batchDims: intAttr("batch_dims", 0))]

        // MARK: quantization
        case "QuantizeLinear", "DequantizeLinear":
            let (x, scale) = (try arg(0), try arg(1))
            let zeroPoint = optionalArg(2)
            if case .int(let blockSize)? = node.attributes["block_size"], blockSize > 0 {
                throw OpError("blocked quantization (block_size \(blockSize)) is not supported")
            }
            var axis = intAttr("axis", 1)
            if axis < 0 { axis += x.shape.count }
            // Scale and zero point: one value (per tensor) or one per index of `axis` (per axis).
            let channels = scale.count
            guard channels == 1 || (axis >= 0 && axis < x.shape.count && x.shape[axis] == channels) else {
                throw OpError("scale has \(channels) values for axis \(axis) of shape \(x.shape)")
            }
            let inner = channels == 1 ? x.count : x.shape[(axis + 1)...].reduce(1, *)
            let scales = scale.floats
            let zeros = zeroPoint?.ints ?? [Int64](repeating: 0, count: channels)
            guard zeros.count == channels else { throw OpError("zero point has \(zeros.count) values, scale \(channels)") }
            func channel(_ i: Int) -> Int { channels == 1 ? 0 : (i / inner) % channels }
            if !simulatesQuantization {
                // Quantization off (fusion checks): the pair becomes an identity up to float rounding.
                let v = x.floats
                return [HostTensor(shape: x.shape, floats: (0..<v.count).map { i in
                    let c = channel(i)
                    return node.opType == "DequantizeLinear" ? (v[i] - Float(zeros[c])) * scales[c] : v[i] / scales[c] + Float(zeros[c])
                })]
            }
            if node.opType == "DequantizeLinear" {
                let q = x.ints
                return [HostTensor(shape: x.shape, floats: (0..<q.count).map { i in
                    let c = channel(i)
                    return Float(q[i] - zeros[c]) * scales[c]
                })]
            }
            let type = quantizedType(of: node)
            guard let range = Self.integerRange(type) else { throw OpError("quantizing to \(type.name) is not supported") }
            let v = x.floats
            return [HostTensor(shape: x.shape, ints: (0..<v.count).map { i in
                let c = channel(i)
                // ONNX: saturate(round_half_to_even(x / scale) + zero_point). The spec leaves NaN open; ONNX
                // Runtime's x86 conversion turns it into the type's minimum, and so does Octet.
                let r = (v[i] / scales[c]).rounded(.toNearestOrEven)
                let q = r.isNaN ? -Double.infinity : Double(r) + Double(zeros[c])
                return Int64(min(max(q, Double(range.lowerBound)), Double(range.upperBound)))
            })]

        // MARK: reductions and normalization
        case "ReduceMean", "ReduceSum", "ReduceMax":
            let a = try arg(0)
            let axes = optionalArg(1)?.ints.map { Int($0) } ?? intsAttr("axes") ?? Array(a.shape.indices)
            return [Self.reduce(node.opType, a, axes: axes.map { $0 < 0 ? $0 + a.shape.count : $0 }, keepDims: intAttr("keepdims", 1) == 1)]
        case "Softmax":
            let a = try arg(0)
            var axis = intAttr("axis", -1)
            if axis < 0 { axis += a.shape.count }
            guard axis == a.shape.count - 1 else {
                let perm = Array(0..<axis) + Array((axis + 1)..<a.shape.count) + [axis]
                let moved = Self.transpose(a, perm)
                var out = moved.floats
                let n = moved.shape.last!
                octet_softmax(Int32(moved.count / n), Int32(n), Int32(n), &out, n, 1)
                var inverse = [Int](repeating: 0, count: perm.count)
                for (i, p) in perm.enumerated() { inverse[p] = i }
                return [Self.transpose(HostTensor(shape: moved.shape, floats: out), inverse)]
            }
            var out = a.floats
            let n = a.shape.last ?? 1
            octet_softmax(Int32(a.count / max(1, n)), Int32(n), Int32(n), &out, n, 1)
            return [HostTensor(shape: a.shape, floats: out)]
        case "LayerNormalization":
            let (a, scale) = (try arg(0), try arg(1))
            var axis = intAttr("axis", -1)
            if axis < 0 { axis += a.shape.count }
            let n = a.shape[axis...].reduce(1, *)
            guard scale.count == n else { throw OpError("scale has \(scale.count) elements, not \(n)") }
            let bias = optionalArg(2)?.floats ?? [Float](repeating: 0, count: n)
            var out = a.floats
            let rows = a.count / max(1, n)
            out.withUnsafeMutableBufferPointer { y in
                octet_layernorm(Int32(rows), Int32(n), y.baseAddress, n, scale.floats, bias, floatAttr("epsilon", 1e-5), y.baseAddress, n)
            }
            return [HostTensor(shape: a.shape, floats: out)]

        // MARK: matrix products
        case "MatMul":
            return [try matMul(try arg(0), try arg(1), weightName: graph.initializers[node.inputs[1]] != nil ? node.inputs[1] : nil)]
        case "Gemm":
            var (a, b) = (try arg(0), try arg(1))
            if intAttr("transA", 0) == 1 { a = Self.transpose(a, [1, 0]) }
            if intAttr("transB", 0) == 1 { b = Self.transpose(b, [1, 0]) }
            var y = try matMul(a, b, weightName: nil)
            let alpha = floatAttr("alpha", 1), beta = floatAttr("beta", 1)
            if alpha != 1 { y = try Self.unary(y) { $0 * alpha } }
            if let c = optionalArg(2) { y = try Self.arithmetic("Add", y, beta == 1 ? c : try Self.unary(c) { $0 * beta }) }
            return [y]
        default:
            throw OpError("op \(node.opType) is not implemented")
        }
    }

    /// Batched matrix product with numpy broadcasting; constant 2-D weights are packed once and reused.
    func matMul(_ a: HostTensor, _ b: HostTensor, weightName: String?) throws -> HostTensor {
        var (aShape, bShape) = (a.shape, b.shape)
        let vectorA = aShape.count == 1, vectorB = bShape.count == 1
        if vectorA { aShape = [1] + aShape }
        if vectorB { bShape = bShape + [1] }
        let (m, k) = (aShape[aShape.count - 2], aShape[aShape.count - 1])
        let (k2, n) = (bShape[bShape.count - 2], bShape[bShape.count - 1])
        guard k == k2 else { throw OpError("MatMul of \(a.shape) and \(b.shape): inner dimensions differ") }
        let batchA = Array(aShape.dropLast(2)), batchB = Array(bShape.dropLast(2))
        let batch = try Self.broadcastShape(batchA, batchB)
        var outShape = batch + [m, n]
        let x = a.floats
        var out = [Float](repeating: 0, count: outShape.reduce(1, *))
        if let weightName, bShape.count == 2 {
            // Every leading dimension of A folds into rows: one GEMM against the packed weight.
            let packed = packed(weightName, b)
            x.withUnsafeBufferPointer { xa in
                out.withUnsafeMutableBufferPointer { c in
                    packed.multiply(rows: x.count / k, a: xa.baseAddress!, lda: k, c: c.baseAddress!, ldc: n, parallel: parallel)
                }
            }
        } else {
            let y = b.floats
            let count = batch.reduce(1, *)
            let aIndex = Self.expand(Array(0..<batchA.reduce(1, *)), from: batchA, to: batch)
            let bIndex = Self.expand(Array(0..<batchB.reduce(1, *)), from: batchB, to: batch)
            let nr = Int(OCTET_GEMM_NR)
            x.withUnsafeBufferPointer { xa in
                y.withUnsafeBufferPointer { yb in
                    out.withUnsafeMutableBufferPointer { c in
                        let (ap, bp, cp) = (xa.baseAddress!, yb.baseAddress!, c.baseAddress!)
                        parallel.run { w in
                            let packed = octet_alloc_floats(octet_packed_size(Int32(k), Int32(n)))!
                            defer { octet_free(packed) }
                            var i = w
                            while i < count {
                                octet_pack_b(Int32(k), Int32(n), bp + bIndex[i] * k * n, n, 1, packed)
                                octet_sgemm(Int32(m), Int32(n), Int32(k), ap + aIndex[i] * m * k, k, packed, 0, Int32((n + nr - 1) / nr), 0, nil, nil, 0, cp + i * m * n, n)
                                i += parallel.workers
                            }
                        }
                    }
                }
            }
        }
        if vectorA { outShape.remove(at: outShape.count - 2) }
        if vectorB { outShape.removeLast() }
        return HostTensor(shape: outShape, floats: out)
    }

    // MARK: - Helpers

    static func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
        let rank = max(a.count, b.count)
        let pa = [Int](repeating: 1, count: rank - a.count) + a, pb = [Int](repeating: 1, count: rank - b.count) + b
        return try zip(pa, pb).map { x, y in
            if x == y || y == 1 { return x }
            if x == 1 { return y }
            throw OpError("shapes \(a) and \(b) do not broadcast")
        }
    }

    /// `values` (of `shape`) broadcast to `target`, materialized.
    static func expand<T>(_ values: [T], from shape: [Int], to target: [Int]) -> [T] {
        if shape == target { return values }
        let rank = target.count
        let padded = [Int](repeating: 1, count: rank - shape.count) + shape
        var strides = [Int](repeating: 0, count: rank)
        var s = 1
        for d in stride(from: rank - 1, through: 0, by: -1) {
            strides[d] = padded[d] == 1 ? 0 : s
            s *= padded[d]
        }
        return expandIndices(shape: target, strides: strides).map { values[$0] }
    }

    static func unary(_ a: HostTensor, _ f: (Float) -> Float) throws -> HostTensor {
        HostTensor(shape: a.shape, floats: a.floats.map(f))
    }

    static func arithmetic(_ op: String, _ a: HostTensor, _ b: HostTensor) throws -> HostTensor {
        let shape = try broadcastShape(a.shape, b.shape)
        if case .int(let x) = a.storage, case .int(let y) = b.storage {
            let (p, q) = (expand(x, from: a.shape, to: shape), expand(y, from: b.shape, to: shape))
            let f: (Int64, Int64) -> Int64
            switch op {
            case "Add": f = (&+)
            case "Sub": f = (&-)
            case "Mul": f = (&*)
            case "Div": f = { $1 == 0 ? 0 : $0 / $1 }
            case "Pow": f = { Int64(Foundation.pow(Double($0), Double($1))) }
            case "Min": f = { Swift.min($0, $1) }
            default: f = { Swift.max($0, $1) }
            }
            return HostTensor(shape: shape, ints: zip(p, q).map(f))
        }
        let (p, q) = (expand(a.floats, from: a.shape, to: shape), expand(b.floats, from: b.shape, to: shape))
        let f: (Float, Float) -> Float
        switch op {
        case "Add": f = (+)
        case "Sub": f = (-)
        case "Mul": f = (*)
        case "Div": f = (/)
        case "Pow": f = { $1 == 2 ? $0 * $0 : Foundation.pow($0, $1) }
        case "Min": f = { Swift.min($0, $1) }
        default: f = { Swift.max($0, $1) }
        }
        return HostTensor(shape: shape, floats: zip(p, q).map(f))
    }

    static func compare(_ op: String, _ a: HostTensor, _ b: HostTensor) throws -> HostTensor {
        let shape = try broadcastShape(a.shape, b.shape)
        func apply<T: Comparable>(_ p: [T], _ q: [T]) -> [Bool] {
            switch op {
            case "Equal": zip(p, q).map { $0 == $1 }
            case "Greater": zip(p, q).map { $0 > $1 }
            case "GreaterOrEqual": zip(p, q).map { $0 >= $1 }
            case "Less": zip(p, q).map { $0 < $1 }
            default: zip(p, q).map { $0 <= $1 }
            }
        }
        switch (a.storage, b.storage) {
        case (.int(let x), .int(let y)):
            return HostTensor(shape: shape, bools: apply(expand(x, from: a.shape, to: shape), expand(y, from: b.shape, to: shape)))
        case (.bool(let x), .bool(let y)) where op == "Equal":
            let (p, q) = (expand(x, from: a.shape, to: shape), expand(y, from: b.shape, to: shape))
            return HostTensor(shape: shape, bools: zip(p, q).map { $0 == $1 })
        default:
            return HostTensor(shape: shape, bools: apply(expand(a.floats, from: a.shape, to: shape), expand(b.floats, from: b.shape, to: shape)))
        }
    }

    static func cast(_ a: HostTensor, to: ONNXDataType) -> HostTensor {
        switch to {
        // Float tensors hold float32 values: a cast to a narrower float type rounds each value to that type's grid
        // (round to nearest even), so a Cast pair float → float16 → float rounds as ONNX Runtime's does.
        case .float16:
            var y = a.floats
            y.withUnsafeMutableBufferPointer { octet_round_to_half($0.baseAddress, $0.count, $0.baseAddress) }
            return HostTensor(shape: a.shape, floats: y)
        case .bfloat16: return HostTensor(shape: a.shape, floats: a.floats.map(roundedToBFloat16))
        case .float, .double: return HostTensor(shape: a.shape, floats: a.floats)
        case .bool: return HostTensor(shape: a.shape, bools: a.bools)
        default: return HostTensor(shape: a.shape, ints: a.ints)
        }
    }

    /// `x` rounded to bfloat16 (float32's top 16 bits), to nearest even; NaN stays NaN.
    static func roundedToBFloat16(_ x: Float) -> Float {
        guard !x.isNaN else { return x }
        let bits = x.bitPattern
        let rounded = (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) & 0xFFFF_0000
        return Float(bitPattern: rounded)
    }

    /// Applies a permutation of axes.
    static func transpose(_ a: HostTensor, _ perm: [Int]) -> HostTensor {
        let shape = perm.map { a.shape[$0] }
        let strides = rowMajorStrides(a.shape)
        let permuted = perm.map { strides[$0] }
        func gather<T>(_ v: [T]) -> [T] {
            let indices = expandIndices(shape: shape, strides: permuted)
            return indices.map { v[$0] }
        }
        switch a.storage {
        case .float(let v): return HostTensor(shape: shape, floats: gather(v))
        case .int(let v): return HostTensor(shape: shape, ints: gather(v))
        case .bool(let v): return HostTensor(shape: shape, bools: gather(v))
        }
    }

    /// Element strides of a row-major tensor of `shape`.
    static func rowMajorStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        for d in stride(from: shape.count - 2, through: 0, by: -1) { strides[d] = strides[d + 1] * shape[d + 1] }
        return strides
    }

    /// Source offsets of every element of `shape` walked row-major with the given source strides.
    static func expandIndices(shape: [Int], strides: [Int]) -> [Int] {
        let total = shape.reduce(1, *)
        var out = [Int](repeating: 0, count: total)
        if total == 0 { return out }
        var index = [Int](repeating: 0, count: shape.count)
        var base = 0
        for i in 0..<total {
            out[i] = base
            var d = shape.count - 1
            while d >= 0 {
                index[d] += 1
                base += strides[d]
                if index[d] < shape[d] { break }
                base -= strides[d] * index[d]
                index[d] = 0
                d -= 1
            }
        }
        return out
    }

    static func concat(_ parts: [HostTensor], axis: Int) throws -> HostTensor {
        let first = parts[0]
        for p in parts where p.shape.count != first.shape.count || p.shape.enumerated().contains(where: { $0.offset != axis && $0.element != first.shape[$0.offset] }) {
            throw OpError("cannot concatenate \(first.shape) and \(p.shape) on axis \(axis)")
        }
        var shape = first.shape
        shape[axis] = parts.reduce(0) { $0 + $1.shape[axis] }
        let outer = first.shape.prefix(axis).reduce(1, *)
        func join<T>(_ arrays: [[T]]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(shape.reduce(1, *))
            let chunks = zip(arrays, parts).map { $0.1.shape[axis...].reduce(1, *) }
            for o in 0..<outer { for (v, c) in zip(arrays, chunks) { out.append(contentsOf: v[(o * c)..<((o + 1) * c)]) } }
            return out
        }
        if parts.allSatisfy({ if case .int = $0.storage { true } else { false } }) {
            return HostTensor(shape: shape, ints: join(parts.map(\.ints)))
        }
        if parts.allSatisfy({ if case .bool = $0.storage { true } else { false } }) {
            return HostTensor(shape: shape, bools: join(parts.map(\.bools)))
        }
        return HostTensor(shape: shape, floats: join(parts.map(\.floats)))
    }

    static func gather(_ a: HostTensor, _ indices: HostTensor, axis: Int) throws -> HostTensor {
        let size = a.shape[axis]
        let idx = try indices.ints.map { i -> Int in
            let j = Int(i < 0 ? i + Int64(size) : i)
            guard j >= 0, j < size else { throw OpError("index \(i) is outside 0..<\(size)") }
            return j
        }
        let outer = a.shape.prefix(axis).reduce(1, *), inner = a.shape[(axis + 1)...].reduce(1, *)
        let shape = Array(a.shape.prefix(axis)) + indices.shape + Array(a.shape[(axis + 1)...])
        func take<T>(_ v: [T]) -> [T] {
            var out: [T] = []
            out.reserveCapacity(outer * idx.count * inner)
            for o in 0..<outer { for j in idx { out.append(contentsOf: v[((o * size + j) * inner)..<((o * size + j + 1) * inner)]) } }
            return out
        }
        switch a.storage {
        case .float(let v): return HostTensor(shape: shape, floats: take(v))
        case .int(let v): return HostTensor(shape: shape, ints: take(v))
        case .bool(let v): return HostTensor(shape: shape, bools: take(v))
        }
    }

    static func slice(_ a: HostTensor, starts: [Int64], ends: [Int64], axes: [Int], steps: [Int64]) throws -> HostTensor {
        let rank = a.shape.count
        var begin = [Int](repeating: 0, count: rank), step = [Int](repeating: 1, count: rank)
        var shape = a.shape
        for (i, rawAxis) in axes.enumerated() {
            let axis = rawAxis < 0 ? rawAxis + rank : rawAxis
            let dim = a.shape[axis]
            let st = Int(steps[i])
            guard st != 0 else { throw OpError("Slice step is 0") }
            func clampIndex(_ v: Int64, _ low: Int, _ high: Int) -> Int {
                let x = v < 0 ? Int(max(v + Int64(dim), Int64(Int.min / 2))) : Int(min(v, Int64(Int.max / 2)))
                return min(max(x, low), high)
            }
            let s = st > 0 ? clampIndex(starts[i], 0, dim) : clampIndex(starts[i], -1, dim - 1)
            let e = st > 0 ? clampIndex(ends[i], 0, dim) : clampIndex(ends[i], -1, dim - 1)
            begin[axis] = s
            step[axis] = st
            shape[axis] = st > 0 ? max(0, (e - s + st - 1) / st) : max(0, (s - e - st - 1) / -st)
        }
        let strides = rowMajorStrides(a.shape)
        let offset = zip(begin, strides).reduce(0) { $0 + $1.0 * $1.1 }
        let indices = expandIndices(shape: shape, strides: zip(strides, step).map { $0 * $1 }).map { $0 + offset }
        switch a.storage {
        case .float(let v): return HostTensor(shape: shape, floats: indices.map { v[$0] })
        case .int(let v): return HostTensor(shape: shape, ints: indices.map { v[$0] })
        case .bool(let v): return HostTensor(shape: shape, bools: indices.map { v[$0] })
        }
    }

    /// The integer range of a quantized type.
    static func integerRange(_ type: ONNXDataType) -> ClosedRange<Int64>? {
        switch type {
        case .uint8: 0...255
        case .int8: -128...127
        case .uint16: 0...65535
        case .int16: -32768...32767
        case .int32: Int64(Int32.min)...Int64(Int32.max)
        case .uint4: 0...15
        case .int4: -8...7
        default: nil
        }
    }

    /// QuantizeLinear's output type: `output_dtype`, else the zero point's type, else uint8.
    func quantizedType(of node: Node) -> ONNXDataType {
        if case .int(let t)? = node.attributes["output_dtype"], t != 0, let type = ONNXDataType(rawValue: t) { return type }
        guard node.inputs.count > 2, !node.inputs[2].isEmpty else { return .uint8 }
        return elementType(of: node.inputs[2]) ?? .uint8
    }

    static func cumulativeSum(_ a: HostTensor, axis: Int, exclusive: Bool, reverse: Bool) -> HostTensor {
        let n = a.shape[axis], inner = a.shape[(axis + 1)...].reduce(1, *), outer = a.shape.prefix(axis).reduce(1, *)
        func scan<T: AdditiveArithmetic>(_ v: [T]) -> [T] {
            var out = v
            for o in 0..<outer {
                for i in 0..<inner {
                    var total = T.zero
                    for step in 0..<n {
                        let j = reverse ? n - 1 - step : step
                        let index = (o * n + j) * inner + i
                        if exclusive { out[index] = total; total += v[index] } else { total += v[index]; out[index] = total }
                    }
                }
            }
            return out
        }
        switch a.storage {
        case .int(let v): return HostTensor(shape: a.shape, ints: scan(v))
        default: return HostTensor(shape: a.shape, floats: scan(a.floats))
        }
    }

    /// GatherND: the last axis of `indices` addresses leading axes of `data` after `batchDims` shared batch axes.
    static func gatherND(_ a: HostTensor, _ indices: HostTensor, batchDims: Int) throws -> HostTensor {
        let depth = indices.shape.last ?? 0
        guard batchDims + depth <= a.shape.count else { throw OpError("GatherND indices are deeper than the data") }
        let batchShape = Array(a.shape.prefix(batchDims))
        let batch = batchShape.reduce(1, *)
        let sliceShape = Array(a.shape[(batchDims + depth)...])
        let slice = sliceShape.reduce(1, *)
        let strides = rowMajorStrides(a.shape)
        let idx = indices.ints
        let perBatch = indices.count / max(1, batch * depth)
        var offsets: [Int] = []
        offsets.reserveCapacity(batch * perBatch)
        for b in 0..<batch {
            for t in 0..<perBatch {
                var offset = b * (batchDims > 0 ? strides[batchDims - 1] : 0)
                for d in 0..<depth {
                    let dim = a.shape[batchDims + d]
                    var i = Int(idx[(b * perBatch + t) * depth + d])
                    if i < 0 { i += dim }
                    guard i >= 0, i < dim else { throw OpError("GatherND index \(i) is outside 0..<\(dim)") }
                    offset += i * strides[batchDims + d]
                }
                offsets.append(offset)
            }
        }
        let shape = Array(indices.shape.dropLast()) + sliceShape
        func take<T>(_ v: [T]) -> [T] { offsets.flatMap { v[$0..<($0 + slice)] } }
        switch a.storage {
        case .float(let v): return HostTensor(shape: shape, floats: take(v))
        case .int(let v): return HostTensor(shape: shape, ints: take(v))
        case .bool(let v): return HostTensor(shape: shape, bools: take(v))
        }
    }

    static func reduce(_ op: String, _ a: HostTensor, axes: [Int], keepDims: Bool) -> HostTensor {
        let reduced = Set(axes)
        let keptShape = a.shape.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        let total = keptShape.reduce(1, *)
        let strides = rowMajorStrides(keptShape)
        let outStrides = a.shape.indices.map { reduced.contains($0) ? 0 : strides[$0] }
        let targets = expandIndices(shape: a.shape, strides: outStrides)
        let values = a.floats
        var out = [Float](repeating: op == "ReduceMax" ? -.infinity : 0, count: total)
        for (i, t) in targets.enumerated() {
            if op == "ReduceMax" { out[t] = max(out[t], values[i]) } else { out[t] += values[i] }
        }
        if op == "ReduceMean" {
            let n = Float(a.count / max(1, total))
            out = out.map { $0 / n }
        }
        return HostTensor(shape: keepDims ? keptShape : a.shape.indices.filter { !reduced.contains($0) }.map { a.shape[$0] }, floats: out)
    }
}

extension HostTensor {
    init(shape: [Int], storage: Storage) {
        self.shape = shape
        self.storage = storage
    }
}
