#!/usr/bin/env python3
"""ONNX Runtime peer for SQuAD accuracy: logits for Octet's own features, so both are scored identically.

    PY="$(bash scripts/python-env.sh | tail -n1)"
    swift run -c release octet eval squad --save-features out/peer/dev-features.safetensors
    swift run -c release octet eval squad --data ../shared/data/squad/train-v1.1.json --limit 128 \
        --save-features out/peer/train-features.safetensors
    "$PY" scripts/peer_ort_squad.py --mode static-percentile --calib-features out/peer/train-features.safetensors \
        --features out/peer/dev-features.safetensors --output out/peer/static-percentile.safetensors
    swift run -c release octet eval squad --logits out/peer/static-percentile.safetensors

Modes (ONNX Runtime's own quantization tools on ../shared/onnx/minilm-l6-squad.onnx):
  fp32               the model as given (also: any Q/DQ model, e.g. Octet's `octet quantize` output, via --model)
  dynamic            quantize_dynamic: int8 per-channel weights, activations quantized per batch at run time
  static-minmax | static-percentile | static-entropy
                     quantize_static: QDQ format, per-channel symmetric int8 weights, symmetric int8 activations,
                     MatMul only, calibrated on the first --calib-size features of --calib-features
ONNX Runtime runs the result on the CPU with its default graph optimizations (Q/DQ fused into integer kernels).
Writes input_ids, start_logits and end_logits [features, sequence] (metadata: producer).
"""
import argparse, os, sys, tempfile, time
import numpy as np
import onnxruntime as ort
from safetensors.numpy import load_file, save_file

parser = argparse.ArgumentParser()
parser.add_argument("--model", default="../shared/onnx/minilm-l6-squad.onnx")
parser.add_argument("--mode", required=True, choices=["fp32", "dynamic", "static-minmax", "static-percentile", "static-entropy"])
parser.add_argument("--features", required=True)
parser.add_argument("--calib-features")
parser.add_argument("--calib-size", type=int, default=128)
parser.add_argument("--percentile", type=float, default=99.99)
parser.add_argument("--batch", type=int, default=8)
parser.add_argument("--threads", type=int, default=os.cpu_count())
parser.add_argument("--output", required=True)
args = parser.parse_args()

names = ["input_ids", "attention_mask", "token_type_ids"]
model = args.model
work = tempfile.mkdtemp(prefix="peer-ort-")
if args.mode == "dynamic":
    from onnxruntime.quantization import QuantType, quantize_dynamic
    model = os.path.join(work, "dynamic.onnx")
    quantize_dynamic(args.model, model, per_channel=True, weight_type=QuantType.QInt8)
elif args.mode.startswith("static"):
    from onnxruntime.quantization import CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType, quantize_static
    if not args.calib_features:
        sys.exit("--calib-features is needed for static quantization")
    calib = load_file(args.calib_features)
    count = min(args.calib_size, calib["input_ids"].shape[0])

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.i = 0
        def get_next(self):
            if self.i >= count:
                return None
            j = min(self.i + args.batch, count)
            batch = {n: calib[n][self.i:j].astype(np.int64) for n in names}
            self.i = j
            return batch

    method = {"static-minmax": CalibrationMethod.MinMax, "static-percentile": CalibrationMethod.Percentile,
              "static-entropy": CalibrationMethod.Entropy}[args.mode]
    model = os.path.join(work, "static.onnx")
    quantize_static(args.model, model, Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul"],
                    calibrate_method=method,
                    extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "CalibPercentile": args.percentile})

options = ort.SessionOptions()
options.intra_op_num_threads = args.threads
session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
features = load_file(args.features)
total = features["input_ids"].shape[0]
starts, ends = [], []
began = time.time()
for i in range(0, total, args.batch):
    feeds = {n: features[n][i:i + args.batch].astype(np.int64) for n in names if n in [x.name for x in session.get_inputs()]}
    start, end = session.run(["start_logits", "end_logits"], feeds)
    starts.append(start.astype(np.float32))
    ends.append(end.astype(np.float32))
    done = min(i + args.batch, total)
    if done == total or (i // args.batch) % 50 == 0:
        rate = done / max(1e-9, time.time() - began)
        print(f"\ronnxruntime {args.mode} {done}/{total} features · {rate:.1f} features/s · ETA {(total - done) / max(rate, 1e-9):.0f}s",
              end="", file=sys.stderr, flush=True)
print(file=sys.stderr)
save_file({"input_ids": features["input_ids"].astype(np.int32), "start_logits": np.concatenate(starts),
           "end_logits": np.concatenate(ends)}, args.output,
          metadata={"producer": f"onnxruntime {ort.__version__} {args.mode}" + (f" ({args.calib_size} calibration features)" if args.mode.startswith("static") else "")})
print(f"wrote {args.output} ({total} features, {(time.time() - began) / max(total, 1) * 1000:.1f} ms/feature)")
