#!/usr/bin/env python3
"""Strips what no interpreter reads from a .tflite model, as a deployment step:
the description, the subgraph's and tensors' names, the signature definitions and
the metadata entries with their buffers (the converter's `min_runtime_version` and
`CONVERSION_METADATA`). Like TensorFlow Lite's `flatbuffer_utils.strip_strings`,
plus the metadata. Then it writes the model compactly, as a FlatBuffers writer may:
each distinct vector of scalars once (shapes, zero points, operator tensor lists:
a vector may be referred to from any number of places), `has_rank` left out where
the shape is not empty (a shape that has dimensions has a rank; older converters
never wrote the field), and tensors without data on buffer 0, the schema's empty
sentinel, instead of an empty buffer each. Operators, tensors, shapes, weights and
quantization are unchanged, so every output is the same.

    strip_model.py IN [-o OUT]       OUT defaults to IN (rewritten in place)

Uses the schema module of the pinned `tflite-micro` package and `flatbuffers`, so it
runs in the test venv (tools/requirements.txt) and in the training venv.
"""
import argparse
import sys

import flatbuffers
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb


class SharingBuilder(flatbuffers.Builder):
    """A builder that writes each distinct vector of scalars once (the generated
    `Pack` code writes every numpy array through `CreateNumpyVector`)."""

    def __init__(self, size):
        super().__init__(size)
        self.written = {}

    def CreateNumpyVector(self, x):
        key = (x.dtype.str, x.tobytes())
        if key not in self.written:
            self.written[key] = super().CreateNumpyVector(x)
        return self.written[key]


def share_empty_buffer(model):
    """Points every tensor without data at buffer 0 (the schema's empty sentinel) and
    drops the empty buffers no tensor uses any more, renumbering the others."""
    if not model.buffers or model.buffers[0].data is not None:
        return
    tensors = [t for g in model.subgraphs for t in g.tensors]
    for t in tensors:
        if model.buffers[t.buffer].data is None:
            t.buffer = 0
    keep = [0] + sorted({t.buffer for t in tensors} - {0})
    model.buffers = [model.buffers[i] for i in keep]
    new = {old: i for i, old in enumerate(keep)}
    for t in tensors:
        t.buffer = new[t.buffer]


def strip(data):
    """The stripped model's bytes."""
    model = fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))
    if any(b.offset or b.size for b in model.buffers or []):
        # Data appended after the flatbuffer (models over 2 GB): repacking would lose it.
        raise SystemExit("strip_model.py: buffers stored outside the flatbuffer are not supported")
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
    model.metadataBuffer = None  # deprecated indices into the dropped metadata
    for g in model.subgraphs:
        g.name = None
        for t in g.tensors:
            t.name = None
            if t.shape is not None and len(t.shape) > 0:
                t.hasRank = False
    share_empty_buffer(model)
    builder = SharingBuilder(len(data))
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
