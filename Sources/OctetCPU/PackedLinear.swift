import COctetKernels
import OctetCore

/// A K×N right-hand side packed once into the GEMM kernel's panel layout, and the parallel product with it.
final class PackedMatrix: @unchecked Sendable {
    let k: Int
    let n: Int
    let pointer: UnsafeMutablePointer<Float>

    /// Packs B, element (k, n) at `values[k * rowStride + n * columnStride]`.
    init(_ values: UnsafePointer<Float>, rows k: Int, columns n: Int, rowStride: Int, columnStride: Int) {
        self.k = k
        self.n = n
        guard let p = octet_alloc_floats(octet_packed_size(Int32(k), Int32(n))) else {
            preconditionFailure("out of memory packing a \(k)×\(n) matrix")
        }
        octet_pack_b(Int32(k), Int32(n), values, rowStride, columnStride, p)
        pointer = p
    }

    deinit { octet_free(pointer) }

    var panels: Int { (n + Int(OCTET_GEMM_NR) - 1) / Int(OCTET_GEMM_NR) }

    /// `c[m, :] = epilogue(a[m, :]·B)` for `rows` rows, split over `parallel`'s workers.
    func multiply(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
                  epilogue: Int32 = 0, bias: UnsafePointer<Float>? = nil, residual: UnsafePointer<Float>? = nil,
                  ldr: Int = 0, parallel: Parallel) {
        let (n, k, packed, panels) = (Int32(n), Int32(k), UnsafePointer(pointer), panels)
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

/// A float32 linear layer `y = x·Wᵀ + b` with W packed once into the GEMM kernel's panel layout.
final class PackedLinear: @unchecked Sendable {
    let weight: PackedMatrix
    let bias: UnsafeMutablePointer<Float>

    /// Packs `weight` (PyTorch layout `[outputs, inputs]`, row-major) and copies `bias`.
    init(weight: [Float], bias: [Float], outputs: Int, inputs: Int) {
        precondition(weight.count == outputs * inputs && bias.count == outputs, "linear layer shapes disagree")
        // B = Wᵀ: element (k, n) is W[n][k].
        self.weight = weight.withUnsafeBufferPointer {
            PackedMatrix($0.baseAddress!, rows: inputs, columns: outputs, rowStride: 1, columnStride: inputs)
        }
        guard let b = octet_alloc_floats(outputs) else {
            preconditionFailure("out of memory copying a bias of \(outputs)")
        }
        bias.withUnsafeBufferPointer { b.update(from: $0.baseAddress!, count: outputs) }
        self.bias = b
    }

    convenience init(_ linear: BertWeightsLinear) {
        self.init(weight: linear.weight, bias: linear.bias, outputs: linear.outputs, inputs: linear.inputs)
    }

    deinit { octet_free(bias) }

    /// `c[m, :] = epilogue(a[m, :]·Wᵀ + b)` for `rows` rows, split over `parallel`'s workers.
    func apply(rows: Int, a: UnsafePointer<Float>, lda: Int, c: UnsafeMutablePointer<Float>, ldc: Int,
               gelu: Bool = false, residual: UnsafePointer<Float>? = nil, ldr: Int = 0, parallel: Parallel) {
        var flags = Int(OCTET_EPI_BIAS)
        if gelu { flags |= Int(OCTET_EPI_GELU) }
        if residual != nil { flags |= Int(OCTET_EPI_RESIDUAL) }
        weight.multiply(rows: rows, a: a, lda: lda, c: c, ldc: ldc, epilogue: Int32(flags), bias: bias,
                        residual: residual, ldr: ldr, parallel: parallel)
    }
}

/// A linear layer's weights widened to float32, before packing.
struct BertWeightsLinear {
    var weight: [Float]
    var bias: [Float]
    var outputs: Int
    var inputs: Int
}
