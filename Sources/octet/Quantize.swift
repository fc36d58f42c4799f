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
            guard calibSize >= 1, batch >= 1 else { throw OctetError.invalidArgument("--calib-size and --batch must be at least 1") }
            let folder = try BertModelFolder(folder: model)
            var result: QuantizationScales
            if let scales {
                result = try QuantizationScales(contentsOf: scales)
            } else {
                result = try calibrate(folder).scales(method)
            }
            result.perChannelWeights = !perTensor
            if let saveScales { try result.write(to: saveScales) }
            try BertONNXExporter(weights: folder.weights).graph(scales: result, path: output).write(to: output)
            print("wrote \(output) (\(result.activations.count) quantized activations, \(result.calibrator), \(perTensor ? "per-tensor" : "per-channel") int8 weights)")
        }
    }

    private func calibrate(_ folder: BertModelFolder) throws -> ActivationCollector {
        let tokenizer = try BertTokenizer(folder: model)
        let dataset = try SQuADDataset(contentsOf: calibData).prefix(calibSize)
        let builder = try SQuADFeatureBuilder(tokenizer: tokenizer, maxSequenceLength: maxSeqLength, docStride: min(128, maxSeqLength / 4))
        let features = Array(try builder.features(for: dataset).prefix(calibSize))
        let collector = try ActivationCollector(weights: folder.weights)
        let progress = ProgressLine(label: "calibrate", unit: "features")
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
