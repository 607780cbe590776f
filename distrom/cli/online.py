# SPDX-License-Identifier: BSD-3-Clause
"""``distrom online MODEL --param k=v ... -o RESULT`` (serial, no MPI).

Solves the reduced model for one parameter sample over its training time grid (or
``--times``) and writes an ``online_result`` file. Imports neither mpi4py nor PETSc.
"""
from __future__ import annotations

import argparse


def _param(text: str) -> tuple[str, float]:
    from distrom.errors import InputError

    name, sep, value = text.partition("=")
    try:
        if not sep or not name.strip():
            raise ValueError
        return name.strip(), float(value)
    except ValueError:
        raise InputError(f"--param expects NAME=NUMBER, got {text!r}") from None


def _times(text: str | None) -> list[float] | None:
    from distrom.errors import InputError

    if text is None:
        return None
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise InputError(f"--times expects comma-separated numbers, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("online", help="solve a reduced model for new parameters (serial)",
                       description="Reduced Newton at the reduced integration points, Gappy-POD of the dual "
                       "quantities; optional full-field displacement (--full).")
    p.add_argument("model", help="reduced-model file (HDF5)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="parameter value (repeat)")
    p.add_argument("--times", default=None, help="comma-separated output times (default: the training grid)")
    p.add_argument("--full", action="store_true", help="also store the full displacement field")
    p.add_argument("--xdmf", default=None, metavar="OUT", help="also export the reconstructed fields to OUT.xdmf "
                   "(implies --full; reads the mesh from the training case)")
    p.add_argument("--mesh-case", default=None, help="case holding the mesh for --xdmf (default: the training case)")
    p.add_argument("--progress", action="store_true", help="one progress line per step on stderr")
    p.add_argument("-o", "--output", required=True, help="result file to write (HDF5)")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.add_argument("--json", action="store_true", help="print a JSON summary")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import logging
    import warnings

    from distrom.io._atomic import check_writable
    from distrom.rom.online import OnlineSolver, ParameterRangeWarning

    from pathlib import Path

    check_writable(Path(args.output), args.force)
    params = dict(_param(t) for t in args.param)
    solver = OnlineSolver(args.model)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ParameterRangeWarning)
        res = solver.solve(params, _times(args.times), full=args.full or bool(args.xdmf), progress=args.progress)
    for w in caught:
        logging.getLogger("distrom.online").warning("%s", w.message)
    res.save(args.output, overwrite=args.force)
    if args.xdmf:
        from distrom.rom.export import export_result_xdmf  # the case store: outside the MPI-free solve

        x = export_result_xdmf(solver, res, args.xdmf, args.mesh_case)
        print(f"wrote {x} and {x.with_suffix('.h5')}")
    summary = {"output": args.output, "parameters": params, "n_steps": len(res.times),
               "newton_iterations": int(res.iterations.sum()), "wall_time_s": res.wall_time,
               "time_per_step_ms": 1e3 * res.wall_time / len(res.times), "warnings": res.warnings}
    if args.json:
        from distrom.cli._common import print_json
        print_json(summary)
    else:
        print(f"{args.output}: {len(res.times)} steps, {int(res.iterations.sum())} Newton iterations, "
              f"{1e3 * res.wall_time:.1f} ms ({summary['time_per_step_ms']:.2f} ms per step)")
    return 0
