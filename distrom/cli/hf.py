# SPDX-License-Identifier: BSD-3-Clause
"""``distrom hf CONFIG -o CASE``: the embedded PETSc HF solver (run it under ``mpirun -n P``)."""
from __future__ import annotations

import argparse
import logging


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("hf", help="run the embedded PETSc HF solver on a TOML config (parallel)",
                              description="Solve the quasi-static thermo-elasto-viscoplastic problem of "
                              "CONFIG (one subdomain per MPI rank) and write the snapshots into CASE.")
    p.add_argument("config", help="TOML study/solver config (see docs/solver.md)")
    p.add_argument("-o", "--output", required=True, help="case file to write (HDF5)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing case")
    p.add_argument("--restart", metavar="CASE:STEP", help="start from step STEP of a case written by this solver")
    p.set_defaults(func=run, _parallel=True)


def run(args: argparse.Namespace) -> int:
    from distrom.errors import InputError
    from distrom.mechanics.solver import RestartState, solve
    from distrom.parallel import resolve_comm

    comm = resolve_comm(None)
    restart = None
    if args.restart:
        path, _, step = args.restart.rpartition(":")
        if not path or not step.lstrip("-").isdigit():
            raise InputError(f"--restart: expected CASE:STEP, got {args.restart!r}")
        restart = RestartState.from_case(path, int(step), comm)
    res = solve(args.config, args.output, comm, restart=restart, overwrite=args.overwrite)
    if comm.rank == 0:
        logging.getLogger("distrom.hf").info(
            "%s: %d steps, %d dofs on %d rank(s), %s, %d Newton iterations, %d cuts, %.2f s",
            args.output, res.n_steps, res.n_dofs, comm.size, res.linear_solver,
            sum(res.newton_iterations), res.cuts, res.wall_time)
    return 0
