import Foundation
import OctetCore

/// One dimension of a value's shape: a known size or a named symbol (`batch`, `sequence`).
public enum Dimension: Hashable, Sendable, CustomStringConvertible {
    case fixed(Int)
    case symbol(String)
    case unknown

    public var description: String {
        switch self {
        case .fixed(let n): "\(n)"
        case .symbol(let s): s
        case .unknown: "?"
        }
    }
}

/// A graph input or output: name, element type and shape.
public struct ValueInfo: Sendable {
    public let name: String
    /// ONNX element type (`TensorProto.DataType`), or nil when the model does not say.
    public let elementType: ONNXDataType?
    public let shape: [Dimension]?

    public init(name: String, elementType: ONNXDataType?, shape: [Dimension]?) {
        self.name = name
        self.elementType = elementType
        self.shape = shape
    }
}

/// An attribute of a node, reduced to the kinds transformer graphs use.
public enum Attribute: Sendable {
    case int(Int)
    case float(Float)
    case string(String)
    case ints([Int])
    case floats([Float])
    case strings([String])
    case tensor(Initializer)
    case graph
}

/// One operation of the graph.
public struct Node: Sendable {
    public let name: String
    public let opType: String
    /// Operator-set domain; "" is the default ONNX domain.
    public let domain: String
    /// Input value names; "" marks an omitted optional input.
    public let inputs: [String]
    public let outputs: [String]
    public let attributes: [String: Attribute]

    public init(name: String, opType: String, domain: String = "", inputs: [String], outputs: [String], attributes: [String: Attribute] = [:]) {
        self.name = name
        self.opType = opType
        self.domain = domain
        self.inputs = inputs
        self.outputs = outputs
        self.attributes = attributes
    }
}

/// A constant tensor of the graph: its element type, shape and bytes (little-endian, row-major).
public struct Initializer: @unchecked Sendable {
    public let name: String
    public let dataType: ONNXDataType
    public let shape: [Int]
    /// The bytes, either inside the model file's mapping, an external data file's mapping, or owned data.
    public let bytes: UnsafeRawBufferPointer
    public let owner: AnyObject

    public init(name: String, dataType: ONNXDataType, shape: [Int], bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.name = name
        self.dataType = dataType
        self.shape = shape
        self.bytes = bytes
        self.owner = owner
    }

    /// An initializer owning a copy of `floats`.
    public static func float32(_ name: String, shape: [Int], _ floats: [Float]) -> Initializer {
        ONNXGraph.owned(name, .float, shape, floats.withUnsafeBytes { Data($0) })
    }

    public var count: Int { shape.reduce(1, *) }

    /// A view for engines that take `TensorView`; nil for element types Octet's engines do not read.
    public var view: TensorView? {
        guard let dtype = dataType.dtype else { return nil }
        return TensorView(name: name, dtype: dtype, shape: shape, bytes: bytes, owner: owner)
    }
}

/// An ONNX model as Octet sees it: opsets, graph inputs and outputs, initializers and nodes in file order.
public struct ONNXGraph: Sendable {
    public let path: String
    public let irVersion: Int
    public let producer: String
    /// Operator-set version by domain ("" is the default ONNX domain).
    public let opsets: [String: Int]
    public let inputs: [ValueInfo]
    public let outputs: [ValueInfo]
    public let initializers: [String: Initializer]
    public let nodes: [Node]

    public init(path: String, irVersion: Int = 8, producer: String = "", opsets: [String: Int], inputs: [ValueInfo],
                outputs: [ValueInfo], initializers: [String: Initializer], nodes: [Node]) {
        self.path = path
        self.irVersion = irVersion
        self.producer = producer
        self.opsets = opsets
        self.inputs = inputs
        self.outputs = outputs
        self.initializers = initializers
        self.nodes = nodes
    }

    /// How many nodes of each op type (with a `domain:` prefix outside the default domain).
    public var opHistogram: [String: Int] {
        var histogram: [String: Int] = [:]
        for node in nodes {
            histogram[node.domain.isEmpty || node.domain == "ai.onnx" ? node.opType : "\(node.domain):\(node.opType)", default: 0] += 1
        }
        return histogram
    }

    /// Elements in floating-point initializers and in quantized (8-bit, rank ≥ 2) weights: the model's parameters.
    public var parameterCount: Int {
        initializers.values.filter { $0.dataType.isFloatingPoint || (($0.dataType == .int8 || $0.dataType == .uint8) && $0.shape.count >= 2) }
            .reduce(0) { $0 + $1.count }
    }
}

/// ONNX `TensorProto.DataType`.
public enum ONNXDataType: Int, Sendable, CaseIterable {
    case float = 1, uint8 = 2, int8 = 3, uint16 = 4, int16 = 5, int32 = 6, int64 = 7, string = 8, bool = 9
    case float16 = 10, double = 11, uint32 = 12, uint64 = 13, complex64 = 14, complex128 = 15, bfloat16 = 16
    case float8e4m3fn = 17, float8e4m3fnuz = 18, float8e5m2 = 19, float8e5m2fnuz = 20, uint4 = 21, int4 = 22
    case float4e2m1 = 23

    /// Bytes per element in raw data; nil for strings and sub-byte types.
    public var byteSize: Int? {
        switch self {
        case .float, .int32, .uint32: 4
        case .int64, .uint64, .double, .complex64: 8
        case .complex128: 16
        case .float16, .bfloat16, .uint16, .int16: 2
        case .uint8, .int8, .bool, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz: 1
        case .string, .uint4, .int4, .float4e2m1: nil
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .float, .float16, .double, .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float4e2m1: true
        default: false
        }
    }

    /// The matching Octet dtype, where there is one.
    public var dtype: DType? {
        switch self {
        case .float: .float32
        case .float16: .float16
        case .bfloat16: .bfloat16
        case .double: .float64
        case .int64: .int64
        case .int32: .int32
        case .int16: .int16
        case .int8: .int8
        case .uint8: .uint8
        case .bool: .bool
        default: nil
        }
    }

    public var name: String {
        switch self {
        case .float: "float32"
        case .double: "float64"
        default: "\(self)"
        }
    }
}
