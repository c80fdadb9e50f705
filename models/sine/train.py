#!/usr/bin/env python3
"""Trains the sine model and writes sine_float.tflite and sine_int8.tflite.

The model and data follow TensorFlow Lite Micro's hello_world: x uniform in
[0, 2*pi], y = sin(x) + 0.1 * N(0, 1), 1000 samples (600 to train, 200 to
validate), Dense(16, relu) -> Dense(16, relu) -> Dense(1), Adam, MSE, 500 epochs
of batches of 64. The int8 model is full-integer (int8 input and output,
per-tensor FULLY_CONNECTED weights), calibrated on 500 seeded samples of the
training inputs. Both are stripped of what no interpreter reads (names,
signatures, metadata: tools/strip_model.py). Every random choice comes from
--seed; TensorFlow runs single-threaded with op determinism on and oneDNN off, so
a rerun on the same versions (models/requirements-train.txt) gives the same files.

    train.py [--seed 2] [--epochs 500] [--out-dir models/sine]
"""
import argparse
import os
import random
import sys

os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # before TensorFlow loads
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("PYTHONHASHSEED", "0")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tools"))
from strip_model import strip  # noqa: E402
from tflm_oracle import Oracle  # noqa: E402

SAMPLES, TRAIN, VALIDATE = 1000, 600, 200


def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    tf.keras.utils.set_random_seed(seed)  # python, numpy and TensorFlow
    tf.config.experimental.enable_op_determinism()
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.config.threading.set_intra_op_parallelism_threads(1)


def data(rng):
    x = rng.uniform(0.0, 2 * np.pi, SAMPLES).astype(np.float32)
    y = (np.sin(x) + 0.1 * rng.standard_normal(SAMPLES)).astype(np.float32)
    return (x[:TRAIN], y[:TRAIN]), (x[TRAIN:TRAIN + VALIDATE], y[TRAIN:TRAIN + VALIDATE]), \
        (x[TRAIN + VALIDATE:], y[TRAIN + VALIDATE:])


def build():
    return tf.keras.Sequential([
        tf.keras.Input(shape=(1,)),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(16, activation="relu"),
        tf.keras.layers.Dense(1),
    ])


def converter(model):
    """A converter for the trained weights frozen into a batch-1 function, input
    and output [1, 1]: three MatMul + BiasAdd (+ Relu), which the converter turns
    into FULLY_CONNECTED ops with fused RELU."""
    weights = [tf.constant(w) for w in model.get_weights()]

    @tf.function(input_signature=[tf.TensorSpec([1, 1], tf.float32)], autograph=False)
    def sine(x):
        h = tf.nn.relu(tf.matmul(x, weights[0]) + weights[1])
        h = tf.nn.relu(tf.matmul(h, weights[2]) + weights[3])
        return tf.matmul(h, weights[4]) + weights[5]

    return tf.lite.TFLiteConverter.from_concrete_functions([sine.get_concrete_function()], sine)


def to_int8(model, calibration):
    c = converter(model)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    c.inference_input_type = tf.int8
    c.inference_output_type = tf.int8
    c._experimental_disable_per_channel_quantization_for_dense_layers = True
    c.representative_dataset = lambda: ([np.array([[v]], np.float32)] for v in calibration)
    return c.convert()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=500)
    ap.add_argument("--out-dir", default=os.path.dirname(os.path.abspath(__file__)))
    args = ap.parse_args()
    seed_everything(args.seed)
    rng = np.random.default_rng(args.seed)
    (x_train, y_train), (x_val, y_val), (x_test, y_test) = data(rng)

    model = build()
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    model.fit(x_train.reshape(-1, 1), y_train, epochs=args.epochs, batch_size=64,
              validation_data=(x_val.reshape(-1, 1), y_val), shuffle=True, verbose=0)
    loss, mae = model.evaluate(x_test.reshape(-1, 1), y_test, verbose=0)
    print(f"test loss {loss:.4f}, mae {mae:.4f}", file=sys.stderr)

    calibration = rng.choice(x_train, 500, replace=False)
    # Stripped of names, signatures and metadata (tools/strip_model.py): the files
    # are flashed with the firmware, and no interpreter reads those.
    outputs = {"sine_float.tflite": strip(converter(model).convert()),
               "sine_int8.tflite": strip(to_int8(model, calibration))}
    for name, blob in outputs.items():
        path = os.path.join(args.out_dir, name)
        with open(path, "wb") as f:
            f.write(blob)
        print(f"{path}: {len(blob)} bytes", file=sys.stderr)
    report_int8(os.path.join(args.out_dir, "sine_int8.tflite"))


def report_int8(path):
    """Runs every int8 input through TFLM and prints how far it is from sin(x)."""
    oracle = Oracle(path)
    (i,), (o,) = oracle.inputs, oracle.outputs
    q = np.arange(-128, 128)
    x = (q - i.zero) * i.scale
    y = np.array([oracle.run([np.array([[v]], np.int8)])[0][0, 0] for v in q], np.float64)
    y = (y - o.zero) * o.scale
    inside = (x >= 0) & (x <= 2 * np.pi)
    err = np.abs(y - np.sin(x))[inside]
    print(f"int8 on TFLM, {inside.sum()} inputs in [0, 2pi]: mean |y - sin x| {err.mean():.4f}, "
          f"max {err.max():.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
