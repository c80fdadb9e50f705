#!/usr/bin/env python3
"""Writes single-operator ADD, MUL, SOFTMAX, LOGISTIC, TANH and FULLY_CONNECTED models
for ops_elementwise.rs: what the converter did not emit in models/ops (per-channel
FULLY_CONNECTED weights, other broadcasts
up to five axes, a constant first input, one tensor fed to both inputs, MUL rescales
of 1 and more, betas, deep and single-element softmax rows, logistic and tanh input
scales and zero points that saturate or not, output quantizations TFLM ignores), and
broken ones that the engine must refuse (bad_<operator>_<what>.tflite) or whose
version it must refuse (over_<operator>.tflite).

    elementwise_variants.py OUT_DIR     writes OUT_DIR/<name>.tflite, prints each path
"""
import os
import sys

import flatbuffers
import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as fb

F32, I8, I32 = fb.TensorType.FLOAT32, fb.TensorType.INT8, fb.TensorType.INT32
OP = fb.BuiltinOperator
ACT = fb.ActivationFunctionType
RNG = np.random.default_rng(5)


class T:
    """A tensor: shape, type, (scale, zero point) for int8 (or (scales, zero points,
    dimension) per channel), constant data or None."""

    def __init__(self, shape, type_=F32, q=None, data=None):
        self.shape, self.type, self.q, self.data = list(shape), type_, q, data


def options(kind, **fields):
    o = {"add": fb.AddOptionsT, "mul": fb.MulOptionsT, "softmax": fb.SoftmaxOptionsT,
         "fc": fb.FullyConnectedOptionsT, "concat": fb.ConcatenationOptionsT}[kind]()
    for k, v in fields.items():
        setattr(o, k, v)
    types = {"add": fb.BuiltinOptions.AddOptions, "mul": fb.BuiltinOptions.MulOptions,
             "softmax": fb.BuiltinOptions.SoftmaxOptions,
             "fc": fb.BuiltinOptions.FullyConnectedOptions,
             "concat": fb.BuiltinOptions.ConcatenationOptions}
    return types[kind], o


def build(path, code, inputs, output, opts=None, version=1, same_input=False):
    """One operator over `inputs` (T) into `output` (T); non-constant inputs are the
    graph's inputs. `same_input` feeds the first input to both operands."""
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
            if len(t.q) == 3:
                x.quantization.scale, x.quantization.zeroPoint = [float(v) for v in t.q[0]], list(t.q[1])
                x.quantization.quantizedDimension = t.q[2]
            else:
                x.quantization.scale, x.quantization.zeroPoint = [float(t.q[0])], [int(t.q[1])]
        if t.data is not None:
            b = fb.BufferT()
            dtype = {F32: np.float32, I8: np.int8, I32: np.int32}[t.type]
            b.data = np.frombuffer(np.asarray(t.data, dtype=dtype).tobytes(), dtype=np.uint8)
            m.buffers.append(b)
            x.buffer = len(m.buffers) - 1
        elif i < len(inputs):
            g.inputs.append(i)
        g.tensors.append(x)
    op = fb.OperatorT()
    op.opcodeIndex = 0
    op.inputs = [0, 0] if same_input else list(range(len(inputs)))
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


def runnable(out):
    def save(name, *args, **kw):
        build(os.path.join(out, name + ".tflite"), *args, **kw)

    # ADD and MUL: broadcasts the converter did not produce.
    save("add_int8_crossed", OP.ADD, [T([2, 1, 3], I8, (0.05, 7)), T([1, 4, 1], I8, (0.02, -20))],
         T([2, 4, 3], I8, (0.06, -3)), options("add", fusedActivationFunction=ACT.RELU), 2)
    save("add_int8_relu_n1_to_1", OP.ADD, [T([3, 5], I8, (0.01, 0)), T([3, 5], I8, (0.03, 100))],
         T([3, 5], I8, (0.008, 1)), options("add", fusedActivationFunction=ACT.RELU_N1_TO_1), 2)
    save("add_int8_constant_first", OP.ADD,
         [T([3], I8, (0.1, -2), RNG.integers(-128, 128, 3)), T([1, 2, 2, 3], I8, (0.04, 12))],
         T([1, 2, 2, 3], I8, (0.12, 5)), options("add", fusedActivationFunction=ACT.RELU6), 2)
    save("add_float32_five_axes", OP.ADD, [T([2, 1, 3, 1, 2]), T([1, 3, 1, 4, 1])], T([2, 3, 3, 4, 2]),
         options("add", fusedActivationFunction=ACT.RELU_N1_TO_1))
    save("add_float32_no_options", OP.ADD, [T([4, 1]), T([1, 5])], T([4, 5]))
    save("mul_int8_crossed", OP.MUL, [T([1, 4, 1], I8, (0.02, 3)), T([2, 1, 3], I8, (0.05, -9))],
         T([2, 4, 3], I8, (0.002, -10)), options("mul", fusedActivationFunction=ACT.RELU6), 2)
    save("mul_int8_rescale_above_one", OP.MUL, [T([2, 8], I8, (0.5, 1)), T([8], I8, (0.25, -3))],
         T([2, 8], I8, (0.04, 0)), options("mul", fusedActivationFunction=ACT.NONE), 3)
    save("mul_int8_square", OP.MUL, [T([6, 4], I8, (0.03, -5))], T([6, 4], I8, (0.001, -100)),
         options("mul", fusedActivationFunction=ACT.RELU), 2, same_input=True)
    save("mul_float32_scalar_first", OP.MUL, [T([], F32, None, [1.75]), T([2, 3])], T([2, 3]),
         options("mul", fusedActivationFunction=ACT.RELU6))
    save("mul_float32_crossed", OP.MUL, [T([3, 1, 4]), T([1, 2, 1])], T([3, 2, 4]),
         options("mul", fusedActivationFunction=ACT.NONE))

    # SOFTMAX: betas, input scales that make the fixed-point radius small, deep rows.
    save("softmax_int8_beta", OP.SOFTMAX, [T([2, 3, 10], I8, (0.1, 5))], T([2, 3, 10], I8, (1 / 256, -128)),
         options("softmax", beta=0.37), 2)
    save("softmax_int8_coarse", OP.SOFTMAX, [T([4, 9], I8, (1.0, 0))], T([4, 9], I8, (1 / 256, -128)),
         options("softmax", beta=1.0), 2)
    save("softmax_int8_capped", OP.SOFTMAX, [T([4, 6], I8, (50.0, 0))], T([4, 6], I8, (1 / 256, -128)),
         options("softmax", beta=1.0), 2)
    save("softmax_int8_single", OP.SOFTMAX, [T([5, 1], I8, (0.2, 0))], T([5, 1], I8, (1 / 256, -128)),
         options("softmax", beta=1.0), 2)
    save("softmax_int8_deep", OP.SOFTMAX, [T([1, 600], I8, (0.08, 0))], T([1, 600], I8, (1 / 256, -128)),
         options("softmax", beta=1.3), 2)
    save("softmax_float32_beta", OP.SOFTMAX, [T([3, 7])], T([3, 7]), options("softmax", beta=0.5))
    save("softmax_float32_rank1", OP.SOFTMAX, [T([40])], T([40]), options("softmax", beta=2.5))

    # FULLY_CONNECTED with per-channel weights (the converter emits per-tensor ones):
    # groups of four units and units left over, depth 1 and more, batches, biases.
    for name, batches, depth, units, act, bias in (
            ("deep", 2, 5, 7, ACT.RELU, True), ("depth1", 3, 1, 9, ACT.RELU6, False),
            ("plain", 1, 16, 4, ACT.NONE, True), ("pair", 2, 3, 2, ACT.RELU_N1_TO_1, True)):
        # Output scales that leave most sums inside int8's range.
        in_q, out_q = (0.03, -4), (0.02 * depth, 3)
        scales = RNG.uniform(0.002, 0.02, units)
        weights = T([units, depth], I8, (scales, [0] * units, 0), RNG.integers(-127, 128, units * depth))
        inputs = [T([batches, depth], I8, in_q), weights]
        if bias:
            inputs.append(T([units], I32, (scales * in_q[0], [0] * units, 0), RNG.integers(-3000, 3000, units)))
        save(f"fc_int8_per_channel_{name}", OP.FULLY_CONNECTED, inputs, T([batches, units], I8, out_q),
             options("fc", fusedActivationFunction=act), 4)

    # Two constant inputs with the same bytes (for the stripping test: one shared vector).
    same = RNG.integers(-128, 128, 6)
    save("concatenation_int8_repeated_constant", OP.CONCATENATION,
         [T([2, 3], I8, (0.05, 2)), T([2, 3], I8, (0.05, 2), same), T([2, 3], I8, (0.05, 2), same)],
         T([2, 9], I8, (0.05, 2)), options("concat", axis=1), 1)

    # LOGISTIC and TANH: input scales and zero points; output quantizations TFLM ignores.
    for code, name, outq in ((OP.LOGISTIC, "logistic", (1 / 256, -128)), (OP.TANH, "tanh", (1 / 128, 0))):
        save(f"{name}_int8_wide", code, [T([2, 64], I8, (0.2, 10))], T([2, 64], I8, outq), None, 2)
        save(f"{name}_int8_narrow", code, [T([64], I8, (0.01, -100))], T([64], I8, outq), None, 2)
        save(f"{name}_int8_coarse", code, [T([64], I8, (3.0, 0))], T([64], I8, outq), None, 2)
    save("logistic_int8_output_ignored", OP.LOGISTIC, [T([64], I8, (0.05, 0))], T([64], I8, (0.02, -128)),
         None, 2)
    save("tanh_int8_output_ignored", OP.TANH, [T([64], I8, (0.05, 0))], T([64], I8, (0.01, -5)), None, 2)


def broken(out):
    def save(name, *args, **kw):
        build(os.path.join(out, name + ".tflite"), *args, **kw)

    q = (0.05, 0)
    save("bad_add_not_broadcast", OP.ADD, [T([2, 3]), T([3, 2])], T([2, 3]))
    save("bad_add_output_not_broadcast", OP.ADD, [T([1, 3]), T([1, 3])], T([2, 3]))
    save("bad_add_types", OP.ADD, [T([3]), T([3], I8, q)], T([3]))
    save("bad_add_mul_options", OP.ADD, [T([3]), T([3])], T([3]), options("mul"))
    save("bad_add_tanh_fused", OP.ADD, [T([3]), T([3])], T([3]), options("add", fusedActivationFunction=ACT.TANH))
    save("bad_add_int8_output_scale", OP.ADD, [T([3], I8, (1.0, 0)), T([3], I8, q)], T([3], I8, (1e-7, 0)),
         version=2)
    save("bad_mul_one_input", OP.MUL, [T([3])], T([3]))
    save("bad_mul_int8_rescale_huge", OP.MUL, [T([3], I8, (1.0, 0)), T([3], I8, (1.0, 0))],
         T([3], I8, (1e-10, 0)), version=3)
    save("bad_softmax_int8_output_scale", OP.SOFTMAX, [T([4], I8, q)], T([4], I8, (1 / 255, -128)),
         options("softmax", beta=1.0), 2)
    save("bad_softmax_int8_output_zero_point", OP.SOFTMAX, [T([4], I8, q)], T([4], I8, (1 / 256, 0)),
         options("softmax", beta=1.0), 2)
    save("bad_softmax_int8_no_beta", OP.SOFTMAX, [T([4], I8, q)], T([4], I8, (1 / 256, -128)), None, 2)
    save("bad_softmax_shape", OP.SOFTMAX, [T([2, 4])], T([4, 2]), options("softmax", beta=1.0))
    save("bad_logistic_int8_output_zero_point", OP.LOGISTIC, [T([4], I8, q)], T([4], I8, (1 / 256, 0)),
         version=2)
    save("bad_logistic_int8_tiny_scale", OP.LOGISTIC, [T([4], I8, (1e-10, 0))], T([4], I8, (1 / 256, -128)),
         version=2)
    save("bad_tanh_types", OP.TANH, [T([4], I8, q)], T([4]), version=2)
    save("bad_tanh_sizes", OP.TANH, [T([4])], T([5]))

    save("over_add", OP.ADD, [T([3]), T([3])], T([3]), version=3)
    save("over_mul", OP.MUL, [T([3]), T([3])], T([3]), version=4)
    save("over_softmax", OP.SOFTMAX, [T([3])], T([3]), options("softmax", beta=1.0), version=3)
    save("over_logistic", OP.LOGISTIC, [T([3])], T([3]), version=3)
    save("over_tanh", OP.TANH, [T([3])], T([3]), version=3)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    runnable(out)
    broken(out)


if __name__ == "__main__":
    main()
