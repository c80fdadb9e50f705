#!/usr/bin/env python3
"""Host timing of TFLM's interpreter for `cargo xtask bench host`, the peer of
rust/inference/examples/host_bench.rs: the same model, input, invokes and runs.

  tflm_bench.py MODEL INVOKES RUNS [--refill]

Creates one interpreter of the pinned `tflite-micro` package (not timed); each run
times INVOKES back-to-back invoke() calls (each crosses from Python into C++, a fixed
cost included in the figure); prints `median-ns-per-invoke: X` over the runs and
`output-checksum: C`, the sum of the output's bytes. With --refill, each invoke is
preceded by set_input() of the same input, timed too (for models whose invoke reuses
the input's bytes; the peer does the same).
"""
import sys
import time

import numpy as np
from tflite_micro import runtime


def main():
    if len(sys.argv) not in (4, 5) or sys.argv[4:] not in ([], ["--refill"]):
        raise SystemExit(__doc__)
    path, invokes, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    refill = sys.argv[4:] == ["--refill"]
    interp = runtime.Interpreter.from_file(path, arena_size=256 * 1024)
    details = interp.get_input_details(0)
    shape, dtype = details["shape"], np.dtype(details["dtype"])
    pattern = (np.arange(int(np.prod(shape)), dtype=np.int64) * 7919) % 256 - 128
    if dtype == np.int8:
        values = pattern.astype(np.int8)
    elif dtype == np.float32:
        values = (pattern.astype(np.float32) / np.float32(128.0)).astype(np.float32)
    else:
        raise SystemExit(f"unsupported input type {dtype}")
    values = values.reshape(shape)
    interp.set_input(values, 0)
    invoke, set_input = interp.invoke, interp.set_input
    per_invoke = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        for _ in range(invokes):
            if refill:
                set_input(values, 0)
            invoke()
        per_invoke.append((time.perf_counter_ns() - start) / invokes)
    per_invoke.sort()
    output = np.ascontiguousarray(interp.get_output(0))
    print(f"median-ns-per-invoke: {per_invoke[runs // 2]:.1f}")
    print(f"output-checksum: {int(output.view(np.uint8).astype(np.uint64).sum())}")


if __name__ == "__main__":
    main()
