"""``distrom info FILE [--json]``: what a case, basis or reduced-model file holds."""
from __future__ import annotations

import argparse
import importlib

from distrom.cli._common import file_kind, generic_summary, print_json

# kind -> "module:function" returning a JSON-able dict for a path (registered by each file type)
SUMMARIZERS = {
    "case": "distrom.cli.info:case_summary",
    "basis": "distrom.io.basis:summary",
    "reduced_model": "distrom.rom.model:summary",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="summarise a case, basis or reduced-model file",
                       description="Print what a distrom file holds; --json for a machine-readable form.")
    p.add_argument("file", help="a distrom HDF5 file (case, basis, reduced model, online result)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=run)


def case_summary(path: str) -> dict:
    from mpi4py import MPI

    from distrom.io import open_case

    with open_case(path, MPI.COMM_SELF) as case:
        return case.summary()


def _summary(path: str) -> dict:
    kind = file_kind(path)
    target = SUMMARIZERS.get(kind)
    if target:
        module, func = target.split(":")
        try:
            return getattr(importlib.import_module(module), func)(path)
        except (ModuleNotFoundError, AttributeError):
            pass
    out = generic_summary(path)
    out["kind"] = kind
    return out


def _print_text(s: dict) -> None:
    kind = s.get("kind", "?")
    print(f"{s['path']}: distrom {kind} (format {s.get('distrom_format', s.get('attrs', {}).get('distrom_format', '?'))})")
    if kind == "case":
        m = s["mesh"]
        cells = ", ".join(f"{n} {t}" for t, n in m["cells"].items())
        print(f"  source:     {s['source'] or '-'}{'' if s['complete'] else '  (INCOMPLETE run)'}")
        print(f"  mesh:       {m['n_nodes']} nodes, {m['n_cells']} cells ({cells})")
        for what in ("node_sets", "cell_sets", "face_sets"):
            if m[what]:
                print(f"  {what + ':':11} {', '.join(m[what])}")
        if s["partition"]:
            p = s["partition"]
            print(f"  partition:  {p['n_parts']} parts by {p['method']}, cells per part {p['cells_per_part']}")
        t = s["times"]
        span = f" (t = {t[0]:g} .. {t[-1]:g})" if t else ""
        print(f"  steps:      {s['n_steps']}{span}")
        for name, vals in s["parameters"].items():
            print(f"  parameter:  {name} = {', '.join(f'{v:g}' for v in vals)}")
        for name, f in s["fields"].items():
            src = f"  [source: {f['source_name']}]" if f["source_name"] and f["source_name"] != name else ""
            units = f" {f['units']}" if f["units"] else ""
            print(f"  field:      {name:12s} {f['location']:4s} x{f['n_components']} "
                  f"({f['n_rows']} rows){units}{src}")
        return
    for k, v in s.items():
        if k not in ("path", "kind"):
            print(f"  {k}: {v}")


def run(args: argparse.Namespace) -> int:
    s = _summary(args.file)
    if args.json:
        print_json(s)
    else:
        _print_text(s)
    return 0
