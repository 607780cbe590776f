# SPDX-License-Identifier: BSD-3-Clause
"""Blade benchmark: HF solve time per step at P = 1 vs 2 and the ROM study's speedup/errors.

``python -m benchmarks blade [--repeats N] [--study-dir DIR ...] [--keep-hf]``

* HF: the unseen test loading of ``examples/blade/rom_study.toml`` (106,722 dofs, Chaboche,
  centrifugal + thermal, one shortened cycle, MUMPS Cholesky) solved as
  ``mpirun -n P python benchmarks/blade.py --solve`` at P = 1 and 2, interleaved; the solver's
  own wall time (set-up + steps + case writing, no imports / process start).
* ROM: read from the ``validation.json`` of a finished ``distrom run examples/blade/rom_study.toml``
  (default ``demo-output/blade``; ``--study-dir`` repeated for several studies, e.g. also
  ``demo-output/blade_2cycles`` of ``rom_study_2cycles.toml``): online time (serial, MPI-free,
  median of repeats), the 2-rank HF time of the same loading, speedup, displacement / stress
  errors. ``--keep-hf`` keeps the HF timings of the existing JSON instead of re-measuring.

Writes ``benchmarks/results/blade.json``; the rows of docs/performance.md are added by hand.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STUDY = ROOT / "examples" / "blade" / "rom_study.toml"


def _solve_main() -> int:
    from mpi4py import MPI

    from distrom.mechanics.solver import solve
    from distrom.rom.offline import load_problem
    from distrom.rom.study import load_study

    study = load_study(STUDY)
    pb = load_problem(study.path)
    with tempfile.TemporaryDirectory() as d:
        d = MPI.COMM_WORLD.bcast(d, root=0)
        res = solve(pb, Path(d) / "bench.h5", MPI.COMM_WORLD, samples=study.test[:1], overwrite=True)
        MPI.COMM_WORLD.Barrier()
    if MPI.COMM_WORLD.rank == 0:
        print(json.dumps({"wall": res.wall_time, "n_dofs": res.n_dofs, "steps": res.n_steps,
                          "newton": int(sum(res.newton_iterations)), "cuts": res.cuts,
                          "linear": res.linear_solver}))
    return 0


def _solve_once(P: int) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_COMM", "PMIX_"))}
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    cmd = ["mpirun", "-n", str(P), sys.executable, str(Path(__file__)), "--solve"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=ROOT, timeout=3600)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return json.loads([ln for ln in out.stdout.splitlines() if ln.startswith("{")][-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks blade")
    ap.add_argument("--repeats", type=int, default=1, help="interleaved P = 1, 2 rounds")
    ap.add_argument("--study-dir", action="append", default=None,
                    help="output directory of a finished study (repeatable; default demo-output/blade)")
    ap.add_argument("--keep-hf", action="store_true", help="reuse the HF timings of benchmarks/results/blade.json")
    ap.add_argument("--solve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.solve:
        return _solve_main()
    from benchmarks.common import RESULTS, LoadMeter, machine_info, median, write_json

    if args.keep_hf:
        old = json.loads((RESULTS / "blade.json").read_text())
        machine, hf = old["machine"], old["hf"]
    else:
        meter = LoadMeter()
        runs: dict[int, list[dict]] = {1: [], 2: []}
        for _ in range(args.repeats):
            for P in (1, 2):
                runs[P].append(_solve_once(P))
                print(f"P={P}: {runs[P][-1]}", flush=True)
        load = meter.stop()
        r = runs[1][0]
        hf = {"loading": "study.test[0]", "n_dofs": r["n_dofs"], "steps": r["steps"], "newton": r["newton"],
              "linear_solver": r["linear"], "load": load, "raw": runs}
        for P in (1, 2):
            t = median([x["wall"] for x in runs[P]])
            hf[f"P{P}_s"], hf[f"P{P}_s_per_step"] = t, t / r["steps"]
        hf["speedup_P2"] = hf["P1_s"] / hf["P2_s"]
        machine = machine_info()
    data = {"machine": machine, "config": str(STUDY.relative_to(ROOT)), "hf": hf, "rom_studies": []}
    for d in args.study_dir or [str(ROOT / "demo-output" / "blade")]:
        vpath = Path(d) / "validation.json"
        if not vpath.exists():
            print(f"no {vpath}: study skipped", file=sys.stderr)
            continue
        v = json.loads(vpath.read_text())
        st = {"study_dir": Path(d).name}
        st.update({k: v.get(k) for k in ("title", "n_dofs", "ranks", "n_training_samples", "n_training_steps",
                                         "n_modes", "n_points", "n_points_ecm", "n_integration_points",
                                         "dual_modes", "tolerances", "timings", "total_wall")})
        st["tests"] = [{k: t[k] for k in ("parameters", "displacement_error", "stress_error", "hf_wall",
                                          "online_wall", "speedup", "online_newton", "times")} for t in v["tests"]]
        data["rom_studies"].append(st)
    print(f"wrote {write_json('blade', data)}")
    return 0


if __name__ == "__main__":
    if "--solve" in sys.argv[1:]:
        sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
