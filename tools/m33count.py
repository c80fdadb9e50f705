#!/usr/bin/env python3
"""Counts the instructions a bare-metal image retires on Unicorn's Cortex-M33.

Runs an m33-rt image (ELF) from its reset vector, serves its Arm semihosting calls
(console, command line, exit) and counts retired instructions with a block hook:
each translated block adds the number of Thumb instructions it holds, so the total
is the same on every run. The image brackets what it measures with calls to
`m33_bench_start(name, len)` and `m33_bench_stop()`; each bracket is reported as the
instructions retired from the entry of the first to the entry of the second.

Output on stdout, one record per line, tab separated:
    insn  <name>  <instructions>
    exit  <code>  <instructions from reset to exit>
With --profile NAME, the instructions of measurement NAME are also broken down by
function (from the ELF symbols) on stderr.
The image's console goes to stderr. Exit status: the image's.
"""
import argparse
import sys

from elftools.elf.elffile import ELFFile
from unicorn import (UC_ARCH_ARM, UC_HOOK_BLOCK, UC_HOOK_CODE, UC_HOOK_INTR,
                     UC_MODE_MCLASS, UC_MODE_THUMB, Uc, UcError)
from unicorn.arm_const import (UC_ARM_REG_PC, UC_ARM_REG_R0, UC_ARM_REG_R1,
                               UC_ARM_REG_SP, UC_CPU_ARM_CORTEX_M33)

# mps2-an521 secure aliases of ZBT SSRAM1 (code) and SSRAM2/3 (data); see m33.ld.
REGIONS = [(0x1000_0000, 4 << 20), (0x3800_0000, 4 << 20)]
EXCP_BKPT = 7
SYS_WRITE0, SYS_GET_CMDLINE, SYS_EXIT, SYS_EXIT_EXTENDED = 0x04, 0x15, 0x18, 0x20
ADP_STOPPED_APPLICATION_EXIT = 0x20026


def thumb_instruction_count(code: bytes) -> int:
    """Number of Thumb instructions in a block: 32-bit ones start with 0b11101,
    0b11110 or 0b11111 in their first halfword."""
    count, i = 0, 0
    while i + 1 < len(code):
        first = code[i] | (code[i + 1] << 8)
        i += 4 if (first >> 11) in (0b11101, 0b11110, 0b11111) else 2
        count += 1
    return count


class Image:
    def __init__(self, path, cmdline, limit, profile=None):
        self.uc = Uc(UC_ARCH_ARM, UC_MODE_THUMB | UC_MODE_MCLASS)
        self.uc.ctl_set_cpu_model(UC_CPU_ARM_CORTEX_M33)
        for base, size in REGIONS:
            self.uc.mem_map(base, size)
        with open(path, "rb") as f:
            elf = ELFFile(f)
            for seg in elf.iter_segments():
                if seg["p_type"] == "PT_LOAD" and seg["p_filesz"]:
                    self.uc.mem_write(seg["p_paddr"], seg.data())
            symtab = list(elf.get_section_by_name(".symtab").iter_symbols())
            symbols = {s.name: s["st_value"] & ~1 for s in symtab}
            self.functions = sorted(
                (s["st_value"] & ~1, s["st_size"], s.name) for s in symtab if s["st_info"]["type"] == "STT_FUNC"
            )
        self.profile, self.by_block = profile, {}
        self.cmdline = cmdline.encode()
        self.limit = limit
        self.total = 0
        self.block_sizes = {}
        self.open_name, self.open_at = None, 0
        self.exit_code = None
        self.uc.hook_add(UC_HOOK_BLOCK, self.on_block)
        self.uc.hook_add(UC_HOOK_INTR, self.on_interrupt)
        for marker, handler in (("m33_bench_start", self.on_start), ("m33_bench_stop", self.on_stop)):
            if marker in symbols:
                self.uc.hook_add(UC_HOOK_CODE, handler, begin=symbols[marker], end=symbols[marker])

    def on_block(self, uc, address, size, _):
        n = self.block_sizes.get((address, size))
        if n is None:
            n = self.block_sizes[(address, size)] = thumb_instruction_count(bytes(uc.mem_read(address, size)))
        self.total += n
        self.last_block = n
        if self.profile is not None and self.open_name == self.profile:
            self.by_block[address] = self.by_block.get(address, 0) + n
        if self.total > self.limit:
            print(f"m33count: more than {self.limit} instructions, stopping", file=sys.stderr)
            self.exit_code = 124
            uc.emu_stop()

    def here(self):
        # The markers are function entries, so their block has just been counted whole.
        return self.total - self.last_block

    def on_start(self, uc, *_):
        r0, r1 = uc.reg_read(UC_ARM_REG_R0), uc.reg_read(UC_ARM_REG_R1)
        self.open_name = bytes(uc.mem_read(r0, r1)).decode()
        self.open_at = self.here()

    def on_stop(self, uc, *_):
        print(f"insn\t{self.open_name}\t{self.here() - self.open_at}", flush=True)
        if self.profile is not None and self.open_name == self.profile:
            self.report_profile()
        self.open_name = None

    def report_profile(self):
        import bisect
        starts = [f[0] for f in self.functions]
        per_function = {}
        for address, n in self.by_block.items():
            i = bisect.bisect_right(starts, address) - 1
            name = self.functions[i][2] if i >= 0 else "?"
            per_function[name] = per_function.get(name, 0) + n
        for name, n in sorted(per_function.items(), key=lambda kv: -kv[1]):
            print(f"profile {n:>10}  {name}", file=sys.stderr)
        for address, n in sorted(self.by_block.items(), key=lambda kv: -kv[1])[:20]:
            print(f"profile-block {n:>10}  {address:#010x}", file=sys.stderr)
        self.by_block = {}

    def read_cstr(self, address):
        out = bytearray()
        while True:
            b = self.uc.mem_read(address + len(out), 64)
            nul = b.find(0)
            out += b if nul < 0 else b[:nul]
            if nul >= 0:
                return bytes(out)

    def on_interrupt(self, uc, intno, _):
        pc = uc.reg_read(UC_ARM_REG_PC)
        if intno != EXCP_BKPT:
            print(f"m33count: exception {intno} at {pc:#x}", file=sys.stderr)
            self.exit_code = 125
            uc.emu_stop()
            return
        op, param = uc.reg_read(UC_ARM_REG_R0), uc.reg_read(UC_ARM_REG_R1)
        result = 0
        if op == SYS_WRITE0:
            sys.stderr.write(self.read_cstr(param).decode(errors="replace"))
        elif op == SYS_GET_CMDLINE:
            buf, cap = (int.from_bytes(uc.mem_read(param + 4 * i, 4), "little") for i in range(2))
            text = self.cmdline[: cap - 1]
            uc.mem_write(buf, text + b"\0")
            uc.mem_write(param + 4, len(text).to_bytes(4, "little"))
        elif op in (SYS_EXIT, SYS_EXIT_EXTENDED):
            if op == SYS_EXIT_EXTENDED:
                reason, code = (int.from_bytes(uc.mem_read(param + 4 * i, 4), "little") for i in range(2))
            else:
                reason, code = param, 0
            self.exit_code = code if reason == ADP_STOPPED_APPLICATION_EXIT else 1
            uc.emu_stop()
            return
        else:
            result = 0xFFFF_FFFF
        uc.reg_write(UC_ARM_REG_R0, result)
        uc.reg_write(UC_ARM_REG_PC, (pc + 2) | 1)

    def run(self):
        sp = int.from_bytes(self.uc.mem_read(REGIONS[0][0], 4), "little")
        reset = int.from_bytes(self.uc.mem_read(REGIONS[0][0] + 4, 4), "little")
        self.uc.reg_write(UC_ARM_REG_SP, sp)
        pc = reset
        while self.exit_code is None:
            try:
                self.uc.emu_start(pc | 1, 0xFFFF_FFFF)
            except UcError as e:
                print(f"m33count: {e} at {self.uc.reg_read(UC_ARM_REG_PC):#x}", file=sys.stderr)
                self.exit_code = 126
            # emu_stop() from the bkpt hook ends emu_start; resume after it.
            pc = self.uc.reg_read(UC_ARM_REG_PC)
        print(f"exit\t{self.exit_code}\t{self.total}", flush=True)
        return self.exit_code


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("elf")
    ap.add_argument("--cmdline", default="image")
    ap.add_argument("--limit", type=int, default=2_000_000_000, help="stop after this many instructions")
    ap.add_argument("--profile", metavar="NAME", help="break measurement NAME down by function")
    args = ap.parse_args()
    sys.exit(Image(args.elf, args.cmdline, args.limit, args.profile).run())


if __name__ == "__main__":
    main()
