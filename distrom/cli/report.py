# SPDX-License-Identifier: BSD-3-Clause
"""``distrom report SOURCE -o DIR``: plots and a Markdown summary of a study or a reduced model."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="plots and summary of a study",
                       description="PNG plots (singular values, ROM vs HF errors over time, timings) and "
                       "summary.md, from a study output directory (distrom run) or a reduced-model file.")
    p.add_argument("source", help="study output directory (with validation.json and model.h5) or a model file")
    p.add_argument("-o", "--output", default=None, help="report directory (default: SOURCE/report)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from distrom.errors import InputError
    from distrom.rom.report import write_report

    src = Path(args.source)
    from distrom.rom.adaptive_report import is_adaptive_output, write_adaptive_report

    if is_adaptive_output(src):  # a 'distrom adaptive' output directory (issue 9)
        print(f"report: {write_adaptive_report(src, Path(args.output) if args.output else src / 'report')}")
        return 0
    if src.is_dir() and not (src / "validation.json").exists():
        raise InputError(f"'{src}' is a directory without validation.json: not a study output (run 'distrom run' first)")
    out = Path(args.output) if args.output else (src / "report" if src.is_dir() else src.with_suffix("") .with_name(src.stem + "-report"))
    print(f"report: {write_report(src, out)}")
    return 0
