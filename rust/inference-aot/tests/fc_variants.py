#!/usr/bin/env python3
"""Writes single FULLY_CONNECTED int8 models (per-tensor weights) that reach each path
of inference-aot's generated kernel: units in packed groups of four and left over,
depths unrolled (up to 32) and looped (even and odd), weights too large to pack, a requantization
multiplier above one (a left shift), every fused activation, batches, with and
without bias. Built with inference's test-model writer (elementwise_variants.build).

    fc_variants.py OUT_DIR     writes OUT_DIR/<name>.tflite, prints each path
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../inference/tests"))
from elementwise_variants import ACT, I8, I32, OP, T, build, options  # noqa: E402

RNG = np.random.default_rng(17)


def fc(out, name, batches, depth, units, act, bias, in_q, w_scale, out_q, weights=None):
    if weights is None:
        weights = RNG.integers(-127, 128, units * depth)
    inputs = [T([batches, depth], I8, in_q), T([units, depth], I8, (w_scale, 0), weights)]
    if bias:
        inputs.append(T([units], I32, (in_q[0] * w_scale, 0), RNG.integers(-3000, 3000, units)))
    build(os.path.join(out, name + ".tflite"), OP.FULLY_CONNECTED, inputs,
          T([batches, units], I8, out_q), options("fc", fusedActivationFunction=act), 4)


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    # Seven units: one packed group of four and three one by one; depth unrolled.
    fc(out, "fc_aot_groups_and_rest", 3, 20, 7, ACT.RELU6, False, (0.03, -4), 0.01, (0.06, 3))
    # Depth 48, looped, packed; two batches.
    fc(out, "fc_aot_packed_loop", 2, 48, 8, ACT.NONE, True, (0.02, 5), 0.01, (0.08, -7))
    # Depth 45, looped in blocks of two and the last input alone.
    fc(out, "fc_aot_packed_loop_odd", 1, 45, 4, ACT.RELU, True, (0.02, -9), 0.01, (0.05, 2))
    # Every weight +-127 over depth 300: 128 sum|w| = 4,876,800 >= 2^22, not packed.
    signs = RNG.choice([-127, 127], 5 * 300)
    fc(out, "fc_aot_unpackable", 1, 300, 5, ACT.RELU, True, (0.01, -2), 0.004, (0.5, -20), signs)
    # in x w / out = 2.5: QuantizeMultiplier's shift is 2 (a left shift).
    fc(out, "fc_aot_left_shift", 2, 3, 2, ACT.RELU_N1_TO_1, True, (0.5, 0), 0.05, (0.01, -3))
    # Depth 1, nine units (two groups too shallow to pack), three batches.
    fc(out, "fc_aot_depth1", 3, 1, 9, ACT.RELU, True, (0.03, -4), 0.01, (0.002, -100))


if __name__ == "__main__":
    main()
