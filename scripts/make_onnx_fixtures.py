#!/usr/bin/env python3
"""Makes the small ONNX test fixtures: random-weight BERT-family QA models exported by both PyTorch exporters.

Run on the GPU machine (it has PyTorch, transformers, onnx, onnxscript and onnxruntime; the CPU is enough):

    python3 scripts/make_onnx_fixtures.py OUT_DIR

For each architecture (BERT, RoBERTa, DistilBERT, ELECTRA) it builds a tiny `*ForQuestionAnswering` with random
weights (seed 0; hidden 32, 2 layers, 4 heads, intermediate 64, vocab 128) and exports it with the TorchScript
exporter (`dynamo=False`, opset 14) and the dynamo exporter (`dynamo=True`, opset 18), dynamic batch and sequence
axes; the BERT TorchScript export is written a second time with its weights as external data. Beside each model,
`NAME.io.safetensors` holds a 2 × 12 batch (second row padded from position 8) and the start/end logits of
PyTorch (`*_torch`, float32 eager) and of ONNX Runtime (`start_logits`, `end_logits`). Everything is packed into
OUT_DIR/onnx-fixtures.tar.gz, unpacked into Tests/OctetTests/Fixtures/onnx/ and committed.
"""
import io, json, os, sys, tarfile, traceback
import numpy as np
import torch
import onnx
import onnxruntime as ort
from safetensors.numpy import save_file
import transformers
from transformers import (BertConfig, BertForQuestionAnswering, RobertaConfig, RobertaForQuestionAnswering,
                          DistilBertConfig, DistilBertForQuestionAnswering, ElectraConfig, ElectraForQuestionAnswering)

out = sys.argv[1] if len(sys.argv) > 1 else "onnx-fixtures"
work = os.path.join(out, "onnx")
os.makedirs(work, exist_ok=True)
torch.manual_seed(0)
common = dict(vocab_size=128, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
              max_position_embeddings=64)
archs = {
    "bert": (BertForQuestionAnswering, BertConfig(**common, type_vocab_size=2), True),
    "roberta": (RobertaForQuestionAnswering, RobertaConfig(**common, type_vocab_size=1, pad_token_id=1), False),
    "distilbert": (DistilBertForQuestionAnswering, DistilBertConfig(vocab_size=128, dim=32, n_layers=2, n_heads=4,
                                                                    hidden_dim=64, max_position_embeddings=64), None),
    "electra": (ElectraForQuestionAnswering, ElectraConfig(**common, embedding_size=32, type_vocab_size=2), True),
}
ids = torch.randint(5, 128, (2, 12), dtype=torch.int64)
mask = torch.ones(2, 12, dtype=torch.int64)
mask[1, 8:] = 0
ids[1, 8:] = 0
types = torch.zeros(2, 12, dtype=torch.int64)
types[:, 6:] = 1
types[1, 8:] = 0
report = {"torch": torch.__version__, "transformers": transformers.__version__, "onnx": onnx.__version__,
          "onnxruntime": ort.__version__, "models": {}}

class Wrapper(torch.nn.Module):
    """Returns (start_logits, end_logits) as a tuple, so both exporters name the outputs alike."""
    def __init__(self, model, with_types):
        super().__init__()
        self.model, self.with_types = model, with_types
    def forward(self, input_ids, attention_mask, token_type_ids=None):
        kwargs = dict(input_ids=input_ids, attention_mask=attention_mask)
        if self.with_types:
            kwargs["token_type_ids"] = token_type_ids
        o = self.model(**kwargs)
        return o.start_logits, o.end_logits

for arch, (cls, config, with_types) in archs.items():
    model = cls(config).eval()
    wrapper = Wrapper(model, with_types is not None).eval()
    names = ["input_ids", "attention_mask"] + (["token_type_ids"] if with_types is not None else [])
    args = (ids, mask) + ((types if with_types else torch.zeros_like(ids),) if with_types is not None else ())
    with torch.no_grad():
        start_t, end_t = wrapper(*args)
    for exporter in ["torchscript", "dynamo"]:
        name = f"{arch}-{exporter}"
        path = os.path.join(work, name + ".onnx")
        try:
            if exporter == "torchscript":
                torch.onnx.export(wrapper, args, path, dynamo=False, opset_version=14, input_names=names,
                                  output_names=["start_logits", "end_logits"],
                                  dynamic_axes={n: {0: "batch", 1: "sequence"} for n in names + ["start_logits", "end_logits"]})
            else:
                batch, seq = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("sequence", min=2, max=64)
                program = torch.onnx.export(wrapper, args, dynamo=True, opset_version=18, input_names=names,
                                            output_names=["start_logits", "end_logits"],
                                            dynamic_shapes={n: {0: batch, 1: seq} for n in names}, optimize=True)
                program.save(path)
            targets = [(name, path)]
            if arch == "bert" and exporter == "torchscript":
                m = onnx.load(path)
                ext = os.path.join(work, "bert-external.onnx")
                onnx.save_model(m, ext, save_as_external_data=True, all_tensors_to_one_file=True,
                                location="bert-external.onnx.data", size_threshold=256)
                targets.append(("bert-external", ext))
            for tname, tpath in targets:
                onnx.checker.check_model(tpath, full_check=True)
                session = ort.InferenceSession(tpath, providers=["CPUExecutionProvider"])
                feeds = {n: a.numpy() for n, a in zip(names, args)}
                start_o, end_o = session.run(["start_logits", "end_logits"], feeds)
                tensors = dict(feeds)
                tensors.update(start_logits=start_o.astype(np.float32), end_logits=end_o.astype(np.float32),
                               start_logits_torch=start_t.numpy(), end_logits_torch=end_t.numpy())
                save_file(tensors, os.path.join(work, tname + ".io.safetensors"))
                graph = onnx.load(tpath, load_external_data=False)
                ops = {}
                for node in graph.graph.node:
                    ops[node.op_type] = ops.get(node.op_type, 0) + 1
                report["models"][tname] = {
                    "opset": [o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")][0],
                    "max_abs_ort_vs_torch": float(max(np.abs(start_o - start_t.numpy()).max(), np.abs(end_o - end_t.numpy()).max())),
                    "ops": ops}
                print(tname, report["models"][tname]["opset"], report["models"][tname]["max_abs_ort_vs_torch"], flush=True)
        except Exception as e:
            traceback.print_exc()
            report["models"][name] = {"error": repr(e)}
with open(os.path.join(work, "README.json"), "w") as f:
    json.dump(report, f, indent=1, sort_keys=True)
with tarfile.open(os.path.join(out, "onnx-fixtures.tar.gz"), "w:gz") as tar:
    tar.add(work, arcname="onnx")
print(json.dumps({k: (v.get("opset"), v.get("error")) for k, v in report["models"].items()}, indent=1))
