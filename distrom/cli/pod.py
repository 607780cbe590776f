# SPDX-License-Identifier: BSD-3-Clause
"""``distrom pod CASE --field NAME [--tol 1e-6] [--rank K] [--method ...] -o BASIS`` (parallel).

Reads the snapshots of one field of a case (each rank its rows, progress bar on rank 0),
runs :func:`distrom.reduction.pod.pod` and writes the basis with
:func:`distrom.io.basis.save_basis`. Run it under ``mpirun -n P`` for a distributed POD.
"""
from __future__ import annotations

import argparse
import logging
import warnings

log = logging.getLogger(__name__)


def _steps(text: str | None) -> list[int] | None:
    """``"0:10"``, ``"0:10:2"`` or ``"1,4,7"`` -> step indices."""
    from distrom.errors import InputError

    if text is None:
        return None
    try:
        if ":" in text:
            parts = [int(p) if p.strip() else None for p in text.split(":")]
            if len(parts) > 3 or parts[1] is None:
                raise ValueError
            start, stop = parts[0] or 0, parts[1]
            step = parts[2] if len(parts) == 3 and parts[2] else 1
            return list(range(start, stop, step))
        return [int(p) for p in text.split(",") if p.strip()]
    except (TypeError, ValueError):
        raise InputError(f"--steps must look like '0:10', '0:10:2' or '1,4,7', got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pod", help="POD of one field of a case (parallel)",
                       description="Proper orthogonal decomposition of the snapshots of one field. "
                       "Truncation: sum of the discarded sigma_k^2 <= tol^2 * sum of all sigma_k^2.")
    p.add_argument("case", help="case file (HDF5)")
    p.add_argument("--field", required=True, help="field name in the case")
    p.add_argument("--tol", type=float, default=None, help="relative energy tolerance (default 1e-6 "
                   "when --rank is not given)")
    p.add_argument("--rank", type=int, default=None, help="number of modes (an upper bound with --tol)")
    p.add_argument("--method", choices=("snapshots", "svd", "randomized"), default="snapshots")
    p.add_argument("--guard", choices=("truncate", "switch", "flag"), default="truncate",
                   help="method of snapshots: what to do with modes below its accuracy limit")
    p.add_argument("--steps", default=None, help="steps to use: '0:10', '0:10:2' or '1,4,7' (default all)")
    p.add_argument("-o", "--output", required=True, help="basis file to write (HDF5)")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(func=run, _parallel=True)


def run(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from distrom.io import open_case
    from distrom.io.basis import save_basis
    from distrom.reduction.pod import PODAccuracyWarning, pod

    comm = MPI.COMM_WORLD
    tol = args.tol if args.tol is not None or args.rank is not None else 1e-6
    steps = _steps(args.steps)
    with open_case(args.case, comm) as case:
        S = case.snapshots(args.field, steps=steps)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PODAccuracyWarning)
        basis = pod(S, tol=tol, rank=args.rank, method=args.method, guard=args.guard)
    for w in caught:  # one line on rank 0 instead of one warning per rank
        log.warning("%s", w.message)
    save_basis(args.output, basis, overwrite=args.force,
               attrs={"source_case": str(args.case), "field": args.field})
    if comm.rank == 0:
        sig = basis.singular_values
        print(f"{args.output}: {basis.n_modes} modes of field '{args.field}' ({S.shape[0]} rows x "
              f"{S.shape[1]} snapshots, P = {comm.size}), method {basis.method}, criterion "
              f"{basis.criterion}, relative discarded energy {basis.discarded:.3e}, "
              f"sigma {sig[0]:.4e} .. {sig[basis.n_modes - 1]:.4e}")
    return 0
