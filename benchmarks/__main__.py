# SPDX-License-Identifier: BSD-3-Clause
"""``python -m benchmarks NAME [options]``: run ``benchmarks/NAME.py``'s ``main``.

``python -m benchmarks all`` runs every benchmark with its defaults, one after the other
(``make bench``; long: the blade study alone takes tens of minutes on 2 cores).
"""
from __future__ import annotations

import importlib
import pkgutil
import sys
from pathlib import Path


def available() -> list[str]:
    here = Path(__file__).parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)])
                  if not m.name.startswith("_") and m.name != "common")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m benchmarks NAME [options] | all\n\nbenchmarks: " + ", ".join(available()))
        return 0
    name = argv[0]
    if name == "all":
        codes = [main([n]) for n in available()]
        return max(codes, default=0)
    if name not in available():
        print(f"unknown benchmark {name!r}; available: {', '.join(available())}", file=sys.stderr)
        return 2
    return int(importlib.import_module(f"benchmarks.{name}").main(argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
