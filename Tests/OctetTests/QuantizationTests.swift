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
        for halfStream in [false, true] {
            let scales = QuantizationScales(activations: ["layer.0.attention.query.input": 7.25, "layer.0.attention.matmul_a": 1],
                                            perChannelWeights: false, calibrator: "entropy", unsignedProbabilities: halfStream,
                                            halfPrecisionStream: halfStream)
            try scales.write(to: folder + "/scales.json")
            #expect(try QuantizationScales(contentsOf: folder + "/scales.json") == scales)
        }
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
        // Per-channel maxima of every linear input (SmoothQuant's statistic): their largest is the value's max.
        for site in Smoothing.sites(layers: weights.config.layerCount) {
            let maxima = try #require(collector.channelMaxima[site.value], "no channel maxima for \(site.value)")
            let expected = try #require(literal[site.value])
            #expect(abs((maxima.max() ?? 0) - expected) <= 1e-5 * max(1, expected), "\(site.value)")
        }
        // Every probability of the batch is counted, masked keys included: 4 features × 12 heads × 128 × 128.
        #expect(collector.histograms["layer.0.attention.probabilities"]?.valueCount == 4 * 12 * 128 * 128)
        let scales = try collector.scales(.percentile(99.99))
        #expect(scales.activations.count == points.count)
        #expect(scales.calibrator == "percentile 99.99")
    }
}

@Suite struct SmoothQuantTests {
    /// Factors between 0.25 and 4 on every smoothable input, different per channel.
    static func arbitraryFactors(_ layers: Int, hidden: Int, intermediate: Int) -> [String: [Float]] {
        Dictionary(uniqueKeysWithValues: Smoothing.sites(layers: layers).map { site in
            let channels = site.value.hasSuffix(".gelu") ? intermediate : hidden
            return (site.value, (0..<channels).map { j in powf(2, Float((j * 7) % 17) / 4 - 2) })
        })
    }

    @Test("The smoothed float model computes what the original does (x·diag(1/s) times diag(s)·W)")
    func smoothedFloatModelMatchesOriginal() throws {
        let weights = ReferenceModel.folder.weights
        let c = weights.config
        let exporter = BertONNXExporter(weights: weights)
        let factors = Self.arbitraryFactors(c.layerCount, hidden: c.hiddenSize, intermediate: c.intermediateSize)
        let batch = try QDQExportTests.batch(8..<10)
        let plain = try ONNXQuestionAnsweringEngine(graph: exporter.graph(), threads: 2).spanLogits(for: batch)
        let smoothed = try ONNXQuestionAnsweringEngine(graph: exporter.graph(smoothing: factors), threads: 2).spanLogits(for: batch)
        // Float rounding of the scaled weights and the extra multiply only: logits are O(10), 1e-3 absolute.
        #expect(QDQExportTests.maxDifference(plain.start, smoothed.start) < 1e-3)
        #expect(QDQExportTests.maxDifference(plain.end, smoothed.end) < 1e-3)
    }

    @Test("Smoothing divides only the linear layers' inputs: the residual adds read the unsmoothed values")
    func smoothingPlacement() throws {
        let weights = ReferenceModel.folder.weights
        let c = weights.config
        var scales = QDQExportTests.scales
        scales.smoothing = Self.arbitraryFactors(c.layerCount, hidden: c.hiddenSize, intermediate: c.intermediateSize)
        let graph = BertONNXExporter(weights: weights).graph(scales: scales)
        let quantizerInput = Dictionary(graph.nodes.filter { $0.opType == "QuantizeLinear" }.map { ($0.name, $0.inputs[0]) },
                                        uniquingKeysWith: { a, _ in a })
        for layer in 0..<c.layerCount {
            let p = "layer.\(layer)"
            let previous = layer == 0 ? "embeddings.output" : "layer.\(layer - 1).output.norm"
            for (point, value) in [("attention.query.input", previous), ("attention.key.input", previous), ("attention.value.input", previous),
                                   ("attention.output.input", "\(p).attention.context"), ("intermediate.input", "\(p).attention.norm"),
                                   ("output.input", "\(p).gelu")] {
                #expect(quantizerInput["\(p).\(point).q"] == value + ".smoothed", "\(p).\(point)")
            }
            #expect(quantizerInput["\(p).attention.add.residual.q"] == previous)
            #expect(quantizerInput["\(p).output.add.residual.q"] == "\(p).attention.norm")
        }
        #expect(graph.nodes.filter { $0.opType == "Mul" && $0.name.hasSuffix(".smoothed") }.count == 4 * c.layerCount)
    }

    @Test("SmoothQuant's factors are max|x_j|^α / max|w_j|^(1−α), with Q, K and V sharing one weight maximum per channel")
    func factorsFollowThePaper() throws {
        let weights = ReferenceModel.folder.weights
        let c = weights.config
        // Channel maxima 0.5, 1, 1.5, …: each channel's expected factor, computed here in Double from the weights.
        let maxima = Dictionary(uniqueKeysWithValues: Smoothing.sites(layers: c.layerCount).map { site in
            (site.value, (0..<(site.value.hasSuffix(".gelu") ? c.intermediateSize : c.hiddenSize)).map { Float($0 + 1) / 2 })
        })
        let factors = try Smoothing.factors(channelMaxima: maxima, weights: weights, alpha: 0.75)
        let layer = weights.layers[2]
        for j in [0, 17, 383] {
            var wMax = 0.0
            for w in [layer.query.weight, layer.key.weight, layer.value.weight] {
                let values = w.floats()
                for o in 0..<w.shape[0] { wMax = max(wMax, Double(abs(values[o * w.shape[1] + j]))) }
            }
            let expected = pow(Double(j + 1) / 2, 0.75) / pow(wMax, 0.25)
            let got = try #require(factors["layer.1.output.norm"]?[j])
            #expect(abs(Double(got) - expected) <= 1e-5 * expected, "channel \(j): \(got) vs \(expected)")
        }
        #expect(factors.count == 4 * c.layerCount)
        #expect(throws: OctetError.self) { try Smoothing.factors(channelMaxima: maxima, weights: weights, alpha: 1.5) }
    }
}

@Suite struct RecipeSearchTests {
    @Test("The recipe search moves groups to float in order until accuracy is within the budget, and stops there")
    func searchStopsWithinBudget() throws {
        // A model whose accuracy loses each group's penalty while that group is in INT8.
        let penalty = ["a": 1.0, "b": 0.5, "c": 0.2]
        var ranked = 0
        let result = try RecipeSearch.search(order: { ranked += 1; return ["a", "b", "c"] }, maxDrop: 0.6, share: { 1 - Double($0.count) / 10 }) { floats in
            guard let floats else { return 80 }
            return 80 - penalty.filter { !floats.contains($0.key) }.values.reduce(0, +)
        }
        #expect(result.baseline == 80)
        // All INT8: −1.7; a in float: −0.7, over budget; a and b: −0.2, within.
        #expect(result.steps.map(\.floatGroups) == [[], ["a"], ["a", "b"]])
        #expect(abs(result.steps.last!.accuracy - 79.8) < 1e-9)
        #expect(result.steps.last!.int8Share == 0.8)
        #expect(ranked == 1)
        // A start within budget needs no ranking.
        let start = try RecipeSearch.search(order: { Issue.record("ranked although the start met the budget"); return [] },
                                            maxDrop: 2, share: { _ in 1 }) { $0 == nil ? 80 : 78.5 }
        #expect(start.steps.count == 1)
    }

    @Test("Answer divergence is KL(softmax(float) ‖ softmax(quantized)): 0 for equal logits, ½·ln(⅔) + ½·ln 2 for (½, ½) against (¾, ¼)")
    func divergenceIsKL() {
        #expect(RecipeSearch.divergence([1, 2, 3], [1, 2, 3]) == 0)
        #expect(abs(RecipeSearch.divergence([0, 0], [log(3), 0]) - (0.5 * log(2.0 / 3) + 0.5 * log(2.0))) < 1e-12)
        // Shifting all logits changes nothing.
        #expect(abs(RecipeSearch.divergence([5, 1], [105, 101])) < 1e-12)
    }

    @Test("The search order is answer divergence per FLOP kept out of INT8; a residual add costs as much as the smallest product group")
    func orderIsCostAware() {
        // Reference model at s384: hidden 384, so key and QKᵀ cost 2·384² per token each and the FFN output 4× that.
        let order = RecipeSearch.order([("layer.0.output", 0.3), ("layer.0.attention.add", 0.0), ("layer.0.attention.key", 0.1),
                                        ("layer.0.output.add", 0.12), ("layer.0.attention.qk", 0.05)],
                                       config: ReferenceModel.folder.config, sequence: 384)
        #expect(order == ["layer.0.output.add", "layer.0.attention.key", "layer.0.output", "layer.0.attention.qk", "layer.0.attention.add"])
    }
}

@Suite struct UnsignedProbabilitiesTests {
    @Test("uint8 probabilities: Q/DQ with a uint8 zero point and scale amax/255, fused into Attention, computing what the literal graph does")
    func unsignedProbabilitiesFuseIntoAttention() throws {
        var scales = QDQExportTests.scales
        scales.unsignedProbabilities = true
        let graph = BertONNXExporter(weights: ReferenceModel.folder.weights).graph(scales: scales)
        let amax = try #require(scales.activations["layer.0.attention.matmul_a"])
        #expect(graph.initializers["layer.0.attention.matmul_a.zero_point"]?.dataType == .uint8)
        #expect(graph.initializers["layer.0.attention.matmul_q.zero_point"]?.dataType == .int8)
        let fused = try GraphPasses.optimize(graph, level: .fuse)
        let attention = fused.nodes.filter { $0.opType == "Attention" }
        #expect(attention.count == 6)
        for node in attention {
            if case .int(1)? = node.attributes["probs_unsigned"] {} else { Issue.record("\(node.name) lost the uint8 probabilities") }
            if node.name.hasPrefix("layer.0."), case .float(let scale)? = node.attributes["probs_scale"] { #expect(scale == amax / 255) }
        }
        #expect(fused.opHistogram["octet:FakeQuant", default: 0] == 0)
        // Fused against literal, in the first layer, whose inputs agree up to float rounding. End to end they cannot
        // be compared (a flip at a coarse quantizer downstream amplifies, see QDQExportTests), and here too a
        // probability within float rounding of a grid boundary may round the other way: each such flip moves the
        // context by one step times |v| ≤ amax_v. Two flips' worth is the bound; an int8 grid on amax/255 (clamping
        // every probability above amax/2) would miss it by an order of magnitude.
        let feeds = QDQExportTests.feeds(try QDQExportTests.batch(8..<10))
        var literal: [Float] = [], optimized: [Float] = []
        _ = try GraphExecutor(graph: graph).run(feeds) { name, value in if name == "layer.0.attention.context" { literal = value.floats } }
        _ = try GraphExecutor(graph: fused).run(feeds) { name, value in if name == "layer.0.attention.context" { optimized = value.floats } }
        let amaxV = try #require(scales.activations["layer.0.attention.matmul_v"])
        #expect(literal.count == optimized.count && !literal.isEmpty)
        #expect(QDQExportTests.maxDifference(literal, optimized) <= 2 * amax / 255 * amaxV)
    }
}

@Suite struct CalibratorChoiceTests {
    @Test("Choosing a calibrator per kind of point keeps the winner's amax for every point of the kind and never raises the answer divergence")
    func calibratorChoiceIsConsistent() throws {
        let weights = ReferenceModel.folder.weights
        let collector = try ActivationCollector(weights: weights, threads: 2)
        try collector.observe(try QDQExportTests.batch(0..<8))
        let candidates = [("max", try collector.scales(.max)), ("percentile 99", try collector.scales(.percentile(99)))]
        let search = RecipeSearch(weights: weights, scales: candidates[0].1, threads: 2)
        let (scales, choices) = try search.chooseCalibrators(candidates, on: [try QDQExportTests.batch(8..<10)])
        #expect(choices.map(\.kind) == RecipeSearch.calibrationKinds.map(\.name))
        for (choice, kind) in zip(choices, RecipeSearch.calibrationKinds) {
            let winner = try #require(candidates.first { $0.0 == choice.calibrator }).1
            for point in scales.activations.keys where kind.suffixes.contains(where: { point.hasSuffix("." + $0) }) {
                #expect(scales.activations[point] == winner.activations[point], "\(point) under \(choice.kind)")
            }
            // The kept error is the smallest tried; the base calibrator's was tried without rebuilding.
            #expect(choice.error == choice.tried.map(\.error).min())
        }
        // Each kind's decision starts from the error left by the previous one.
        for (previous, next) in zip(choices, choices.dropFirst()) {
            #expect(next.error <= previous.error)
        }
    }
}

@Suite struct PlacementOptionTests {
    /// The quantization points whose QuantizeLinear the export writes, and the linear layers with int8 weights.
    static func placement(_ scales: QuantizationScales) -> (points: Set<String>, int8Weights: Set<String>) {
        let graph = BertONNXExporter(weights: ReferenceModel.folder.weights).graph(scales: scales)
        let points = Set(graph.nodes.filter { $0.opType == "QuantizeLinear" }.map { String($0.name.dropLast(2)) })
        let weights = Set(graph.initializers.keys.filter { $0.hasSuffix(".weight.int8") }.map { String($0.dropLast(".weight.int8".count)) })
        return (points, weights)
    }

    static let options: [(pattern: String, floatPoints: Int, floatLinears: Int)] = [
        ("layer.1.attention.query", 1, 1),       // one linear layer by name: its input Q/DQ and int8 weight
        ("*.attention.add", 12, 0),              // a module kind in every layer: both inputs of each residual add
        ("layer.5.*", 14, 6),                    // a whole layer by index
        ("*.attention.qk", 12, 0),               // both inputs of QKᵀ in every layer
    ]

    @Test("Keeping groups in float removes exactly their Q/DQ pairs and int8 weights", arguments: 0..<4)
    func floatGroupsRemoveTheirQuantizers(index: Int) {
        let option = Self.options[index]
        var scales = QDQExportTests.scales
        let all = Self.placement(scales)
        #expect(all.points.count == 84 && all.int8Weights.count == 36)
        scales.floatGroups = Set(QuantizationGroup.matching(option.pattern, layers: 6))
        let kept = Self.placement(scales)
        let removed = all.points.subtracting(kept.points)
        #expect(removed.count == option.floatPoints)
        #expect(removed.allSatisfy { scales.floatGroups.contains(QuantizationGroup.of($0)) })
        #expect(all.int8Weights.subtracting(kept.int8Weights).count == option.floatLinears)
    }

    @Test("Per-tensor weights get one scale per weight; shared Q/K/V amax and GELU clipping set the amax they promise")
    func scaleOptions() throws {
        var scales = QDQExportTests.scales
        scales.perChannelWeights = false
        let graph = BertONNXExporter(weights: ReferenceModel.folder.weights).graph(scales: scales)
        for node in graph.nodes where node.opType == "DequantizeLinear" && graph.initializers[node.inputs[0]]?.dataType == .int8 {
            #expect(graph.initializers[node.inputs[1]]?.count == 1, "\(node.name)")
            #expect(node.attributes["axis"] == nil)
        }
        var shared = QDQExportTests.scales
        shared.shareQKVAmax()
        shared.clipGeluOutput(at: 2)
        for layer in 0..<6 {
            let p = "layer.\(layer).attention.matmul_"
            let expected = try #require(["q", "k", "v"].compactMap { QDQExportTests.scales.activations[p + $0] }.max())
            #expect(["q", "k", "v"].map { shared.activations[p + $0] } == [expected, expected, expected])
            #expect(shared.activations["layer.\(layer).output.input"] == min(2, QDQExportTests.scales.activations["layer.\(layer).output.input"]!))
        }
    }
}
