import ArgumentParser
import Foundation
import OctetCore
import OctetCPU
import OctetModels
import OctetONNX
import OctetQuant
import OctetSQuAD
import OctetText

/// `octet export`: a Hugging Face BERT QA model as a float32 ONNX file.
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a Hugging Face BERT question-answering model as a float32 ONNX file (opset 17).")

    @Option(help: "A Hugging Face model folder (config.json, model.safetensors).")
    var model: String = Defaults.model

    @Option(help: "The .onnx file to write (weights over 1 GiB go to an external data file beside it).")
    var output: String

    func run() throws {
        try reportingErrors {
            let folder = try BertModelFolder(folder: model)
            try BertONNXExporter(weights: folder.weights).graph(path: output).write(to: output)
            print("wrote \(output)")
        }
    }
}

/// `octet quantize`: calibrated post-training quantization to a Q/DQ ONNX model.
struct Quantize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Calibrate a BERT QA model on SQuAD train features and write it as a Q/DQ ONNX model.",
        discussion: """
            Q/DQ pairs go where QDQBERT puts them: the inputs of every linear layer, both inputs of both attention \
            products and both inputs of both residual adds; weights are int8, per output channel unless --per-tensor. \
            Symmetric int8, zero point 0, scale amax/127, opset 17. The QA head, embeddings, LayerNorm, softmax and \
            GELU stay in float.
            """)

    @Option(help: "A Hugging Face model folder (config.json, model.safetensors).")
    var model: String = Defaults.model

    @Option(help: "How to pick each amax from the 2048-bin |x| histograms: max, percentile, entropy (TensorRT's KL) or mse.")
    var calibrator: String = "percentile"

    @Option(help: "The percentile for --calibrator percentile.")
    var percentile: Double = 99.99

    @Option(help: "The SQuAD v1.1 JSON whose first features calibrate.")
    var calibData: String = Defaults.squadTrain

    @Option(help: "Calibration features.")
    var calibSize: Int = 512

    @Option(help: "Tokens per calibration feature.")
    var maxSeqLength: Int = 384

    @Option(help: "Features per calibration batch.")
    var batch: Int = 8

    @Flag(help: "One scale per weight tensor instead of one per output channel.")
    var perTensor = false

    @Flag(help: "One scale per weight output channel (the default; the opposite of --per-tensor).")
    var perChannel = false

    @Flag(help: "Quantize the softmax probabilities (the P·V input) as uint8, zero point 0, instead of int8: twice the resolution for values in [0, 1].")
    var unsignedProbabilities = false

    @Flag(help: "One amax for the Q, K and V projections' outputs (the attention products' inputs), the largest of the three, as a fused QKV GEMM with one int8 output scale needs.")
    var sharedQKVAmax = false

    @Option(help: ArgumentHelp("Clip the GELU output (the FFN's second linear input) at this value: its amax becomes at most this.", valueName: "amax"))
    var clipGelu: Double?

    @Option(help: ArgumentHelp("Keep matching quantization groups in float (repeatable): layer.5.*, *.attention.add, layer.3.intermediate.",
                               valueName: "pattern"))
    var float: [String] = []

    @Flag(help: "Keep the residual stream in fp16: each LayerNorm's output and each sublayer output the residual adds read are rounded to fp16 (Cast pairs in the Q/DQ export; the GPU's INT8 engine stores the stream in fp16, half the bytes).")
    var halfPrecisionStream = false

    @Option(help: ArgumentHelp("Calibrate the quantization points matching a pattern with another calibrator (repeatable): '*.intermediate.input=max', 'layer.0.*=mse'.",
                               valueName: "pattern=calibrator"))
    var calibratorFor: [String] = []

    @Option(help: ArgumentHelp("SmoothQuant: divide each linear layer's input channels by s = max|x|^α / max|w|^(1−α) and scale the weight rows by s (α in 0...1; calibrates twice).",
                               valueName: "alpha"))
    var smoothquant: Double?

    @Option(help: "Search for the recipe: keep the fewest, most sensitive groups in float so F1 on a held-out slice of SQuAD train drops at most this much.")
    var maxF1Drop: Double?

    @Flag(help: "With --max-f1-drop: first choose a calibrator per kind of quantization point (max, percentile, mse or entropy) by answer divergence on the sensitivity features.")
    var chooseCalibrators = false

    @Option(help: "Questions of the held-out train slice the search scores (after --search-offset).")
    var searchQuestions: Int = 300

    @Option(help: "First train question of the held-out slice (calibration reads the first questions).")
    var searchOffset: Int = 20000

    @Option(help: "Features whose answer distributions (KL divergence from float32) rank the groups' sensitivity and choose the calibrators.")
    var sensitivityFeatures: Int = 32

    @Option(help: "Write the sensitivity ranking and the search steps as JSON here.")
    var report: String?

    @Option(help: "Use these saved scales (JSON from --save-scales) instead of calibrating.")
    var scales: String?

    @Option(help: "Save the calibrated scales as JSON here.")
    var saveScales: String?

    @Option(help: "The Q/DQ .onnx file to write.")
    var output: String

    func run() throws {
        try reportingErrors {
            guard let method = Calibrator(name: calibrator, percentile: percentile) else {
                throw OctetError.invalidArgument("--calibrator must be max, percentile, entropy or mse (with --percentile in 0...100), not \(calibrator)")
            }
            guard !(perTensor && perChannel) else { throw OctetError.invalidArgument("--per-tensor and --per-channel exclude each other") }
            guard calibSize >= 1, batch >= 1 else { throw OctetError.invalidArgument("--calib-size and --batch must be at least 1") }
            let folder = try BertModelFolder(folder: model)
            var result: QuantizationScales
            var collector: ActivationCollector?
            if let scales {
                guard smoothquant == nil, calibratorFor.isEmpty else {
                    throw OctetError.invalidArgument("--smoothquant and --calibrator-for need calibration; saved scales (--scales) carry their own")
                }
                result = try adjusted(QuantizationScales(contentsOf: scales))
            } else {
                var smoothing: [String: [Float]] = [:]
                if let smoothquant {
                    // Pass 1 measures each linear input's channel maxima; pass 2 calibrates the smoothed model.
                    let maxima = try calibrate(folder, label: "channel maxima").channelMaxima
                    smoothing = try Smoothing.factors(channelMaxima: maxima, weights: folder.weights, alpha: Float(smoothquant))
                }
                collector = try calibrate(folder, smoothing: smoothing)
                var calibrated = try collector!.scales(method)
                for spec in calibratorFor {
                    let parts = spec.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2, let other = Calibrator(name: parts[1], percentile: percentile) else {
                        throw OctetError.invalidArgument("--calibrator-for takes pattern=calibrator with max, percentile, entropy or mse, not \(spec)")
                    }
                    let points = calibrated.activations.keys.filter { QuantizationGroup.glob(parts[0], matches: $0) }
                    guard !points.isEmpty else {
                        throw OctetError.invalidArgument("--calibrator-for \(parts[0]) matches no quantization point; points look like layer.3.intermediate.input or layer.0.attention.matmul_a")
                    }
                    let amax = try collector!.scales(other).activations
                    for point in points { calibrated.activations[point] = amax[point] }
                    calibrated.calibrator += "; \(parts[0]): \(other.description)"
                }
                result = try adjusted(calibrated)
            }
            let c = folder.config
            result.floatGroups.formUnion(try floatGroups(float, layers: c.layerCount))
            if halfPrecisionStream { result.halfPrecisionStream = true }
            if let maxF1Drop {
                // Every calibrator's amax from the same histograms, each adjusted as the main one was.
                let candidates = try collector.flatMap { collector in !chooseCalibrators ? nil :
                    try [Calibrator.percentile(percentile), .max, .mse, .entropy].map { ($0.description, try adjusted(collector.scales($0))) }
                } ?? []
                result = try searchRecipe(folder, result, candidates: candidates, maxF1Drop: maxF1Drop)
            }
            let share = QuantizationGroup.int8Share(floatGroups: result.floatGroups, layers: c.layerCount, hidden: c.hiddenSize,
                                                    intermediate: c.intermediateSize, sequence: maxSeqLength)
            print("INT8 share of matrix-product FLOPs at sequence \(maxSeqLength): \(String(format: "%.1f", 100 * share))%" +
                  (result.floatGroups.isEmpty ? "" : " (in float: \(result.floatGroups.sorted().joined(separator: ", ")))"))
            if let saveScales { try result.write(to: saveScales) }
            try BertONNXExporter(weights: folder.weights).graph(scales: result, path: output).write(to: output)
            print("wrote \(output) (\(result.activations.count) quantized activations, \(result.calibrator), \(perTensor ? "per-tensor" : "per-channel") int8 weights" +
                  (result.smoothing.isEmpty ? ")" : ", SmoothQuant on \(result.smoothing.count) linear inputs)"))
        }
    }

    /// Scales with this command's weight, probability, GELU-clipping and shared-amax options applied.
    private func adjusted(_ calibrated: QuantizationScales) throws -> QuantizationScales {
        var result = calibrated
        result.perChannelWeights = !perTensor
        if unsignedProbabilities { result.unsignedProbabilities = true }
        if let clipGelu {
            guard clipGelu > 0 else { throw OctetError.invalidArgument("--clip-gelu must be positive, not \(clipGelu)") }
            result.clipGeluOutput(at: Float(clipGelu))
        }
        if sharedQKVAmax { result.shareQKVAmax() }
        return result
    }

    /// Ranks the groups by sensitivity on train features, then searches the recipe on a held-out train slice.
    private func searchRecipe(_ folder: BertModelFolder, _ calibrated: QuantizationScales, candidates: [(name: String, scales: QuantizationScales)],
                              maxF1Drop: Double) throws -> QuantizationScales {
        let tokenizer = try BertTokenizer(folder: model)
        let train = try SQuADDataset(contentsOf: calibData)
        let builder = try SQuADFeatureBuilder(tokenizer: tokenizer, maxSequenceLength: maxSeqLength, docStride: min(128, maxSeqLength / 4))
        // Sensitivity features: right after the calibration questions.
        let features = Array(try builder.features(for: train.examples(in: calibSize..<(calibSize + sensitivityFeatures))).prefix(sensitivityFeatures))
        let batches = stride(from: 0, to: features.count, by: batch).map { first in
            let slice = features[first..<min(first + batch, features.count)]
            return TokenBatch(batchSize: slice.count, sequenceLength: maxSeqLength, inputIDs: slice.flatMap(\.inputIDs),
                              tokenTypeIDs: slice.flatMap(\.tokenTypeIDs), attentionMask: slice.flatMap(\.attentionMask))
        }
        var scales = calibrated
        var choices: [RecipeSearch.CalibratorChoice] = []
        if !candidates.isEmpty {
            // A calibrator per kind of quantization point, by answer divergence on the sensitivity features.
            let line = ProgressLine(label: "calibrators", unit: "trials")
            let began = ContinuousClock.now
            (scales, choices) = try RecipeSearch(weights: folder.weights, scales: calibrated).chooseCalibrators(candidates, on: batches) { done, total in
                line.update(OctetSQuAD.Progress(done: done, total: total, elapsed: (ContinuousClock.now - began).seconds))
            }
            print(table(["point kind", "calibrator", "KL from float32"] + candidates.map(\.name),
                        choices.map { [$0.kind, $0.calibrator, String(format: "%.4f", $0.error)] + $0.tried.map { String(format: "%.4f", $0.error) } }))
        }
        let search = RecipeSearch(weights: folder.weights, scales: scales)
        let slice = train.examples(in: searchOffset..<(searchOffset + searchQuestions))
        let runner = try SQuADRunner(builder: builder, batchSize: batch)
        var ranking: [(group: String, error: Double)] = []
        var order: [String] = []
        let result = try search.search(order: {
            // Only when the start misses the budget: rank the groups, one model run each.
            let sensitivity = ProgressLine(label: "sensitivity", unit: "groups")
            let began = ContinuousClock.now
            ranking = try search.sensitivities(on: batches) { done, total in
                sensitivity.update(OctetSQuAD.Progress(done: done, total: total, elapsed: (ContinuousClock.now - began).seconds))
            }
            print(table(["group", "KL from float32, alone in INT8"], ranking.prefix(12).map { [$0.group, String(format: "%.4f", $0.error)] }))
            order = RecipeSearch.order(ranking, config: folder.config, sequence: maxSeqLength)
            return order
        }, maxDrop: maxF1Drop, sequence: maxSeqLength, evaluate: { try runner.run(engine: $0, dataset: slice).score.f1 }) { step, baseline in
            print("float groups \(step.floatGroups.count): F1 \(String(format: "%.2f", step.accuracy)) (float32 \(String(format: "%.2f", baseline))), INT8 share \(String(format: "%.1f", 100 * step.int8Share))%")
        }
        if let report {
            try FileIO.writeJSON([
                "calibrators": choices.map { choice in
                    ["kind": choice.kind, "calibrator": choice.calibrator, "answer_divergence": choice.error,
                     "tried": Dictionary(uniqueKeysWithValues: choice.tried.map { ($0.calibrator, $0.error) })] as [String: Any]
                },
                "sensitivity": ranking.map { ["group": $0.group, "answer_divergence": $0.error] as [String: Any] },
                "order": order,
                "slice": ["data": calibData, "first_question": searchOffset, "questions": slice.examples.count] as [String: Any],
                "float32_f1": result.baseline,
                "steps": result.steps.map { ["float_groups": $0.floatGroups, "f1": $0.accuracy, "int8_share": $0.int8Share] as [String: Any] },
            ] as [String: Any], to: report)
        }
        scales.floatGroups.formUnion(result.steps.last?.floatGroups ?? [])
        return scales
    }

    private func calibrate(_ folder: BertModelFolder, smoothing: [String: [Float]] = [:], label: String = "calibrate") throws -> ActivationCollector {
        let tokenizer = try BertTokenizer(folder: model)
        let dataset = try SQuADDataset(contentsOf: calibData).prefix(calibSize)
        let builder = try SQuADFeatureBuilder(tokenizer: tokenizer, maxSequenceLength: maxSeqLength, docStride: min(128, maxSeqLength / 4))
        let features = Array(try builder.features(for: dataset).prefix(calibSize))
        let collector = try ActivationCollector(weights: folder.weights, smoothing: smoothing)
        let progress = ProgressLine(label: label, unit: "features")
        let clock = ContinuousClock()
        let began = clock.now
        for first in stride(from: 0, to: features.count, by: batch) {
            let slice = features[first..<min(first + batch, features.count)]
            try collector.observe(TokenBatch(batchSize: slice.count, sequenceLength: maxSeqLength, inputIDs: slice.flatMap(\.inputIDs),
                                              tokenTypeIDs: slice.flatMap(\.tokenTypeIDs), attentionMask: slice.flatMap(\.attentionMask)))
            progress.update(OctetSQuAD.Progress(done: first + slice.count, total: features.count, elapsed: (clock.now - began).seconds))
        }
        return collector
    }
}
