import Foundation
import OctetCore
import SwiftProtobuf

extension ONNXGraph {
    /// Where initializer bytes go when a model is written.
    public enum ExternalData: Sendable {
        /// Everything inside the .onnx file (protobuf caps a file at 2 GiB).
        case never
        /// Initializers of at least `threshold` bytes go to `location` beside the model, 64-byte aligned.
        case always(location: String, threshold: Int = 1024)
        /// Inside the file unless the initializers exceed 1.5 GiB, then as `.always` with "<model>.data".
        case automatic
    }

    /// Writes the graph as an ONNX model (atomically, external data first).
    public func write(to path: String, externalData: ExternalData = .automatic) throws {
        let total = initializers.values.reduce(0) { $0 + $1.bytes.count }
        var location: String? = nil
        var threshold = Int.max
        switch externalData {
        case .never: break
        case .always(let l, let t): (location, threshold) = (l, t)
        case .automatic:
            if total > 1_610_612_736 { (location, threshold) = ((path as NSString).lastPathComponent + ".data", 1024) }
        }
        var external = Data()
        var graph = Onnx_GraphProto()
        graph.name = "octet"
        for name in initializers.keys.sorted() {
            let t = initializers[name]!
            var proto = Onnx_TensorProto()
            proto.name = t.name
            proto.dataType = Int32(t.dataType.rawValue)
            proto.dims = t.shape.map { Int64($0) }
            if let location, t.bytes.count >= threshold {
                let padding = (64 - external.count % 64) % 64
                external.append(Data(count: padding))
                proto.dataLocation = .external
                proto.externalData = [("location", location), ("offset", "\(external.count)"), ("length", "\(t.bytes.count)")].map {
                    var e = Onnx_StringStringEntryProto()
                    e.key = $0.0
                    e.value = $0.1
                    return e
                }
                external.append(contentsOf: t.bytes)
            } else {
                proto.rawData = Data(t.bytes)
            }
            graph.initializer.append(proto)
        }
        graph.input = inputs.map(Self.valueInfoProto)
        graph.output = outputs.map(Self.valueInfoProto)
        graph.node = try nodes.map { node in
            var proto = Onnx_NodeProto()
            proto.name = node.name
            proto.opType = node.opType
            if !node.domain.isEmpty { proto.domain = node.domain }
            proto.input = node.inputs
            proto.output = node.outputs
            proto.attribute = try node.attributes.keys.sorted().map { try Self.attributeProto($0, node.attributes[$0]!, node: node.name) }
            return proto
        }
        var model = Onnx_ModelProto()
        model.irVersion = Int64(max(irVersion, 8))
        model.producerName = "octet"
        model.graph = graph
        model.opsetImport = opsets.keys.sorted().map {
            var o = Onnx_OperatorSetIdProto()
            o.domain = $0
            o.version = Int64(opsets[$0]!)
            return o
        }
        let bytes: Data
        do {
            bytes = try model.serializedBytes()
        } catch {
            throw OctetError(.writeFailed, "\(path): could not encode the model (\(error)).")
        }
        if let location {
            try FileIO.writeAtomically(external, to: ((path as NSString).deletingLastPathComponent as NSString).appendingPathComponent(location))
        }
        try FileIO.writeAtomically(bytes, to: path)
    }

    static func valueInfoProto(_ v: ValueInfo) -> Onnx_ValueInfoProto {
        var proto = Onnx_ValueInfoProto()
        proto.name = v.name
        guard let type = v.elementType else { return proto }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(type.rawValue)
        if let shape = v.shape {
            var s = Onnx_TensorShapeProto()
            s.dim = shape.map { d in
                var dim = Onnx_TensorShapeProto.Dimension()
                switch d {
                case .fixed(let n): dim.dimValue = Int64(n)
                case .symbol(let name): dim.dimParam = name
                case .unknown: break
                }
                return dim
            }
            tensor.shape = s
        }
        proto.type.tensorType = tensor
        return proto
    }

    static func attributeProto(_ name: String, _ a: Attribute, node: String) throws -> Onnx_AttributeProto {
        var proto = Onnx_AttributeProto()
        proto.name = name
        switch a {
        case .int(let i): proto.type = .int; proto.i = Int64(i)
        case .float(let f): proto.type = .float; proto.f = f
        case .string(let s): proto.type = .string; proto.s = Data(s.utf8)
        case .ints(let v): proto.type = .ints; proto.ints = v.map { Int64($0) }
        case .floats(let v): proto.type = .floats; proto.floats = v
        case .strings(let v): proto.type = .strings; proto.strings = v.map { Data($0.utf8) }
        case .tensor(let t):
            proto.type = .tensor
            var tensor = Onnx_TensorProto()
            tensor.name = t.name
            tensor.dataType = Int32(t.dataType.rawValue)
            tensor.dims = t.shape.map { Int64($0) }
            tensor.rawData = Data(t.bytes)
            proto.t = tensor
        case .graph:
            throw OctetError.unsupported(node, "subgraph attribute '\(name)' cannot be written by Octet")
        }
        return proto
    }
}
