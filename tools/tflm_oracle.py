#!/usr/bin/env python3
"""Runs a .tflite model on TensorFlow Lite Micro's reference kernels (the oracle).

Uses the interpreter of the pinned `tflite-micro` package (tools/requirements.txt).
Inputs are either generated from a seed or read from a text file:

  tflm_oracle.py MODEL --seed S --count N [--low L --high H] -o OUT
      N cases; int8 inputs uniform over -128..127, int16 over -32768..32767,
      float32 inputs uniform over [L, H) (default [-1, 1)), drawn with numpy's
      PCG64 generator seeded with S, one input tensor after another.
  tflm_oracle.py MODEL --inputs FILE -o OUT
      one case per non-empty line of FILE ('#' starts a comment): the values of
      every element of input 0, then input 1, ..., separated by spaces or commas;
      float values may be decimal or C99 hex ('0x1.8p+1'), and are rounded to f32.
  tflm_oracle.py --dump OUT
      prints an oracle file as text, one line per tensor.

The interpreter is created once and run once per case, in order.

Output file (all integers little-endian):

  magic      8 bytes  b"TFLMORC1"
  n_inputs   u32      number of input tensors
  n_outputs  u32      number of output tensors
  n_cases    u32
  then one descriptor per tensor, the inputs first, in model order:
    dtype    u8       1 = int8, 2 = float32, 3 = int16, 4 = int32, 5 = uint8
    rank     u8
    pad      u16      zero
    dims     u32 x rank
    scale    f32      per-tensor quantization scale (0 when not quantized)
    zero     i32      per-tensor zero point (0 when not quantized)
  then n_cases records, each the raw little-endian elements (row-major) of every
  input tensor, then of every output tensor, in descriptor order. The size of a
  tensor is the product of its dims times 1, 4, 2, 4 or 1 bytes.
"""
import argparse
import struct
import sys

import numpy as np
from tflite_micro import runtime

MAGIC = b"TFLMORC1"
DTYPES = {  # code: (numpy dtype, full range for generated integer inputs)
    1: (np.dtype("<i1"), (-128, 127)),
    2: (np.dtype("<f4"), None),
    3: (np.dtype("<i2"), (-32768, 32767)),
    4: (np.dtype("<i4"), None),
    5: (np.dtype("u1"), (0, 255)),
}
CODES = {dt.type: code for code, (dt, _) in DTYPES.items()}


class Tensor:
    """What the oracle file records about one input or output tensor."""

    def __init__(self, code, shape, scale=0.0, zero=0):
        self.code, self.shape, self.scale, self.zero = code, tuple(int(d) for d in shape), float(scale), int(zero)
        self.dtype = DTYPES[code][0]
        self.size = int(np.prod(self.shape, dtype=np.int64))

    @classmethod
    def from_details(cls, d):
        kind = np.dtype(d["dtype"]).type
        if kind not in CODES:
            raise SystemExit(f"unsupported tensor type {d['dtype']}")
        q = d["quantization_parameters"]
        scales, zeros = list(q["scales"]), list(q["zero_points"])
        if len(scales) > 1:
            raise SystemExit("per-axis quantized model inputs/outputs are not supported")
        return cls(CODES[kind], d["shape"], scales[0] if scales else 0.0, zeros[0] if zeros else 0)

    def header(self):
        return struct.pack(f"<BBH{len(self.shape)}Ifi", self.code, len(self.shape), 0, *self.shape,
                           self.scale, self.zero)


class Oracle:
    """TFLM's interpreter for one model, with its input and output descriptions."""

    def __init__(self, model_path, arena_size=1 << 20):
        with open(model_path, "rb") as f:
            model = f.read()
        graph = runtime.convert_bytearray_to_object(model).subgraphs[0]
        self.interpreter = runtime.Interpreter.from_bytes(model, arena_size=arena_size)
        it = self.interpreter
        self.inputs = [Tensor.from_details(it.get_input_details(i)) for i in range(len(graph.inputs))]
        self.outputs = [Tensor.from_details(it.get_output_details(i)) for i in range(len(graph.outputs))]

    def run(self, values):
        """Runs one case: `values` holds one array per input; returns one per output."""
        for index, (tensor, value) in enumerate(zip(self.inputs, values)):
            self.interpreter.set_input(np.asarray(value, tensor.dtype).reshape(tensor.shape), index)
        self.interpreter.invoke()
        return [np.asarray(self.interpreter.get_output(i), t.dtype).reshape(t.shape)
                for i, t in enumerate(self.outputs)]


def generated_cases(inputs, seed, count, low, high):
    rng = np.random.default_rng(seed)
    for _ in range(count):
        case = []
        for t in inputs:
            full = DTYPES[t.code][1]
            if full is not None:
                case.append(rng.integers(full[0], full[1], size=t.shape, endpoint=True).astype(t.dtype))
            elif t.code == 2:
                case.append(rng.uniform(low, high, size=t.shape).astype(t.dtype))
            else:
                raise SystemExit(f"cannot generate inputs of type code {t.code}; use --inputs")
        yield case


def parse_value(text, dtype):
    if dtype.kind == "f":
        stripped = text.lstrip("+-").lower()
        return float.fromhex(text) if stripped.startswith("0x") else float(text)
    return int(text, 0)


def file_cases(path, inputs):
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            words = line.split("#", 1)[0].replace(",", " ").split()
            if not words:
                continue
            want = sum(t.size for t in inputs)
            if len(words) != want:
                raise SystemExit(f"{path}:{number}: {len(words)} values, the inputs hold {want}")
            case, at = [], 0
            for t in inputs:
                vals = [parse_value(w, t.dtype) for w in words[at:at + t.size]]
                if t.dtype.kind in "iu":
                    info = np.iinfo(t.dtype)
                    if any(v < info.min or v > info.max for v in vals):
                        raise SystemExit(f"{path}:{number}: value out of range for {t.dtype}")
                case.append(np.array(vals, dtype=np.float64 if t.dtype.kind == "f" else np.int64)
                            .astype(t.dtype).reshape(t.shape))
                at += t.size
            yield case


def write(out, oracle, cases):
    records = [(case, oracle.run(case)) for case in cases]
    with open(out, "wb") as f:
        f.write(MAGIC + struct.pack("<III", len(oracle.inputs), len(oracle.outputs), len(records)))
        for t in oracle.inputs + oracle.outputs:
            f.write(t.header())
        for ins, outs in records:
            for t, a in zip(oracle.inputs + oracle.outputs, ins + outs):
                f.write(np.ascontiguousarray(a, t.dtype).tobytes())
    return records


def read(path):
    """Reads an oracle file: (input tensors, output tensors, [(inputs, outputs)])."""
    data = open(path, "rb").read()
    if data[:8] != MAGIC:
        raise SystemExit(f"{path}: not an oracle file")
    n_in, n_out, n_cases = struct.unpack_from("<III", data, 8)
    at, tensors = 20, []
    for _ in range(n_in + n_out):
        code, rank, _ = struct.unpack_from("<BBH", data, at)
        dims = struct.unpack_from(f"<{rank}I", data, at + 4)
        scale, zero = struct.unpack_from("<fi", data, at + 4 + 4 * rank)
        tensors.append(Tensor(code, dims, scale, zero))
        at += 12 + 4 * rank
    cases = []
    for _ in range(n_cases):
        arrays = []
        for t in tensors:
            n = t.size * t.dtype.itemsize
            arrays.append(np.frombuffer(data[at:at + n], t.dtype).reshape(t.shape))
            at += n
        cases.append((arrays[:n_in], arrays[n_in:]))
    if at != len(data):
        raise SystemExit(f"{path}: {len(data) - at} trailing bytes")
    return tensors[:n_in], tensors[n_in:], cases


def text(a):
    if a.dtype.kind == "f":
        return " ".join(f"{str(v)}/{v.view('<u4'):08x}" for v in a.reshape(-1).astype(np.float32))
    return " ".join(str(int(v)) for v in a.reshape(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("model", nargs="?", help=".tflite model")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--count", type=int, default=16)
    ap.add_argument("--low", type=float, default=-1.0, help="float inputs: lowest value")
    ap.add_argument("--high", type=float, default=1.0, help="float inputs: highest value (excluded)")
    ap.add_argument("--inputs", help="text file of explicit inputs, one case a line")
    ap.add_argument("--arena", type=int, default=1 << 20, help="tensor arena bytes")
    ap.add_argument("-o", "--out", help="oracle file to write")
    ap.add_argument("--dump", metavar="FILE", help="print an oracle file and exit")
    args = ap.parse_args()
    if args.dump:
        ins, outs, cases = read(args.dump)
        for kind, ts in (("input", ins), ("output", outs)):
            for i, t in enumerate(ts):
                print(f"{kind} {i}: {t.dtype} {list(t.shape)} scale={t.scale!r} zero={t.zero}")
        for n, (a, b) in enumerate(cases):
            for i, x in enumerate(a):
                print(f"case {n} in{i}: {text(x)}")
            for i, y in enumerate(b):
                print(f"case {n} out{i}: {text(y)}")
        return
    if not args.model or not args.out:
        ap.error("MODEL and --out are required (or --dump FILE)")
    oracle = Oracle(args.model, args.arena)
    cases = (file_cases(args.inputs, oracle.inputs) if args.inputs
             else generated_cases(oracle.inputs, args.seed, args.count, args.low, args.high))
    records = write(args.out, oracle, cases)
    print(f"{args.out}: {len(records)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
