#!/usr/bin/env python3
"""Op-by-op conformance of Octet's run of an ONNX model against ONNX Runtime, for Octet's interop tests.

    PY="$(bash scripts/python-env.sh | tail -n1)"
    "$PY" scripts/check_ops.py MODEL.onnx VALUES.safetensors [NODE_NAME_PREFIX ...]

VALUES holds the graph inputs and every value Octet computed (as float32; integer values are cast back to the type
ONNX shape inference gives them). Each node (or each node whose name starts with one of the prefixes) is rebuilt as
a one-node model, run by ONNX Runtime's CPU provider on Octet's own inputs, and compared with Octet's output. So
every op is checked on exactly the inputs Octet saw, and a difference cannot come from an earlier op.

Prints one JSON object: per op type, the nodes checked and the largest difference relative to the output's largest
magnitude (at least 1), and for QuantizeLinear the number of integers that differ.
"""
import json, sys
import numpy as np
import onnx
from onnx import helper, numpy_helper, shape_inference
import onnxruntime as ort
from safetensors.numpy import load_file

model_path, values_path, *prefixes = sys.argv[1:]
model = shape_inference.infer_shapes(onnx.load(model_path))
values = load_file(values_path)
inits = {i.name: i for i in model.graph.initializer}
types = {v.name: v.type.tensor_type.elem_type for v in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output)}
opset = [o for o in model.opset_import if o.domain in ("", "ai.onnx")][0].version
options = ort.SessionOptions()
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
options.log_severity_level = 3
report = {}
for node in model.graph.node:
    if prefixes and not any(node.name.startswith(p) for p in prefixes):
        continue
    if not node.output[0] in values:
        continue
    feeds, graph_inputs, initializers = {}, [], []
    for name in node.input:
        if not name:
            continue
        if name in inits:
            initializers.append(inits[name])
        else:
            array = values[name].astype(helper.tensor_dtype_to_np_dtype(types[name]))
            feeds[name] = array
            graph_inputs.append(helper.make_tensor_value_info(name, types[name], array.shape))
    outputs = [helper.make_tensor_value_info(o, types.get(o, 0) or onnx.TensorProto.FLOAT, None) for o in node.output if o]
    single = helper.make_model(helper.make_graph([node], "single", graph_inputs, outputs, initializers),
                               opset_imports=[helper.make_opsetid("", opset)], ir_version=model.ir_version)
    result = ort.InferenceSession(single.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(None, feeds)
    entry = report.setdefault(node.op_type, {"nodes": 0, "max_relative_difference": 0.0, "worst_node": "", "integers_differing": 0})
    entry["nodes"] += 1
    for name, expected in zip([o for o in node.output if o], result):
        actual = values[name].astype(np.float64)
        expected = expected.astype(np.float64)
        finite = np.isfinite(expected) & np.isfinite(actual)
        same_nonfinite = np.array_equal(np.isfinite(expected), np.isfinite(actual))
        scale = max(1.0, float(np.abs(expected[finite]).max()) if finite.any() else 1.0)
        diff = float(np.abs(actual[finite] - expected[finite]).max()) / scale if finite.any() else 0.0
        if not same_nonfinite:
            diff = float("inf")
        if node.op_type == "QuantizeLinear":
            entry["integers_differing"] += int((actual != expected).sum())
        if diff > entry["max_relative_difference"]:
            entry["max_relative_difference"], entry["worst_node"] = diff, node.name
print(json.dumps(report, sort_keys=True))
