"""CalculiX as distrom's external HF solver, from the command line.

    python drivers/calculix_hf.py TEMPLATE.inp --param E=210000,190000 --param nu=0.3,0.3 -o runs.case
    mpirun -n 2 python drivers/calculix_hf.py ...            # one ccx per rank

Each ``--param NAME=v1,v2,...`` gives the values of one placeholder ``{NAME}`` of the template
deck; all lists have the same length (one run per position). Or ``--samples FILE.json`` with a
list of ``{name: value}`` objects. See :mod:`distrom.io.calculix_runner`.
"""
from __future__ import annotations

import argparse
import json
import sys

from mpi4py import MPI

from distrom.errors import DistromError, InputError
from distrom.io.calculix_runner import run_calculix


def parse_samples(params: list[str], samples_file: str | None) -> list[dict[str, float]]:
    if samples_file:
        with open(samples_file) as fh:
            data = json.load(fh)
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise InputError(f"{samples_file}: expected a JSON list of {{name: value}} objects")
        return [{k: float(v) for k, v in d.items()} for d in data]
    cols: dict[str, list[float]] = {}
    for p in params:
        name, sep, values = p.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            cols[name.strip()] = [float(v) for v in values.split(",")]
        except ValueError:
            raise InputError(f"--param '{p}': expected NAME=v1,v2,... with numbers") from None
    lengths = {len(v) for v in cols.values()}
    if len(lengths) != 1:
        raise InputError(f"--param lists of different lengths: { {k: len(v) for k, v in cols.items()} }")
    n = lengths.pop()
    return [{k: v[i] for k, v in cols.items()} for i in range(n)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("template", help="CalculiX deck with {name} placeholders")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=v1,v2,...")
    ap.add_argument("--samples", help="JSON list of parameter dicts (instead of --param)")
    ap.add_argument("-o", "--output", required=True, help="case to write")
    ap.add_argument("--workdir", help="folder of the runs (default: OUTPUT.runs)")
    ap.add_argument("--timeout", type=float, default=None, help="seconds per ccx run")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    comm = MPI.COMM_WORLD
    try:
        out = run_calculix(args.template, parse_samples(args.param, args.samples), args.output, comm=comm,
                           workdir=args.workdir, timeout=args.timeout, overwrite=args.overwrite)
    except DistromError as e:
        if comm.rank == 0:
            sys.stderr.write(f"calculix_hf: error: {e}\n")
        return 2
    if comm.rank == 0:
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
