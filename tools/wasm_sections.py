#!/usr/bin/env python3
"""Bytes of a WebAssembly component (or module) by kind, nested modules and components
included: what `wasm-tools strip` could remove (custom sections: names, producers, debug info)
against code and data. Used for the plugin sizes in BENCHMARKS.md.

Usage: tools/wasm_sections.py plugin.wasm...
"""

import sys
from collections import Counter


def leb(data, at):
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def walk(data, totals):
    at = 8  # magic and version (layer) of a module or a component
    is_component = data[6] == 1
    while at < len(data):
        section, at = data[at], at + 1
        size, at = leb(data, at)
        body = data[at : at + size]
        if section == 0:
            name_length, name_at = leb(body, 0)
            name = body[name_at : name_at + name_length].decode("utf-8", "replace")
            totals["custom " + (name if name in ("name", "producers") or name.startswith(".debug") else "other")] += size
        elif is_component and section in (1, 4):  # a nested core module or component
            walk(body, totals)
        elif not is_component and section == 10:
            totals["code"] += size
        elif not is_component and section == 11:
            totals["data"] += size
        else:
            totals["other"] += size
        at += size


for path in sys.argv[1:]:
    data = open(path, "rb").read()
    totals = Counter()
    walk(data, totals)
    custom = sum(size for kind, size in totals.items() if kind.startswith("custom"))
    parts = ", ".join(f"{kind} {size / 1e6:.2f} MB" for kind, size in totals.most_common())
    print(f"{path}: {len(data) / 1e6:.2f} MB; strippable {custom / 1e6:.2f} MB ({100 * custom / len(data):.0f}%); {parts}")
