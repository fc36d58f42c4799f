import COctetKernels
import OctetCore

/// A float32 linear layer `y = x·Wᵀ + b` with W packed once into the GEMM kernel's panel layout.
final class PackedLinear: @unchecked Sendable {
    let inputs: Int   // K
    let outputs: Int  // N
    let packed: UnsafeMutablePointer<Float>
    let bias: UnsafeMutablePointer<Float>

    /// Packs `weight` (PyTorch layout `[outputs, inputs]`, row-major) and copies `bias`.
    init(weight: [Float], bias: [Float], outputs: Int, inputs: Int) {
        precondition(weight.count == outputs * inputs && bias.count == outputs, "linear layer shapes disagree")
        self.inputs = inputs
        self.outputs = outputs
        let size = octet_packed_size(Int32(inputs), Int32(outputs))
        guard let p = octet_alloc_floats(size), let b = octet_alloc_floats(outputs) else {
            preconditionFailure("out of memory packing a \(outputs)×\(inputs) linear layer")
        }
        weight.withUnsafeBufferPointer {
            octet_pack_b(Int32(inputs), Int32(outputs), $0.baseAddress, 1, inputs, p)
        }
        bias.withUnsafeBufferPointer { b.update(from: $0.baseAddress!, count: outputs) }
        packed = p
        self.bias = b
    }

    convenience init(_ linear: BertWeightsLinear) {
        self.init(weight: linear.weight, bias: linear.bias, outputs: linear.outputs, inputs: linear.inputs)
    }

    deinit {
        octet_free(packed)
        octet_free(bias)
    }

    var panels: Int { (outputs + Int(OCTET_GEMM_NR) - 1) / Int(OCTET_GEMM_NR) }

    /// `c[m, :] = epilogue(a[m, :]·Wᵀ)` for `rows` rows, split over `parallel`'s workers.
    func apply(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
               gelu: Bool = false, residual: UnsafePointer<Float>? = nil, ldr: Int = 0, parallel: Parallel) {
        var flags = Int(OCTET_EPI_BIAS)
        if gelu { flags |= Int(OCTET_EPI_GELU) }
        if residual != nil { flags |= Int(OCTET_EPI_RESIDUAL) }
        let epilogue = Int32(flags)
        let (n, k, packed, bias, panels) = (Int32(outputs), Int32(inputs), UnsafePointer(packed), UnsafePointer(bias), panels)
        if panels >= 2 * parallel.workers {
            // Enough panels: each worker owns whole panels and sweeps every row (B read once overall).
            parallel.forEachRange(panels) { r in
                octet_sgemm(Int32(rows), n, k, a, lda, packed, Int32(r.lowerBound), Int32(r.upperBound),
                            epilogue, bias, residual, ldr, c, ldc)
            }
        } else {
            parallel.forEachRange(rows, granularity: 12) { r in
                octet_sgemm(Int32(r.count), n, k, a + r.lowerBound * lda, lda, packed, 0, Int32(panels),
                            epilogue, bias, residual.map { $0 + r.lowerBound * ldr }, ldr, c + r.lowerBound * ldc, ldc)
            }
        }
    }
}

/// A linear layer's weights widened to float32, before packing.
struct BertWeightsLinear {
    var weight: [Float]
    var bias: [Float]
    var outputs: Int
    var inputs: Int
}
