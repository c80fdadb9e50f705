#!/usr/bin/env python3
"""Constant-time check on Unicorn's Cortex-M33: same instructions, blocks and data
addresses for every key.

Runs an image under tools/m33count.py's emulator and records, for every measurement
`<operation>/<key>` between m33_rt::bench markers, three traces: the retired
instruction count, the sequence of executed basic blocks (their addresses) and the
sequence of data accesses (address, size, read or write; values are not recorded).
Every measurement of one operation must give the same three traces as the first
key's; a difference is reported with the first position where the traces part and
the functions there (from the ELF symbols).

Operations named `leak-*` are deliberate leaks the image runs on the same keys;
each must be found, or the check is not trusted: `leak-count` by the count,
`leak-blocks` by the blocks with the same count, `leak-addresses` by the data
addresses with the same count and blocks, `leak-division` by the division check
alone. Division check: no UDIV or SDIV among an operation's executed blocks (the
M33 ends a division early, by operand; the one data-dependent instruction timing
that the traces above cannot see).

Output on stdout: one line per operation (keys, instructions, blocks, accesses, the
SHA-256 of the block and access traces) and a verdict. Exit status 0 when every
operation is constant and every leak found, 1 otherwise.
"""
import argparse
import bisect
import hashlib
import sys
from array import array

from unicorn import UC_HOOK_MEM_READ, UC_HOOK_MEM_WRITE, UC_MEM_WRITE

from m33count import Image

# Which trace each deliberate leak must show, and which must stay equal.
LEAKS = {
    "leak-count": ("count", ()),
    "leak-blocks": ("blocks", ("count",)),
    "leak-addresses": ("accesses", ("count", "blocks")),
    "leak-division": ("division", ("count", "blocks", "accesses")),
}


class Tracer(Image):
    def __init__(self, path, cmdline):
        super().__init__(path, cmdline, limit=2_000_000_000)
        self.blocks = array("I")
        self.accesses = array("Q")
        self.traces = []  # (name, count, blocks, accesses)
        self.uc.hook_add(UC_HOOK_MEM_READ | UC_HOOK_MEM_WRITE, self.on_access)

    def on_block(self, uc, address, size, user):
        super().on_block(uc, address, size, user)
        if self.open_name is not None:
            self.blocks.append(address)

    def on_access(self, uc, access, address, size, value, user):
        if self.open_name is not None:
            self.accesses.append((address << 8) | (size << 1) | (access == UC_MEM_WRITE))

    def on_start(self, uc, *args):
        super().on_start(uc, *args)
        # The marker's own block has been recorded already; start from the next.
        self.blocks = array("I")
        self.accesses = array("Q")

    def on_stop(self, uc, *args):
        name, count = self.open_name, self.here() - self.open_at
        # The stop marker's block is the next measurement's business, not this one's.
        if self.blocks:
            self.blocks.pop()
        self.traces.append((name, count, self.blocks, self.accesses))
        self.open_name = None

    def function_at(self, address):
        starts = [f[0] for f in self.functions]
        i = bisect.bisect_right(starts, address) - 1
        return self.functions[i][2] if i >= 0 else "?"


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return i
    return min(len(a), len(b)) if len(a) != len(b) else None


def describe(tracer, kind, ref, other, i):
    def show(seq):
        if i >= len(seq):
            return "(ended)"
        v = seq[i]
        if kind == "blocks":
            return f"{v:#010x} in {tracer.function_at(v)}"
        rw = "write" if v & 1 else "read"
        return f"{rw} of {(v >> 1) & 0x7f} at {v >> 8:#010x}"

    return f"position {i}: {show(ref)} against {show(other)}"


def variable_time_instructions(tracer, blocks):
    """UDIV and SDIV in the executed blocks: the M33 ends a division early (2 to 11
    cycles by operand), the one data-dependent timing an instruction count misses."""
    sizes = {}
    for address, size in tracer.block_sizes:
        sizes[address] = max(size, sizes.get(address, 0))
    found = []
    for address in set(blocks):
        size = sizes[address]
        code, i = bytes(tracer.uc.mem_read(address, size)), 0
        while i + 1 < len(code):
            first = code[i] | (code[i + 1] << 8)
            wide = (first >> 11) in (0b11101, 0b11110, 0b11111)
            if wide and i + 3 < len(code):
                second = code[i + 2] | (code[i + 3] << 8)
                if first & 0xFFF0 in (0xFB90, 0xFBB0) and second & 0xF0F0 == 0xF0F0:
                    found.append(address + i)
            i += 4 if wide else 2
    return sorted(found)


def digest(seq):
    return hashlib.sha256(seq.tobytes()).hexdigest()[:16]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("elf")
    ap.add_argument("--cmdline", default="image", help="the image's command line (p256_ct: 'image N' keys)")
    args = ap.parse_args()
    tracer = Tracer(args.elf, args.cmdline)
    if tracer.run() != 0:
        print("m33trace: the image failed", file=sys.stderr)
        return 1
    operations = {}
    for name, count, blocks, accesses in tracer.traces:
        if name == "calibration":
            continue
        op, _, key = name.partition("/")
        operations.setdefault(op, []).append((key, count, blocks, accesses))
    ok = True
    for op, runs in operations.items():
        ref_key, ref = runs[0][0], dict(zip(("count", "blocks", "accesses"), runs[0][1:]))
        differs = {"count": [], "blocks": [], "accesses": [], "division": []}
        for key, count, blocks, accesses in runs[1:]:
            if count != ref["count"]:
                differs["count"].append(f"{key}: {count} instructions against {ref['count']} for {ref_key}")
            for kind, seq in (("blocks", blocks), ("accesses", accesses)):
                i = first_difference(ref[kind], seq)
                if i is not None:
                    differs[kind].append(f"{key} against {ref_key}, {describe(tracer, kind, ref[kind], seq, i)}")
        divisions = variable_time_instructions(tracer, ref["blocks"])
        if divisions:
            where = ", ".join(f"{a:#010x} in {tracer.function_at(a)}" for a in divisions[:3])
            differs["division"].append(f"{len(divisions)} UDIV/SDIV executed (variable time on the M33): {where}")
        print(
            f"{op:<16} {len(runs):>3} keys {ref['count']:>9} instructions {len(ref['blocks']):>8} blocks "
            f"{len(ref['accesses']):>8} accesses  blocks {digest(ref['blocks'])} accesses {digest(ref['accesses'])}"
        )
        found = [kind for kind, d in differs.items() if d]
        if op in LEAKS:
            must, same = LEAKS[op]
            if len(runs) < 2 or must not in found or any(k in found for k in same):
                print(f"  FAILED: the deliberate leak was not found as {must} alone (found: {found or 'nothing'})")
                ok = False
            else:
                print(f"  deliberate leak found by {', '.join(found)}: {differs[must][0]}")
        elif found:
            ok = False
            for kind in found:
                for line in differs[kind][:3]:
                    print(f"  FAILED ({kind}): {line}")
    if not any(op not in LEAKS for op in operations):
        print("m33trace: no operation measured")
        ok = False
    verdict = "constant time: same instructions, blocks and data addresses for every key, no division"
    print("m33trace: " + (verdict if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
