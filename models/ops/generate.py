#!/usr/bin/env python3
"""Generates the operator test models in models/ops and their table, MODELS.md.

Each graph below is a small TensorFlow function with seeded constant weights. It
is converted twice: to float32, and to full-integer int8 (int8 inputs and
outputs, per-tensor activations, per-channel CONV_2D and DEPTHWISE_CONV_2D
weights, per-tensor FULLY_CONNECTED weights), calibrated on seeded random inputs.
`cnn_float_io` is int8 inside with float32 input and output, so the converter
puts QUANTIZE and DEQUANTIZE at its ends.

Every model is then checked: it must hold the operators (and fused activations)
listed for it; TensorFlow Lite Micro's interpreter (tools/tflm_oracle.py) must
load and run it; its outputs must agree with TensorFlow Lite's interpreter (int8
within 1 step, float32 within 1e-5); and together the models must cover every
operator and fused activation the engine supports.

    generate.py [--seed 7] [--out-dir models/ops]
"""
import argparse
import os
import random
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # before TensorFlow loads
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
import tflite_info  # noqa: E402
from tflm_oracle import Oracle  # noqa: E402

S = tf.TensorSpec
F32 = tf.float32
CALIBRATION = 100

# Operators and fused activations the models must cover together.
COVER_OPS = ["FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D",
             "ADD", "MUL", "RESHAPE", "SOFTMAX", "LOGISTIC", "TANH", "RELU", "RELU6", "QUANTIZE",
             "DEQUANTIZE", "PAD", "MEAN", "CONCATENATION"]
FUSED = ["FULLY_CONNECTED", "CONV_2D", "DEPTHWISE_CONV_2D", "AVERAGE_POOL_2D", "MAX_POOL_2D",
         "ADD", "MUL"]


class Weights:
    """Seeded constants: He-scaled normal weights, small biases."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def normal(self, shape, fan_in):
        return tf.constant((self.rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32))

    def bias(self, n):
        return tf.constant((self.rng.standard_normal(n) * 0.1).astype(np.float32))

    def conv(self, kh, kw, cin, cout):
        return self.normal((kh, kw, cin, cout), kh * kw * cin), self.bias(cout)

    def depthwise(self, kh, kw, cin, mult):
        return self.normal((kh, kw, cin, mult), kh * kw), self.bias(cin * mult)

    def dense(self, n_in, n_out):
        return self.normal((n_in, n_out), n_in), self.bias(n_out)


def conv2d(x, wb, stride, padding):
    return tf.nn.bias_add(tf.nn.conv2d(x, wb[0], stride, padding), wb[1])


def depthwise(x, wb, stride, padding):
    return tf.nn.bias_add(tf.nn.depthwise_conv2d(x, wb[0], [1, stride, stride, 1], padding), wb[1])


def dense(x, wb):
    return tf.matmul(x, wb[0]) + wb[1]


# Each graph: (name, builder(weights) -> tf.function, input specs, calibration
# range, expected ops as {op: set of fused activations, or None when it has none}).

def fc_graph(w):
    l1, l2, l3 = w.dense(12, 16), w.dense(16, 10), w.dense(10, 8)

    @tf.function
    def fc(x):
        h = tf.nn.relu(dense(x, l1))
        h = tf.nn.relu6(dense(h, l2))
        return tf.nn.softmax(dense(h, l3))
    return fc


def conv_graph(w):
    c1, c2, c3 = w.conv(3, 3, 3, 8), w.conv(3, 3, 8, 8), w.conv(2, 2, 8, 4)

    @tf.function
    def conv(x):
        h = tf.nn.relu(conv2d(x, c1, 1, "SAME"))       # 10x10x8
        h = tf.nn.relu6(conv2d(h, c2, 2, "VALID"))     # 4x4x8
        return conv2d(h, c3, 2, "SAME")                # 2x2x4
    return conv


def depthwise_graph(w):
    d1, d2, d3 = w.depthwise(3, 3, 4, 2), w.depthwise(3, 3, 8, 1), w.depthwise(2, 2, 8, 3)

    @tf.function
    def depthwise_conv(x):
        h = tf.nn.relu(depthwise(x, d1, 1, "SAME"))    # 9x9x8, multiplier 2
        h = tf.nn.relu6(depthwise(h, d2, 2, "VALID"))  # 4x4x8
        return depthwise(h, d3, 1, "SAME")             # 4x4x24, multiplier 3
    return depthwise_conv


def pool_graph(w):
    @tf.function
    def pool(x):
        a = tf.nn.relu(tf.nn.max_pool2d(x, 2, 2, "VALID"))   # 4x4x4
        b = tf.nn.relu6(tf.nn.avg_pool2d(x, 3, 1, "SAME"))   # 8x8x4
        c = tf.nn.avg_pool2d(x, 2, 2, "VALID")               # 4x4x4
        d = tf.nn.max_pool2d(x, 3, 2, "SAME")                # 4x4x4
        e = tf.nn.relu(tf.nn.avg_pool2d(x, [2, 3], [1, 2], "SAME"))   # 8x4x4
        f = tf.nn.relu6(tf.nn.max_pool2d(x, [3, 2], [2, 1], "SAME"))  # 4x8x4
        return a, b, c, d, e, f
    return pool


def elementwise_graph(w):
    k = w.bias(3) * 10.0

    @tf.function
    def elementwise(x, y):
        a = tf.nn.relu(x + y)        # ADD, broadcast [1,1,1,3], RELU
        b = tf.nn.relu6(x * y * 4.0)  # MUL broadcast, then MUL by a scalar constant, RELU6
        c = a + b                    # ADD, same shapes, NONE
        d = c * k                    # MUL by a [3] constant, NONE
        e = tf.nn.relu(a * d)        # MUL, same shapes, RELU
        f = tf.nn.relu6(d + x)       # ADD, same shapes, RELU6
        return e, f
    return elementwise


def activation_graph(w):
    @tf.function
    def activations(x):
        return tf.sigmoid(x), tf.tanh(x), tf.nn.relu(x), tf.nn.relu6(x)
    return activations


def shape_graph(w):
    @tf.function
    def shapes(x, y):
        p = tf.pad(x, [[0, 0], [1, 1], [2, 0], [0, 0]])       # 6x6x3
        m = tf.reduce_mean(p, axis=[1, 2], keepdims=True)       # 1x1x3
        c = tf.concat([x, y], axis=3)                           # 4x4x5
        r = tf.reshape(c, [1, 10, 8])
        n = tf.reduce_mean(r, axis=[2])                         # 1x10
        return m, r, n
    return shapes


def cnn_graph(w):
    c1, d1, l1 = w.conv(3, 3, 2, 6), w.depthwise(3, 3, 6, 2), w.dense(12, 5)

    @tf.function
    def cnn(x):
        h = tf.nn.relu6(conv2d(x, c1, 1, "SAME"))        # 8x8x6
        h = tf.nn.relu(depthwise(h, d1, 2, "SAME"))      # 4x4x12
        h = tf.nn.avg_pool2d(h, 4, 4, "VALID")           # 1x1x12
        h = tf.reshape(h, [1, 12])
        return tf.nn.softmax(dense(h, l1))
    return cnn


NONE, RELU, RELU6 = "NONE", "RELU", "RELU6"
GRAPHS = [
    ("fc", fc_graph, [S([1, 12], F32)], (-2, 2),
     {"FULLY_CONNECTED": {NONE, RELU, RELU6}, "SOFTMAX": None}),
    ("conv", conv_graph, [S([1, 10, 10, 3], F32)], (-1, 1),
     {"CONV_2D": {NONE, RELU, RELU6}}),
    ("depthwise", depthwise_graph, [S([1, 9, 9, 4], F32)], (-1, 1),
     {"DEPTHWISE_CONV_2D": {NONE, RELU, RELU6}}),
    ("pool", pool_graph, [S([1, 8, 8, 4], F32)], (-3, 3),
     {"MAX_POOL_2D": {NONE, RELU, RELU6}, "AVERAGE_POOL_2D": {NONE, RELU, RELU6}}),
    ("elementwise", elementwise_graph, [S([1, 4, 4, 3], F32), S([1, 1, 1, 3], F32)], (-2, 2),
     {"ADD": {NONE, RELU, RELU6}, "MUL": {NONE, RELU, RELU6}}),
    ("activations", activation_graph, [S([1, 32], F32)], (-8, 8),
     {"LOGISTIC": None, "TANH": None, "RELU": None, "RELU6": None}),
    ("shapes", shape_graph, [S([1, 4, 4, 3], F32), S([1, 4, 4, 2], F32)], (-1, 1),
     {"PAD": None, "MEAN": None, "CONCATENATION": None, "RESHAPE": None}),
]
FLOAT_IO = ("cnn_float_io", cnn_graph, [S([1, 8, 8, 2], F32)], (-1, 1),
            {"QUANTIZE": None, "CONV_2D": {RELU6}, "DEPTHWISE_CONV_2D": {RELU},
             "AVERAGE_POOL_2D": {NONE}, "FULLY_CONNECTED": {NONE},
             "SOFTMAX": None, "DEQUANTIZE": None})


def convert(fn, specs, calibration, quantize, int8_io):
    concrete = fn.get_concrete_function(*specs)
    c = tf.lite.TFLiteConverter.from_concrete_functions([concrete], fn)
    if quantize:
        rng, (low, high) = calibration
        data = [[rng.uniform(low, high, s.shape).astype(np.float32) for s in specs]
                for _ in range(CALIBRATION)]
        c.optimizations = [tf.lite.Optimize.DEFAULT]
        c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        c._experimental_disable_per_channel_quantization_for_dense_layers = True
        c.representative_dataset = lambda: iter(data)
        if int8_io:
            c.inference_input_type = tf.int8
            c.inference_output_type = tf.int8
    return c.convert()


def check_ops(name, described, expected):
    found = {}
    for op, _version, opts, _weights in described["ops"]:
        act = opts.rsplit(", ", 1)[-1] if op in FUSED else None
        found.setdefault(op, set())
        if act:
            found[op].add(act)
    for op, acts in expected.items():
        if op not in found:
            raise SystemExit(f"{name}: no {op}; found {sorted(found)}")
        if acts and not acts <= found[op]:
            raise SystemExit(f"{name}: {op} fused {sorted(found[op])}, wanted {sorted(acts)}")
    return found


def tflm_relu6_int8(x, t):
    """TFLM's int8 RELU6 clamps to [zero, six] in the input's quantization and
    ignores the output's (tflite-micro kernels/activations_common.cc,
    Relu6Prepare); TensorFlow Lite requantizes to the output's."""
    six = t.zero + int(np.round(6.0 / t.scale))
    return np.clip(x.astype(np.int32), t.zero, min(six, 127)).astype(np.int8)


# Outputs where TFLM knowingly differs from TensorFlow Lite: (file, output index)
# -> what TFLM computes from the model's input tensor.
TFLM_DEVIATIONS = {("activations_int8.tflite", 3): tflm_relu6_int8}


def cross_check(path, rng, low, high):
    """Runs TFLM and TensorFlow Lite's reference kernels on the same seeded inputs;
    returns the largest difference (int8 steps or float32 absolute). Outputs in
    TFLM_DEVIATIONS are compared with TFLM's documented behaviour instead."""
    file = os.path.basename(path)
    oracle = Oracle(path)
    lite = tf.lite.Interpreter(model_path=path, experimental_op_resolver_type=(
        tf.lite.experimental.OpResolverType.BUILTIN_REF))
    lite.allocate_tensors()
    worst = 0.0
    for _ in range(8):
        inputs = []
        for t in oracle.inputs:
            if t.dtype.kind == "i":
                inputs.append(rng.integers(-128, 128, size=t.shape).astype(t.dtype))
            else:
                inputs.append(rng.uniform(low, high, size=t.shape).astype(t.dtype))
        micro = oracle.run(inputs)
        for d, v in zip(lite.get_input_details(), inputs):
            lite.set_tensor(d["index"], v)
        lite.invoke()
        for index, (d, m) in enumerate(zip(lite.get_output_details(), micro)):
            ref = lite.get_tensor(d["index"])
            if (file, index) in TFLM_DEVIATIONS:
                ref = TFLM_DEVIATIONS[file, index](inputs[0], oracle.inputs[0])
            worst = max(worst, float(np.max(np.abs(ref.astype(np.float64) - m.astype(np.float64)))))
    return worst


NOTES = """
Notes:

- TFLM's int8 RELU6 clamps to [zero point, 6] in the *input's* quantization and
  ignores the output's (tflite-micro `kernels/activations_common.cc`, `Relu6Prepare`);
  TensorFlow Lite requantizes. In `activations_int8.tflite` the RELU6 output's scale
  and zero point differ from its input's, so the two runtimes disagree there, and the
  oracle (TFLM) is what the engine must match.
- int8 pools, RESHAPE and CONCATENATION keep their input's scale and zero point (the
  converter gives `shapes_int8` two inputs of the same quantization for that).
- In `cnn_float_io.tflite` the converter folds the RESHAPE before FULLY_CONNECTED into
  the FULLY_CONNECTED (which flattens its input).
- TFLM does not check operator versions: each model loads in its interpreter and, apart
  from the RELU6 note above, gives exactly TensorFlow Lite's reference-kernel outputs.
"""


def table(rows):
    out = ["# Operator test models", "",
           "Generated by `generate.py` (see models/README.md); do not edit by hand. Shapes are",
           "NHWC; `s`/`z` are per-tensor scale and zero point; per-channel quantization is along",
           "`dim` of the weights (0 for CONV_2D, 3 for DEPTHWISE_CONV_2D).",
           "", "| model | bytes | inputs | outputs | operators (version: options) |",
           "|---|---|---|---|---|"]
    for file, d in rows:
        ops = "<br>".join(f"{op} v{v}" + (f": {o}" if o else "") + (f", {wq}" if wq else "")
                          for op, v, o, wq in d["ops"])
        out.append(f"| `{file}` | {d['size']} | {'<br>'.join(d['inputs'])} | "
                   f"{'<br>'.join(d['outputs'])} | {ops} |")
    return "\n".join(out) + "\n" + NOTES


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--out-dir", default=HERE)
    args = ap.parse_args()
    random.seed(args.seed)
    np.random.seed(args.seed)
    tf.keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()

    jobs = [(g, "float32", False, True) for g in GRAPHS] + [(g, "int8", True, True) for g in GRAPHS]
    jobs.append((FLOAT_IO, None, True, False))
    rows, covered = [], {}
    for index, ((name, build, specs, (low, high), expected), kind, quantize, int8_io) in enumerate(jobs):
        file = f"{name}_{kind}.tflite" if kind else f"{name}.tflite"
        path = os.path.join(args.out_dir, file)
        rng = np.random.default_rng([args.seed, index])
        blob = convert(build(Weights([args.seed, index])), specs, (rng, (low, high)), quantize, int8_io)
        with open(path, "wb") as f:
            f.write(blob)
        described = tflite_info.describe(path)
        for op, acts in check_ops(file, described, expected).items():
            covered.setdefault(op, set()).update(acts)
        worst = cross_check(path, rng, low, high)
        # int8 outputs: 1 step; float outputs of the int8 body: 1 step of its
        # softmax output (scale 1/256); float models: 1e-5.
        limit = (1.0 if int8_io else 1 / 256 + 1e-9) if quantize else 1e-5
        print(f"{file}: {len(blob)} bytes, TFLM vs TFLite max difference {worst:g}", file=sys.stderr)
        if worst > limit or len(blob) >= 20_000:
            raise SystemExit(f"{file}: difference {worst} over {limit} or too big")
        rows.append((file, described))
    missing = [op for op in COVER_OPS if op not in covered]
    missing += [f"{op}+{a}" for op in FUSED for a in (NONE, RELU, RELU6) if a not in covered.get(op, ())]
    if missing:
        raise SystemExit(f"not covered: {missing}")
    with open(os.path.join(args.out_dir, "MODELS.md"), "w", encoding="utf-8") as f:
        f.write(table(rows))


if __name__ == "__main__":
    main()
