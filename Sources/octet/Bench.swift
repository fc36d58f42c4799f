import ArgumentParser
import Foundation
import OctetCore
import OctetCPU
import OctetCUDA
import OctetModels
import OctetQuant
import OctetSQuAD

/// `octet bench`: latency and throughput of a model, reported the way trtexec reports them.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark a model's latency and throughput.",
        discussion: """
            Inputs are sequences of random token ids: full length with a full attention mask by default, or with \
            --lengths uniform, each sequence's real length drawn uniformly from 1 to --seq (the same draw for every \
            run of a shape) and padding after it, as SQuAD features are padded; the CUDA engine then packs the real \
            tokens (OCTET_PACK=0 runs the padding too). Each shape gets --warmup untimed runs, then at least \
            --iterations timed runs and at least --min-seconds of them.
            """)

    @Argument(help: "A Hugging Face model folder, or bert-base / bert-large (random weights of those shapes, for speed work).")
    var model: String = Defaults.model

    @Option(help: "cpu or cuda.")
    var device: String = "cpu"

    @Option(help: "int8, fp16 or fp32 (cpu: fp32; cuda: int8 or fp16).")
    var precision: String?

    @Option(help: "Quantization scales for --precision int8 (default: the reference recipe for the reference model, synthetic amax values for bert-base/bert-large).")
    var scales: String?

    @Option(help: ArgumentHelp("With --precision int8: keep matching quantization groups in FP16 (repeatable), as `octet quantize --float` does: '*.attention.qk', 'layer.0.*'.",
                               valueName: "pattern"))
    var float: [String] = []

    @Flag(help: "With --precision int8: keep the residual stream in fp16 (each LayerNorm's output and each sublayer output the residual adds read), as `octet quantize --half-precision-stream` records in a recipe.")
    var halfPrecisionStream = false

    @Option(help: "Comma-separated batch sizes.")
    var batch: String = "1"

    @Option(help: "Comma-separated sequence lengths.")
    var seq: String = "128,384"

    @Option(help: "full (every token real) or uniform (real lengths uniform in 1…seq, padded after).")
    var lengths: String = "full"

    @Option(help: "CPU threads (default: every core).")
    var threads: Int?

    @Option(help: "Untimed runs before timing.")
    var warmup: Int = 10

    @Option(help: "Minimum timed runs.")
    var iterations: Int = 50

    @Option(help: "Minimum timed seconds per shape.")
    var minSeconds: Double = 5

    @Option(help: "Write the results as JSON here.")
    var json: String?

    @Option(help: "Write an SVG chart of the median latencies here.")
    var svg: String?

    @Flag(help: "With --device cuda: also print each kernel's device time per shape (events around every launch in a graph).")
    var profile = false

    func run() throws {
        try reportingErrors {
            let batches = try Self.list(batch, "--batch"), seqs = try Self.list(seq, "--seq")
            guard ["full", "uniform"].contains(lengths) else {
                throw OctetError.invalidArgument("--lengths must be full or uniform, not '\(lengths)'")
            }
            // The stream's type is part of an INT8 recipe; the other precisions have their own (float32 on the CPU,
            // fp16 on CUDA), so the flag would be silently meaningless there.
            guard !halfPrecisionStream || (precision ?? (device == "cuda" ? "int8" : "fp32")) == "int8" else {
                throw OctetError.invalidArgument("--half-precision-stream is part of an INT8 recipe: it needs --precision int8")
            }
            let (engine, modelName) = try makeEngine(tokens: batches.max()! * seqs.max()!)
            var rows: [[String]] = []
            var results: [[String: Any]] = []
            let cuda = engine as? CUDABertEngine
            // The clock and power during each shape's timed runs (NVML; none without it): at a power cap the clock the
            // GPU holds decides a pass's time as much as the kernels do.
            let monitor = cuda.flatMap { PowerMonitor.open(for: $0.device) }
            // Shapes done, on standard error: with tuning on, a CUDA shape's first run tunes its GEMMs, up to a minute at
            // BERT-large s384 b1, and nothing else would show that the command is still at work.
            let shapes = seqs.count * batches.count, progress = ProgressLine(label: "bench", unit: "shapes"), started = ContinuousClock.now
            if cuda?.tuning == true {
                FileHandle.standardError.write(Data("bench: \(shapes) shape\(shapes == 1 ? "" : "s"); each one's first run tunes its GEMMs (OCTET_GEMM_TUNE=0 leaves that out)\n".utf8))
            }
            for s in seqs {
                for b in batches {
                    var generator = SystemRandomNumberGenerator()
                    let ids = (0..<(b * s)).map { _ in Int32.random(in: 1000..<30000, using: &generator) }
                    let real = lengths == "full" ? [Int](repeating: s, count: b) : Self.uniformLengths(batch: b, sequence: s)
                    let input = TokenBatch(batchSize: b, sequenceLength: s, inputIDs: ids,
                                           tokenTypeIDs: [Int32](repeating: 0, count: b * s),
                                           attentionMask: (0..<(b * s)).map { $0 % s < real[$0 / s] ? 1 : 0 })
                    for _ in 0..<warmup { _ = try engine.spanLogits(for: input) }
                    var times: [Double] = [], compute: [Double] = [], h2d: [Double] = [], d2h: [Double] = []
                    let clock = ContinuousClock()
                    monitor?.start()
                    let began = clock.now
                    while times.count < iterations || (clock.now - began) < .seconds(minSeconds) {
                        let t0 = clock.now
                        if let cuda {
                            let (_, timing) = try cuda.timedRun(input)
                            times.append((clock.now - t0).seconds * 1000)
                            compute.append(timing.compute)
                            h2d.append(timing.hostToDevice)
                            d2h.append(timing.deviceToHost)
                        } else {
                            _ = try engine.spanLogits(for: input)
                            times.append((clock.now - t0).seconds * 1000)
                        }
                    }
                    let power = monitor?.stop()
                    if profile, let cuda {
                        let kernels = try cuda.profile(input)
                        let total = kernels.reduce(0) { $0 + $1.milliseconds }
                        print("kernels, batch \(b), sequence \(s) (\(String(format: "%.3f", total)) ms in kernels, from events in a graph):")
                        print(table(["kernel", "launches", "total ms", "µs per launch", "share"], kernels.map { k in
                            [k.kernel, "\(k.launches)", String(format: "%.3f", k.milliseconds), String(format: "%.1f", k.milliseconds * 1000 / Double(k.launches)),
                             String(format: "%.1f%%", 100 * k.milliseconds / total)]
                        }))
                    }
                    let stats = LatencyStats(times)
                    let throughput = Double(b) * 1000 / stats.mean
                    let gpu = compute.isEmpty ? nil : (LatencyStats(compute), LatencyStats(h2d), LatencyStats(d2h))
                    rows.append(["\(b)", "\(s)", "\(times.count)"] + [stats.min, stats.mean, stats.median, stats.p90, stats.p95, stats.p99, stats.max].map { String(format: "%.3f", $0) }
                                + [String(format: "%.1f", throughput)]
                                + (gpu.map { [$0.0.median, $0.1.median, $0.2.median].map { String(format: "%.3f", $0) } } ?? [])
                                + (monitor == nil ? [] : power.map { [String(format: "%.0f", $0.medianSMClockMHz), String(format: "%.0f", $0.meanWatts ?? $0.medianWatts),
                                                                      String(format: "%.0f%%", 100 * $0.powerCappedFraction),
                                                                      $0.joules.map { String(format: "%.4g", $0 / Double(times.count)) } ?? "—"] } ?? ["—", "—", "—", "—"]))
                    var result: [String: Any] = ["batch": b, "seq": s, "iterations": times.count, "min_ms": stats.min, "mean_ms": stats.mean,
                                                 "median_ms": stats.median, "p90_ms": stats.p90, "p95_ms": stats.p95, "p99_ms": stats.p99,
                                                 "max_ms": stats.max, "throughput_seq_per_s": throughput, "real_tokens": real.reduce(0, +)]
                    if let gpu {
                        result["gpu_compute_median_ms"] = gpu.0.median
                        result["gpu_compute_min_ms"] = gpu.0.min
                        result["h2d_median_ms"] = gpu.1.median
                        result["d2h_median_ms"] = gpu.2.median
                    }
                    if let power {
                        result["sm_clock_mhz_median"] = power.medianSMClockMHz
                        result["power_w_median"] = power.medianWatts
                        if let watts = power.meanWatts { result["power_w_mean"] = watts }
                        result["power_capped_fraction"] = power.powerCappedFraction
                        result["power_samples"] = power.samples
                        if let joules = power.joules { result["joules_per_run"] = joules / Double(times.count) }
                    }
                    results.append(result)
                    progress.update(OctetSQuAD.Progress(done: results.count, total: shapes, elapsed: (ContinuousClock.now - started).seconds))
                }
            }
            print("engine: \(engine.label); model: \(modelName)" + (lengths == "full" ? "" : "; real lengths uniform in 1…seq, padded after"
                  + ((engine as? CUDABertEngine)?.packing == true ? " (packed to the real tokens)" : "")))
            print(table(["batch", "seq", "runs", "min ms", "mean ms", "median ms", "p90 ms", "p95 ms", "p99 ms", "max ms", "seq/s"]
                        + (cuda == nil ? [] : ["GPU compute ms", "H2D ms", "D2H ms"]) + (monitor == nil ? [] : ["SM MHz", "W", "power-capped", "J/run"]), rows))
            if monitor != nil {
                print("SM MHz: the median of NVML samples every 20 ms during the timed runs; W: the mean board power over them (NVML's energy counter; else the samples' median); power-capped: the share of those samples in which the GPU's software power cap was lowering the clock; J/run: the board's energy over the timed runs (NVML's counter) per run, gaps between runs included.")
            }
            let tuning = cuda?.tuningReport ?? [], passTuning = cuda?.passTuningReport ?? []
            if !tuning.isEmpty {
                print("GEMM plans measured at the first run of each shape (tuning; OCTET_GEMM_TUNE=0 turns it off), mean µs per launch:")
                print(table(["shape", "kept", "candidates"], tuning.map { t in
                    [t.shape, t.chosen, t.candidates.map { "\($0.0) \(String(format: "%.1f", $0.1))" }.joined(separator: ", ")]
                }))
            }
            if !passTuning.isEmpty {
                print("The fastest plans timed again inside the whole pass (OCTET_GEMM_TUNE=alone leaves this out), ms per pass:")
                print(table(["shape", "kept", "candidates"], passTuning.map { t in
                    [t.shape, t.chosen, t.candidates.map { "\($0.0) \(String(format: "%.3f", $0.1))" }.joined(separator: ", ")]
                }))
            }
            if let json {
                var report: [String: Any] = ["engine": engine.label, "model": modelName, "device": device, "threads": threads ?? 0,
                                             "warmup": warmup, "results": results]
                if !tuning.isEmpty {
                    report["gemm_tuning"] = tuning.map { t in
                        ["shape": t.shape, "chosen": t.chosen, "candidates_us": Dictionary(uniqueKeysWithValues: t.candidates)] as [String: Any]
                    }
                }
                if !passTuning.isEmpty {
                    report["gemm_tuning_in_pass"] = passTuning.map { t in
                        ["shape": t.shape, "chosen": t.chosen, "candidates_ms": Dictionary(uniqueKeysWithValues: t.candidates)] as [String: Any]
                    }
                }
                try FileIO.writeJSON(report, to: json)
            }
            if let svg {
                try FileIO.writeAtomically(Data(Self.chart(title: "\(modelName), \(engine.label)", results: results).utf8), to: svg)
            }
        }
    }

    /// The engine for --device and --precision, and the model's name.
    func makeEngine(tokens: Int) throws -> (QuestionAnsweringEngine, String) {
        let random: BertConfig? = ["bert-base": BertConfig.base, "bert-large": BertConfig.large][model]
        switch device {
        case "cpu":
            guard ["fp32", "int8"].contains(precision ?? "fp32") else {
                throw OctetError.invalidArgument("--precision \(precision!) is not available on the CPU (available: fp32, int8)")
            }
            let weights = try random.map { BertWeights.random(config: $0) } ?? BertModelFolder(folder: model).weights
            return (CPUBertEngine(weights: weights, recipe: precision == "int8" ? try recipe(random: random != nil, layers: weights.config.layerCount) : nil,
                                  threads: threads), model)
        case "cuda":
            guard let p = CUDABertEngine.Precision(rawValue: precision ?? "int8") else {
                throw OctetError.invalidArgument("--precision \(precision!) is not available on CUDA (available: int8, fp16)")
            }
            let gpu = try CUDADevice()
            let weights = try random.map { BertWeights.random(config: $0) } ?? BertModelFolder(folder: model).weights
            let scales = p == .int8 ? try recipe(random: random != nil, layers: weights.config.layerCount) : nil
            let engine = try CUDABertEngine(weights: weights, precision: p, scales: scales, device: gpu, compiler: try NVRTC(), maxTokens: tokens)
            return (engine, model)
        default:
            throw OctetError.invalidArgument("--device \(device) is not available (available: cpu, cuda)")
        }
    }

    /// The INT8 scales: --scales, else synthetic amax values for a random model, else the reference recipe for the
    /// reference model.
    func recipe(random: Bool, layers: Int) throws -> QuantizationScales {
        var recipe: QuantizationScales
        if let scales {
            recipe = try QuantizationScales(contentsOf: scales)
        } else if random {
            recipe = .synthetic(layers: layers)
        } else if model == Defaults.model {
            recipe = try QuantizationScales(contentsOf: Defaults.recipe)
        } else {
            throw OctetError.invalidArgument("--precision int8 needs --scales for \(model) (octet quantize --save-scales)")
        }
        recipe.floatGroups.formUnion(try floatGroups(float, layers: layers))
        if halfPrecisionStream { recipe.halfPrecisionStream = true }
        return recipe
    }

    /// A bar chart of median latency per shape (SVG), with the GPU compute time inside each bar when measured.
    static func chart(title: String, results: [[String: Any]]) -> String {
        let width = 720, barHeight = 26, left = 120
        let top = 40, height = top + results.count * (barHeight + 8) + 30
        let peak = results.compactMap { $0["median_ms"] as? Double }.max() ?? 1
        func x(_ ms: Double) -> Double { Double(width - left - 90) * ms / peak }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" font-family=\"sans-serif\" font-size=\"12\">\n"
        svg += "<text x=\"10\" y=\"20\" font-size=\"14\">\(title.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")): median latency (ms)</text>\n"
        for (i, r) in results.enumerated() {
            let y = top + i * (barHeight + 8)
            let median = r["median_ms"] as? Double ?? 0
            svg += "<text x=\"10\" y=\"\(y + 17)\">b\(r["batch"] ?? "") s\(r["seq"] ?? "")</text>\n"
            svg += "<rect x=\"\(left)\" y=\"\(y)\" width=\"\(String(format: "%.1f", x(median)))\" height=\"\(barHeight)\" fill=\"#4878a8\"/>\n"
            if let compute = r["gpu_compute_median_ms"] as? Double {
                svg += "<rect x=\"\(left)\" y=\"\(y + 8)\" width=\"\(String(format: "%.1f", x(compute)))\" height=\"\(barHeight - 16)\" fill=\"#9cc3e6\"/>\n"
            }
            svg += "<text x=\"\(String(format: "%.1f", Double(left) + x(median) + 6))\" y=\"\(y + 17)\">\(String(format: "%.3f", median))</text>\n"
        }
        svg += "<text x=\"10\" y=\"\(height - 10)\" fill=\"#555\">dark: end-to-end latency on the host clock; light: GPU compute from CUDA events</text>\n</svg>\n"
        return svg
    }

    /// `batch` real lengths uniform in 1…`sequence`, the same for every call with these arguments (a fixed-seed
    /// SplitMix64), so runs with and without packing see the same batch.
    static func uniformLengths(batch: Int, sequence: Int) -> [Int] {
        var generator = SplitMix64(state: UInt64(batch) &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(sequence))
        return (0..<batch).map { _ in 1 + Int(generator.next() % UInt64(sequence)) }
    }

    static func list(_ text: String, _ name: String) throws -> [Int] {
        let values = text.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else {
            throw OctetError.invalidArgument("\(name) must be a comma-separated list of positive integers, not '\(text)'")
        }
        return values.map { $0! }
    }
}

/// Latency percentiles (nearest rank) of a list of milliseconds.
struct LatencyStats {
    let min, mean, median, p90, p95, p99, max: Double

    init(_ samples: [Double]) {
        let sorted = samples.sorted()
        func percentile(_ p: Double) -> Double {
            sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((p / 100 * Double(sorted.count)).rounded(.up)) - 1))]
        }
        min = sorted.first ?? 0
        max = sorted.last ?? 0
        mean = sorted.reduce(0, +) / Double(Swift.max(1, sorted.count))
        median = percentile(50)
        p90 = percentile(90)
        p95 = percentile(95)
        p99 = percentile(99)
    }
}
