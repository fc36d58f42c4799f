import Foundation
import OctetCore

// Histogram calibration for symmetric INT8, after NVIDIA's pytorch-quantization
// (`pytorch_quantization/calib/histogram.py` of NVIDIA/TensorRT, `tools/pytorch-quantization`, commit
// 35477bdb94eab72862ffbdf66d4419e408bef45f; the fake quantization of `src/tensor_quant_gpu.cu`, commit 0c672f03).
// `scripts/calibrator_reference.py` is an independent NumPy transcription of the same functions; the tests require
// Octet's amax to equal the script's bit for bit on the same histogram.

/// A histogram of |x| with a fixed number of bins over `[0, range)`, the input of histogram calibration.
///
/// Differences from pytorch-quantization's `HistogramCalibrator.collect`, and why:
/// - **The bin count never changes.** pytorch-quantization keeps the first batch's bin width and appends bins when a
///   later batch has a larger maximum, so its memory grows with the spread of the data. Here, when a value reaches
///   `range`, the range doubles (as often as needed) and each pair of adjacent bins merges into one, so memory is
///   `binCount` integers whatever is added. Effect: the bin width is `range / binCount` of the *final* range (up to
///   twice the final maximum), where pytorch-quantization's is `max / 2048` of the *first* batch's maximum. So the
///   entropy and MSE candidates are this coarser grid's edges and centres, the smallest being edge 128
///   (`range / 16`); percentile answers move by up to one such bin.
/// - **The first range is the first batch's maximum rounded up** to a number with 8 significant bits, strictly above
///   the maximum (at most 1/128 more, so the maximum lies in the last 16 of 2048 bins). Such a range makes every
///   bin edge and centre an exact `Float` (bin index ≤ 2^15 times an 8-bit mantissa), so edges do not depend on how
///   they are computed, and doubling keeps that property. pytorch-quantization uses the maximum itself.
/// - **Bins are half-open**, `[k·w, (k+1)·w)`; the range is always above the maximum, so no value sits on the last
///   edge (pytorch-quantization's `histc` closes the last bin). This makes merging pairs exactly equal to binning
///   afresh with the doubled range.
/// - **NaN and ±infinity are not binned** but counted (`nanCount`, `infinityCount`); pytorch-quantization would
///   turn its edges into NaN or infinity.
/// - **Counts are exact integers** (`histc` accumulates in `Float`, exact only up to 2^24 per bin).
public struct AbsoluteHistogram: Sendable, Codable, Equatable {
    /// The bin count pytorch-quantization uses by default.
    public static let defaultBinCount = 2048
    /// The bin counts an `AbsoluteHistogram` accepts: powers of two, so that edges and centres stay exact `Float`s.
    public static let binCounts: ClosedRange<Int> = 2...32768

    /// How many finite |x| fall in each bin; bin `k` is `[k·binWidth, (k+1)·binWidth)`.
    public private(set) var counts: [Int]
    /// The upper end of the last bin; 0 until a non-zero value arrives (then all values seen are 0, in bin 0).
    public private(set) var range: Double
    /// The exact largest finite |x| added (0 when none).
    public private(set) var max: Float
    /// How many NaN values were skipped.
    public private(set) var nanCount: Int
    /// How many ±infinity values were skipped.
    public private(set) var infinityCount: Int

    /// An empty histogram of 2048 bins, pytorch-quantization's default.
    public init() {
        counts = [Int](repeating: 0, count: Self.defaultBinCount)
        range = 0
        max = 0
        nanCount = 0
        infinityCount = 0
    }

    /// An empty histogram of `binCount` bins; throws unless `binCount` is a power of two in `binCounts`.
    public init(binCount: Int) throws {
        guard Self.binCounts.contains(binCount), binCount & (binCount - 1) == 0 else {
            throw OctetError.invalidArgument("A histogram's bin count must be a power of two from 2 to 32768, not \(binCount)")
        }
        self.init()
        counts = [Int](repeating: 0, count: binCount)
    }

    /// The number of bins.
    public var binCount: Int { counts.count }
    /// The number of finite values added (NaN and infinity excluded).
    public var valueCount: Int { counts.reduce(0, +) }
    /// The width of every bin.
    public var binWidth: Double { range / Double(counts.count) }

    /// Edge `index` (0 through `binCount`), a `Float` like pytorch-quantization's edges.
    ///
    /// Exact whenever the bin width is a normal `Float` (see the type's documentation). Only a maximum within 1% of
    /// `Float.greatestFiniteMagnitude` gives a range beyond it, whose last edges round to infinity.
    public func edge(_ index: Int) -> Float { Float(Double(index) * binWidth) }

    /// Adds the magnitudes of `values`.
    public mutating func add(_ values: UnsafeBufferPointer<Float>) {
        // First pass: the batch maximum, so the range grows once per batch, before any value is binned.
        var batchMax: Float = 0, finiteCount = 0
        for value in values {
            let magnitude = abs(value)
            if magnitude.isNaN {
                nanCount += 1
            } else if magnitude == .infinity {
                infinityCount += 1
            } else {
                batchMax = Swift.max(batchMax, magnitude)
                finiteCount += 1
            }
        }
        guard finiteCount > 0 else { return }
        max = Swift.max(max, batchMax)
        grow(toHold: batchMax)
        guard range > 0 else {
            // Every value so far is 0 (and bin 0 holds 0 under any later range).
            counts[0] += finiteCount
            return
        }
        let width = binWidth, last = counts.count - 1
        counts.withUnsafeMutableBufferPointer { bins in
            for value in values {
                let magnitude = abs(value)
                guard magnitude.isFinite else { continue }
                // Double division is exact enough that a value just below an edge never rounds up onto it:
                // a Float's relative spacing (2^-24) is far above Double's rounding (2^-53).
                bins[Swift.min(Int(Double(magnitude) / width), last)] += 1
            }
        }
    }

    /// Makes the range hold `magnitude` now, so values up to it never regrow it: with a known bound (softmax outputs
    /// are at most 1), the bins no longer depend on the order values arrive in.
    public mutating func reserve(toHold magnitude: Float) {
        guard magnitude.isFinite else { return }
        grow(toHold: Swift.abs(magnitude))
    }

    /// Adds `count` zeros (values known to be 0 without being materialized, such as the probabilities of masked keys).
    public mutating func addZeros(_ count: Int) {
        guard count > 0 else { return }
        grow(toHold: 0)
        counts[0] += count
    }

    /// Adds the magnitudes of `values`.
    public mutating func add(_ values: [Float]) {
        values.withUnsafeBufferPointer { add($0) }
    }

    /// Combines `other` into this histogram, as if its values had been added here (exactly so in the common case).
    ///
    /// The result has this histogram's bin count and the wider of the two ranges. Bins of the same range and count
    /// are added as they are. Otherwise each bin of the narrower histogram moves, whole, to the wider one's bin that
    /// holds its centre. That is exact when the ranges differ by a power of two and the bin counts are equal (every
    /// narrow bin then lies inside one wide bin), which is the case for histograms grown from the same first range.
    /// Otherwise a narrow bin straddling a wide edge puts all its values on one side, so a value can land one bin
    /// away from where adding it directly would have put it.
    public mutating func merge(_ other: AbsoluteHistogram) {
        let target = Swift.max(range, other.range)
        var merged = [Int](repeating: 0, count: counts.count)
        for histogram in [self, other] {
            if histogram.range == target, histogram.counts.count == merged.count {
                for k in merged.indices { merged[k] += histogram.counts[k] }
                continue
            }
            let width = target / Double(merged.count), sourceWidth = histogram.binWidth
            for (k, count) in histogram.counts.enumerated() where count != 0 {
                let index = target > 0 ? Int((Double(k) + 0.5) * sourceWidth / width) : 0
                merged[Swift.min(index, merged.count - 1)] += count
            }
        }
        counts = merged
        range = target
        max = Swift.max(max, other.max)
        nanCount += other.nanCount
        infinityCount += other.infinityCount
    }

    /// Widens the range until it lies strictly above `magnitude`, merging bin pairs at each doubling.
    private mutating func grow(toHold magnitude: Float) {
        guard magnitude > 0 else { return }
        guard range > 0 else {
            // No non-zero value yet: all counts are zeros, in bin 0 under any range.
            range = Self.initialRange(above: magnitude)
            return
        }
        let half = counts.count / 2
        while range <= Double(magnitude) {
            for k in 0..<half { counts[k] = counts[2 * k] + counts[2 * k + 1] }
            for k in half..<counts.count { counts[k] = 0 }
            range *= 2
        }
    }

    /// The smallest number with 8 significant bits that is strictly greater than `magnitude` (> 0, finite).
    static func initialRange(above magnitude: Float) -> Double {
        let value = Double(magnitude)
        // quantum = 2^(exponent - 7): numbers in [2^e, 2^(e+1)) with 8 significant bits are its multiples.
        let quantum = Double(sign: .plus, exponent: value.exponent - 7, significand: 1)
        return ((value / quantum).rounded(.down) + 1) * quantum
    }

    private enum CodingKeys: String, CodingKey { case counts, range, max, nanCount, infinityCount }

    /// Decodes a histogram, rejecting data that breaks its invariants (bin count, signs, the range above the max).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        counts = try container.decode([Int].self, forKey: .counts)
        range = try container.decode(Double.self, forKey: .range)
        max = try container.decode(Float.self, forKey: .max)
        nanCount = try container.decode(Int.self, forKey: .nanCount)
        infinityCount = try container.decode(Int.self, forKey: .infinityCount)
        let n = counts.count
        guard Self.binCounts.contains(n), n & (n - 1) == 0, counts.allSatisfy({ $0 >= 0 }),
              range.isFinite, range >= 0, max.isFinite, max >= 0, range > Double(max) || (range == 0 && max == 0),
              nanCount >= 0, infinityCount >= 0
        else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                debugDescription: "Not a valid AbsoluteHistogram: \(n) bins, range \(range), max \(max)"))
        }
    }
}

/// How an activation's amax (the magnitude mapped to ±127) is chosen from its histogram.
///
/// `percentile`, `entropy` and `mse` follow pytorch-quantization's `_compute_amax_percentile`,
/// `_compute_amax_entropy` and `_compute_amax_mse` step by step for symmetric 8-bit quantization (`num_bits=8`,
/// `unsigned=False`, `start_bin=128`, `stride=1`), including their index conventions and quirks, so that a
/// histogram gives the same amax here as there (the tests check equality with `scripts/calibrator_reference.py`).
public enum Calibrator: Sendable, Hashable {
    /// The exact largest magnitude seen.
    case max
    /// The lower edge of the first bin where the cumulative fraction reaches `percentile`/100 (0 through 100).
    case percentile(Double)
    /// TensorRT's entropy calibration: the edge that minimizes the KL divergence of the 128-level quantization.
    case entropy
    /// The bin centre that minimizes the count-weighted squared error of fake-quantizing the bin centres.
    case mse

    /// The percentile pytorch-quantization uses by default.
    public static let defaultPercentile = 99.99

    /// The calibrator named `name` ("max", "percentile", "entropy" or "mse"); nil for another name, or for a
    /// percentile outside 0 through 100 when the name is "percentile".
    public init?(name: String, percentile: Double = Calibrator.defaultPercentile) {
        switch name {
        case "max": self = .max
        case "percentile":
            guard (0...100).contains(percentile) else { return nil }
            self = .percentile(percentile)
        case "entropy": self = .entropy
        case "mse": self = .mse
        default: return nil
        }
    }

    /// The calibrator's name, as `init(name:percentile:)` reads it.
    /// The name with its parameter, for records: "percentile 99.99", "entropy".
    public var description: String {
        if case .percentile(let p) = self { return "percentile \(p)" }
        return name
    }

    public var name: String {
        switch self {
        case .max: "max"
        case .percentile: "percentile"
        case .entropy: "entropy"
        case .mse: "mse"
        }
    }

    /// The amax this calibrator picks from `histogram`.
    ///
    /// Throws when the histogram holds no finite value (pytorch-quantization returns None), when a percentile is
    /// outside 0 through 100 (it raises), or when the histogram has too few bins for the search to have a
    /// candidate (entropy needs at least 128 bins, MSE more than 128). A histogram of zeros gives 0.
    public func amax(from histogram: AbsoluteHistogram) throws -> Float {
        if case .percentile(let p) = self, !(0...100).contains(p) {
            throw OctetError.invalidArgument("The calibration percentile must be from 0 to 100, not \(p)")
        }
        guard histogram.valueCount > 0 else {
            throw OctetError.invalidArgument("Cannot calibrate from an empty histogram (no finite value was added)")
        }
        if histogram.range == 0 { return 0 }
        let n = histogram.binCount, start = HistogramSearch.startBin
        switch self {
        case .max:
            return histogram.max
        case .percentile(let p):
            return histogram.edge(HistogramSearch.percentileIndex(histogram.counts, percentile: p))
        case .entropy:
            guard n >= start else {
                throw OctetError.invalidArgument("Entropy calibration needs at least \(start) histogram bins, not \(n)")
            }
            return histogram.edge(HistogramSearch.entropyIndex(histogram.counts))
        case .mse:
            guard n > start else {
                throw OctetError.invalidArgument("MSE calibration needs more than \(start) histogram bins, not \(n)")
            }
            let edges = (0...n).map(histogram.edge)
            return HistogramSearch.mseAmax(histogram.counts, edges: edges)
        }
    }
}

/// The three searches, on plain arrays, in the arithmetic (types, operation order, tie-breaking) of the originals.
enum HistogramSearch {
    /// pytorch-quantization's `start_bin`: the first candidate of the entropy and MSE searches.
    static let startBin = 128
    /// `1 << (num_bits - 1 + unsigned)` for signed 8-bit: the levels of the positive half (the sign is separate).
    static let quantizedBins = 128

    /// `_compute_amax_percentile`: `searchsorted(cumsum(hist / total), p / 100)` (side left) indexes the edges.
    ///
    /// So amax is the *lower* edge of the bin where the cumulative fraction first reaches p/100, or the last edge
    /// when rounding leaves the total fraction below it.
    static func percentileIndex(_ counts: [Int], percentile: Double) -> Int {
        let total = Double(counts.reduce(0, +)), target = percentile / 100
        var cdf = 0.0
        for (k, count) in counts.enumerated() {
            // NumPy's cumsum adds in index order; each term is divided first, as in `hist / total`.
            cdf += Double(count) / total
            if cdf >= target { return k }
        }
        return counts.count
    }

    /// `_compute_amax_entropy` with `stride=1`: the candidate bin count `i` (an edge index) of least divergence.
    ///
    /// For each `i` from 128 through `counts.count`: the reference distribution p is `bins[:i]` with everything
    /// beyond added to its last bin; the candidate q merges `bins[:i]` into 128 groups (bin `x` goes to group
    /// `floor(128·x/i)`, which is what `np.digitize(range(i), np.linspace(0, i, 129)) - 1` computes since
    /// `k·(i/128)` is exact) and spreads each group's total evenly over its non-empty bins; empty bins stay empty.
    /// The divergence is `scipy.stats.entropy(p, q)`: both normalized by their sums, then
    /// `Σ rel_entr(p, q)` with `rel_entr = p·log(p/q)` (0 where p = 0 and q ≥ 0, +∞ where p > 0 = q, NaN with NaN),
    /// the sums in NumPy's pairwise order. The choice is the *last* index of NumPy's `argmin`, which takes NaN as
    /// the least value: pytorch-quantization's `len - 1 - argmin(divergences[::-1])`.
    ///
    /// Kept quirk: `bins[0] = bins[1]`: the count of the first bin (the one holding exact zeros) is replaced by its
    /// neighbour's before anything else, presumably so that a spike of zeros (after ReLU, padding) does not dominate. The original's `_normalize_distr` does nothing (it rebinds
    /// a local); normalization happens inside `scipy.stats.entropy`, as here.
    static func entropyIndex(_ counts: [Int], startBin: Int = startBin, stride: Int = 1) -> Int {
        var bins = counts
        let n = bins.count
        bins[0] = bins[1]
        let totalData = Double(bins.reduce(0, +))
        // outliers[i] = sum(bins[i:]), added to the last bin of p.
        var outliers = [Int](repeating: 0, count: n + 1)
        for k in Swift.stride(from: n - 1, through: 0, by: -1) { outliers[k] = outliers[k + 1] + bins[k] }

        var groupTotal = [Double](repeating: 0, count: quantizedBins)
        var groupBins = [Int](repeating: 0, count: quantizedBins)
        var q = [Double](repeating: 0, count: n), terms = [Double](repeating: 0, count: n)
        var best = startBin, bestDivergence = Double.infinity, lastNaN: Int?
        for i in Swift.stride(from: startBin, through: n, by: stride) {
            for g in 0..<quantizedBins { groupTotal[g] = 0; groupBins[g] = 0 }
            for x in 0..<i where bins[x] != 0 {
                let g = x * quantizedBins / i
                groupTotal[g] += Double(bins[x])
                groupBins[g] += 1
            }
            for g in 0..<quantizedBins where groupBins[g] != 0 { groupTotal[g] /= Double(groupBins[g]) }
            for x in 0..<i { q[x] = bins[x] != 0 ? groupTotal[x * quantizedBins / i] : 0 }
            // scipy normalizes p by np.sum of the integer array (exact: the total) and q by a float pairwise sum.
            let qTotal = q.withUnsafeBufferPointer { pairwiseSum(UnsafeBufferPointer(rebasing: $0[0..<i])) }
            for x in 0..<i {
                let count = x == i - 1 ? bins[x] + outliers[i] : bins[x]
                terms[x] = relativeEntropy(Double(count) / totalData, q[x] / qTotal)
            }
            let divergence = terms.withUnsafeBufferPointer { pairwiseSum(UnsafeBufferPointer(rebasing: $0[0..<i])) }
            if divergence.isNaN {
                lastNaN = i
            } else if divergence <= bestDivergence {
                bestDivergence = divergence
                best = i
            }
        }
        return lastNaN ?? best
    }

    /// `_compute_amax_mse`: the bin centre `c[i]` (i from 128) minimizing `mean((fq(c, c[i]) - c)² · counts)`.
    ///
    /// Centres, counts and the fake quantization are `Float` as in pytorch-quantization (the CUDA kernel of
    /// `fake_tensor_quant`: `scale = 127 / amax`, `rint(x·scale)` clamped to ±127 (narrow range), divided by
    /// `scale`; 0 when `amax < 2^-24`), and each term `(q - c)² · count` is rounded to `Float` as torch does.
    /// Deviation: the terms are summed in `Double`, in index order; torch sums `Float`s on the GPU in an order
    /// it does not specify. Ties go to the first candidate (`np.argmin`).
    static func mseAmax(_ counts: [Int], edges: [Float], startBin: Int = startBin, stride: Int = 1) -> Float {
        let n = counts.count
        let centers = (0..<n).map { (edges[$0 + 1] + edges[$0]) / 2 }
        let weights = counts.map { Float($0) }
        var best = startBin, bestError = Double.infinity
        for i in Swift.stride(from: startBin, to: n, by: stride) {
            let amax = centers[i]
            var sum = 0.0
            for k in 0..<n {
                let error = fakeQuantize(centers[k], amax: amax) - centers[k]
                sum += Double(error * error * weights[k])
            }
            let mse = sum / Double(n)
            if mse < bestError {
                bestError = mse
                best = i
            }
        }
        return centers[best]
    }

    /// Symmetric 8-bit narrow-range fake quantization, as `fake_tensor_quant_device` of pytorch-quantization's CUDA.
    static func fakeQuantize(_ x: Float, amax: Float) -> Float {
        if Double(amax) < 1.0 / Double(1 << 24) { return 0 }
        let bound: Float = 127, scale = bound / amax
        let level = Swift.min(Swift.max((x * scale).rounded(.toNearestOrEven), -bound), bound)
        return level / scale
    }

    /// `scipy.special.rel_entr` (scipy's `_convex_analysis.pxd`), with the C library's `log`.
    static func relativeEntropy(_ p: Double, _ q: Double) -> Double {
        if p.isNaN || q.isNaN { return .nan }
        if p > 0 && q > 0 { return p * log(p / q) }
        if p == 0 && q >= 0 { return 0 }
        return .infinity
    }

    /// NumPy's `np.sum` of a contiguous float64 array: pairwise summation, blocks of 128 unrolled by 8.
    ///
    /// Copied so that the divergences equal NumPy's bit for bit (the entropy search takes the *last* minimum, so
    /// even a last-bit difference could change the answer).
    static func pairwiseSum(_ a: UnsafeBufferPointer<Double>) -> Double {
        let n = a.count
        if n < 8 {
            var sum = 0.0
            for value in a { sum += value }
            return sum
        }
        if n <= 128 {
            var r = (a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7])
            var i = 8
            while i < n - n % 8 {
                r.0 += a[i]; r.1 += a[i + 1]; r.2 += a[i + 2]; r.3 += a[i + 3]
                r.4 += a[i + 4]; r.5 += a[i + 5]; r.6 += a[i + 6]; r.7 += a[i + 7]
                i += 8
            }
            var sum = ((r.0 + r.1) + (r.2 + r.3)) + ((r.4 + r.5) + (r.6 + r.7))
            while i < n { sum += a[i]; i += 1 }
            return sum
        }
        var half = n / 2
        half -= half % 8
        return pairwiseSum(UnsafeBufferPointer(rebasing: a[0..<half]))
            + pairwiseSum(UnsafeBufferPointer(rebasing: a[half..<n]))
    }
}
