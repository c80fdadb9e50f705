#!/usr/bin/env python3
"""Strips what no interpreter reads from a .tflite model, as a deployment step:
the description, the subgraph's and tensors' names, the signature definitions and
the metadata entries with their buffers (the converter's `min_runtime_version` and
`CONVERSION_METADATA`). Operators, tensors, weights and quantization are unchanged,
so every output is the same (the test command checks the sine models against TFLM).
Like TensorFlow Lite's `flatbuffer_utils.strip_strings`, plus the metadata.

    strip_model.py IN [-o OUT]       OUT defaults to IN (rewritten in place)

Uses the schema module of the pinned `tflite-micro` package and `flatbuffers`, so it
runs in the test venv (tools/requirements.txt) and in the training venv.
"""
import argparse
import sys

import flatbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb


def strip(data):
    """The stripped model's bytes."""
    model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))
    model.description = None
    model.signatureDefs = None
    used = {t.buffer for g in model.subgraphs for t in g.tensors}
    dropped = {m.buffer for m in model.metadata or []} - used
    model.metadata = None
    # Metadata buffers come last (the converter appends them); an unused one elsewhere
    # is emptied instead, so that no tensor's buffer index moves.
    while model.buffers and len(model.buffers) - 1 in dropped:
        model.buffers.pop()
    for i in dropped:
        if i < len(model.buffers):
            model.buffers[i].data = None
    for g in model.subgraphs:
        g.name = None
        for t in g.tensors:
            t.name = None
    builder = flatbuffers.Builder(len(data))
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model")
    ap.add_argument("-o", "--out")
    args = ap.parse_args()
    with open(args.model, "rb") as f:
        data = f.read()
    stripped = strip(data)
    with open(args.out or args.model, "wb") as f:
        f.write(stripped)
    print(f"{args.out or args.model}: {len(data)} -> {len(stripped)} bytes", file=sys.stderr)


if __name__ == "__main__":
    main()
