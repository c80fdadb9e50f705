#!/usr/bin/env python3
"""cmake/tfm_manifest_mtime.py without TF-M: in a stand-in build folder, a rewrite with
the same bytes gets its old time stamp back, a changed or new file keeps its new one
(so what uses it still rebuilds), a change back to earlier bytes is a change, and
files outside the tool's output folders are left alone.

usage: check_manifest_mtime.py <app root>
"""
import importlib.util
import os
import sys
import tempfile


def fail(msg):
    print(f"check_manifest_mtime: {msg}", file=sys.stderr)
    sys.exit(1)


def main():
    root = os.path.abspath(sys.argv[1])
    spec = importlib.util.spec_from_file_location(
        "tfm_manifest_mtime", os.path.join(root, "cmake/tfm_manifest_mtime.py"))
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)

    with tempfile.TemporaryDirectory() as build:
        clock = [1_000_000_000_000_000_000]

        def write(rel, data):
            """What the manifest tool does: (re)write a file, at a later time."""
            path = os.path.join(build, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
            clock[0] += 7_000_000_123
            os.utime(path, ns=(clock[0], clock[0]))

        def mtime(rel):
            return os.stat(os.path.join(build, rel)).st_mtime_ns

        cfg, sid, app, other = ("generated/tools/config_impl.cmake",
                                "generated/interface/include/psa_manifest/sid.h",
                                "secure_inference/si_identity/load_info.c",
                                "build.ninja")
        for rel in (cfg, sid, app, other):
            write(rel, b"v1 " + rel.encode())
        first = {rel: mtime(rel) for rel in (cfg, sid, app, other)}
        tool.settle(build)
        if {rel: mtime(rel) for rel in first} != first:
            fail("the first run changed a time stamp")

        # The tool runs again with the same output: every time stamp comes back.
        for rel in (cfg, sid, app):
            write(rel, b"v1 " + rel.encode())
        write(other, b"v1 " + other.encode())
        tool.settle(build)
        for rel in (cfg, sid, app):
            if mtime(rel) != first[rel]:
                fail(f"{rel}: same bytes, but the time stamp was not put back")
        if mtime(other) == first[other]:
            fail(f"{other}: outside the tool's folders, but its time stamp was changed")

        # A real change keeps its new time stamp, and so does a change back.
        write(sid, b"v2")
        changed = mtime(sid)
        tool.settle(build)
        if mtime(sid) != changed:
            fail("a changed file lost its new time stamp")
        write(sid, b"v1 " + sid.encode())
        back = mtime(sid)
        tool.settle(build)
        if mtime(sid) != back or back <= changed:
            fail("a change back to earlier bytes was taken for no change")

        # A new file keeps its time stamp; rewritten unchanged later, it gets it back.
        new = "generated/secure_fw/partitions/new_partition.h"
        write(new, b"new")
        created = mtime(new)
        tool.settle(build)
        write(new, b"new")
        tool.settle(build)
        if mtime(new) != created:
            fail("a new file's time stamp was not kept as its reference")
    print("cmake/tfm_manifest_mtime.py: unchanged rewrites keep their time stamps, changes do not")


if __name__ == "__main__":
    main()
