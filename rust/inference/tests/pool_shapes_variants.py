#!/usr/bin/env python3
"""Single-operator AVERAGE_POOL_2D, MAX_POOL_2D, PAD, MEAN and CONCATENATION models for
ops_pool_shapes.rs: what the converter did not emit in models/ops (other strides,
filters larger than the image, two batches, more channels than the engine's blocks,
zero points, RELU_N1_TO_1, other axes and ranks, repeated and negative axes, rescaling
means, constant inputs), and broken ones (bad_*.tflite, over_*.tflite) that the engine
must refuse. TFLM (the oracle) does not check operator versions; the versions are set
as the converter would set them.

    pool_shapes_variants.py OUT_DIR     writes OUT_DIR/<name>.tflite, prints each path
"""
import os
import sys

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

F32, I8, I32 = fb.TensorType.FLOAT32, fb.TensorType.INT8, fb.TensorType.INT32
OP = fb.BuiltinOperator
ACT = fb.ActivationFunctionType
SAME, VALID = fb.Padding.SAME, fb.Padding.VALID
RNG = np.random.default_rng(23)
NUMPY = {F32: np.float32, I8: np.int8, I32: np.int32}


class T:
    """A tensor: shape, type, (scale, zero point) for int8, constant data or None."""

    def __init__(self, shape, type_=F32, q=None, data=None):
        self.shape, self.type, self.q, self.data = list(shape), type_, q, data


def pool(padding, stride, filt, act=ACT.NONE):
    """Pool2DOptions; stride and filter as (h, w)."""
    o = fb.Pool2DOptionsT()
    o.padding, (o.strideH, o.strideW), (o.filterHeight, o.filterWidth) = padding, stride, filt
    o.fusedActivationFunction = act
    return fb.BuiltinOptions.Pool2DOptions, o


def concat(axis, act=ACT.NONE):
    o = fb.ConcatenationOptionsT()
    o.axis, o.fusedActivationFunction = axis, act
    return fb.BuiltinOptions.ConcatenationOptions, o


def reducer(keep_dims):
    o = fb.ReducerOptionsT()
    o.keepDims = keep_dims
    return fb.BuiltinOptions.ReducerOptions, o


def pad_options():
    return fb.BuiltinOptions.PadOptions, fb.PadOptionsT()


def build(path, code, inputs, output, opts=None, version=1):
    """One operator over `inputs` (T) into `output` (T); non-constant inputs are the
    graph's inputs."""
    m = fb.ModelT()
    m.version = 3
    c = fb.OperatorCodeT()
    c.builtinCode, c.deprecatedBuiltinCode, c.version = code, min(code, 127), version
    m.operatorCodes = [c]
    m.buffers = [fb.BufferT()]
    g = fb.SubGraphT()
    g.tensors, g.inputs = [], []
    for i, t in enumerate(list(inputs) + [output]):
        x = fb.TensorT()
        x.name, x.shape, x.type, x.buffer = f"t{i}", t.shape, t.type, 0
        if t.q is not None:
            x.quantization = fb.QuantizationParametersT()
            x.quantization.scale, x.quantization.zeroPoint = [float(t.q[0])], [int(t.q[1])]
        if t.data is not None:
            b = fb.BufferT()
            b.data = np.frombuffer(np.asarray(t.data, dtype=NUMPY[t.type]).tobytes(), dtype=np.uint8)
            m.buffers.append(b)
            x.buffer = len(m.buffers) - 1
        elif i < len(inputs):
            g.inputs.append(i)
        g.tensors.append(x)
    op = fb.OperatorT()
    op.opcodeIndex = 0
    op.inputs = list(range(len(inputs)))
    op.outputs = [len(inputs)]
    if opts is not None:
        op.builtinOptionsType, op.builtinOptions = opts
    g.operators, g.outputs = [op], [len(inputs)]
    m.subgraphs = [g]
    b = flatbuffers.Builder(1024)
    b.Finish(m.Pack(b), file_identifier=b"TFL3")
    with open(path, "wb") as f:
        f.write(b.Output())
    print(path)


def i32(values):
    """A constant int32 tensor of `values` (nested lists give the shape)."""
    a = np.asarray(values, dtype=np.int32)
    return T(a.shape, I32, None, a)


def runnable(out):
    def save(name, *args, **kw):
        build(os.path.join(out, name + ".tflite"), *args, **kw)

    # Pools: unequal strides and filters, windows clipped on every side, filters larger
    # than the image, two batches, channels beyond one block of 16.
    q = (0.05, -7)
    save("avgpool_int8_unequal", OP.AVERAGE_POOL_2D, [T([2, 7, 9, 20], I8, q)], T([2, 4, 3, 20], I8, q),
         pool(SAME, (2, 3), (3, 4), ACT.RELU_N1_TO_1), 2)
    save("avgpool_int8_huge_filter", OP.AVERAGE_POOL_2D, [T([1, 5, 6, 3], I8, (0.1, 10))],
         T([1, 5, 6, 3], I8, (0.1, 10)), pool(SAME, (1, 1), (7, 8)), 2)
    save("avgpool_int8_global", OP.AVERAGE_POOL_2D, [T([1, 5, 5, 33], I8, (0.02, 100))],
         T([1, 1, 1, 33], I8, (0.02, 100)), pool(VALID, (5, 5), (5, 5), ACT.RELU6), 2)
    save("maxpool_int8_relu6", OP.MAX_POOL_2D, [T([1, 6, 6, 17], I8, (0.03, -100))],
         T([1, 2, 2, 17], I8, (0.03, -100)), pool(VALID, (2, 2), (3, 3), ACT.RELU6), 2)
    save("maxpool_int8_relu_n1_to_1", OP.MAX_POOL_2D, [T([2, 5, 5, 4], I8, (0.02, 20))],
         T([2, 3, 3, 4], I8, (0.02, 20)), pool(SAME, (2, 2), (2, 2), ACT.RELU_N1_TO_1), 2)
    save("avgpool_float32_unequal", OP.AVERAGE_POOL_2D, [T([2, 7, 9, 20])], T([2, 4, 3, 20]),
         pool(SAME, (2, 3), (3, 4), ACT.RELU_N1_TO_1))
    save("avgpool_float32_huge_filter", OP.AVERAGE_POOL_2D, [T([1, 5, 6, 3])], T([1, 5, 6, 3]),
         pool(SAME, (1, 1), (7, 8)))
    save("maxpool_float32_unequal", OP.MAX_POOL_2D, [T([1, 6, 7, 17])], T([1, 5, 3, 17]),
         pool(VALID, (1, 2), (2, 3)))
    save("maxpool_float32_relu", OP.MAX_POOL_2D, [T([2, 5, 5, 4])], T([2, 2, 2, 4]),
         pool(SAME, (3, 3), (3, 2), ACT.RELU))

    # MEAN: other axes and ranks, negative and repeated axes, rescaling, all axes.
    save("mean_int8_axis1", OP.MEAN, [T([2, 5, 4, 3], I8, (0.02, -10)), i32([1])],
         T([2, 1, 4, 3], I8, (0.01, 5)), reducer(True), 2)
    save("mean_int8_negative_repeated", OP.MEAN, [T([2, 3, 4, 5], I8, (0.03, 4)), i32([-1, 3, 0])],
         T([3, 4], I8, (0.05, -20)), reducer(False), 2)
    save("mean_int8_everything", OP.MEAN, [T([3, 7], I8, (0.1, 3)), i32([0, 1])], T([], I8, (0.02, 0)),
         reducer(False), 2)
    save("mean_int8_hw_dropped", OP.MEAN, [T([1, 6, 5, 8], I8, (0.01, -1)), i32([2, 1])],
         T([1, 8], I8, (0.004, -3)), reducer(False), 2)
    save("mean_int8_scaled_up", OP.MEAN, [T([2, 4, 6], I8, (0.01, 0)), i32([1, 2])], T([2], I8, (0.002, 1)),
         reducer(False), 2)
    save("mean_int8_long", OP.MEAN, [T([3, 1000], I8, (0.02, 0)), i32([-1])], T([3, 1], I8, (0.0005, -4)),
         reducer(True), 2)
    save("mean_int8_same_scale", OP.MEAN, [T([1, 3, 3, 6], I8, (0.05, 2)), i32([1, 2])],
         T([1, 1, 1, 6], I8, (0.05, 2)), reducer(True), 2)
    save("mean_float32_two_axes", OP.MEAN, [T([2, 3, 4, 5]), i32([1, 3])], T([2, 1, 4, 1]), reducer(True))
    save("mean_float32_batch", OP.MEAN, [T([2, 3, 4, 5]), i32([0])], T([3, 4, 5]), reducer(False))
    save("mean_float32_hw_dropped", OP.MEAN, [T([1, 6, 5, 8]), i32([2, 1])], T([1, 8]), reducer(False))
    save("mean_float32_long", OP.MEAN, [T([3, 1000]), i32([-1])], T([3, 1]), reducer(True))

    # PAD: zero points, padded batches and channels, other ranks, a constant value.
    save("pad_int8_zero_point", OP.PAD, [T([2, 3, 4, 5], I8, (0.05, -7)), i32([[1, 0], [0, 2], [3, 1], [0, 0]])],
         T([3, 5, 8, 5], I8, (0.05, -7)), pad_options(), 2)
    save("pad_int8_channels", OP.PAD, [T([1, 3, 3, 2], I8, (0.05, 13)), i32([[0, 0], [0, 0], [0, 0], [2, 3]])],
         T([1, 3, 3, 7], I8, (0.05, 13)), pad_options(), 2)
    save("pad_int8_value", OP.PAD, [T([2, 3], I8, (0.05, 13)), i32([[1, 1], [2, 0]]), T([], I8, (0.05, 13), [-90])],
         T([4, 5], I8, (0.05, 13)), pad_options(), 2)
    save("pad_float32_rank2", OP.PAD, [T([3, 4]), i32([[1, 2], [0, 1]])], T([6, 5]), pad_options())
    save("pad_float32_rank5", OP.PAD, [T([1, 2, 3, 2, 2]), i32([[0, 1], [1, 0], [0, 0], [2, 1], [1, 1]])],
         T([2, 3, 3, 5, 4]), pad_options(), 4)
    save("pad_float32_nothing", OP.PAD, [T([2, 3]), i32([[0, 0], [0, 0]])], T([2, 3]))

    # CONCATENATION: other axes, three inputs, constants.
    q = (0.04, -3)
    save("concat_int8_three", OP.CONCATENATION, [T([2, 3, 4], I8, q), T([2, 1, 4], I8, q), T([2, 2, 4], I8, q)],
         T([2, 6, 4], I8, q), concat(1), 2)
    save("concat_int8_constant_first", OP.CONCATENATION,
         [T([1, 4], I8, q, RNG.integers(-128, 128, (1, 4))), T([3, 4], I8, q)], T([4, 4], I8, q), concat(0), 2)
    save("concat_float32_negative_axis", OP.CONCATENATION, [T([2, 3, 2]), T([2, 3, 5])], T([2, 3, 7]),
         concat(-1))
    save("concat_float32_constant_middle", OP.CONCATENATION,
         [T([1, 2, 3, 2]), T([1, 2, 1, 2], F32, None, RNG.uniform(-1, 1, (1, 2, 1, 2))), T([1, 2, 2, 2])],
         T([1, 2, 6, 2]), concat(2))
    save("concat_float32_single", OP.CONCATENATION, [T([3, 4])], T([3, 4]), concat(0))


def broken(out):
    def save(name, *args, **kw):
        build(os.path.join(out, name + ".tflite"), *args, **kw)

    q = (0.05, 0)
    save("bad_avgpool_output_size", OP.AVERAGE_POOL_2D, [T([1, 6, 6, 2])], T([1, 2, 2, 2]), pool(SAME, (2, 2), (2, 2)))
    save("bad_avgpool_no_options", OP.AVERAGE_POOL_2D, [T([1, 6, 6, 2])], T([1, 6, 6, 2]))
    save("bad_avgpool_rank3", OP.AVERAGE_POOL_2D, [T([6, 6, 2])], T([3, 3, 2]), pool(VALID, (2, 2), (2, 2)))
    save("bad_avgpool_concat_options", OP.AVERAGE_POOL_2D, [T([1, 6, 6, 2])], T([1, 6, 6, 2]), concat(0))
    save("bad_maxpool_stride_zero", OP.MAX_POOL_2D, [T([1, 6, 6, 2])], T([1, 6, 6, 2]), pool(SAME, (0, 1), (2, 2)))
    save("bad_maxpool_int8_zero_point", OP.MAX_POOL_2D, [T([1, 4, 4, 2], I8, q)], T([1, 2, 2, 2], I8, (0.05, 1)),
         pool(VALID, (2, 2), (2, 2)), 2)
    save("bad_maxpool_channels", OP.MAX_POOL_2D, [T([1, 4, 4, 2])], T([1, 2, 2, 3]), pool(VALID, (2, 2), (2, 2)))
    save("bad_maxpool_filter_too_large", OP.MAX_POOL_2D, [T([1, 4, 4, 2])], T([1, 1, 1, 2]),
         pool(VALID, (1, 1), (5, 5)))

    save("bad_pad_paddings_not_constant", OP.PAD, [T([2, 3]), T([2, 2], I32)], T([4, 5]))
    save("bad_pad_negative", OP.PAD, [T([2, 3]), i32([[-1, 0], [1, 1]])], T([1, 5]))
    save("bad_pad_output_shape", OP.PAD, [T([2, 3]), i32([[1, 0], [1, 1]])], T([3, 4]))
    save("bad_pad_paddings_float", OP.PAD, [T([2, 3]), T([2, 2], F32, None, [[1, 0], [1, 1]])], T([3, 5]))
    save("bad_pad_paddings_count", OP.PAD, [T([2, 3]), i32([[1, 0]])], T([3, 3]))
    save("bad_pad_rank6", OP.PAD, [T([1, 1, 1, 1, 2, 3]), i32([[0, 0]] * 5 + [[1, 0]])], T([1, 1, 1, 1, 2, 4]))
    save("bad_pad_int8_value_zero_point", OP.PAD, [T([2, 3], I8, q), i32([[1, 1], [0, 0]]), T([], I8, (0.05, 3), [0])],
         T([4, 3], I8, q), None, 2)

    save("bad_mean_axis_out_of_range", OP.MEAN, [T([2, 3, 4, 5]), i32([4])], T([2, 3, 4, 5]), reducer(True))
    save("bad_mean_negative_axis_out_of_range", OP.MEAN, [T([2, 3]), i32([-3])], T([2, 3]), reducer(True))
    save("bad_mean_axes_not_constant", OP.MEAN, [T([2, 3]), T([1], I32)], T([2]), reducer(False))
    save("bad_mean_output_shape", OP.MEAN, [T([2, 3]), i32([1])], T([2, 1]), reducer(False))
    save("bad_mean_types", OP.MEAN, [T([2, 3], I8, q), i32([1])], T([2]), reducer(False), 2)

    save("bad_concat_axis", OP.CONCATENATION, [T([2, 3]), T([2, 3])], T([2, 6]), concat(2))
    save("bad_concat_negative_axis", OP.CONCATENATION, [T([2, 3]), T([2, 3])], T([4, 3]), concat(-3))
    save("bad_concat_int8_scales", OP.CONCATENATION, [T([2, 3], I8, q), T([2, 3], I8, (0.06, 0))],
         T([2, 6], I8, q), concat(1), 2)
    save("bad_concat_shape", OP.CONCATENATION, [T([2, 3]), T([3, 3])], T([2, 6]), concat(1))
    save("bad_concat_sum", OP.CONCATENATION, [T([2, 3]), T([2, 3])], T([2, 7]), concat(1))
    save("bad_concat_activation", OP.CONCATENATION, [T([2, 3]), T([2, 3])], T([2, 6]), concat(1, ACT.RELU))
    save("bad_concat_eleven_inputs", OP.CONCATENATION, [T([1, 2])] * 11, T([11, 2]), concat(0))

    save("over_avgpool", OP.AVERAGE_POOL_2D, [T([1, 2, 2, 1])], T([1, 1, 1, 1]), pool(VALID, (2, 2), (2, 2)), 3)
    save("over_maxpool", OP.MAX_POOL_2D, [T([1, 2, 2, 1])], T([1, 1, 1, 1]), pool(VALID, (2, 2), (2, 2)), 3)
    save("over_pad", OP.PAD, [T([2, 3]), i32([[1, 0], [1, 1]])], T([3, 5]), None, 5)
    save("over_mean", OP.MEAN, [T([2, 3]), i32([1])], T([2]), reducer(False), 3)
    save("over_concat", OP.CONCATENATION, [T([2, 3]), T([2, 3])], T([2, 6]), concat(1), 3)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    runnable(out)
    broken(out)


if __name__ == "__main__":
    main()
