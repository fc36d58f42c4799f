import ArgumentParser
import Foundation
import OctetCore
import OctetCPU
import OctetCUDA
import OctetModels
import OctetQuant
import OctetSQuAD
import OctetText

/// `octet eval squad`: SQuAD v1.1 exact match and F1, from a model or from a predictions file.
struct EvalSQuAD: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "squad",
        abstract: "Evaluate extractive question answering on SQuAD v1.1.",
        discussion: """
            With --model (default: the reference model), builds features as Hugging Face's run_qa.py does, runs the \
            model, post-processes (n-best 20, answers of at most 30 tokens) and scores with the official rules. \
            With --predictions, scores an existing predictions file instead; unanswered questions score 0.
            """)

    @Option(help: "A Hugging Face model folder (config.json, model.safetensors, vocab.txt) or an .onnx file.")
    var model: String = Defaults.model

    @Option(help: "The folder with vocab.txt and tokenizer_config.json (default: the model's folder).")
    var tokenizer: String?

    @Option(help: "The SQuAD v1.1 JSON file.")
    var data: String = Defaults.squadDev

    @Option(help: "Score this predictions file ({\"id\": \"answer\"}) instead of running a model.")
    var predictions: String?

    @Option(help: "Compare the answers with this predictions file (e.g. PyTorch's) and report the share that are identical.")
    var compareWith: String?

    @Option(help: "Tokens per feature, padding included.")
    var maxSeqLength: Int = 384

    @Option(help: "Overlap in tokens between the windows of a long context.")
    var docStride: Int = 128

    @Flag(help: "Window the whole context instead of cutting it to --max-seq-length tokens first (see docs/ACCURACY.md).")
    var fullContext = false

    @Option(help: "Features per model call.")
    var batch: Int = 8

    @Option(help: "Evaluate only the first N questions (after --offset).")
    var limit: Int?

    @Option(help: "Skip the first N questions (e.g. to score a held-out slice of SQuAD train, as `octet quantize --max-f1-drop` does).")
    var offset: Int = 0

    @Option(help: "CPU threads (default: every core).")
    var threads: Int?

    @Option(help: "Write the features' model inputs (int64 [features, sequence]) to this safetensors file and stop, for a peer runtime.")
    var saveFeatures: String?

    @Option(help: "Score start_logits/end_logits computed by a peer for the features of --save-features, instead of running a model.")
    var logits: String?

    @Option(help: "For an .onnx model: optimize the graph first (none, fold or fuse).")
    var optimize: GraphOptimization = .fuse

    @Option(help: "For a Q/DQ .onnx model: integer (int8 × int8 → int32) or simulated (fake quantization with the float GEMM; same values up to float rounding, faster until the INT8 kernels land).")
    var quantizedArithmetic: QuantizedArithmetic = .simulated

    @Option(help: "cpu, or cuda (a model folder, with --precision and --scales).")
    var device: String = "cpu"

    @Option(help: "For a model folder: int8 (with --scales) or fp16 on cuda (default int8); fp32 or int8 on cpu (default fp32).")
    var precision: String?

    @Option(help: "With --precision int8: the quantization scales (octet quantize --save-scales; default: the reference model's recipe).")
    var scales: String = Defaults.recipe

    @Option(help: "Folder for metrics.json and predictions.json.")
    var output: String = "out/eval-squad"

    func run() throws {
        try reportingErrors {
            if let limit, limit < 1 { throw OctetError.invalidArgument("--limit must be at least 1, not \(limit)") }
            if let threads, threads < 1 { throw OctetError.invalidArgument("--threads must be at least 1, not \(threads)") }
            var dataset = try SQuADDataset(contentsOf: data)
            guard offset >= 0 else { throw OctetError.invalidArgument("--offset must be at least 0, not \(offset)") }
            if offset > 0 || limit != nil { dataset = dataset.examples(in: offset..<(limit.map { offset + $0 } ?? Int.max)) }
            if let predictions {
                let score = SQuADEvaluator.evaluate(dataset: dataset, predictions: try SQuADPredictions.read(predictions))
                print(table(["predictions", "questions", "unanswered", "exact match", "F1"],
                            [[predictions, "\(score.total)", "\(score.unanswered)", Self.format(score.exactMatch), Self.format(score.f1)]]))
                try FileIO.writeJSON(Self.metrics(score) as [String: Any], to: (output as NSString).appendingPathComponent("metrics.json"))
                return
            }
            let isONNX = model.hasSuffix(".onnx")
            let tokenizerFolder = tokenizer ?? (isONNX ? (model as NSString).deletingLastPathComponent : model)
            let tokenizer = try BertTokenizer(folder: tokenizerFolder)
            if let saveFeatures {
                let builder = try SQuADFeatureBuilder(tokenizer: tokenizer, maxSequenceLength: maxSeqLength, docStride: docStride, truncatesContext: !fullContext)
                let features = try builder.features(for: dataset)
                try writeFeatures(features, sequenceLength: maxSeqLength, to: saveFeatures)
                print("wrote \(features.count) features of \(dataset.examples.count) questions to \(saveFeatures)")
                return
            }
            let engine: any QuestionAnsweringEngine
            if let logits {
                engine = try PrecomputedLogitsEngine(path: logits)
            } else if device == "cuda" {
                guard !isONNX else { throw OctetError.invalidArgument("--device cuda runs a model folder with --scales, not an .onnx file") }
                guard let p = CUDABertEngine.Precision(rawValue: precision ?? "int8") else {
                    throw OctetError.invalidArgument("--precision must be int8 or fp16 on cuda, not \(precision!)")
                }
                engine = try CUDABertEngine(weights: try BertModelFolder(folder: model).weights, precision: p,
                                            scales: p == .int8 ? try QuantizationScales(contentsOf: scales) : nil, device: try CUDADevice(),
                                            compiler: try NVRTC(), maxTokens: batch * maxSeqLength)
            } else if device != "cpu" {
                throw OctetError.invalidArgument("--device \(device) is not available (available: cpu, cuda)")
            } else if isONNX {
                guard precision == nil else { throw OctetError.invalidArgument("--precision applies to a model folder, not an .onnx file (its Q/DQ pairs say what is quantized)") }
                engine = try ONNXQuestionAnsweringEngine(path: model, threads: threads, optimization: optimize, quantizedArithmetic: quantizedArithmetic)
            } else {
                switch precision ?? "fp32" {
                case "fp32": engine = try CPUBertEngine(folder: model, threads: threads)
                case "int8": engine = try CPUBertEngine(folder: model, recipe: try QuantizationScales(contentsOf: scales), threads: threads)
                case let other: throw OctetError.invalidArgument("--precision must be fp32 or int8 on the CPU, not \(other)")
                }
            }
            let runner = try SQuADRunner(
                builder: try SQuADFeatureBuilder(tokenizer: tokenizer, maxSequenceLength: maxSeqLength, docStride: docStride, truncatesContext: !fullContext),
                batchSize: batch)
            let progress = ProgressLine(label: "squad", unit: "features")
            let result = try runner.run(engine: engine, dataset: dataset, progress: progress.update)
            let score = result.score
            print(table(["model", "engine", "seq/stride", "questions", "features", "features/s", "exact match", "F1"],
                        [[model, engine.label, "\(maxSeqLength)/\(docStride)", "\(score.total)", "\(result.featureCount)",
                          logits == nil ? String(format: "%.1f", result.featuresPerSecond) : "—", Self.format(score.exactMatch), Self.format(score.f1)]]))
            var metrics = Self.metrics(score)
            metrics["model"] = model
            metrics["data"] = data
            metrics["engine"] = engine.label
            metrics["max_seq_length"] = maxSeqLength
            metrics["doc_stride"] = docStride
            metrics["batch"] = batch
            metrics["features"] = result.featureCount
            metrics["features_per_second"] = result.featuresPerSecond
            metrics["model_seconds"] = result.modelSeconds
            if let compareWith {
                let other = try SQuADPredictions.read(compareWith)
                let same = dataset.examples.filter { result.predictions[$0.id] == other[$0.id] }.count
                let share = 100 * Double(same) / Double(max(1, dataset.examples.count))
                print("identical answers to \(compareWith): \(same) of \(dataset.examples.count) (\(String(format: "%.2f", share))%)")
                metrics["compared_with"] = compareWith
                metrics["identical_answers"] = same
                metrics["identical_answers_percent"] = share
            }
            try SQuADPredictions.write(result.predictions, to: (output as NSString).appendingPathComponent("predictions.json"))
            try FileIO.writeJSON(metrics, to: (output as NSString).appendingPathComponent("metrics.json"))
            print("wrote \(output)/predictions.json and \(output)/metrics.json")
        }
    }

    static func format(_ x: Double) -> String { String(format: "%.4f", x) }

    static func metrics(_ score: SQuADScore) -> [String: Any] {
        ["exact_match": score.exactMatch, "f1": score.f1, "total": score.total, "unanswered": score.unanswered]
    }
}
