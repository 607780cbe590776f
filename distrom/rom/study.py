# SPDX-License-Identifier: BSD-3-Clause
"""``distrom run STUDY``: the main job, HF training -> offline -> online -> HF validation -> report.

The driver is a plain (non-MPI) process. It launches the parallel stages as
``mpirun -n P python -m distrom run STUDY --stage ...`` subprocesses and runs the online stage
itself, in a process that has never imported MPI, so the timing compares what a user gets:
the HF solve on ``P`` ranks against one serial process using the saved model.

Study file (TOML; see docs/rom.md)::

    [study]
    title = "quickstart"
    problem = "quickstart.toml"   # HF config; default: the HF sections of this file
    output = "demo-output"        # output directory, relative to the current directory
    ranks = 2                     # ranks of the HF and offline stages
    repeat_online = 3             # online timing: median of this many solves

    [study.training]              # parameter samples of the training set
    load = [80.0, 120.0]
    sampling = "grid"             # or "zip"; or "qmc" with n = ..., seed = ... (Sobol in the box)

    [study.test]                  # unseen samples for the validation
    load = [95.0, 110.0, 70.0]
    sampling = "zip"

    [offline]                     # see distrom.rom.offline.OfflineOptions
    primal_tol = 1e-6

Output directory: ``train.h5`` (training case), ``model.h5``, ``online/test_K.h5``,
``hf_test/test_K.h5``, ``timings_*.json``, ``validation.json`` and ``report/`` (PNG plots and
``summary.md``).
"""
from __future__ import annotations

import itertools
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import DistromError, InputError

__all__ = ["Study", "load_study", "run_study", "samples_from_table"]

log = logging.getLogger("distrom.study")

_STUDY_KEYS = {"title", "problem", "output", "ranks", "repeat_online", "training", "test", "mpirun"}


@dataclass
class Study:
    """A validated study description."""

    path: Path
    title: str
    problem_path: Path
    output: Path
    ranks: int
    training: np.ndarray
    test: np.ndarray
    parameter_names: list[str]
    repeat_online: int = 3
    mpirun: list[str] = field(default_factory=lambda: ["mpirun"])


def samples_from_table(t: dict, names: list[str], where: str) -> np.ndarray:
    """Parameter samples of a ``[study.training]``-style table, shape (n_samples, n_params).

    ``sampling = "grid"`` (Cartesian product of the lists), ``"zip"`` (lists of one length) or
    ``"qmc"`` (``n`` scrambled-Sobol points in the box given by ``[min, max]`` lists, ``seed``).
    """
    t = dict(t)
    sampling = t.pop("sampling", "grid")
    if sampling == "qmc":
        from scipy.stats import qmc

        n = t.pop("n", None)
        seed = t.pop("seed", 0)
        if not isinstance(n, int) or n < 1:
            raise InputError(f"{where}.n: sampling = 'qmc' needs an integer n >= 1, got {n!r}")
        bounds = []
        for k in names:
            b = t.get(k)
            if not (isinstance(b, list) and len(b) == 2 and all(isinstance(x, (int, float)) for x in b) and b[0] <= b[1]):
                raise InputError(f"{where}.{k}: sampling = 'qmc' needs [min, max], got {b!r}")
            bounds.append(b)
        extra = sorted(set(t) - set(names))
        if extra:
            raise InputError(f"{where}: unknown parameter(s) {extra}; the problem has {names}")
        lo, hi = np.array(bounds, float).T
        u = qmc.Sobol(len(names), scramble=True, seed=int(seed)).random(n)
        return qmc.scale(u, lo, hi) if np.all(hi > lo) else lo + u * (hi - lo)
    if sampling not in ("grid", "zip"):
        raise InputError(f"{where}.sampling: expected 'grid', 'zip' or 'qmc', got {sampling!r}")
    unknown = sorted(set(t) - set(names))
    missing = [k for k in names if k not in t]
    if unknown or missing:
        raise InputError(f"{where}: parameters {sorted(t)} do not match the problem's {names}"
                         + (f" (unknown: {unknown})" if unknown else "") + (f" (missing: {missing})" if missing else ""))
    lists = []
    for k in names:
        v = t[k]
        v = [v] if isinstance(v, (int, float)) and not isinstance(v, bool) else v
        if not isinstance(v, list) or not v or not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v):
            raise InputError(f"{where}.{k}: expected a non-empty list of numbers, got {v!r}")
        lists.append([float(x) for x in v])
    if sampling == "grid":
        return np.array(list(itertools.product(*lists)), float).reshape(-1, len(names))
    if len({len(x) for x in lists}) != 1:
        raise InputError(f"{where}: sampling = 'zip' needs lists of one length, got "
                         f"{dict(zip(names, map(len, lists)))}")
    return np.array(list(zip(*lists)), float).reshape(-1, len(names))


def load_study(path: str | os.PathLike, *, output: str | os.PathLike | None = None,
               ranks: int | None = None) -> Study:
    """Read and validate a study file (InputError naming the file and key)."""
    from distrom.rom.offline import load_problem, parse_offline_options, read_toml

    path = Path(path)
    data = read_toml(path)
    st = data.get("study")
    if not isinstance(st, dict):
        raise InputError(f"{path}: missing table [study] (title, problem, output, ranks, [study.training], [study.test])")
    unknown = sorted(set(st) - _STUDY_KEYS)
    if unknown:
        raise InputError(f"{path}: [study] unknown key(s) {unknown}; accepted: {', '.join(sorted(_STUDY_KEYS))}")
    off = data.get("offline", {})
    if not isinstance(off, dict):
        raise InputError(f"{path}: [offline] must be a table")
    parse_offline_options(off, str(path))  # validate early, naming the key
    # the HF problem: [offline] problem, else [study] problem, else the HF sections of this file
    ref = off.get("problem", st.get("problem"))
    prob_path = path
    if ref is not None:
        prob_path = Path(ref)
        prob_path = prob_path if prob_path.is_absolute() else path.parent / prob_path
        problem = load_problem(prob_path)
    else:
        problem = load_problem(path, data)
    names = list(problem.parameter_names)
    training = samples_from_table(st["training"], names, f"{path}: study.training") if "training" in st \
        else np.asarray(problem.samples, float)
    if "test" not in st:
        raise InputError(f"{path}: missing table [study.test] (the unseen parameters of the validation)")
    test = samples_from_table(st["test"], names, f"{path}: study.test")
    nr = ranks if ranks is not None else st.get("ranks", 2)
    if isinstance(nr, bool) or not isinstance(nr, int) or nr < 1:
        raise InputError(f"{path}: study.ranks: expected an integer >= 1, got {nr!r}")
    rep = st.get("repeat_online", 3)
    if isinstance(rep, bool) or not isinstance(rep, int) or rep < 1:
        raise InputError(f"{path}: study.repeat_online: expected an integer >= 1, got {rep!r}")
    out = Path(output) if output is not None else Path(st.get("output", f"{path.stem}-output"))
    mpirun = st.get("mpirun", ["mpirun"])
    mpirun = [mpirun] if isinstance(mpirun, str) else list(mpirun)
    return Study(path.resolve(), str(st.get("title", path.stem)), prob_path.resolve(), out.resolve(), nr,
                 training, test, names, rep, mpirun)


# ------------------------------------------------------------------------------------------
# parallel stages (run under mpirun by the driver)
# ------------------------------------------------------------------------------------------
def run_stage(stage: str, study_path: str, output: str, comm: Any = None) -> None:
    """One parallel stage: ``hf-train``, ``hf-test`` or ``offline``. Collective."""
    from distrom.mechanics.solver import solve
    from distrom.parallel import resolve_comm
    from distrom.rom.offline import build_model, load_problem, parse_offline_options, read_toml

    comm = resolve_comm(comm)
    study = load_study(study_path, output=output)
    out = study.output
    problem = load_problem(study.problem_path) if study.problem_path != study.path else load_problem(study.path)
    timings: dict[str, Any] = {"ranks": comm.size, "stage": stage}
    t0 = time.perf_counter()
    if stage == "hf-train":
        res = solve(problem, out / "train.h5", comm, samples=study.training, overwrite=True)
        timings.update(wall=res.wall_time, n_dofs=res.n_dofs, n_steps=res.n_steps,
                       newton=int(sum(res.newton_iterations)), linear_solver=res.linear_solver)
    elif stage == "hf-test":
        (out / "hf_test").mkdir(exist_ok=True) if comm.rank == 0 else None
        comm.Barrier()
        per = []
        for k, s in enumerate(study.test):
            comm.Barrier()
            tk = time.perf_counter()
            res = solve(problem, out / "hf_test" / f"test_{k}.h5", comm, samples=s[None, :], overwrite=True)
            per.append({"wall": time.perf_counter() - tk, "solver_wall": res.wall_time, "n_steps": res.n_steps,
                        "newton": int(sum(res.newton_iterations)), "n_dofs": res.n_dofs})
        timings["samples"] = per
    elif stage == "offline":
        opts = parse_offline_options(read_toml(study.path).get("offline", {}), str(study.path))
        model = build_model(out / "train.h5", problem, opts, comm, source_config=str(study.path))
        if comm.rank == 0:
            model.save(out / "model.h5")
        comm.Barrier()
        timings.update(model.provenance.get("timings", {}))
    else:
        raise InputError(f"unknown stage {stage!r}; expected hf-train, hf-test or offline")
    timings["stage_wall"] = time.perf_counter() - t0
    if comm.rank == 0:
        (out / f"timings_{stage}.json").write_text(json.dumps(timings, indent=2))


# ------------------------------------------------------------------------------------------
# the driver
# ------------------------------------------------------------------------------------------
def _launch(study: Study, stage: str) -> None:
    cmd = [sys.executable, "-m", "distrom", "run", str(study.path), "--stage", stage, "--output", str(study.output)]
    # a driver started from inside an MPI job (a test, a notebook that imported mpi4py) must not
    # hand its own job's variables to mpirun: keep only the user's settings
    keep = ("OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "OMPI_MCA_rmaps_base_oversubscribe")
    env = {k: v for k, v in os.environ.items()
           if not (k.startswith(("OMPI_", "PMIX_", "PMI_")) and k not in keep) and k != "H5PY_ALWAYS_USE_MPI"}
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    env.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per rank
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    if study.ranks > 1 or shutil.which(study.mpirun[0]):
        if not shutil.which(study.mpirun[0]):
            raise InputError(f"study.mpirun: '{study.mpirun[0]}' not found on PATH (needed for ranks = {study.ranks})")
        cmd = study.mpirun + ["-n", str(study.ranks)] + cmd[:1] + ["-m", "mpi4py"] + cmd[1:]
    log.info("stage %s: %s", stage, " ".join(cmd))
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env)
    if proc.returncode != 0:
        raise DistromError(f"stage '{stage}' failed (exit code {proc.returncode}); command: {' '.join(cmd)}")
    log.info("stage %s done in %.1f s", stage, time.perf_counter() - t)


def run_online(study: Study) -> dict:
    """Online solves of the test samples in this (MPI-free) process; returns timings."""
    from distrom.rom.online import OnlineSolver

    out = study.output
    (out / "online").mkdir(exist_ok=True)
    t0 = time.perf_counter()
    solver = OnlineSolver(out / "model.h5")
    t_load = time.perf_counter() - t0
    per = []
    names = study.parameter_names
    for k, s in enumerate(study.test):
        prm = dict(zip(names, (float(x) for x in s)))
        walls, res = [], None
        for _ in range(study.repeat_online):
            res = solver.solve(prm, full=False)
            walls.append(res.wall_time)
        res = solver.solve(prm, full=True)  # reconstruction outside the timed solves
        res.save(out / "online" / f"test_{k}.h5")
        per.append({"parameters": prm, "wall": statistics.median(walls), "walls": walls,
                    "n_steps": len(res.times), "newton": int(res.iterations.sum()), "warnings": res.warnings})
        log.info("online test %d %s: %.2f ms (%d steps, %d Newton iterations)", k, prm,
                 1e3 * per[-1]["wall"], len(res.times), per[-1]["newton"])
    t = {"load": t_load, "samples": per, "mpi_imported": "mpi4py.MPI" in sys.modules}
    (out / "timings_online.json").write_text(json.dumps(t, indent=2))
    return t


def validate(study: Study) -> dict:
    """Errors of the online results against the HF test cases (serial reads); writes validation.json."""
    import h5py

    from distrom.rom.model import ReducedModel
    from distrom.rom.online import load_result

    out = study.output
    model = ReducedModel.load(out / "model.h5", full=False)
    t_on = json.loads((out / "timings_online.json").read_text())
    t_hf = json.loads((out / "timings_hf-test.json").read_text())
    tests = []
    for k, s in enumerate(study.test):
        r = load_result(out / "online" / f"test_{k}.h5")
        with h5py.File(out / "hf_test" / f"test_{k}.h5", "r") as f:
            # the case store layout (docs/formats.md): fields/<name>/values (n_steps, n_rows, n_comp)
            U = np.asarray(f["fields/U/values"][...])
            S = np.asarray(f["fields/sig/values"][...])[:, model.point_ids]
            hf_times = np.asarray(f["steps/time"][...])
        if len(hf_times) != len(r.times) or not np.allclose(hf_times, r.times):
            raise DistromError(f"test {k}: HF times {hf_times.tolist()} differ from the online times {r.times.tolist()}")
        dU = (r.displacement - U).reshape(len(U), -1)
        dS = (r.stress - S).reshape(len(S), -1)
        nU = float(np.linalg.norm(U))
        nS = float(np.linalg.norm(S))
        hf_wall = t_hf["samples"][k]["wall"]
        on_wall = t_on["samples"][k]["wall"]
        tests.append({
            "parameters": dict(zip(study.parameter_names, (float(x) for x in s))),
            "displacement_error": float(np.linalg.norm(dU)) / nU if nU else 0.0,
            "stress_error": float(np.linalg.norm(dS)) / nS if nS else 0.0,
            # per step, relative to the space-time norm (sums up to the total in quadrature)
            "displacement_error_t": (np.linalg.norm(dU, axis=1) / max(nU, 1e-300)).tolist(),
            "stress_error_t": (np.linalg.norm(dS, axis=1) / max(nS, 1e-300)).tolist(),
            "displacement_error_step": (np.linalg.norm(dU, axis=1) / np.maximum(
                np.linalg.norm(U.reshape(len(U), -1), axis=1), 1e-300)).tolist(),
            "times": r.times.tolist(),
            "hf_wall": hf_wall, "online_wall": on_wall, "speedup": hf_wall / on_wall if on_wall > 0 else float("inf"),
            "online_newton": t_on["samples"][k]["newton"], "warnings": t_on["samples"][k]["warnings"],
            "in_training_range": not t_on["samples"][k]["warnings"],
        })
    tr = json.loads((out / "timings_hf-train.json").read_text())
    off = json.loads((out / "timings_offline.json").read_text())
    v = {"title": study.title, "ranks": study.ranks, "n_dofs": tr.get("n_dofs"),
         "n_training_samples": int(len(study.training)), "n_training_steps": tr.get("n_steps"),
         "n_modes": model.n_modes, "n_points": model.n_points,
         "n_points_ecm": int(np.count_nonzero(model.weights > 0)),
         "n_integration_points": model.provenance.get("n_integration_points"),
         "dual_modes": {n: d.n_modes for n, d in model.dual.items()},
         "tolerances": {k: model.provenance.get(k) for k in ("primal_tol", "primal_rank", "dual_tol", "dual_rank",
                                                             "ecm_tol", "ecm_error")},
         "timings": {"hf_train": tr.get("wall"), "offline": off.get("stage_wall"), "offline_parts": off,
                     "online_load": t_on["load"]},
         "online_imported_mpi": t_on["mpi_imported"], "tests": tests}
    (out / "validation.json").write_text(json.dumps(v, indent=2))
    return v


def run_study(path: str | os.PathLike, *, output: str | os.PathLike | None = None, ranks: int | None = None,
              skip_hf_train: bool = False) -> dict:
    """The whole study (driver; launches the parallel stages). Returns the validation dict."""
    study = load_study(path, output=output, ranks=ranks)
    study.output.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    if not (skip_hf_train and (study.output / "train.h5").exists()):
        _launch(study, "hf-train")
    _launch(study, "offline")
    run_online(study)
    _launch(study, "hf-test")
    v = validate(study)
    from distrom.rom.report import write_report

    v["report"] = str(write_report(study.output, study.output / "report"))
    v["total_wall"] = time.perf_counter() - t0
    (study.output / "validation.json").write_text(json.dumps(v, indent=2))
    return v
