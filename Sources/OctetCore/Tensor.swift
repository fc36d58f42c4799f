/// A read-only view of a tensor's bytes, owned by whatever keeps the bytes alive (a memory-mapped file, an array).
///
/// Views never copy; `floats()` converts to float32 when an engine needs it, which is the one place a
/// half-precision checkpoint is widened.
public struct TensorView: @unchecked Sendable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// The tensor's bytes, little-endian, row-major.
    public let bytes: UnsafeRawBufferPointer
    /// Keeps the storage behind `bytes` alive.
    public let owner: AnyObject

    public init(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.bytes = bytes
        self.owner = owner
    }

    /// The number of elements.
    public var count: Int { shape.reduce(1, *) }

    /// The elements widened (or narrowed, for float64) to float32, in row-major order.
    ///
    /// float16 and bfloat16 widen exactly; float64 rounds to nearest; integer types convert exactly up to 2^24.
    public func floats() -> [Float] {
        let n = count
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            withExtendedLifetime(owner) {
                let raw = bytes.baseAddress!
                switch dtype {
                case .float32:
                    for i in 0..<n { out[i] = raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
                case .float16:
                    for i in 0..<n {
                        out[i] = Self.halfToFloat(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))
                    }
                case .bfloat16:
                    for i in 0..<n {
                        let b = raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)
                        out[i] = Float(bitPattern: UInt32(b) << 16)
                    }
                case .float64:
                    for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
                case .int64:
                    for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self)) }
                case .int32:
                    for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
                case .int16:
                    for i in 0..<n { out[i] = Float(raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self)) }
                case .int8:
                    for i in 0..<n { out[i] = Float(raw.load(fromByteOffset: i, as: Int8.self)) }
                case .uint8, .bool:
                    for i in 0..<n { out[i] = Float(raw.load(fromByteOffset: i, as: UInt8.self)) }
                }
            }
            initialized = n
        }
    }

    /// The elements as Int32, for integer tensors (token ids, masks). Values outside Int32 are clamped.
    public func int32s() -> [Int32] {
        let n = count
        let raw = bytes.baseAddress!
        return withExtendedLifetime(owner) {
            switch dtype {
            case .int32:
                return (0..<n).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self) }
            case .int64:
                return (0..<n).map {
                    Int32(clamping: raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self))
                }
            default:
                return floats().map { Int32($0) }
            }
        }
    }

    /// IEEE 754 binary16 to binary32, exact for every input including subnormals, infinities and NaN.
    @inline(__always)
    static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exponent = UInt32(h >> 10) & 0x1F
        var mantissa = UInt32(h) & 0x3FF
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent != 0 { return Float(bitPattern: sign | ((exponent + 112) << 23) | (mantissa << 13)) }
        if mantissa == 0 { return Float(bitPattern: sign) }
        // Subnormal half: normalize.
        var e: UInt32 = 113
        while mantissa & 0x400 == 0 { mantissa <<= 1; e -= 1 }
        return Float(bitPattern: sign | (e << 23) | ((mantissa & 0x3FF) << 13))
    }
}
