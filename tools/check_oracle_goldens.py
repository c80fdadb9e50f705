#!/usr/bin/env python3
"""Checks the oracle (tflm_oracle.py) against the shared hello_world goldens.

The int8 golden lists every input -128..127 and TFLM's output: all 256 must match
exactly. The float golden lists a few inputs and outputs with their f32 bits: each
output must be within 1e-6 (the script also says how many are bit-exact).

    check_oracle_goldens.py [DIR]     DIR defaults to ../shared/models
Exit status 0 when everything matches.
"""
import csv
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tflm_oracle import Oracle  # noqa: E402


def rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def check_int8(folder):
    oracle = Oracle(os.path.join(folder, "hello_world_int8.tflite"))
    golden = rows(os.path.join(folder, "golden_hello_world_int8.csv"))
    if sorted(int(r["x_q"]) for r in golden) != list(range(-128, 128)):
        return [f"int8 golden does not list every input once ({len(golden)} rows)"]
    bad = []
    for r in golden:
        x, want = int(r["x_q"]), int(r["y_q"])
        got = int(oracle.run([np.array([x], np.int8)])[0].reshape(-1)[0])
        if got != want:
            bad.append(f"int8 x={x}: oracle {got}, golden {want}")
    print(f"int8: {len(golden) - len(bad)}/{len(golden)} outputs equal")
    return bad


def check_float(folder):
    oracle = Oracle(os.path.join(folder, "hello_world_float.tflite"))
    golden = rows(os.path.join(folder, "golden_hello_world_float.csv"))
    bad, exact = [], 0
    for r in golden:
        want = struct.unpack("<f", bytes.fromhex(r["y_f32_hex"])[::-1])[0]
        got = oracle.run([np.array([float(r["x"])], np.float32)])[0].reshape(-1)[0]
        exact += int(np.float32(got).view(np.uint32)) == int(r["y_f32_hex"], 16)
        if not abs(float(got) - want) <= 1e-6:
            bad.append(f"float x={r['x']}: oracle {got!s}, golden {want!r}")
    print(f"float: {len(golden) - len(bad)}/{len(golden)} outputs within 1e-6, {exact} bit-exact")
    return bad


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "shared", "models")
    bad = check_int8(folder) + check_float(folder)
    for line in bad:
        print(line, file=sys.stderr)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
