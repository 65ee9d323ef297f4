#!/usr/bin/env python3
"""Checks a `cargo leptos build --split` site: the main wasm must not hold the data of the lazy chunks.

The splitter gives each output module its share of the linked module's read-only data segment. When its new
layout (each share aligned to the segment's alignment) would be longer than the linker's segment, it keeps
the WHOLE segment in the main wasm, which every page loads: ~180 KB more raw, +35 KB brotli on every first
load, silently. `SPLIT_SLACK` (src/lib.rs) leaves room for that padding; this check sees if it stops being
enough. In a good split the main wasm holds about a third of the data (what the shell uses); when the whole
segment went to main it holds nearly all of it.

    scripts/check-split.py target/site/pkg        # exit 1 (and why) when main holds more than 60 %
"""
import glob
import os
import sys

LIMIT = 0.6


def leb128(b, i):
    result = shift = 0
    while True:
        x = b[i]
        i += 1
        result |= (x & 0x7F) << shift
        shift += 7
        if x < 0x80:
            return result, i


def data_section_bytes(path):
    b = open(path, "rb").read()
    i = 8  # magic and version
    while i < len(b):
        section = b[i]
        size, i = leb128(b, i + 1)
        if section == 11:
            return size
        i += size
    return 0


def main():
    pkg = sys.argv[1] if len(sys.argv) > 1 else "target/site/pkg"
    files = [f for f in glob.glob(os.path.join(pkg, "*.wasm"))]
    main_files = [f for f in files if os.path.basename(f).startswith("cairn.") or os.path.basename(f) == "cairn_bg.wasm"]
    if len(main_files) != 1 or len(files) < 2:
        sys.exit(f"check-split: expected one main wasm and its chunks in {pkg}, found {len(main_files)} and {len(files)} files")
    total = sum(data_section_bytes(f) for f in files)
    main_bytes = data_section_bytes(main_files[0])
    share = main_bytes / total if total else 0.0
    print(f"check-split: the main wasm holds {main_bytes} of {total} data bytes ({share:.0%}; at most {LIMIT:.0%})", file=sys.stderr)
    if share > LIMIT:
        sys.exit(
            "check-split: the splitter kept the whole read-only data segment in the main wasm (every page would "
            "load the data of every lazy chunk): make SPLIT_SLACK in src/lib.rs larger"
        )


if __name__ == "__main__":
    main()
