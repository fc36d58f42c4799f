import Foundation
import Testing
import OctetCore
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
