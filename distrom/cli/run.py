# SPDX-License-Identifier: BSD-3-Clause
"""``distrom run STUDY [--ranks P] [-o DIR]``: HF training -> offline -> online -> HF validation -> report.

Run it as a plain command (not under mpirun): it launches the parallel stages with
``mpirun -n P`` itself and runs the online stage in its own MPI-free process. The internal
``--stage`` option is what those mpirun subprocesses execute.
"""
from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the whole study: hf -> offline -> online -> report",
                       description="Run a study: HF snapshots of the training parameters on P ranks, offline "
                       "reduced model, online solves of the test parameters, HF of the same test parameters, "
                       "errors, timings and a report (PNG plots + summary.md).")
    p.add_argument("study", help="study TOML file ([study], [study.training], [study.test], [offline])")
    p.add_argument("-o", "--output", default=None, help="output directory (default: [study] output)")
    p.add_argument("--ranks", type=int, default=None, help="MPI ranks of the parallel stages (default: [study] ranks)")
    p.add_argument("--reuse-training", action="store_true", help="reuse an existing train.h5 in the output directory")
    p.add_argument("--json", action="store_true", help="print the validation summary as JSON")
    p.add_argument("--stage", choices=("hf-train", "hf-test", "offline"), default=None, help=argparse.SUPPRESS)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.stage is not None:
        # inside an mpirun subprocess: logging on rank 0 and abort on an uncaught error
        from distrom.parallel import install_abort_hook, setup_logging
        from distrom.rom.study import run_stage

        setup_logging()
        install_abort_hook()
        run_stage(args.stage, args.study, args.output)
        return 0
    from distrom.rom.study import run_study

    v = run_study(args.study, output=args.output, ranks=args.ranks, skip_hf_train=args.reuse_training)
    if args.json:
        from distrom.cli._common import print_json
        print_json({k: x for k, x in v.items() if k != "tests"} | {"tests": [
            {k: t[k] for k in ("parameters", "displacement_error", "stress_error", "hf_wall", "online_wall", "speedup")}
            for t in v["tests"]]})
    else:
        for i, t in enumerate(v["tests"]):
            prm = ", ".join(f"{n}={x:g}" for n, x in t["parameters"].items())
            print(f"test {i} ({prm}): displacement error {t['displacement_error']:.2e}, stress error "
                  f"{t['stress_error']:.2e}, HF {t['hf_wall']:.2f} s vs online {1e3 * t['online_wall']:.1f} ms "
                  f"(x{t['speedup']:.0f})")
        print(f"report: {v['report']}")
    return 0
