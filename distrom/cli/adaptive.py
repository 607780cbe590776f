# SPDX-License-Identifier: BSD-3-Clause
"""``distrom adaptive CONFIG`` (parallel): online ROM + error indicator + HF corrections.

CONFIG is the HF problem (TOML) with an ``[adaptive]`` table (see docs/adaptive.md). Run it
under ``mpirun -n P``: the HF corrections and the basis updates use the P ranks.
``--resume`` continues from ``OUTPUT/checkpoint`` after an interruption.

``distrom adaptive MODEL --calibrate CASE [CASE ...] [-o OUT]`` (serial) fits the indicator's
calibration on the steps of HF cases (training and validation) and stores it in the model.
"""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("adaptive", help="online ROM with error indicator and HF corrections (parallel)",
                       description="Run the reduced model over a loading history; when the calibrated error "
                       "indicator exceeds the tolerance, compute one HF step on the ranks, restarted from the "
                       "ROM state, enrich the bases (incremental POD, ECM from the current points) and go on. "
                       "With --calibrate: fit the indicator calibration of MODEL on HF cases.")
    p.add_argument("config", help="TOML file with the HF problem and an [adaptive] table "
                   "(with --calibrate: the reduced-model file)")
    p.add_argument("--output", "-o", default=None,
                   help="output directory (overrides [adaptive] output); with --calibrate: the model file "
                   "to write (default: update MODEL in place)")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/checkpoint")
    p.add_argument("--calibrate", nargs="+", default=None, metavar="CASE",
                   help="HF cases (training/validation) whose steps calibrate the indicator")
    p.add_argument("--quantity", default=None, help="dual quantity of the indicator (default stress)")
    p.add_argument("--level", type=float, default=0.95, help="coverage of the upper band (default 0.95)")
    p.set_defaults(func=run, _parallel=True)


def run(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    if args.calibrate:
        return _calibrate(args, comm)
    from distrom.rom.adaptive import run_adaptive

    s = run_adaptive(args.config, comm, output=args.output, resume=args.resume)
    if comm.rank == 0:
        err = "" if s["max_true_error"] is None else (
            f"; max error {s['max_true_error']:.2e} (plain ROM {s['max_plain_error'] or float('nan'):.2e})")
        print(f"adaptive: {s['n_steps']} steps, {s['n_corrections']} HF corrections "
              f"({100 * s['correction_fraction']:.0f} %), final model {s['final_n_modes']} modes "
              f"{s['final_n_points']} points{err}; {s['wall']:.2f} s on P = {comm.size}")
    return 0


def _calibrate(args: argparse.Namespace, comm) -> int:  # type: ignore[no-untyped-def]
    from pathlib import Path

    from distrom.parallel import agree
    from distrom.rom.indicator import calibrate_model
    from distrom.rom.model import ReducedModel

    def work() -> str:
        model = ReducedModel.load(args.config)
        cal = calibrate_model(model, args.calibrate, quantity=args.quantity, level=args.level)
        out = Path(args.output) if args.output else Path(args.config)
        model.save(out)
        return (f"{out}: indicator calibration on {cal.n_pairs} steps: log10 e = {cal.intercept:.3f} + "
                f"{cal.slope:.3f} log10 eta, upper band +{cal.band:.3f} decades ({100 * cal.level:.0f} %), "
                f"Spearman {cal.spearman:.3f}")

    msg = agree(lambda: work() if comm.rank == 0 else "", comm)
    if comm.rank == 0:
        print(msg)
    return 0
