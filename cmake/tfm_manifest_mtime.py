#!/usr/bin/env python3
# Gives TF-M's manifest tool "write a file only when its bytes change" after the fact,
# so that a `west build` with nothing changed is a no-op from the second build on:
#
#   tfm_manifest_mtime.py TFM_BINARY_DIR
#
# TF-M 2.1.1 (tools/CMakeLists.txt) runs tools/tfm_parse_manifest_list.py twice in a
# fresh build folder, and the tool rewrites every file it generates each time, same
# bytes or not:
# - at configure time (execute_process); CMake then include()s the generated
#   tools/config_impl.cmake, which makes that file an input of TF-M's build.ninja;
# - at build time, as the custom command whose OUTPUT is the `generated` folder: Ninja
#   has no log entry for it yet, so it runs, seconds after build.ninja was written.
# The next build then finds build.ninja older than config_impl.cmake and re-runs TF-M's
# CMake, whose run of the tool rewrites all the generated sources and headers again:
# they are recompiled, tfm_s is relinked and signed again, and `cmake --install` copies
# the rewritten sid.h and config_impl.h into api_ns. Zephyr's Ninja read those headers'
# time stamps before the TF-M step ran (they are not byproducts of Zephyr's `tfm`
# ExternalProject), so the build after that recompiles the NS objects that include them
# and relinks and signs the NS image again.
#
# This keeps, under TFM_BINARY_DIR/si_manifest_ref, a copy of each file of the tool's
# output folders with the time stamp of its last change. Run after the tool: a file
# whose bytes equal its copy gets the copy's time stamp back (to the nanosecond); a file
# that changed, or is new, replaces its copy and keeps its new time stamp. A changed
# file still rebuilds what uses it, and a changed config_impl.cmake still re-runs TF-M's
# CMake. tfm_partitions/CMakeLists.txt runs it after both runs of the tool.
#
# The folders: TF-M's `generated` and this app's partitions' output_path
# (tfm_partitions/tfm_manifest_list.yaml.in). The only other file there,
# generated/secure_fw/spm/include/tfm_version.h, is written by configure_file, which
# rewrites a file only when its bytes change: its time stamp is kept as it is.
import os
import shutil
import sys

OUTPUT_DIRS = ["generated", "secure_inference"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def settle(binary_dir):
    ref = os.path.join(binary_dir, "si_manifest_ref")
    changed = kept = 0
    for top in OUTPUT_DIRS:
        for root, _, files in os.walk(os.path.join(binary_dir, top)):
            for name in files:
                live = os.path.join(root, name)
                copy = os.path.join(ref, os.path.relpath(live, binary_dir))
                if os.path.isfile(copy) and read(copy) == read(live):
                    st = os.stat(copy)
                    os.utime(live, ns=(st.st_atime_ns, st.st_mtime_ns))
                    kept += 1
                else:
                    # copy2 keeps the time stamp to the nanosecond. An interrupted copy
                    # differs from the file, or is newer: never older than the change.
                    os.makedirs(os.path.dirname(copy), exist_ok=True)
                    shutil.copy2(live, copy)
                    changed += 1
    print(f"TF-M manifest tool: {changed} file(s) new or changed, "
          f"{kept} unchanged (time stamps kept)")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tfm_manifest_mtime.py TFM_BINARY_DIR")
    settle(sys.argv[1])
