import Foundation
import OctetCore
import SwiftProtobuf

/// Owns a heap copy of bytes that initializers point into (a `Data`'s own storage may move or live inline).
final class ByteBox: @unchecked Sendable {
    let bytes: UnsafeMutableRawBufferPointer
    init(_ data: Data) {
        bytes = .allocate(byteCount: max(1, data.count), alignment: 64)
        _ = data.copyBytes(to: bytes.bindMemory(to: UInt8.self))
    }
    deinit { bytes.deallocate() }
}

extension ONNXGraph {
    /// Reads an ONNX model file, with its external data, into Octet's graph form.
    ///
    /// Every failure names the file: a file that is not a valid protobuf, a tensor with an unknown data type or a
    /// payload that disagrees with its shape, external data that is missing or shorter than the tensor needs.
    public init(contentsOf path: String) throws {
        let file = try MappedFile(path: path)
        let model: Onnx_ModelProto
        do {
            var options = BinaryDecodingOptions()
            options.messageDepthLimit = 200
            model = try Onnx_ModelProto(serializedBytes: Data(file.bytes), options: options)
        } catch {
            throw OctetError.malformed(path, "is not a valid ONNX model: the protobuf does not decode (\(error))")
        }
        guard model.hasGraph else { throw OctetError.malformed(path, "has no graph") }
        let folder = (path as NSString).deletingLastPathComponent
        var externalFiles: [String: MappedFile] = [:]
        let graph = model.graph
        var initializers: [String: Initializer] = [:]
        for tensor in graph.initializer {
            let initializer = try Self.initializer(tensor, modelPath: path, folder: folder, externalFiles: &externalFiles)
            initializers[initializer.name] = initializer
        }
        // Constant nodes' values are initializers too, as far as readers of the graph are concerned.
        var nodes: [Node] = []
        nodes.reserveCapacity(graph.node.count)
        for (index, node) in graph.node.enumerated() {
            var attributes: [String: Attribute] = [:]
            for attribute in node.attribute {
                attributes[attribute.name] = try Self.attribute(attribute, node: node.name, modelPath: path, folder: folder, externalFiles: &externalFiles)
            }
            nodes.append(Node(name: node.name.isEmpty ? "\(node.opType)_\(index)" : node.name, opType: node.opType,
                              domain: node.domain, inputs: node.input, outputs: node.output, attributes: attributes))
        }
        var opsets: [String: Int] = [:]
        for opset in model.opsetImport { opsets[opset.domain == "ai.onnx" ? "" : opset.domain] = Int(opset.version) }
        let initializerNames = Set(initializers.keys)
        self.init(path: path, irVersion: Int(model.irVersion), producer: [model.producerName, model.producerVersion].filter { !$0.isEmpty }.joined(separator: " "),
                  opsets: opsets,
                  inputs: graph.input.filter { !initializerNames.contains($0.name) }.map(Self.valueInfo),
                  outputs: graph.output.map(Self.valueInfo), initializers: initializers, nodes: nodes)
    }

    static func valueInfo(_ value: Onnx_ValueInfoProto) -> ValueInfo {
        guard value.hasType, case .tensorType(let tensor)? = value.type.value else {
            return ValueInfo(name: value.name, elementType: nil, shape: nil)
        }
        let shape: [Dimension]? = tensor.hasShape ? tensor.shape.dim.map { dim in
            switch dim.value {
            case .dimValue(let n)?: .fixed(Int(n))
            case .dimParam(let s)?: s.isEmpty ? .unknown : .symbol(s)
            case nil: .unknown
            }
        } : nil
        return ValueInfo(name: value.name, elementType: ONNXDataType(rawValue: Int(tensor.elemType)), shape: shape)
    }

    static func attribute(_ a: Onnx_AttributeProto, node: String, modelPath: String, folder: String,
                          externalFiles: inout [String: MappedFile]) throws -> Attribute {
        switch a.type {
        case .int: return .int(Int(a.i))
        case .float: return .float(a.f)
        case .string: return .string(String(decoding: a.s, as: UTF8.self))
        case .ints: return .ints(a.ints.map { Int($0) })
        case .floats: return .floats(a.floats)
        case .strings: return .strings(a.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor: return .tensor(try initializer(a.t, modelPath: modelPath, folder: folder, externalFiles: &externalFiles))
        case .graph, .graphs: return .graph
        default:
            // Old exporters leave `type` unset; infer it from the field that is present.
            if a.hasT { return .tensor(try initializer(a.t, modelPath: modelPath, folder: folder, externalFiles: &externalFiles)) }
            if !a.ints.isEmpty { return .ints(a.ints.map { Int($0) }) }
            if !a.floats.isEmpty { return .floats(a.floats) }
            if a.hasI { return .int(Int(a.i)) }
            if a.hasF { return .float(a.f) }
            if a.hasS { return .string(String(decoding: a.s, as: UTF8.self)) }
            throw OctetError.unsupported(modelPath, "node '\(node)' has attribute '\(a.name)' of a type Octet does not read")
        }
    }

    /// Turns a `TensorProto` into an initializer: raw data, typed fields, or external data.
    static func initializer(_ t: Onnx_TensorProto, modelPath: String, folder: String,
                            externalFiles: inout [String: MappedFile]) throws -> Initializer {
        guard let type = ONNXDataType(rawValue: Int(t.dataType)) else {
            throw OctetError.unsupported(modelPath, "tensor '\(t.name)' has data type \(t.dataType), which Octet does not read")
        }
        let shape = t.dims.map { Int($0) }
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw OctetError.malformed(modelPath, "tensor '\(t.name)' has a negative dimension in \(shape)")
        }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product < 1 << 40 else {
                throw OctetError.malformed(modelPath, "tensor '\(t.name)' has shape \(shape), too large to hold")
            }
            count = product
        }
        guard let size = type.byteSize else {
            throw OctetError.unsupported(modelPath, "tensor '\(t.name)' has data type \(type.name), which Octet does not read")
        }
        let expected = count * size
        func check(_ bytes: Int, _ source: String) throws {
            guard bytes == expected else {
                throw OctetError.malformed(source, "tensor '\(t.name)' holds \(bytes) bytes but shape \(shape) of \(type.name) needs \(expected)")
            }
        }
        if t.hasDataLocation && t.dataLocation == .external {
            var entries: [String: String] = [:]
            for e in t.externalData { entries[e.key] = e.value }
            guard let location = entries["location"], !location.isEmpty else {
                throw OctetError.malformed(modelPath, "tensor '\(t.name)' is external but names no location")
            }
            guard !location.hasPrefix("/"), !location.split(separator: "/").contains("..") else {
                throw OctetError.malformed(modelPath, "tensor '\(t.name)' has external data '\(location)' outside the model's folder")
            }
            let externalPath = (folder as NSString).appendingPathComponent(location)
            let mapped: MappedFile
            if let cached = externalFiles[externalPath] {
                mapped = cached
            } else {
                guard FileManager.default.fileExists(atPath: externalPath) else {
                    throw OctetError.fileNotFound(externalPath, "external data of tensor '\(t.name)' in \(modelPath)")
                }
                mapped = try MappedFile(path: externalPath)
                externalFiles[externalPath] = mapped
            }
            let offset = Int(entries["offset"] ?? "0") ?? -1
            let length = entries["length"].flatMap { Int($0) } ?? (mapped.bytes.count - max(0, offset))
            guard offset >= 0, length >= 0, offset + length <= mapped.bytes.count else {
                throw OctetError.malformed(externalPath, "is truncated: tensor '\(t.name)' needs bytes \(offset)..<\(offset + length) but the file has \(mapped.bytes.count)")
            }
            try check(length, externalPath)
            return Initializer(name: t.name, dataType: type, shape: shape,
                               bytes: UnsafeRawBufferPointer(rebasing: mapped.bytes[offset..<(offset + length)]), owner: mapped)
        }
        let data: Data
        if t.hasRawData {
            data = t.rawData
        } else {
            switch type {
            case .float: data = t.floatData.withUnsafeBytes { Data($0) }
            case .double: data = t.doubleData.withUnsafeBytes { Data($0) }
            case .int64: data = t.int64Data.withUnsafeBytes { Data($0) }
            case .uint64, .uint32: data = t.uint64Data.withUnsafeBytes { Data($0) }
            case .int32: data = t.int32Data.withUnsafeBytes { Data($0) }
            // int32_data carries the narrower integer types and the 16-bit floats, one element per entry.
            case .int8, .uint8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz:
                data = Data(t.int32Data.map { UInt8(truncatingIfNeeded: $0) })
            case .int16, .uint16, .float16, .bfloat16:
                var d = Data(capacity: t.int32Data.count * 2)
                for v in t.int32Data { withUnsafeBytes(of: UInt16(truncatingIfNeeded: v).littleEndian) { d.append(contentsOf: $0) } }
                data = d
            default: data = Data()
            }
            if type == .uint32 {
                // uint32 travels in uint64_data.
                let values = t.uint64Data.map { UInt32(truncatingIfNeeded: $0) }
                let d = values.withUnsafeBytes { Data($0) }
                try check(d.count, modelPath)
                return Self.owned(t.name, type, shape, d)
            }
        }
        try check(data.count, modelPath)
        return Self.owned(t.name, type, shape, data)
    }

    /// An initializer owning a copy of `data`.
    public static func owned(_ name: String, _ type: ONNXDataType, _ shape: [Int], _ data: Data) -> Initializer {
        let box = ByteBox(data)
        return Initializer(name: name, dataType: type, shape: shape,
                           bytes: UnsafeRawBufferPointer(rebasing: box.bytes[0..<data.count]), owner: box)
    }
}
