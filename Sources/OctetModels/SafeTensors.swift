import Foundation
import OctetCore

/// A safetensors file, memory-mapped and validated.
///
/// Layout: an 8-byte little-endian header length `n`, `n` bytes of JSON mapping each tensor name to
/// `{"dtype", "shape", "data_offsets": [begin, end]}` (offsets relative to the byte after the header), then the data.
/// Every tensor's offsets are checked against the file size and against `shape × dtype` before any is used.
public struct SafeTensorsFile: Sendable {
    public let path: String
    /// Tensors by name; each view keeps the mapping alive.
    public let tensors: [String: TensorView]
    /// The `__metadata__` strings, if any.
    public let metadata: [String: String]

    public init(path: String) throws {
        let file = try MappedFile(path: path)
        let bytes = file.bytes
        guard bytes.count >= 8 else {
            throw OctetError.malformed(path, "is truncated: \(bytes.count) bytes, shorter than the 8-byte header length")
        }
        let headerLength = Int(clamping: bytes.loadUnaligned(as: UInt64.self).littleEndian)
        guard headerLength <= bytes.count - 8 else {
            throw OctetError.malformed(path, "is truncated: the header says \(headerLength) bytes of JSON but only \(bytes.count - 8) follow")
        }
        let headerData = Data(bytes[8..<(8 + headerLength)])
        guard let header = (try? JSONSerialization.jsonObject(with: headerData)) as? [String: Any] else {
            throw OctetError.malformed(path, "has a header that is not a JSON object")
        }
        let dataStart = 8 + headerLength
        let dataSize = bytes.count - dataStart
        var tensors: [String: TensorView] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                if let m = value as? [String: Any] {
                    for (k, v) in m { metadata[k] = v as? String ?? "\(v)" }
                }
                continue
            }
            guard let entry = value as? [String: Any],
                  let dtypeName = entry["dtype"] as? String,
                  let shapeValues = entry["shape"] as? [Any],
                  let offsetValues = entry["data_offsets"] as? [Any], offsetValues.count == 2
            else {
                throw OctetError.malformed(path, "tensor '\(name)' lacks a dtype, shape or data_offsets pair")
            }
            guard let dtype = DType(rawValue: dtypeName) else {
                throw OctetError.unsupported(path, "tensor '\(name)' has dtype '\(dtypeName)', which Octet does not read (it reads \(DType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            let shape = shapeValues.compactMap { ($0 as? NSNumber)?.intValue }
            let offsets = offsetValues.compactMap { ($0 as? NSNumber)?.intValue }
            guard shape.count == shapeValues.count, shape.allSatisfy({ $0 >= 0 }), offsets.count == 2 else {
                throw OctetError.malformed(path, "tensor '\(name)' has a shape or data_offsets that are not non-negative integers")
            }
            let (begin, end) = (offsets[0], offsets[1])
            guard begin >= 0, begin <= end else {
                throw OctetError.malformed(path, "tensor '\(name)' has data_offsets [\(begin), \(end)] that run backwards")
            }
            guard end <= dataSize else {
                throw OctetError.malformed(path, "tensor '\(name)' has data_offsets [\(begin), \(end)] past the end of the data (\(dataSize) bytes): the file is truncated or its header is wrong")
            }
            var (count, overflow) = (1, false)
            for d in shape {
                (count, overflow) = count.multipliedReportingOverflow(by: d)
                if overflow { break }
            }
            guard !overflow, count.multipliedReportingOverflow(by: dtype.byteSize) == (end - begin, false) else {
                throw OctetError.malformed(path, "tensor '\(name)' holds \(end - begin) bytes but shape \(shape) of \(dtypeName) needs \(overflow ? "more than Int.max" : String(count * dtype.byteSize))")
            }
            let slice = UnsafeRawBufferPointer(rebasing: bytes[(dataStart + begin)..<(dataStart + end)])
            tensors[name] = TensorView(name: name, dtype: dtype, shape: shape, bytes: slice, owner: file)
        }
        self.path = path
        self.tensors = tensors
        self.metadata = metadata
    }

    /// The tensor called `name`, or an error naming the file and the tensor.
    public func tensor(_ name: String) throws -> TensorView {
        guard let t = tensors[name] else { throw OctetError.malformed(path, "has no tensor '\(name)'") }
        return t
    }
}

/// Writes safetensors files (tensors sorted by name, 8-byte-aligned header, atomic replace).
public enum SafeTensorsWriter {
    /// One tensor to write: its dtype, shape and little-endian bytes.
    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        public let bytes: Data

        public init(name: String, dtype: DType, shape: [Int], bytes: Data) {
            self.name = name
            self.dtype = dtype
            self.shape = shape
            self.bytes = bytes
        }
    }

    public static func write(_ entries: [Entry], metadata: [String: String] = [:], to path: String) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let sorted = entries.sorted { $0.name < $1.name }
        for e in sorted {
            guard e.bytes.count == e.shape.reduce(1, *) * e.dtype.byteSize else {
                throw OctetError.invalidArgument("tensor '\(e.name)' has \(e.bytes.count) bytes, not what shape \(e.shape) of \(e.dtype.rawValue) needs")
            }
            header[e.name] = ["dtype": e.dtype.rawValue, "shape": e.shape, "data_offsets": [offset, offset + e.bytes.count]]
            offset += e.bytes.count
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Pad the header with spaces so the data starts 8-byte aligned, as the reference writer does.
        json.append(contentsOf: [UInt8](repeating: 0x20, count: (8 - json.count % 8) % 8))
        var file = Data(capacity: 8 + json.count + offset)
        var length = UInt64(json.count).littleEndian
        withUnsafeBytes(of: &length) { file.append(contentsOf: $0) }
        file.append(json)
        for e in sorted { file.append(e.bytes) }
        try FileIO.writeAtomically(file, to: path)
    }
}
