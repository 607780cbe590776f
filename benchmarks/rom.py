# SPDX-License-Identifier: BSD-3-Clause
"""Online cost of the reduced model vs the HF mesh size, and the quickstart speedup.

``python -m benchmarks rom [--ranks P] [--work DIR] [--repeats N]``

The quickstart problem (``examples/quickstart/block.toml``) on two box meshes 8x apart in
cells (``10 x 3 x 2`` and ``20 x 6 x 4`` hex8). Each gets HF snapshots of 2 training samples
on ``P`` ranks and a reduced model of the *same dimensions*: 8 primal modes, 8 modes per dual
quantity, ECM stopped at 60 points (plus the QDEIM points of the dual bases). The online
solves of one unseen loading on the two models run interleaved in this MPI-free process
(median of ``--repeats``); their time per step must not depend on the HF size (acceptance:
within 20 %). The HF solve of the same loading on ``P`` ranks gives the speedup.

Writes ``benchmarks/results/rom.json`` and the ``bench:rom`` section of docs/performance.md.
The machine is shared: the report records how busy the other processes kept it.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import ROOT, interleaved, machine_info, md_table, median, update_doc_section, write_json

MESHES = {"coarse": [10, 3, 2], "fine": [20, 6, 4]}
TRAIN = {"p": [4.0, 8.0], "dT": [120.0, 120.0]}
TEST = {"p": 6.0, "dT": 120.0}
OFFLINE = ("[offline]\nprimal_tol = 0.0\nprimal_rank = 8\ndual_tol = 0.0\ndual_rank = 8\necm_tol = 1e-12\n"
           "ecm_modes = 8\necm_max_points = 60\nfull_field = false\n")


def _env() -> dict:
    env = dict(os.environ)
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    return env


def _mpirun(ranks: int, args: list[str]) -> float:
    cmd = ["mpirun", "-n", str(ranks), sys.executable, "-m", "mpi4py", "-m", "distrom"] + args
    t = time.perf_counter()
    subprocess.run(cmd, check=True, env=_env(), cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t


def _config(n: list[int], params: dict, sampling: str) -> str:
    text = (ROOT / "examples" / "quickstart" / "block.toml").read_text()
    text = re.sub(r"(?m)^n = \[.*\]$", f"n = {n}", text, count=1)
    head, _, _ = text.partition("[parameters]")
    lines = "\n".join(f"{k} = {v if isinstance(v, list) else [v]}" for k, v in params.items())
    return head + f"[parameters]\n{lines}\nsampling = \"{sampling}\"\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks rom")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--work", default=str(ROOT / "demo-output" / "bench_rom"))  # git-ignored
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    from distrom.rom.online import OnlineSolver

    out: dict = {"machine": machine_info(), "ranks": args.ranks, "meshes": {}}
    solvers = {}
    for name, n in MESHES.items():
        d = work / name
        d.mkdir(exist_ok=True)
        (d / "train.toml").write_text(_config(n, TRAIN, "zip"))
        (d / "test.toml").write_text(_config(n, TEST, "zip"))
        (d / "offline.toml").write_text(OFFLINE + 'case = "train.h5"\nproblem = "train.toml"\n')
        t_train = _mpirun(args.ranks, ["hf", str(d / "train.toml"), "-o", str(d / "train.h5"), "--overwrite"])
        t_off = _mpirun(args.ranks, ["offline", str(d / "offline.toml"), "-o", str(d / "model.h5"), "--force"])
        t_hf = _mpirun(args.ranks, ["hf", str(d / "test.toml"), "-o", str(d / "test.h5"), "--overwrite"])
        s = OnlineSolver(d / "model.h5")
        solvers[name] = s
        m = s.model
        out["meshes"][name] = {"n": n, "n_cells": n[0] * n[1] * n[2], "n_dofs": m.provenance["n_dofs"],
                               "n_integration_points": m.provenance["n_integration_points"],
                               "n_modes": m.n_modes, "n_points": m.n_points,
                               "hf_train_wall": t_train, "offline_wall": t_off, "hf_test_wall": t_hf}
    res = {}

    def job(name: str):
        def f() -> None:
            res[name] = solvers[name].solve(TEST)
        return f

    times, load = interleaved({k: job(k) for k in MESHES}, repeats=args.repeats)
    for name in MESHES:
        r = res[name]
        e = out["meshes"][name]
        e["online_wall"] = median(times[name])
        e["online_walls"] = times[name]
        e["online_loop_wall"] = r.wall_time
        e["n_steps"] = len(r.times)
        e["newton"] = int(r.iterations.sum())
        e["per_step_ms"] = 1e3 * e["online_wall"] / e["n_steps"]
        e["per_iteration_ms"] = 1e3 * e["online_wall"] / e["newton"]
        e["speedup"] = e["hf_test_wall"] / e["online_wall"]
    c, f = out["meshes"]["coarse"], out["meshes"]["fine"]
    out["ratio_per_step"] = f["per_step_ms"] / c["per_step_ms"]
    out["ratio_per_iteration"] = f["per_iteration_ms"] / c["per_iteration_ms"]
    out["load"] = load
    write_json("rom", out)
    rows = [[k, e["n_cells"], e["n_dofs"], e["n_modes"], e["n_points"], e["newton"], e["per_step_ms"],
             e["per_iteration_ms"], e["hf_test_wall"], e["speedup"]] for k, e in out["meshes"].items()]
    md = ("Online cost vs HF size (`python -m benchmarks rom`): the quickstart problem on two meshes 8x apart, "
          "models of the same dimensions (r modes, q reduced points), one unseen loading "
          f"(p = {TEST['p']:g}, dT = {TEST['dT']:g}), {out['meshes']['fine']['n_steps']} steps; online = median of "
          f"{args.repeats} interleaved solves in one MPI-free process, HF = `distrom hf` on {args.ranks} ranks "
          "(process start included).\n\n"
          + md_table(["mesh", "cells", "dofs", "r", "q", "Newton its", "online ms/step", "online ms/iteration",
                      "HF s", "speedup"], rows)
          + f"\n\nFine/coarse online time per step: {out['ratio_per_step']:.2f} (per Newton iteration "
          f"{out['ratio_per_iteration']:.2f}); acceptance: within 20 %. Machine shared with other jobs "
          f"(other processes used {100 * load['other_cpu_fraction']:.0f} % of the CPUs, load average "
          f"{load['loadavg_1min']}); {out['machine']['date']}.\n")
    update_doc_section("rom", md)
    print(json.dumps({k: out[k] for k in ("ratio_per_step", "ratio_per_iteration")} |
                     {k: {x: e[x] for x in ("n_dofs", "n_points", "per_step_ms", "speedup")}
                      for k, e in out["meshes"].items()}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
