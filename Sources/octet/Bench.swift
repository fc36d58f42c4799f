import ArgumentParser
import Foundation
import OctetCore
import OctetCPU

/// `octet bench`: latency and throughput of a model, reported the way trtexec reports them.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmark a model's latency and throughput.",
        discussion: """
            Inputs are full-length sequences of random token ids with a full attention mask (SQuAD features are \
            padded to their maximum length, so content does not change the work). Each shape gets --warmup \
            untimed runs, then at least --iterations timed runs and at least --min-seconds of them.
            """)

    @Argument(help: "A Hugging Face model folder.")
    var model: String = Defaults.model

    @Option(help: "cpu (the only device so far).")
    var device: String = "cpu"

    @Option(help: "Comma-separated batch sizes.")
    var batch: String = "1"

    @Option(help: "Comma-separated sequence lengths.")
    var seq: String = "128,384"

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

    func run() throws {
        try reportingErrors {
            guard device == "cpu" else { throw OctetError.invalidArgument("--device \(device) is not available (available: cpu)") }
            let batches = try Self.list(batch, "--batch"), seqs = try Self.list(seq, "--seq")
            let engine = try CPUBertEngine(folder: model, threads: threads)
            var rows: [[String]] = []
            var results: [[String: Any]] = []
            for s in seqs {
                for b in batches {
                    var generator = SystemRandomNumberGenerator()
                    let ids = (0..<(b * s)).map { _ in Int32.random(in: 1000..<30000, using: &generator) }
                    let input = TokenBatch(batchSize: b, sequenceLength: s, inputIDs: ids,
                                           tokenTypeIDs: [Int32](repeating: 0, count: b * s),
                                           attentionMask: [Int32](repeating: 1, count: b * s))
                    for _ in 0..<warmup { _ = try engine.spanLogits(for: input) }
                    var times: [Double] = []
                    let clock = ContinuousClock()
                    let began = clock.now
                    while times.count < iterations || (clock.now - began) < .seconds(minSeconds) {
                        let t0 = clock.now
                        _ = try engine.spanLogits(for: input)
                        times.append((clock.now - t0).seconds * 1000)
                    }
                    let stats = LatencyStats(times)
                    let throughput = Double(b) * 1000 / stats.mean
                    rows.append(["\(b)", "\(s)", "\(times.count)"] + [stats.min, stats.mean, stats.median, stats.p90, stats.p95, stats.p99, stats.max].map { String(format: "%.3f", $0) } + [String(format: "%.1f", throughput)])
                    results.append(["batch": b, "seq": s, "iterations": times.count, "min_ms": stats.min, "mean_ms": stats.mean,
                                    "median_ms": stats.median, "p90_ms": stats.p90, "p95_ms": stats.p95, "p99_ms": stats.p99,
                                    "max_ms": stats.max, "throughput_seq_per_s": throughput])
                }
            }
            print("engine: \(engine.label)")
            print(table(["batch", "seq", "runs", "min ms", "mean ms", "median ms", "p90 ms", "p95 ms", "p99 ms", "max ms", "seq/s"], rows))
            if let json {
                try FileIO.writeJSON(["engine": engine.label, "model": model, "device": device, "threads": engine.threads,
                                      "warmup": warmup, "results": results] as [String: Any], to: json)
            }
        }
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
