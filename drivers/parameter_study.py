#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Parameter study on a reduced model: sample a parameter box with scipy.stats.qmc, solve the
ROM for each sample (serial, no MPI), collect scalar outputs into HDF5 and CSV.

Usage::

    .venv/bin/python drivers/parameter_study.py sweep.toml [-o OUT]

``sweep.toml``::

    model = "demo-output/quickstart/model.h5"
    output = "demo-output/sweep"        # writes OUT.h5 and OUT.csv
    [sampling]
    method = "sobol"                    # sobol | halton | lhs | grid
    n = 64                              # samples (per axis for grid)
    seed = 0
    [parameters]                        # [min, max] per model parameter
    p = [60.0, 100.0]
    dT = [100.0, 400.0]

Outputs per sample: final and maximum displacement magnitude (with full-field modes),
maximum von Mises stress and cumulated plastic strain at the reduced points, Newton
iterations, online time, and whether a parameter left the trained range.
"""
from __future__ import annotations

import argparse
import csv
import itertools
import json
import sys
import time
import tomllib
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from distrom.errors import InputError  # noqa: E402

METHODS = ("sobol", "halton", "lhs", "grid")


def samples(method: str, n: int, lo: np.ndarray, hi: np.ndarray, seed: int) -> np.ndarray:
    """(n_samples, d) points in the box ``[lo, hi]``."""
    from scipy.stats import qmc

    d = len(lo)
    if method == "grid":
        axes = [np.linspace(a, b, n) for a, b in zip(lo, hi)]
        return np.array(list(itertools.product(*axes)), float).reshape(-1, d)
    if method == "sobol":
        u = qmc.Sobol(d, scramble=True, seed=seed).random(n)
    elif method == "halton":
        u = qmc.Halton(d, scramble=True, seed=seed).random(n)
    elif method == "lhs":
        u = qmc.LatinHypercube(d, seed=seed).random(n)
    else:
        raise InputError(f"sampling.method: expected one of {METHODS}, got {method!r}")
    return lo + u * (hi - lo)


def von_mises(s: np.ndarray) -> np.ndarray:
    dev = s.copy()
    dev[..., :3] -= s[..., :3].mean(axis=-1, keepdims=True)
    return np.sqrt(1.5 * (np.sum(dev[..., :3] ** 2, axis=-1) + 2 * np.sum(dev[..., 3:] ** 2, axis=-1)))


def run(config: Path, output: Path | None = None) -> tuple[Path, Path]:
    from distrom.io._atomic import atomic_path
    from distrom.rom.online import OnlineSolver, ParameterRangeWarning

    with open(config, "rb") as f:
        cfg = tomllib.load(f)
    base = config.parent
    model = Path(cfg.get("model", ""))
    model = model if model.is_absolute() else base / model
    out = Path(output) if output else Path(cfg.get("output", config.with_suffix("")))
    smp = cfg.get("sampling", {})
    method, n, seed = smp.get("method", "sobol"), int(smp.get("n", 16)), int(smp.get("seed", 0))
    solver = OnlineSolver(model)
    names = list(solver.model.parameter_names)
    box = cfg.get("parameters", {})
    missing = [k for k in names if k not in box]
    if missing or set(box) - set(names):
        raise InputError(f"{config}: [parameters] must give [min, max] for exactly {names}; got {sorted(box)}")
    lo = np.array([float(box[k][0]) for k in names])
    hi = np.array([float(box[k][1]) for k in names])
    X = samples(method, n, lo, hi, seed)
    full = solver.model.full_modes is not None
    cols = ["u_final_max", "u_max", "vm_max", "p_max", "newton", "online_s", "extrapolated"]
    Y = np.full((len(X), len(cols)), np.nan)
    t0 = time.perf_counter()
    for i, x in enumerate(X):
        prm = dict(zip(names, map(float, x)))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ParameterRangeWarning)
            r = solver.solve(prm, full=full)
        if full:
            mag = np.linalg.norm(r.displacement, axis=-1)
            Y[i, 0], Y[i, 1] = mag[-1].max(), mag.max()
        Y[i, 2] = von_mises(r.stress).max()
        if "cumulated_plastic_strain" in r.duals:
            Y[i, 3] = r.duals["cumulated_plastic_strain"].max()
        Y[i, 4], Y[i, 5], Y[i, 6] = r.iterations.sum(), r.wall_time, float(bool(caught))
        sys.stderr.write(f"\rsample {i + 1}/{len(X)}")
    sys.stderr.write(f"\n{len(X)} ROM solves in {time.perf_counter() - t0:.2f} s\n")
    import h5py

    h5, csv_path = out.with_suffix(".h5"), out.with_suffix(".csv")
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(h5) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["kind"] = "parameter_study"
        f.attrs["model"] = str(model)
        f.attrs["sampling"] = json.dumps({"method": method, "n": n, "seed": seed})
        f.create_dataset("parameters", data=X).attrs["names"] = json.dumps(names)
        f.create_dataset("outputs", data=Y).attrs["names"] = json.dumps(cols)
    with atomic_path(csv_path) as tmp, open(tmp, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(names + cols)
        for x, y in zip(X, Y):
            w.writerow([f"{v:.10g}" for v in list(x) + list(y)])
    return h5, csv_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path)
    ap.add_argument("-o", "--output", type=Path, default=None, help="output stem (writes STEM.h5 and STEM.csv)")
    a = ap.parse_args(argv)
    try:
        h5, c = run(a.config, a.output)
    except InputError as e:
        print(f"parameter_study: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {h5} and {c}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
