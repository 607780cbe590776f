# SPDX-License-Identifier: BSD-3-Clause
"""Mechanics benchmark: assembly throughput and HF solve times at P = 1 vs 2.

``python -m benchmarks mechanics [--repeats N] [--blade-steps K] [--skip-blade]``

* assembly: tangent matrix (kernels + bincount + PETSc CSR insertion + assembly) and residual
  (strains + internal forces + vector assembly) per second, in elements/s, serial, for hex8,
  hex20 and tet10 boxes with an elastic tangent (the material update is not timed);
* quickstart: ``examples/quickstart/block.toml`` (the HF problem of ``make demo``) and
  ``examples/quickstart/holed_plate.toml`` (12k dofs), whole studies, at P = 1 and 2;
* blade: ``examples/blade/study.toml``, one sample, the first ``--blade-steps`` steps, P = 1, 2.

Solves run as ``mpirun -n P python benchmarks/mechanics.py --solve ...`` subprocesses,
interleaved, and report the solver's own wall time (set-up + steps + writing, no imports).
Writes ``benchmarks/results/mechanics.json`` and the ``mechanics`` section of
``docs/performance.md``.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def _assembly_rates(repeats: int) -> list[list]:
    from mpi4py import MPI

    from benchmarks.common import interleaved, median
    from distrom.mechanics.assembly import Assembler
    from distrom.mesh.box import box_mesh
    from distrom.mesh.partition import partition_mesh

    rows = []
    E, nu = 200e3, 0.3
    lam, mu = E * nu / ((1 + nu) * (1 - 2 * nu)), E / (2 * (1 + nu))
    D = np.zeros((6, 6))
    D[:3, :3] = lam
    D[np.arange(3), np.arange(3)] += 2 * mu
    D[np.arange(3, 6), np.arange(3, 6)] = mu
    for elem, n in (("hex8", 24), ("hex20", 12), ("tet10", 10)):
        mesh = box_mesh(n, n, n, element=elem)
        part = partition_mesh(mesh, 1, MPI.COMM_SELF)
        t0 = time.perf_counter()
        asm = Assembler(mesh, part.cell_part, part.node_owner, MPI.COMM_SELF)
        t_setup = time.perf_counter() - t0
        tang = np.broadcast_to(D, (asm.n_ip_local, 6, 6)).copy()
        u = asm.create_vec()
        u.setRandom()
        f = asm.create_vec()

        def matrix():
            asm.matrix_assemble(tang)

        def residual():
            eps = asm.local_strains(asm.gather_touched(u))
            asm.vector_assemble(asm.internal_force(eps @ D.T), f)

        times, load = interleaved({"matrix": matrix, "residual": residual}, repeats=repeats)
        nc = mesh.n_cells
        rows.append([elem, nc, 3 * mesh.n_nodes, round(t_setup, 3), nc / median(times["matrix"]),
                     nc / median(times["residual"]), _load_text(load)])
    return rows


def _load_text(load: dict) -> str:
    return f"{load.get('other_cpu_fraction', float('nan')):.0%} CPU, loadavg {load.get('loadavg_1min')}"


def _solve_once(config: str, P: int, max_steps: int | None, max_samples: int | None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_COMM", "PMIX_"))}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    cmd = ["mpirun", "-n", str(P), sys.executable, str(Path(__file__)), "--solve", config]
    if max_steps:
        cmd += ["--max-steps", str(max_steps)]
    if max_samples:
        cmd += ["--max-samples", str(max_samples)]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    line = [ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1]
    return json.loads(line)


def _solve_main(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from distrom.mechanics.config import load_config
    from distrom.mechanics.solver import solve

    pb = load_config(args.solve)
    if args.max_samples:
        pb.samples = pb.samples[:args.max_samples]
    if args.max_steps:
        pb.times = pb.times[:args.max_steps]
    with tempfile.TemporaryDirectory() as d:
        d = MPI.COMM_WORLD.bcast(d, root=0)
        res = solve(pb, Path(d) / "bench.h5", MPI.COMM_WORLD, overwrite=True)
        MPI.COMM_WORLD.Barrier()
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps({"wall": res.wall_time, "n_dofs": res.n_dofs, "steps": res.n_steps,
                          "newton": int(sum(res.newton_iterations)), "linear": res.linear_solver}))
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks mechanics")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--solve-repeats", type=int, default=1)
    ap.add_argument("--blade-steps", type=int, default=1)
    ap.add_argument("--skip-blade", action="store_true")
    ap.add_argument("--skip-quickstart", action="store_true")
    ap.add_argument("--solve", help=argparse.SUPPRESS)
    ap.add_argument("--max-steps", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--max-samples", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.solve:
        return _solve_main(args)

    from benchmarks.common import LoadMeter, machine_info, md_table, median, update_doc_section, write_json

    asm_rows = _assembly_rates(args.repeats)
    cases = []
    if not args.skip_quickstart:
        cases.append(("quickstart block.toml (make demo HF, whole study)", "examples/quickstart/block.toml",
                      None, None))
        cases.append(("holed plate (whole study)", "examples/quickstart/holed_plate.toml", None, None))
    if not args.skip_blade:
        cases.append((f"blade (1 sample, {args.blade_steps} step(s))", "examples/blade/study.toml",
                      args.blade_steps, 1))
    solve_rows = []
    raw = {}
    for name, cfg, steps, samples in cases:
        runs: dict[int, list[dict]] = {1: [], 2: []}
        meter = LoadMeter()
        for _ in range(args.solve_repeats):  # interleaved P = 1, 2
            for P in (1, 2):
                runs[P].append(_solve_once(cfg, P, steps, samples))
        load = f"loadavg {meter.stop()['loadavg_1min']}"
        t1 = median([r["wall"] for r in runs[1]])
        t2 = median([r["wall"] for r in runs[2]])
        r0 = runs[1][0]
        solve_rows.append([name, r0["n_dofs"], r0["steps"], r0["newton"], r0["linear"], t1, t2,
                           t1 / t2, t1 / (2 * t2), load])
        raw[name] = runs
    write_json("mechanics", {"machine": machine_info(), "assembly": asm_rows, "solves": solve_rows, "raw": raw})
    md = ["Embedded HF solver (`python -m benchmarks mechanics`). Assembly: serial, elastic tangent, "
          "elements per second (median of interleaved repetitions); the tangent includes the "
          "kernels, the bincount into the preallocated CSR and PETSc's insertion/assembly.", "",
          md_table(["element", "cells", "dofs", "set-up s", "tangent elem/s", "residual elem/s",
                    "other load"], asm_rows), "",
          "Solves: solver wall time (set-up, steps, case writing), P = 1 vs 2 on this 2-core machine "
          "shared with other sessions (the load column says how busy they kept it).", "",
          md_table(["case", "dofs", "steps", "Newton its", "linear solver", "P=1 s", "P=2 s", "speed-up",
                    "efficiency", "other load"], solve_rows)]
    update_doc_section("mechanics", "\n".join(md))
    print("\n".join(md))
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
