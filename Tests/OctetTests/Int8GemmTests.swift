import COctetKernels
import Foundation
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX
import OctetQuant
import Testing

/// The VNNI integer GEMM of the fast CPU engine (issue 6) against the reference int8 GEMM.
@Suite struct Int8GemmTests {
    /// Shapes with every kind of tail: rows not a multiple of the 12/6/4-row tiles, columns not a multiple of the
    /// 16-column panels, K not a multiple of the 4-byte groups; and BERT's own.
    static let shapes: [(m: Int, n: Int, k: Int)] = [(1, 1, 1), (3, 5, 7), (13, 47, 9), (12, 32, 64), (25, 33, 130),
                                                     (128, 384, 384), (64, 1536, 384), (7, 17, 1536)]

    @Test("u8 × packed s8 GEMM equals the s8 × s8 reference exactly on every integer path",
          arguments: [OCTET_I8_PORTABLE, OCTET_I8_AVX2, OCTET_I8_AVXVNNI, OCTET_I8_AVX512VNNI])
    func matchesReference(path: Int) {
        KernelPath.lock.lock()
        defer { KernelPath.lock.unlock() }
        let previous = octet_int8_path()  // restored after (OCTET_ISA may cap it below the best)
        guard octet_int8_path_supported(Int32(path)) != 0 else { return }  // this CPU lacks the path
        defer { octet_set_int8_path(previous) }
        #expect(octet_set_int8_path(Int32(path)) == Int32(path))
        var generator = SystemRandomNumberGenerator()
        for (m, n, k) in Self.shapes {
            let a = (0..<(m * k)).map { _ in Int8.random(in: -128...127, using: &generator) }
            var w = (0..<(n * k)).map { _ in Int8.random(in: -127...127, using: &generator) }
            w[0] = 127  // the extremes: 255 × 127 products must not saturate anywhere
            // The reference takes B as [K, N].
            var b = [Int8](repeating: 0, count: k * n)
            for j in 0..<n { for p in 0..<k { b[p * n + j] = w[j * k + p] } }
            var expected = [Int32](repeating: 0, count: m * n)
            octet_gemm_s8(Int32(m), Int32(n), Int32(k), a, k, b, n, &expected, n)
            var packed = [Int8](repeating: 0, count: octet_packed_s8_size(Int32(k), Int32(n)))
            var colsum = [Int32](repeating: 0, count: n)
            octet_pack_s8(Int32(k), Int32(n), w, k, &packed, &colsum)
            let shifted = a.map { UInt8(bitPattern: $0) ^ 0x80 }
            var got = [Int32](repeating: .min, count: m * n)
            octet_gemm_u8s8(Int32(m), Int32(n), Int32(k), shifted, k, packed, colsum, &got, n)
            let differing = zip(got, expected).filter { $0 != $1 }.count
            #expect(differing == 0, "\(String(cString: octet_int8_path_name(Int32(path)))) \(m)×\(n)×\(k): \(differing) of \(m * n) differ")
        }
    }

    @Test("Forcing an integer path never selects one this CPU lacks (AVX-512 VNNI does not imply AVX-VNNI)",
          arguments: [OCTET_I8_PORTABLE, OCTET_I8_AVX2, OCTET_I8_AVXVNNI, OCTET_I8_AVX512VNNI])
    func forcedPathIsSupported(path: Int) {
        KernelPath.lock.lock()
        defer { KernelPath.lock.unlock() }
        let previous = octet_int8_path(), best = octet_best_int8_path()
        defer { octet_set_int8_path(previous) }
        let chosen = octet_set_int8_path(Int32(path))
        #expect(octet_int8_path_supported(chosen) == 1)
        #expect(Int(chosen) <= path)
        #expect(octet_int8_path_supported(best) == 1)
        if octet_int8_path_supported(Int32(path)) == 1 { #expect(Int(chosen) == path) }
    }

    @Test("The integer path names the instruction set it uses")
    func pathNames() {
        #expect(String(cString: octet_int8_path_name(Int32(OCTET_I8_AVX512VNNI))) == "avx512-vnni")
        #expect(String(cString: octet_int8_path_name(Int32(OCTET_I8_AVXVNNI))) == "avx-vnni")
        #expect(String(cString: octet_int8_path_name(Int32(OCTET_I8_PORTABLE))) == "portable")
        #expect(Int(octet_best_int8_path()) >= OCTET_I8_PORTABLE)
    }
}

/// The CPU engine with a quantization recipe (INT8 linear layers on the VNNI GEMM) against the CPU reference's
/// integer execution of Octet's Q/DQ export of the same recipe.
@Suite struct CPUInt8EngineTests {
    @Test("The CPU INT8 engine computes the Q/DQ model of its recipe (reference model, 8 SQuAD features at s384)")
    func matchesQDQReference() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let scales = try QuantizationScales(contentsOf: root.appendingPathComponent("recipes/minilm-l6-squad.json").path)
        let weights = ReferenceModel.folder.weights
        let batch = try TokenBatch(safetensors: Shared.reference + "/reference_s384.safetensors", count: 8)
        let engine = CPUBertEngine(weights: weights, recipe: scales, threads: 2)
        #expect(engine.label.hasPrefix("cpu int8 ("))
        let got = try engine.spanLogits(for: batch)
        let reference = try ONNXQuestionAnsweringEngine(graph: BertONNXExporter(weights: weights).graph(scales: scales), threads: 2,
                                                        quantizedArithmetic: .integer)
        let expected = try reference.spanLogits(for: batch)
        let (error, agree) = got.difference(from: expected, attentionMask: batch.attentionMask)
        // The integers are the same; float epilogues round differently, and a value within rounding of a quantizer's
        // .5 boundary can flip one int8 step downstream (the GPU check allows the same 5e-2).
        #expect(error <= 5e-2, "relative L2 error of the logits \(error)")
        #expect(agree >= 7, "best spans agree in \(agree) of 8 features")
    }

    /// Every group in INT8, the residual adds' Q/DQ too; then with the residual stream in fp16, with those adds and
    /// with float adds (the reference recipe's form).
    @Test("With every group in INT8 (the residual adds' Q/DQ too), the CPU INT8 engine computes that Q/DQ model (random BERT)",
          arguments: [(false, false), (true, false), (true, true)])
    func allInt8MatchesQDQReference(halfPrecisionStream: Bool, floatAdds: Bool) throws {
        let config = BertConfig(vocabSize: 500, hiddenSize: 128, layerCount: 2, headCount: 4, intermediateSize: 512)
        let weights = BertWeights.random(config: config, seed: 11)
        var scales = QuantizationScales.synthetic(layers: config.layerCount)
        scales.halfPrecisionStream = halfPrecisionStream
        if floatAdds { scales.floatGroups = Set(QuantizationGroup.matching("*.add", layers: config.layerCount)) }
        // The export rounds the stream with a Cast pair after the embedding LayerNorm and, per layer, after both
        // sublayer outputs and both LayerNorms.
        let graph = BertONNXExporter(weights: weights).graph(scales: scales)
        let halfCasts = graph.nodes.filter { node in
            guard node.opType == "Cast", case .int(let to)? = node.attributes["to"] else { return false }
            return to == ONNXDataType.float16.rawValue
        }
        #expect(halfCasts.count == (halfPrecisionStream ? 1 + 4 * config.layerCount : 0))
        let (b, s) = (2, 64)
        let batch = TokenBatch(batchSize: b, sequenceLength: s, inputIDs: (0..<(b * s)).map { Int32(1 + ($0 * 37) % 499) },
                               tokenTypeIDs: (0..<(b * s)).map { Int32($0 % s >= 16 ? 1 : 0) },
                               attentionMask: (0..<(b * s)).map { Int32($0 >= s && $0 % s >= 50 ? 0 : 1) })
        let got = try CPUBertEngine(weights: weights, recipe: scales, threads: 2).spanLogits(for: batch)
        let reference = try ONNXQuestionAnsweringEngine(graph: graph, threads: 2, quantizedArithmetic: .integer)
        let (error, agree) = got.difference(from: try reference.spanLogits(for: batch), attentionMask: batch.attentionMask)
        #expect(error <= 5e-2, "relative L2 error of the logits \(error)")
        #expect(agree == 2, "best spans agree in \(agree) of 2 sequences")
    }
}
