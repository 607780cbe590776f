# SPDX-License-Identifier: BSD-3-Clause
"""``distrom offline CONFIG -o MODEL [--case CASE]`` (parallel): POD + ECM -> reduced model.

CONFIG is a TOML file with an ``[offline]`` table (``case``, ``problem``, tolerances; see
docs/rom.md). Run it under ``mpirun -n P``; the model file does not depend on ``P``.
"""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("offline", help="build a reduced model: POD + hyper-reduction (parallel)",
                       description="Build a reduced model from an HF case: POD of the displacement and of the "
                       "dual quantities, ECM + DEIM reduced integration points, reduced load operators.")
    p.add_argument("config", help="TOML file with an [offline] table (and the HF problem or a 'problem' key)")
    p.add_argument("-o", "--output", required=True, help="reduced-model file to write (HDF5)")
    p.add_argument("--case", default=None, help="training case (overrides [offline] case)")
    p.add_argument("--force", action="store_true", help="overwrite the output file")
    p.set_defaults(func=run, _parallel=True)


def run(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from distrom.rom.offline import offline

    comm = MPI.COMM_WORLD
    m = offline(args.config, args.output, comm, case=args.case, overwrite=args.force)
    if comm.rank == 0:
        d = m.describe()
        print(f"{args.output}: {d['n_modes']} modes, {d['n_points']} reduced points "
              f"({d['n_points_ecm']} ECM), duals "
              + ", ".join(f"{n} {v['n_modes']}" for n, v in d["dual"].items())
              + f"; built on P = {comm.size} in {m.provenance['timings']['total']:.2f} s")
    return 0
