#!/usr/bin/env python3
"""Derives CONV_2D and DEPTHWISE_CONV_2D test models from models/ops for ops_conv.rs:
what the converter did not emit there (dilation, unequal strides, grouped filters,
missing biases, RELU_N1_TO_1, two batches, more channels than the engine's blocks,
a first layer with more weights than the engine folds at preparation),
and broken ones (bad_*.tflite) that the engine must refuse.
Every variant keeps the graph of its source; where weights change shape they are
sliced or drawn again from a seeded generator. TFLM (the oracle) does not check
operator versions; the versions are set as the converter would set them anyway.

    conv_variants.py OUT_DIR     writes OUT_DIR/<name>.tflite, prints each path
"""
import os
import sys

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "models", "ops")
SAME, VALID = fb.Padding.SAME, fb.Padding.VALID
RELU_N1_TO_1 = fb.ActivationFunctionType.RELU_N1_TO_1
RNG = np.random.default_rng(11)


def load(name):
    with open(os.path.join(MODELS, name + ".tflite"), "rb") as f:
        data = f.read()
    return fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))


def save(model, path):
    b = flatbuffers.Builder(4096)
    b.Finish(model.Pack(b), file_identifier=b"TFL3")
    with open(path, "wb") as f:
        f.write(b.Output())
    print(path)


def graph(model):
    return model.subgraphs[0]


def tensor(model, i):
    return graph(model).tensors[i]


def numpy_type(t):
    return {fb.TensorType.FLOAT32: np.float32, fb.TensorType.INT8: np.int8, fb.TensorType.INT32: np.int32}[t.type]


def data(model, i):
    t = tensor(model, i)
    raw = np.asarray(model.buffers[t.buffer].data, dtype=np.uint8).tobytes()
    return np.frombuffer(raw, dtype=numpy_type(t)).reshape(list(t.shape))


def set_data(model, i, array):
    t = tensor(model, i)
    t.shape = list(array.shape)
    model.buffers[t.buffer].data = np.frombuffer(array.astype(numpy_type(t)).tobytes(), dtype=np.uint8)


def out_size(padding, size, filt, stride, dilation):
    effective = (filt - 1) * dilation + 1
    return (size + stride - 1) // stride if padding == SAME else (size + stride - effective) // stride


def set_window(model, k, padding=None, stride=None, dilation=None, activation=None):
    """Changes operator k's options (stride and dilation as (h, w)) and its output shape."""
    op = graph(model).operators[k]
    o = op.builtinOptions
    if padding is not None:
        o.padding = padding
    if stride is not None:
        o.strideH, o.strideW = stride
    if dilation is not None:
        o.dilationHFactor, o.dilationWFactor = dilation
    if activation is not None:
        o.fusedActivationFunction = activation
    x, w, y = tensor(model, op.inputs[0]), tensor(model, op.inputs[1]), tensor(model, op.outputs[0])
    y.shape = [x.shape[0],
               out_size(o.padding, x.shape[1], w.shape[1], o.strideH, o.dilationHFactor),
               out_size(o.padding, x.shape[2], w.shape[2], o.strideW, o.dilationWFactor),
               y.shape[3]]


def set_batches(model, n):
    for t in graph(model).tensors:
        if len(t.shape) == 4 and model.buffers[t.buffer].data is None:
            t.shape = [n] + list(t.shape[1:])


def set_version(model, v):
    for c in model.operatorCodes:
        c.version = v


def redraw(model, k, channels_in, multiplier):
    """New weights and bias for depthwise operator k: channels_in x multiplier outputs."""
    op = graph(model).operators[k]
    x, w, b, y = (tensor(model, i) for i in (op.inputs[0], op.inputs[1], op.inputs[2], op.outputs[0]))
    op.builtinOptions.depthMultiplier = multiplier
    n = channels_in * multiplier
    kh, kw = w.shape[1], w.shape[2]
    x.shape = list(x.shape[:3]) + [channels_in]
    y.shape = list(y.shape[:3]) + [n]
    if w.type == fb.TensorType.FLOAT32:
        set_data(model, op.inputs[1], RNG.standard_normal((1, kh, kw, n)) * np.sqrt(2.0 / (kh * kw)))
        set_data(model, op.inputs[2], RNG.standard_normal(n) * 0.1)
        return
    scales = [float(w.quantization.scale[0]) * s for s in RNG.uniform(0.5, 1.5, n)]
    w.quantization.scale, w.quantization.zeroPoint = scales, [0] * n
    set_data(model, op.inputs[1], RNG.integers(-127, 128, (1, kh, kw, n)))
    x_scale = float(x.quantization.scale[0])
    b.quantization.scale, b.quantization.zeroPoint = [x_scale * s for s in scales], [0] * n
    set_data(model, op.inputs[2], RNG.integers(-3000, 3000, n))


def group(model, k, groups):
    """Makes CONV_2D operator k grouped: each filter keeps its first depth / groups channels."""
    op = graph(model).operators[k]
    w = data(model, op.inputs[1])
    set_data(model, op.inputs[1], np.ascontiguousarray(w[:, :, :, : w.shape[3] // groups]))


def conv_variants_of(kind, out):
    m = load(f"conv_{kind}")
    set_window(m, 0, dilation=(2, 2), activation=RELU_N1_TO_1)
    set_window(m, 2, stride=(3, 1), dilation=(1, 3))
    save(m, os.path.join(out, f"conv_{kind}_dilated.tflite"))

    m = load(f"conv_{kind}")
    set_window(m, 2, padding=VALID, stride=(1, 2), dilation=(2, 1))
    save(m, os.path.join(out, f"conv_{kind}_valid_dilated.tflite"))

    m = load(f"conv_{kind}")
    group(m, 1, 2)
    group(m, 2, 4)
    ops = graph(m).operators
    ops[1].inputs = [ops[1].inputs[0], ops[1].inputs[1], -1]
    ops[2].inputs = list(ops[2].inputs[:2])
    set_batches(m, 2)
    set_version(m, 6)
    save(m, os.path.join(out, f"conv_{kind}_grouped.tflite"))


def deep_input(model, depth, zero_point):
    """CONV_2D operator 0 over `depth` input channels (weights drawn again) and the graph
    input's zero point set: more weights than the engine folds at preparation
    (FOLD_MAX, 1,024), so invoke adds an input offset that is neither 0 nor 128."""
    op = graph(model).operators[0]
    x = tensor(model, op.inputs[0])
    x.shape = list(x.shape[:3]) + [depth]
    x.quantization.zeroPoint = [zero_point]
    n, kh, kw = tensor(model, op.inputs[1]).shape[:3]
    set_data(model, op.inputs[1], RNG.integers(-127, 128, (n, kh, kw, depth)))


def narrow_first(model, n):
    """CONV_2D operator 0 keeps its first n filters, operator 1 the matching input
    channels of its own (its input depth becomes n)."""
    ops = graph(model).operators
    w, b = ops[0].inputs[1], ops[0].inputs[2]
    set_data(model, w, np.ascontiguousarray(data(model, w)[:n]))
    set_data(model, b, np.ascontiguousarray(data(model, b)[:n]))
    for i in (w, b):
        q = tensor(model, i).quantization
        q.scale, q.zeroPoint = list(q.scale[:n]), list(q.zeroPoint[:n])
    y = tensor(model, ops[0].outputs[0])
    y.shape = list(y.shape[:3]) + [n]
    w1 = ops[1].inputs[1]
    set_data(model, w1, np.ascontiguousarray(data(model, w1)[:, :, :, :n]))


def conv_variants(kind, out):
    if kind == "int8":
        m = load("conv_int8")
        deep_input(m, 48, 7)
        save(m, os.path.join(out, "conv_int8_deep.tflite"))
        m = load("conv_int8")
        deep_input(m, 48, 7)
        set_window(m, 0, dilation=(2, 2))
        save(m, os.path.join(out, "conv_int8_deep_dilated.tflite"))
        # An offset of 128, unsigned patches; 6 output channels: two left over.
        m = load("conv_int8")
        deep_input(m, 48, -128)
        narrow_first(m, 6)
        save(m, os.path.join(out, "conv_int8_deep_unsigned.tflite"))
    conv_variants_of(kind, out)


def depthwise_variants(kind, out):
    m = load(f"depthwise_{kind}")
    set_window(m, 0, dilation=(2, 3), activation=RELU_N1_TO_1)
    set_window(m, 2, stride=(2, 1), dilation=(3, 2))
    if kind == "float32":
        set_version(m, 2)
    save(m, os.path.join(out, f"depthwise_{kind}_dilated.tflite"))

    # Two inputs only: TFLM's depthwise preparation crashes on an absent (-1) third
    # input (it releases the missing bias tensor), where its CONV_2D copes.
    m = load(f"depthwise_{kind}")
    ops = graph(m).operators
    ops[1].inputs = list(ops[1].inputs[:2])
    ops[2].inputs = list(ops[2].inputs[:2])
    set_window(m, 2, padding=VALID, stride=(1, 2))
    set_batches(m, 2)
    save(m, os.path.join(out, f"depthwise_{kind}_no_bias.tflite"))

    # 36 channels at multiplier 1 and a multiplier of 35: past 32-channel blocks.
    m = load(f"depthwise_{kind}")
    redraw(m, 0, 4, 9)
    redraw(m, 1, 36, 1)
    redraw(m, 2, 36, 35)
    save(m, os.path.join(out, f"depthwise_{kind}_wide.tflite"))


def broken(out):
    """Models the engine must refuse: bad_<operator>_<what>.tflite."""
    def variant(source, name, change):
        m = load(source)
        change(m, graph(m).operators)
        save(m, os.path.join(out, f"bad_{name}.tflite"))

    def unconstant_weights(m, ops):
        tensor(m, ops[1].inputs[1]).buffer = 0  # buffer 0 is the empty one

    def channels_along_depth(m, ops):
        tensor(m, ops[1].inputs[1]).quantization.quantizedDimension = 3  # [8, 3, 3, 8]

    def depthwise_options(m, ops):
        ops[0].builtinOptionsType = fb.BuiltinOptions.DepthwiseConv2DOptions
        ops[0].builtinOptions = fb.DepthwiseConv2DOptionsT()

    def stride_without_shape(m, ops):
        ops[0].builtinOptions.strideH = 2

    def zero_dilation(m, ops):
        ops[2].builtinOptions.dilationWFactor = 0

    def wrong_multiplier(m, ops):
        ops[0].builtinOptions.depthMultiplier = 3

    def bias_of_another_size(m, ops):
        ops[2].inputs = [ops[2].inputs[0], ops[2].inputs[1], ops[0].inputs[2]]  # 8, not 24

    variant("conv_int8", "conv_unconstant_weights", unconstant_weights)
    variant("conv_float32", "conv_unconstant_weights_f32", unconstant_weights)
    variant("conv_int8", "conv_channels_along_depth", channels_along_depth)
    variant("conv_float32", "conv_depthwise_options", depthwise_options)
    variant("conv_int8", "conv_stride_without_shape", stride_without_shape)
    variant("conv_int8", "conv_zero_dilation", zero_dilation)
    variant("depthwise_int8", "depthwise_wrong_multiplier", wrong_multiplier)
    variant("depthwise_int8", "depthwise_bias_of_another_size", bias_of_another_size)
    variant("depthwise_float32", "depthwise_unconstant_weights", unconstant_weights)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    for kind in ("int8", "float32"):
        conv_variants(kind, out)
        depthwise_variants(kind, out)
    broken(out)


if __name__ == "__main__":
    main()
