import Foundation
import Testing
import OctetCore
import OctetCPU
import OctetQuant

@Suite struct QuantizationScalesTests {
    @Test("Calibration results round-trip through their JSON file")
    func scalesRoundTrip() throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let scales = QuantizationScales(activations: ["layer.0.attention.query.input": 7.25, "layer.0.attention.matmul_a": 1],
                                        perChannelWeights: false, calibrator: "entropy")
        try scales.write(to: folder + "/scales.json")
        #expect(try QuantizationScales(contentsOf: folder + "/scales.json") == scales)
    }

    static let malformed: [(json: String, message: String)] = [
        ("{\"per_channel_weights\": true}", "has no \"activations\" object of quantization point → amax"),
        ("{\"activations\": {\"layer.0.output.input\": -1}}", "gives quantization point 'layer.0.output.input' an amax that is not a finite number ≥ 0"),
        ("{\"activations\": {\"layer.0.output.input\": \"big\"}}", "gives quantization point 'layer.0.output.input' an amax that is not a finite number ≥ 0"),
    ]

    @Test("A malformed scales file is an error naming the file and the problem", arguments: 0..<3)
    func malformedScalesAreReported(index: Int) throws {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let path = folder + "/scales.json"
        try Self.malformed[index].json.write(toFile: path, atomically: true, encoding: .utf8)
        #expect {
            _ = try QuantizationScales(contentsOf: path)
        } throws: { error in
            "\(error)" == "\(path): \(Self.malformed[index].message)."
        }
    }

    @Test("The symmetric int8 scale is amax / 127 and never 0")
    func scaleFromAmax() {
        #expect(QuantizationScales.scale(amax: 127) == 1)
        #expect(QuantizationScales.scale(amax: 0) > 0)
    }
}

@Suite struct CalibrationTests {
    @Test("Calibration through the fused graph sees what the literal float graph computes at every quantization point")
    func collectorMatchesLiteralGraph() throws {
        let weights = ReferenceModel.folder.weights
        let batch = try QDQExportTests.batch(0..<4)
        let collector = try ActivationCollector(weights: weights, threads: 2)
        try collector.observe(batch)
        // The literal float export, node by node: the exact max of each observed value.
        var literal: [String: Float] = [:]
        let executor = try GraphExecutor(graph: BertONNXExporter(weights: weights).graph())
        _ = try executor.run(QDQExportTests.feeds(batch)) { name, value in
            literal[name] = value.floats.reduce(Float(0)) { max($0, abs($1)) }
        }
        let points = QuantizationPoint.all(layers: weights.config.layerCount)
        for point in points {
            let value = QuantizationPoint.observedValue(point)
            let expected = try #require(literal[value], "\(value) is not a value of the float export")
            let histogram = try #require(collector.histograms[value], "no histogram for \(point)")
            // Fused and literal graphs differ by float rounding (merged QKV GEMM, fused LayerNorm): 1e-5 relative.
            #expect(abs(histogram.max - expected) <= 1e-5 * max(1, expected), "\(point): fused max \(histogram.max), literal \(expected)")
        }
        // Every probability of the batch is counted, masked keys included: 4 features × 12 heads × 128 × 128.
        #expect(collector.histograms["layer.0.attention.probabilities"]?.valueCount == 4 * 12 * 128 * 128)
        let scales = try collector.scales(.percentile(99.99))
        #expect(scales.activations.count == points.count)
        #expect(scales.calibrator == "percentile 99.99")
    }
}
