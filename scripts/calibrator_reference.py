#!/usr/bin/env python3
"""Reference amax of pytorch-quantization's histogram calibrators, for Octet's CalibratorTests.

    calibrator_reference.py HISTOGRAM.json [HISTOGRAM.json ...] [--literal]

HISTOGRAM.json is {"counts": [...], "range": R}: a histogram of |x| over [0, R] with len(counts) equal bins (as
Octet's AbsoluteHistogram writes it). Prints, for each file in order, one line holding a JSON object:
{"max_edge", "percentile_99.99", "percentile_99.9", "percentile_100", "entropy", "mse"}, each a float32 value
written as a float. (Several files in one run save NumPy's start-up time.) --literal runs the entropy search as
the original's per-element Python loops (slow: seconds) instead of the vectorized transcription; both give the same
result bit for bit (that is what --literal is for).

Transcribed, with NumPy only (no torch, no scipy), from:
- NVIDIA/TensorRT, tools/pytorch-quantization/pytorch_quantization/calib/histogram.py at commit
  35477bdb94eab72862ffbdf66d4419e408bef45f: _compute_amax_entropy, _compute_amax_mse, _compute_amax_percentile
  (HistogramCalibrator.compute_amax with num_bits=8, unsigned=False, stride=1, start_bin=128).
- the same repository, tools/pytorch-quantization/src/tensor_quant_gpu.cu at commit
  0c672f03a2a6d41e92d5ce51d73b38eed13369fd: fake_tensor_quant_device (the op _compute_amax_mse runs, on CUDA).
- scipy.stats.entropy (normalize pk and qk by their sums, np.sum of rel_entr) and scipy.special.rel_entr
  (scipy/special/_convex_analysis.pxd at ce4b43097356dfc42504d81d6164b73ee0896c71), whose log is the C library's:
  math.log here, not np.log (NumPy's SIMD log differs from libm's in the last bit for ~0.1% of inputs).

Where torch held tensors, NumPy arrays of the same dtype stand in: counts are integers (HistogramCalibrator
converts its float32 histc counts with .int()); edges, centers and the MSE fake quantization are float32.
One deliberate change: _compute_amax_mse's torch float32 .mean() on the GPU (summation order unspecified) is a
float64 sum in index order divided by the bin count; Octet does the same, so the argmin can be compared exactly.
"""
import json
import math
import sys
from collections import Counter

import numpy as np

EPSILON = 1.0 / (1 << 24)  # tensor_quant_gpu.cu: amax below it quantizes everything to 0


def rel_entr(x, y):
    """scipy.special.rel_entr, elementwise: x*log(x/y); 0 where x == 0 <= y; inf otherwise; NaN with NaN."""
    out = np.full(x.shape, np.inf)
    positive = (x > 0) & (y > 0)
    ratio = x[positive] / y[positive]
    out[positive] = x[positive] * np.fromiter(map(math.log, ratio.tolist()), dtype=np.float64, count=len(ratio))
    out[(x == 0) & (y >= 0)] = 0.0
    out[np.isnan(x) | np.isnan(y)] = np.nan
    return out


def entropy(pk, qk):
    """scipy.stats.entropy(pk, qk) (base e, axis 0): the KL divergence of the normalized pk from the normalized qk."""
    with np.errstate(invalid="ignore", divide="ignore"):
        pk = np.asarray(pk)
        pk = 1.0 * pk / np.sum(pk, axis=0, keepdims=True)
        qk = np.asarray(qk)
        pk, qk = np.broadcast_arrays(pk, qk)
        qk = 1.0 * qk / np.sum(qk, axis=0, keepdims=True)
        vec = rel_entr(pk, qk)
        return np.sum(vec, axis=0)


def compute_amax_entropy(calib_hist, calib_bin_edges, num_bits=8, unsigned=False, stride=1, start_bin=128,
                         literal=False):
    """_compute_amax_entropy: the edge minimizing the KL divergence (the last one on ties; NaN counts as least)."""
    # The torch path of compute_amax hands over a fresh int array (.int().cpu().numpy()), so the in-place
    # bins[0] = bins[1] below does not leak into the histogram; a copy does the same here.
    bins = np.array(calib_hist, dtype=np.int64)
    bins[0] = bins[1]

    total_data = np.sum(bins)

    divergences = []
    arguments = []

    # we are quantizing to 128 values + sign if num_bits=8
    nbins = 1 << (num_bits - 1 + int(unsigned))

    starting = start_bin
    stop = len(bins)

    new_density_counts = np.zeros(nbins, dtype=np.float64)

    for i in range(starting, stop + 1, stride):
        new_density_counts.fill(0)
        space = np.linspace(0, i, num=nbins + 1)
        # np.arange(i) for the original's range(i): the same values, without building an array from a range.
        digitized_space = np.digitize(np.arange(i), space) - 1

        digitized_space[bins[:i] == 0] = -1

        if literal:
            # The original's loops, verbatim.
            for idx, digitized in enumerate(digitized_space):
                if digitized != -1:
                    new_density_counts[digitized] += bins[idx]

            counter = Counter(digitized_space)
            for key, val in counter.items():
                if key != -1:
                    new_density_counts[key] = new_density_counts[key] / val

            new_density = np.zeros(i, dtype=np.float64)
            for idx, digitized in enumerate(digitized_space):
                if digitized != -1:
                    new_density[idx] = new_density_counts[digitized]
        else:
            # The same arithmetic without Python loops: bincount adds the (integer, so exactly representable)
            # counts of each group, and each group total is divided by its number of non-empty bins.
            kept = digitized_space != -1
            groups = digitized_space[kept]
            new_density_counts[:] = np.bincount(groups, weights=bins[:i][kept].astype(np.float64), minlength=nbins)
            occupancy = np.bincount(groups, minlength=nbins)
            occupied = occupancy > 0
            new_density_counts[occupied] = new_density_counts[occupied] / occupancy[occupied]
            new_density = np.zeros(i, dtype=np.float64)
            new_density[kept] = new_density_counts[groups]

        total_counts_new = np.sum(new_density) + np.sum(bins[i:])
        # (_normalize_distr(new_density) here in the original is a no-op: it rebinds a local.)

        reference_density = np.array(bins[:len(digitized_space)])
        reference_density[-1] += np.sum(bins[i:])

        total_counts_old = np.sum(reference_density)
        if round(total_counts_new) != total_data or round(total_counts_old) != total_data:
            raise RuntimeError("Count mismatch! total_counts_new={}, total_counts_old={}, total_data={}".format(
                total_counts_new, total_counts_old, total_data))

        ent = entropy(reference_density, new_density)
        divergences.append(ent)
        arguments.append(i)

    divergences = np.array(divergences)
    last_argmin = len(divergences) - 1 - np.argmin(divergences[::-1])
    calib_amax = calib_bin_edges[last_argmin * stride + starting]
    return calib_amax


def fake_tensor_quant(inputs, amax, num_bits=8, unsigned=False, narrow_range=True):
    """fake_tensor_quant_device of tensor_quant_gpu.cu, on a float32 array with a float32 amax."""
    if amax < EPSILON:
        return np.zeros_like(inputs)
    bound = np.float32((1 << (num_bits - 1 + int(unsigned))) - 1)
    max_bound = bound
    min_bound = -(bound + np.float32(not narrow_range))
    scale = max_bound / amax
    output = np.rint(inputs * scale)
    output = np.where(output > max_bound, max_bound, output)
    output = np.where(output < min_bound, min_bound, output)
    return (output / scale).astype(np.float32)


def compute_amax_mse(calib_hist, calib_bin_edges, num_bits=8, unsigned=False, stride=1, start_bin=128):
    """_compute_amax_mse: the bin center minimizing the count-weighted squared fake-quantization error."""
    counts = np.asarray(calib_hist).astype(np.float32)
    edges = np.asarray(calib_bin_edges).astype(np.float32)
    centers = (edges[1:] + edges[:-1]) / np.float32(2)

    mses = []
    arguments = []

    for i in range(start_bin, len(centers), stride):
        amax = centers[i]
        quant_centers = fake_tensor_quant(centers, amax, num_bits, unsigned)
        terms = (quant_centers - centers)**2 * counts  # float32, as torch computes it
        # Deviation (see the module docstring): float64, index order, instead of torch's float32 GPU mean.
        mse = np.cumsum(terms.astype(np.float64))[-1] / len(terms)
        mses.append(mse)
        arguments.append(i)

    argmin = np.argmin(mses)
    calib_amax = centers[arguments[argmin]]
    return calib_amax


def compute_amax_percentile(calib_hist, calib_bin_edges, percentile):
    """_compute_amax_percentile: the edge at searchsorted(cdf, percentile / 100)."""
    if percentile < 0 or percentile > 100:
        raise ValueError("Invalid percentile. Must be in range 0 <= percentile <= 100.")
    total = calib_hist.sum()
    cdf = np.cumsum(calib_hist / total)
    idx = np.searchsorted(cdf, percentile / 100)
    calib_amax = calib_bin_edges[idx]
    return calib_amax


def amax_values(histogram, literal=False):
    """The reference amax of every calibrator for one {"counts", "range"} histogram."""
    counts = np.array(histogram["counts"], dtype=np.int64)
    value_range = float(histogram["range"])
    n = len(counts)
    # Octet's edges: k * (range / n) in float64, then float32 (the dtype of torch's linspace edges). For Octet's
    # ranges (8 significant bits, n a power of two) every edge is exact in float32.
    edges = (np.arange(n + 1, dtype=np.float64) * (value_range / n)).astype(np.float32)
    return {
        "max_edge": float(edges[-1]),
        "percentile_99.99": float(compute_amax_percentile(counts, edges, 99.99)),
        "percentile_99.9": float(compute_amax_percentile(counts, edges, 99.9)),
        "percentile_100": float(compute_amax_percentile(counts, edges, 100)),
        "entropy": float(compute_amax_entropy(counts, edges, literal=literal)),
        "mse": float(compute_amax_mse(counts, edges)),
    }


def main(argv):
    literal = "--literal" in argv
    paths = [a for a in argv if a != "--literal"]
    if not paths:
        print(__doc__, file=sys.stderr)
        return 2
    for path in paths:
        with open(path) as f:
            print(json.dumps(amax_values(json.load(f), literal=literal)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
