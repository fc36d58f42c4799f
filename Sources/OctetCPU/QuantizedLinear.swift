import COctetKernels
import OctetCore

/// An INT8 linear layer `y = dq(q(x))·dq(W)ᵀ + b` computed in integers: the input quantized with its step (stored
/// with 128 added, as `octet_gemm_u8s8` takes it), int8 weights packed once, exact int32 sums, then one float
/// multiply per column (input step × weight step) and the bias.
///
/// The weights are quantized as Octet's Q/DQ export quantizes them (`SymmetricInt8.quantizeWeight`): per output
/// channel (or per tensor) amax/127, round half to even, saturated at ±127. So this computes exactly the integers the CPU reference's
/// integer Q/DQ execution computes; only the float epilogue's rounding differs.
final class QuantizedLinear: @unchecked Sendable {
    let outputs: Int
    let inputs: Int
    let inputStep: Float
    private let packed: [Int8]
    private let colsum: [Int32]
    private let dq: [Float]
    private let bias: [Float]

    /// Rows per step inside a worker's range: 8 of the VNNI kernel's 12-row tiles.
    static let chunkRows = 96

    /// Scratch for the quantized rows and their int32 sums, shared by an engine's INT8 layers (they run one at a time).
    private let scratch: Int8Scratch

    init(weight: [Float], bias: [Float], outputs: Int, inputs: Int, inputStep: Float, perChannel: Bool, scratch: Int8Scratch) {
        self.scratch = scratch
        precondition(weight.count == outputs * inputs && bias.count == outputs, "linear layer shapes disagree")
        self.outputs = outputs
        self.inputs = inputs
        self.inputStep = inputStep
        let (q, steps) = SymmetricInt8.quantizeWeight(weight, rows: outputs, columns: inputs, perRow: perChannel)
        var packed = [Int8](repeating: 0, count: octet_packed_s8_size(Int32(inputs), Int32(outputs)))
        var colsum = [Int32](repeating: 0, count: outputs)
        octet_pack_s8(Int32(inputs), Int32(outputs), q, inputs, &packed, &colsum)
        self.packed = packed
        self.colsum = colsum
        dq = (0..<outputs).map { inputStep * steps[perChannel ? $0 : 0] }
        self.bias = bias
    }

    /// `c[m, :] = gelu?(q(a[m, :])·Wᵀ·dq + b) (+ residual[m, :])` for `rows` rows, rows split over the workers; then
    /// `norm` on each worker's rows, in the same pass (quantize, GEMM, dequantize, add, LayerNorm while in cache).
    func apply(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int, gelu: Bool = false,
               residual: UnsafePointer<Float>? = nil, ldr: Int = 0, norm: RowNorm? = nil, parallel: Parallel) {
        let (n, k, step) = (outputs, inputs, inputStep)
        packed.withUnsafeBufferPointer { packed in
            colsum.withUnsafeBufferPointer { colsum in
                dq.withUnsafeBufferPointer { dq in
                    bias.withUnsafeBufferPointer { bias in
                        let (quantizedRows, allSums) = scratch.buffers(rows: rows, inputs: k, outputs: n)
                        parallel.forEachRange(rows, granularity: 12) { range in
                            // Each range owns its rows of the shared scratch, and runs them in chunks of
                            // `chunkRows`: quantized rows, int32 sums and float outputs of a chunk stay in the core's
                            // L2 from one step to the next (a whole range of a batch of 8 × 128 tokens did not: its
                            // 3 MB of sums went out to L3 and back, and s128 b8 ran 1.5× the per-token time of b1).
                            for lower in stride(from: range.lowerBound, to: range.upperBound, by: Self.chunkRows) {
                                let r = lower..<min(lower + Self.chunkRows, range.upperBound)
                                let quantized = quantizedRows + r.lowerBound * k, sums = allSums + r.lowerBound * n
                                for row in 0..<r.count {
                                    octet_quantize_u8_shifted(a + (r.lowerBound + row) * lda, k, step, quantized + row * k)
                                }
                                octet_gemm_u8s8(Int32(r.count), Int32(n), Int32(k), quantized, k, packed.baseAddress, colsum.baseAddress, sums, n)
                                octet_dequantize_rows(Int32(r.count), Int32(n), sums, n, dq.baseAddress, bias.baseAddress,
                                                      residual.map { $0 + r.lowerBound * ldr }, ldr, gelu ? 1 : 0, c + r.lowerBound * ldc, ldc)
                                norm?.apply(r, n: n, c: c, ldc: ldc)
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Reusable memory for `QuantizedLinear`: grows to the largest call and is kept, so a steady stream of same-shaped
/// batches allocates (and page-faults) nothing.
final class Int8Scratch: @unchecked Sendable {
    private var quantized: UnsafeMutablePointer<UInt8>?
    private var sums: UnsafeMutablePointer<Int32>?
    private var quantizedCapacity = 0, sumsCapacity = 0

    deinit {
        quantized?.deallocate()
        sums?.deallocate()
    }

    /// Room for `rows` quantized input rows of `inputs` bytes and their `outputs` int32 sums.
    func buffers(rows: Int, inputs: Int, outputs: Int) -> (UnsafeMutablePointer<UInt8>, UnsafeMutablePointer<Int32>) {
        if rows * inputs > quantizedCapacity {
            quantized?.deallocate()
            quantizedCapacity = rows * inputs
            quantized = .allocate(capacity: quantizedCapacity)
        }
        if rows * outputs > sumsCapacity {
            sums?.deallocate()
            sumsCapacity = rows * outputs
            sums = .allocate(capacity: sumsCapacity)
        }
        return (quantized!, sums!)
    }
}
