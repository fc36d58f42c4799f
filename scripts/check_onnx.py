#!/usr/bin/env python3
"""Checks an ONNX model the way the rest of the ecosystem will read it, for Octet's interop tests.

    PY="$(bash scripts/python-env.sh | tail -n1)"
    "$PY" scripts/check_onnx.py MODEL.onnx INPUTS.safetensors OUTPUTS.safetensors

1. `onnx.checker.check_model(MODEL, full_check=True)` (structure, types, shape inference).
2. ONNX Runtime's CPU provider runs MODEL on INPUTS (tensors named like the graph inputs; integer inputs are cast to
   the declared type) twice: with its default graph optimizations (which fuse Q/DQ pairs into integer kernels) and
   with optimizations off (each node run literally). OUTPUTS gets every graph output, the second run's with the
   suffix `_unfused`.
Prints one JSON line: the versions and the output names. Exits 1 with the checker's or ONNX Runtime's message on
failure.
"""
import json, sys
import numpy as np
import onnx
import onnxruntime as ort
from safetensors.numpy import load_file, save_file

model, inputs_path, outputs_path = sys.argv[1:4]
try:
    onnx.checker.check_model(model, full_check=True)
except Exception as e:  # the checker's own exception types vary by version
    print(f"onnx.checker rejected {model}: {e}", file=sys.stderr)
    sys.exit(1)

inputs = load_file(inputs_path)
types = {"tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(float)": np.float32}
results = {}
for suffix, level in [("", ort.GraphOptimizationLevel.ORT_ENABLE_ALL), ("_unfused", ort.GraphOptimizationLevel.ORT_DISABLE_ALL)]:
    options = ort.SessionOptions()
    options.graph_optimization_level = level
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    feeds = {i.name: inputs[i.name].astype(types.get(i.type, np.float32)) for i in session.get_inputs()}
    for meta, value in zip(session.get_outputs(), session.run(None, feeds)):
        results[meta.name + suffix] = np.ascontiguousarray(value.astype(np.float32))
save_file(results, outputs_path)
print(json.dumps({"onnx": onnx.__version__, "onnxruntime": ort.__version__, "outputs": sorted(results)}))
