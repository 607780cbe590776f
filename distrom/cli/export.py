"""``distrom export CASE --xdmf OUT``: the case as XDMF + HDF5 for ParaView."""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a case to XDMF for ParaView",
                       description="Write OUT.xdmf and OUT.h5 (mesh, nodal fields, cell averages of "
                                   "integration-point fields, every step).")
    p.add_argument("case", help="case file (HDF5)")
    p.add_argument("--xdmf", required=True, metavar="OUT", help="output .xdmf path")
    p.add_argument("--field", action="append", dest="fields", help="export only this field (repeatable)")
    p.add_argument("--step", action="append", type=int, dest="steps", help="export only this step (repeatable)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from distrom.io.xdmf import export_xdmf

    out = export_xdmf(args.case, args.xdmf, fields=args.fields, steps=args.steps)
    print(f"wrote {out} and {out.with_suffix('.h5')}")
    return 0
