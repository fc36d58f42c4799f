import Foundation
import Testing
import OctetCore
import OctetQuant

/// Histogram calibration (`AbsoluteHistogram`, `Calibrator`), checked against `scripts/calibrator_reference.py`, a
/// NumPy transcription of pytorch-quantization's `_compute_amax_*` functions, on the very same histogram.
///
/// Tolerance: none. Every amax is a bin edge or centre, exact in `Float` on both sides, and both sides do the same
/// arithmetic in the same order, so the comparisons are `==`.
@Suite struct CalibratorTests {
    /// A fixed-seed linear congruential generator (Knuth's MMIX constants): the same samples on every run and machine.
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state
        }
        /// Uniform in (0, 1): the top 53 bits, offset by half a step so that 0 (and log 0) never comes out.
        mutating func uniform() -> Double { (Double(next() >> 11) + 0.5) / 9007199254740992 }
        /// A random sign.
        mutating func sign() -> Float { next() >> 63 == 0 ? 1 : -1 }
        /// Laplace with scale `b`: an exponential magnitude with a random sign.
        mutating func laplace(_ b: Double) -> Float { sign() * Float(-b * log(uniform())) }
        /// Gaussian-like: the Irwin–Hall sum of 12 uniforms, centred (variance 1).
        mutating func gaussian() -> Float { Float((0..<12).reduce(0.0) { s, _ in s + uniform() } - 6) }
    }

    /// Calibration data sets, each in batches whose maxima grow (so the histogram's range doubles along the way).
    enum Sample: String, CaseIterable, Sendable, CustomTestStringConvertible {
        case laplaceWithOutliers, gaussianWithOutliers, reluLike

        var testDescription: String { rawValue }

        func batches() -> [[Float]] {
            var g = Generator(state: 0x0C7E7 &+ UInt64(Sample.allCases.firstIndex(of: self)!))
            switch self {
            case .laplaceWithOutliers:
                let outliers: [[Float]] = [[], [], [31.5, -47.25], [-12]]
                return (0..<4).map { b in (0..<25_000).map { _ in g.laplace(0.5 * Double(b + 1)) } + outliers[b] }
            case .gaussianWithOutliers:
                let outliers: [[Float]] = [[], [9.5], [], [-20]]
                return (0..<4).map { b in (0..<25_000).map { _ in g.gaussian() * (1 + Float(b) / 2) } + outliers[b] }
            case .reluLike:
                // Half exact zeros: exercises pytorch-quantization's `bins[0] = bins[1]` in the entropy search.
                return (0..<3).map { b in
                    (0..<30_000).map { _ in g.uniform() < 0.5 ? 0 : Float(-log(g.uniform())) * Float(b + 1) }
                }
            }
        }

        func histogram() -> AbsoluteHistogram {
            var histogram = AbsoluteHistogram()
            for batch in batches() { histogram.add(batch) }
            return histogram
        }
    }

    /// The reference script's amax values for each histogram (counts and range, as JSON files in a temporary folder;
    /// one run of the script for all of them).
    static func reference(_ histograms: [AbsoluteHistogram]) throws -> [[String: Double]] {
        let folder = temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        var paths: [String] = []
        for (index, histogram) in histograms.enumerated() {
            let path = folder + "/histogram\(index).json"
            // Swift prints the shortest decimal that reads back as the same Double, so Python gets the exact range.
            let json = "{\"counts\": [\(histogram.counts.map(String.init).joined(separator: ","))], \"range\": \(histogram.range)}"
            try json.write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        let (status, output) = try Python.run("calibrator_reference.py", paths)
        let lines = output.split(separator: "\n").filter { $0.hasPrefix("{") }
        guard status == 0, lines.count == histograms.count else {
            throw OctetError.invalidArgument("calibrator_reference.py failed (\(status)): \(output)")
        }
        return try lines.map { try JSONDecoder().decode([String: Double].self, from: Data($0.utf8)) }
    }

    /// Checks every histogram calibrator against the reference script on each histogram.
    static func expectReferenceAmax(_ histograms: [AbsoluteHistogram]) throws {
        let cases: [(Calibrator, String)] = [
            (.percentile(99.99), "percentile_99.99"), (.percentile(99.9), "percentile_99.9"),
            (.percentile(100), "percentile_100"), (.entropy, "entropy"), (.mse, "mse"),
        ]
        for (histogram, reference) in zip(histograms, try reference(histograms)) {
            #expect(histogram.edge(histogram.binCount) == reference["max_edge"].map(Float.init))
            for (calibrator, key) in cases {
                let amax = try calibrator.amax(from: histogram)
                #expect(amax == reference[key].map(Float.init), "\(key): Octet \(amax), reference \(reference[key] ?? .nan)")
            }
        }
    }

    /// A histogram with the given counts and range, through the decoder (`add` cannot leave the top bins empty).
    static func histogram(counts: [Int], range: Double, max: Float) throws -> AbsoluteHistogram {
        let json = "{\"counts\": [\(counts.map(String.init).joined(separator: ","))], \"range\": \(range), "
            + "\"max\": \(max), \"nanCount\": 0, \"infinityCount\": 0}"
        return try JSONDecoder().decode(AbsoluteHistogram.self, from: Data(json.utf8))
    }

    @Test("Percentile, entropy and MSE amax equal pytorch-quantization's (the reference script) on the same histogram",
          .enabled(if: Python.available, "needs .venv from scripts/python-env.sh (scripts/test.sh makes it)"),
          arguments: Sample.allCases)
    func calibratorsMatchReference(sample: Sample) throws {
        let histogram = sample.histogram()
        try Self.expectReferenceAmax([histogram])
        let exactMax = sample.batches().joined().reduce(Float(0)) { Swift.max($0, abs($1)) }
        #expect(try Calibrator.max.amax(from: histogram) == exactMax)
        // Sanity, independent of the reference: clipping calibrators land inside the data's range.
        for calibrator in [Calibrator.percentile(99.99), .entropy, .mse] {
            let amax = try calibrator.amax(from: histogram)
            #expect(amax > 0 && Double(amax) <= histogram.range, "\(calibrator)")
        }
    }

    @Test("Entropy where the answer can be reasoned: mass in the first 128 bins gives edge 129 (decreasing counts) or the last edge (equal counts); a constant gives its bin's lower edge",
          .enabled(if: Python.available, "needs .venv from scripts/python-env.sh (scripts/test.sh makes it)"))
    func entropyOnKnownHistograms() throws {
        // Range 16 over 2048 bins: edge k is k/128. Decreasing counts: at i = 128 every quantized level is one bin,
        // so q = p and KL = 0. At i = 129 only bins 0 and 1 share a level, and the `bins[0] = bins[1]` quirk has
        // made them equal, so KL = 0 again. From i = 130 a level merges two unequal bins: KL > 0. The last of the
        // tied minima wins: edge 129.
        let decreasing = try Self.histogram(counts: (0..<2048).map { $0 < 128 ? 200 - $0 : 0 }, range: 16, max: 0.99)
        #expect(try Calibrator.entropy.amax(from: decreasing) == 129.0 / 128)
        // Equal counts: every level averages equal bins, so KL = 0 for every candidate and the last, edge 2048, wins.
        let uniform = try Self.histogram(counts: (0..<2048).map { $0 < 128 ? 50 : 0 }, range: 16, max: 0.99)
        #expect(try Calibrator.entropy.amax(from: uniform) == 16)
        // A constant: for every candidate below the value's bin, q is all zeros, normalizing it gives 0/0, and KL is
        // NaN; NumPy's argmin takes NaN as the least value, so the last NaN candidate wins: the bin's lower edge.
        var constant = AbsoluteHistogram()
        constant.add([Float](repeating: -5, count: 1000))
        #expect(try Calibrator.entropy.amax(from: constant) == constant.edge(Int(5 / constant.binWidth)))
        #expect(try Calibrator.max.amax(from: constant) == 5)
        try Self.expectReferenceAmax([decreasing, uniform, constant])
    }

    @Test("Memory does not grow: ten batches with growing maxima keep 2048 bins, every finite value counted once in the bin it belongs to, the exact max, NaN and infinity apart")
    func fixedBinCount() {
        var g = Generator(state: 42)
        var histogram = AbsoluteHistogram()
        var all: [Float] = []
        for b in 0..<10 {
            var batch = (0..<2000).map { _ in g.laplace(0.1) * Float(pow(1.7, Double(b))) }
            batch.append(0.37 * Float(pow(1.9, Double(b))))
            if b == 0 { batch += [.nan, -.infinity, .infinity] }
            histogram.add(batch)
            all += batch.filter(\.isFinite)
            let exactMax = all.reduce(Float(0)) { Swift.max($0, abs($1)) }
            #expect(histogram.binCount == 2048 && histogram.counts.count == 2048)
            #expect(histogram.valueCount == all.count)
            #expect(histogram.max == exactMax)
            // The range stays above the max, and within twice it (it only doubles when the max reaches it).
            #expect(histogram.range > Double(exactMax) && histogram.range <= 2 * Double(exactMax))
        }
        #expect(histogram.nanCount == 1 && histogram.infinityCount == 2)
        // Merging bin pairs at each doubling is exact: the counts equal binning every value with the final range.
        var direct = [Int](repeating: 0, count: 2048)
        for value in all { direct[Int(Double(abs(value)) / histogram.binWidth)] += 1 }
        #expect(histogram.counts == direct)
    }

    @Test("Percentile 100 is the lower edge of the maximum's bin (searchsorted convention), percentile 0 the first edge")
    func percentileBounds() throws {
        var g = Generator(state: 7)
        var histogram = AbsoluteHistogram()
        // 1024 values: every count / total is a binary fraction, so the running cdf is exact and reaches 1 exactly
        // at the maximum's bin.
        histogram.add((0..<1024).map { _ in g.gaussian() })
        let top = try Calibrator.percentile(100).amax(from: histogram)
        #expect(top == histogram.edge(Int(Double(histogram.max) / histogram.binWidth)))
        #expect(top <= histogram.max && Double(histogram.max - top) < histogram.binWidth)
        #expect(try Calibrator.percentile(0).amax(from: histogram) == 0)
    }

    @Test("Calibrators parse from their names; an unknown name or a percentile outside 0...100 gives nil")
    func calibratorNames() {
        #expect(Calibrator(name: "max") == .max)
        #expect(Calibrator(name: "percentile") == .percentile(99.99))
        #expect(Calibrator(name: "percentile", percentile: 99.9) == .percentile(99.9))
        #expect(Calibrator(name: "entropy") == .entropy)
        #expect(Calibrator(name: "mse") == .mse)
        #expect(Calibrator(name: "kl") == nil)
        #expect(Calibrator(name: "") == nil)
        #expect(Calibrator(name: "percentile", percentile: 100.5) == nil)
        for calibrator in [Calibrator.max, .percentile(99.99), .entropy, .mse] {
            #expect(Calibrator(name: calibrator.name) == calibrator)
        }
    }

    @Test("Bad input throws instead of trapping: empty histogram, percentile out of range, bin count not a power of two, too few bins")
    func badInput() throws {
        #expect(throws: OctetError.self) { try Calibrator.entropy.amax(from: AbsoluteHistogram()) }
        var nanOnly = AbsoluteHistogram()
        nanOnly.add([.nan])
        #expect(throws: OctetError.self) { try Calibrator.max.amax(from: nanOnly) }
        var histogram = AbsoluteHistogram()
        histogram.add([1, 2, 3])
        #expect(throws: OctetError.self) { try Calibrator.percentile(150).amax(from: histogram) }
        #expect(throws: OctetError.self) { try AbsoluteHistogram(binCount: 1000) }
        var small = try AbsoluteHistogram(binCount: 128)
        small.add([1, 2, 3])
        #expect(throws: OctetError.self) { try Calibrator.mse.amax(from: small) }
        #expect(try Calibrator.entropy.amax(from: small) > 0)
        // All zeros: every calibrator gives 0.
        var zeros = AbsoluteHistogram()
        zeros.add([0, -0, 0])
        for calibrator in [Calibrator.max, .percentile(99.99), .entropy, .mse] {
            #expect(try calibrator.amax(from: zeros) == 0)
        }
    }

    @Test("Merging histograms of equal ranges (or ranges a power of two apart) equals the histogram of the concatenated data")
    func mergeEqualsConcatenation() throws {
        var g = Generator(state: 99)
        let a = (0..<3000).map { _ in g.gaussian() } + [7.3, .nan]
        let b = (0..<3000).map { _ in g.laplace(0.5) } + [-7.3]
        var (ha, hb, both) = (AbsoluteHistogram(), AbsoluteHistogram(), AbsoluteHistogram())
        ha.add(a)
        hb.add(b)
        both.add(a + b)
        #expect(ha.range == hb.range)
        var merged = ha
        merged.merge(hb)
        #expect(merged == both)
        // A wider second histogram (max 4 × 7.3): its range is 4 × the first's, so re-binning the first is exact.
        let c = b.map { $0 * 4 }
        var hc = AbsoluteHistogram()
        hc.add(c)
        var sequential = AbsoluteHistogram()
        sequential.add(a)
        sequential.add(c)
        merged = ha
        merged.merge(hc)
        #expect(hc.range == 4 * ha.range)
        #expect(merged == sequential)
        hc.merge(ha)
        #expect(hc == sequential)
        // Codable round trip, and a decoded histogram must keep its range above its max.
        let decoded = try JSONDecoder().decode(AbsoluteHistogram.self, from: try JSONEncoder().encode(merged))
        #expect(decoded == merged)
        #expect(throws: DecodingError.self) {
            try Self.histogram(counts: [Int](repeating: 1, count: 2048), range: 1, max: 2)
        }
    }
}
