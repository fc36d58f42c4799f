#!/usr/bin/env python3
"""Quantizes an ONNX model with ONNX Runtime's quantize_static (QDQ, per-channel, symmetric) and stores ONNX
Runtime's outputs of the result: the peer's Q/DQ format, for Octet's import tests.

    PY="$(bash scripts/python-env.sh | tail -n1)"
    "$PY" scripts/make_qdq_fixture.py MODEL.onnx IO.safetensors OUT.onnx [--calibration minmax|percentile|entropy]

Calibration runs over the inputs in IO.safetensors plus 16 random batches of the same shape (token ids drawn from the
ids present), so the fixture is reproducible (seed 0). Writes OUT.onnx and OUT.io.safetensors (the inputs, and
`start_logits`/`end_logits` from ONNX Runtime's CPU provider running the quantized model with its default graph
optimizations, which fuse Q/DQ into integer kernels, and `*_unfused` with graph optimizations off, which run each
Q/DQ node literally).
"""
import argparse, os
import numpy as np
import onnxruntime as ort
from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                      quantize_static)
from safetensors.numpy import load_file, save_file

parser = argparse.ArgumentParser()
parser.add_argument("model")
parser.add_argument("io")
parser.add_argument("out")
parser.add_argument("--calibration", default="minmax", choices=["minmax", "percentile", "entropy"])
args = parser.parse_args()
io = load_file(args.io)
names = [i.name for i in ort.InferenceSession(args.model, providers=["CPUExecutionProvider"]).get_inputs()]
feeds = {n: io[n].astype(np.int64) for n in names}
rng = np.random.default_rng(0)
batches = [feeds]
for _ in range(16):
    b = {n: v.copy() for n, v in feeds.items()}
    b["input_ids"] = rng.choice(np.unique(feeds["input_ids"]), size=feeds["input_ids"].shape).astype(np.int64)
    batches.append(b)

class Reader(CalibrationDataReader):
    def __init__(self):
        self.it = iter(batches)
    def get_next(self):
        return next(self.it, None)

method = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
          "entropy": CalibrationMethod.Entropy}[args.calibration]
quantize_static(args.model, args.out, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, calibrate_method=method,
                extra_options={"ActivationSymmetric": True, "WeightSymmetric": True})
session = ort.InferenceSession(args.out, providers=["CPUExecutionProvider"])
start, end = session.run(["start_logits", "end_logits"], feeds)
# With graph optimizations off, ONNX Runtime runs every QuantizeLinear/DequantizeLinear as written, in float:
# the literal semantics. With them on (the default), it fuses Q/DQ pairs into integer kernels.
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
literal = ort.InferenceSession(args.out, options, providers=["CPUExecutionProvider"])
start_l, end_l = literal.run(["start_logits", "end_logits"], feeds)
tensors = dict(feeds)
tensors.update(start_logits=start.astype(np.float32), end_logits=end.astype(np.float32),
               start_logits_unfused=start_l.astype(np.float32), end_logits_unfused=end_l.astype(np.float32))
save_file(tensors, os.path.splitext(args.out)[0] + ".io.safetensors")
print(f"wrote {args.out} (onnxruntime {ort.__version__}, {args.calibration})")
