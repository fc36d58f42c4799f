import COctetKernels
import Foundation
import Testing
import OctetCore
import OctetCPU
import OctetModels

/// The CPU backend's tests run one at a time: some force a lower kernel path, which is process-wide.
@Suite(.serialized) struct CPUBackendTests {

@Suite struct EngineTests {
    static let engine = CPUBertEngine(weights: ReferenceModel.folder.weights)

    /// Runs the engine on the reference features and returns the largest |Octet − PyTorch| over start and end logits.
    static func maxLogitError(seq: Int, batch: Int) throws -> Float {
        let reference = try Shared.referenceFeatures(seq)
        let ids = try reference.tensor("input_ids").int32s()
        let types = try reference.tensor("token_type_ids").int32s()
        let mask = try reference.tensor("attention_mask").int32s()
        let start = try reference.tensor("start_logits").floats()
        let end = try reference.tensor("end_logits").floats()
        let count = ids.count / seq
        var worst: Float = 0
        for first in stride(from: 0, to: count, by: batch) {
            let n = min(batch, count - first)
            let range = (first * seq)..<((first + n) * seq)
            let logits = try engine.spanLogits(for: TokenBatch(
                batchSize: n, sequenceLength: seq, inputIDs: Array(ids[range]), tokenTypeIDs: Array(types[range]),
                attentionMask: Array(mask[range])))
            for i in 0..<(n * seq) {
                worst = max(worst, abs(logits.start[i] - start[range.lowerBound + i]), abs(logits.end[i] - end[range.lowerBound + i]))
            }
        }
        return worst
    }

    @Test("Start and end logits are within 1e-3 of PyTorch on the 64 reference features", arguments: [384, 128])
    func logitsMatchPyTorch(seq: Int) throws {
        let error = try Self.maxLogitError(seq: seq, batch: 16)
        #expect(error <= 1e-3, "max |octet − pytorch| = \(error)")
    }

    @Test("Logits match ONNX Runtime on a padded batch of two")
    func logitsMatchOnnxRuntime() throws {
        let io = try SafeTensorsFile(path: Shared.onnxIO)
        let shape = try io.tensor("input_ids").shape
        let logits = try Self.engine.spanLogits(for: TokenBatch(
            batchSize: shape[0], sequenceLength: shape[1], inputIDs: try io.tensor("input_ids").int32s(),
            tokenTypeIDs: try io.tensor("token_type_ids").int32s(), attentionMask: try io.tensor("attention_mask").int32s()))
        let start = try io.tensor("start_logits").floats(), end = try io.tensor("end_logits").floats()
        let error = zip(logits.start + logits.end, start + end).map { abs($0 - $1) }.max()!
        #expect(error <= 1e-3, "max |octet − onnxruntime| = \(error)")
    }

    @Test("Every kernel path gives the same logits", arguments: [OCTET_ISA_PORTABLE, OCTET_ISA_AVX2, OCTET_ISA_AVX512])
    func kernelPathsAgree(isa: Int) throws {
        KernelPath.lock.lock()
        defer { KernelPath.lock.unlock() }
        let best = octet_detect_isa()
        guard isa <= Int(best) else { return }  // This CPU lacks the path; nothing to compare.
        defer { octet_set_isa(best) }
        octet_set_isa(Int32(isa))
        let error = try Self.maxLogitError(seq: 128, batch: 16)
        #expect(error <= 1e-3, "\(String(cString: octet_isa_name(Int32(isa)))): max |octet − pytorch| = \(error)")
    }

    @Test("A non-prefix attention mask leaves masked keys out exactly")
    func scatteredMaskEqualsCompactedSequence() throws {
        // The same 6 tokens, once contiguous and once with two masked pad tokens in between: the real tokens'
        // logits must not change (positions differ, so compare against a run with the same positions).
        let ids: [Int32] = [101, 2054, 2003, 0, 0, 1996, 3007, 102]
        let mask: [Int32] = [1, 1, 1, 0, 0, 1, 1, 1]
        let scattered = try Self.engine.spanLogits(for: TokenBatch(batchSize: 1, sequenceLength: 8, inputIDs: ids,
            tokenTypeIDs: [Int32](repeating: 0, count: 8), attentionMask: mask))
        var otherPads = ids
        otherPads[3] = 2000; otherPads[4] = 2001  // Masked tokens' content must not matter.
        let changed = try Self.engine.spanLogits(for: TokenBatch(batchSize: 1, sequenceLength: 8, inputIDs: otherPads,
            tokenTypeIDs: [Int32](repeating: 0, count: 8), attentionMask: mask))
        for i in [0, 1, 2, 5, 6, 7] {
            #expect(scattered.start[i] == changed.start[i])
            #expect(scattered.end[i] == changed.end[i])
        }
    }

    @Test("Out-of-vocabulary ids and over-long sequences are rejected with a clear error")
    func badInputsAreRejected() throws {
        #expect(throws: OctetError.invalidArgument("input id 40000 at position 1 is outside the vocabulary 0..<30522")) {
            try Self.engine.spanLogits(for: TokenBatch(batchSize: 1, sequenceLength: 2, inputIDs: [101, 40000],
                                                       tokenTypeIDs: [0, 0], attentionMask: [1, 1]))
        }
        #expect(throws: OctetError.invalidArgument("sequence length 600 is outside 1...512, the model's position-embedding count")) {
            try Self.engine.spanLogits(for: TokenBatch(batchSize: 1, sequenceLength: 600, inputIDs: [Int32](repeating: 0, count: 600),
                                                       tokenTypeIDs: [Int32](repeating: 0, count: 600), attentionMask: [Int32](repeating: 1, count: 600)))
        }
    }
}

@Suite struct KernelTests {
    /// Reference GEMM in double precision.
    static func reference(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Double] {
        var c = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { c[i * n + j] += Double(a[i * k + p]) * Double(b[j * k + p]) } } }
        return c
    }

    @Test("GEMM with bias, residual and GELU matches a double-precision reference on every path and odd shapes",
          arguments: [(1, 1, 1), (13, 45, 7), (37, 64, 384), (128, 33, 96)])
    func gemmMatchesReference(shape: (Int, Int, Int)) {
        let (m, n, k) = shape
        var rng = SystemRandomNumberGenerator()
        let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &rng) }
        let w = (0..<(n * k)).map { _ in Float.random(in: -1...1, using: &rng) }  // [n, k] like a Linear weight
        let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        let residual = (0..<(m * n)).map { _ in Float.random(in: -1...1, using: &rng) }
        let expected = Self.reference(a, w, m: m, n: n, k: k)
        KernelPath.forEachAvailable { isa in
            let packed = octet_alloc_floats(octet_packed_size(Int32(k), Int32(n)))!
            defer { octet_free(packed) }
            octet_pack_b(Int32(k), Int32(n), w, 1, k, packed)
            var c = [Float](repeating: .nan, count: m * n)
            let flags = Int32(OCTET_EPI_BIAS | OCTET_EPI_RESIDUAL | OCTET_EPI_GELU)
            octet_sgemm(Int32(m), Int32(n), Int32(k), a, k, packed, 0, Int32((n + 31) / 32), flags, bias, residual, n, &c, n)
            var worst = 0.0
            for i in 0..<(m * n) {
                let x = expected[i] + Double(bias[i % n]) + Double(residual[i])
                let gelu = 0.5 * x * (1 + erf(x / 2.0.squareRoot()))
                // float32 accumulation over k terms of magnitude ≤ 1: error grows like k·ε.
                worst = max(worst, abs(Double(c[i]) - gelu) / (1 + Double(k) * 1e-6 * 4))
            }
            #expect(worst < 1e-5 * Double(max(1, k / 32)), "\(String(cString: octet_isa_name(isa))) \(shape): \(worst)")
        }
    }

    @Test("Vectorized erf is within 5e-7 and exp within 2e-7 relative of libm")
    func approximationsMatchLibm() {
        let xs = stride(from: -9.0 as Float, through: 9.0, by: 0.001).map { $0 }
        var y = [Float](repeating: 0, count: xs.count)
        octet_erf_array(xs, &y, xs.count)
        let erfError = zip(xs, y).map { abs(Double($1) - erf(Double($0))) }.max()!
        #expect(erfError <= 5e-7, "erf error \(erfError)")
        let es = stride(from: -80.0 as Float, through: 80.0, by: 0.01).map { $0 }
        var e = [Float](repeating: 0, count: es.count)
        octet_exp_array(es, &e, es.count)
        let expError = zip(es, e).map { abs(Double($1) / exp(Double($0)) - 1) }.max()!
        #expect(expError <= 2e-7, "exp relative error \(expError)")
    }

    @Test("GELU is within 4e-7 of exact-erf GELU on every instruction set, far tails included")
    func geluMatchesExactErf() {
        // The normal tail's erfc form (Abramowitz and Stegun 7.1.26, |error| ≤ 1.5e-7 in erfc, whose e^(−z²/2) factor
        // shrinks it in the tails) plus float rounding: 3.3e-7 at most over this range. Eigen's rational erf, the form
        // before, measured 1.09e-6. The CUDA epilogues compute the same form (Kernels/common.cuh), so the two engines'
        // GELUs differ by rounding alone.
        let zs = stride(from: -40.0 as Float, through: 40.0, by: 0.0005).map { $0 }
        KernelPath.forEachAvailable { isa in
            var y = zs
            octet_gelu(&y, y.count)
            let exact = zs.map { 0.5 * Double($0) * (1 + erf(Double($0) / 2.0.squareRoot())) }
            let error = zip(y, exact).map { abs(Double($0) - $1) }.max()!
            #expect(error <= 4e-7, "\(String(cString: octet_isa_name(isa))): GELU error \(error)")
        }
    }

    @Test("Rounding to fp16 matches IEEE round-to-nearest-even on every instruction set: normals, subnormals, overflow, ties")
    func roundToHalfMatchesIEEE() {
        // The reference is Swift's Float16 conversion (IEEE 754 binary16, ties to even); the kernel's paths are F16C's
        // conversions and bit arithmetic. Every exponent from fp16's subnormals to past its range, exact ties of both
        // parities, and the special values.
        var rng = SplitMix64(state: 5)
        var x: [Float] = (0..<200_000).map { _ in
            let bits = UInt32(truncatingIfNeeded: rng.next())
            return Float(sign: bits & 1 == 0 ? .plus : .minus, exponent: Int(bits >> 1 & 63) - 30,
                         significand: 1 + Float(bits >> 9) * 0x1p-23)
        }
        for k in 0..<1024 {
            x.append(1 + (Float(2 * k) + 1) * 0x1p-11)  // halfway between two fp16 neighbours at 1…2
            x.append(Float(2 * k + 1) * 0x1p-25)          // halfway between two fp16 subnormals
        }
        x += [0, -0.0, 65504, 65519.99, 65520, -65520, 0x1p-14, 0x1p-14 - 0x1p-30, 0x1p-25, 0x1p-25 + 0x1p-40, .infinity,
              -.infinity, .greatestFiniteMagnitude, .leastNonzeroMagnitude]
        let expected = x.map { Float(Float16($0)).bitPattern }
        KernelPath.forEachAvailable { isa in
            var y = [Float](repeating: .nan, count: x.count)
            octet_round_to_half(x, x.count, &y)
            let wrong = zip(y, expected).enumerated().filter { $0.element.0.bitPattern != $0.element.1 }
            #expect(wrong.isEmpty, "\(String(cString: octet_isa_name(isa))): \(wrong.count) values differ, first at \(x[wrong.first?.offset ?? 0])")
            var nan: [Float] = [0]
            octet_round_to_half([Float.nan], 1, &nan)
            #expect(nan[0].isNaN)
        }
    }

    @Test("LayerNorm and masked softmax match double-precision references")
    func rowKernelsMatchReference() {
        var rng = SystemRandomNumberGenerator()
        let n = 384
        let x = (0..<(3 * n)).map { _ in Float.random(in: -4...4, using: &rng) }
        let gamma = (0..<n).map { _ in Float.random(in: 0.5...1.5, using: &rng) }
        let beta = (0..<n).map { _ in Float.random(in: -1...1, using: &rng) }
        var y = [Float](repeating: 0, count: 3 * n)
        octet_layernorm(3, Int32(n), x, n, gamma, beta, 1e-12, &y, n)
        for r in 0..<3 {
            let row = x[(r * n)..<((r + 1) * n)].map(Double.init)
            let mean = row.reduce(0, +) / Double(n)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
            for i in 0..<n {
                let expected = (row[i] - mean) / (variance + 1e-12).squareRoot() * Double(gamma[i]) + Double(beta[i])
                #expect(abs(Double(y[r * n + i]) - expected) < 1e-5)
            }
        }
        var s = (0..<10).map { Float($0) }
        octet_softmax(1, 10, 7, &s, 10, 0.5)
        let weights = (0..<7).map { exp(0.5 * Double($0)) }
        let total = weights.reduce(0, +)
        for i in 0..<7 { #expect(abs(Double(s[i]) - weights[i] / total) < 1e-6) }
        #expect(s[7...].allSatisfy { $0 == 0 })
    }
}
}
