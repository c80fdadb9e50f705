#!/usr/bin/env python3
"""Describes .tflite models from their flatbuffers: operators with versions and
options, input and output tensors, and how weights are quantized.

    tflite_info.py MODEL...      one block of text per model

Uses the schema module of the pinned `tflite-micro` package, so it runs in the
test venv (tools/requirements.txt) and in the training venv.
"""
import sys

from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

OPS = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
TYPES = {v: k.lower() for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
ACTIVATIONS = {v: k for k, v in vars(fb.ActivationFunctionType).items() if not k.startswith("_")}
PADDINGS = {v: k for k, v in vars(fb.Padding).items() if not k.startswith("_")}


WEIGHTED = ("FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D")


def load(path):
    with open(path, "rb") as f:
        data = f.read()
    return fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0)), len(data)


def op_name(code):
    return OPS[max(code.builtinCode, code.deprecatedBuiltinCode)]


def options(op):
    """The options that change what an operator computes, as short text."""
    o = op.builtinOptions
    if o is None:
        return ""
    parts = []
    for field, label in (("strideH", "stride"), ("filterHeight", "filter"), ("depthMultiplier", "mult"),
                         ("axis", "axis"), ("keepNumDims", "keep_dims"), ("keepDims", "keep_dims"),
                         ("beta", "beta")):
        if hasattr(o, field):
            v = getattr(o, field)
            if field == "strideH":
                v = f"{o.strideH}x{o.strideW}"
            elif field == "filterHeight":
                v = f"{o.filterHeight}x{o.filterWidth}"
            if field in ("keepNumDims", "keepDims") and not v:
                continue
            parts.append(f"{label} {v}")
    if hasattr(o, "padding"):
        parts.insert(0, PADDINGS[o.padding])
    if hasattr(o, "fusedActivationFunction"):
        parts.append(ACTIVATIONS[o.fusedActivationFunction])
    return ", ".join(parts)


def tensor_text(t):
    shape = "x".join(str(d) for d in t.shape) if t.shape is not None and len(t.shape) else "scalar"
    text = f"{TYPES[t.type]}[{shape}]"
    q = t.quantization
    if q is not None and q.scale is not None and len(q.scale) == 1:
        text += f" s={float(q.scale[0]):.9g} z={int(q.zeroPoint[0])}"
    elif q is not None and q.scale is not None and len(q.scale) > 1:
        text += f" per-axis({len(q.scale)}, dim {q.quantizedDimension})"
    return text


def describe(path):
    """A dict: ops [(name, version, options, quantization of a constant second
    input)], inputs,
    outputs (tensor texts), size in bytes."""
    model, size = load(path)
    if len(model.subgraphs) != 1:
        raise ValueError(f"{path}: {len(model.subgraphs)} subgraphs")
    g = model.subgraphs[0]
    ops = []
    for op in g.operators:
        code = model.operatorCodes[op.opcodeIndex]
        name, weights = op_name(code), ""
        if len(op.inputs) > 1 and op.inputs[1] >= 0:
            w = g.tensors[op.inputs[1]]
            q = w.quantization
            if model.buffers[w.buffer].data is not None and q is not None and q.scale is not None:
                label = "weights" if name in WEIGHTED else "constant input 1"
                weights = f"{label} per-channel (dim {q.quantizedDimension})" if len(q.scale) > 1 \
                    else f"{label} per-tensor"
        ops.append((name, code.version, options(op), weights))
    return {
        "ops": ops,
        "inputs": [tensor_text(g.tensors[i]) for i in g.inputs],
        "outputs": [tensor_text(g.tensors[i]) for i in g.outputs],
        "size": size,
    }


def main():
    for path in sys.argv[1:]:
        d = describe(path)
        print(f"{path}: {d['size']} bytes")
        print("  inputs:  " + "; ".join(d["inputs"]))
        print("  outputs: " + "; ".join(d["outputs"]))
        for name, version, opts, weights in d["ops"]:
            extra = ", ".join(x for x in (opts, weights) if x)
            print(f"  {name} v{version}" + (f" ({extra})" if extra else ""))


if __name__ == "__main__":
    main()
