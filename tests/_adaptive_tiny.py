"""The tiny ROM problem as a TOML config with an [adaptive] table; serial preparation script.

``python tests/_adaptive_tiny.py DIR [--run]`` (a plain process, one MPI rank): HF training case,
reduced model, indicator calibration (training case + an outside loading), the HF reference of
the adaptive loading, the config ``DIR/adaptive.toml``; with ``--run`` also the serial adaptive
run into ``DIR/serial`` (the P = 1 reference of the MPI tests).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _rom_tiny import HF  # noqa: E402

#: the adaptive loading: far above the training box (p in [100, 150], dT in [0, 200])
PARAMS = {"p": 220.0, "dT": 300.0}
N_STEPS, T_END = 10, 2.0
TOL = 1e-4


def _value(v):
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    return json.dumps(v)


def to_toml(data: dict) -> str:
    """Enough TOML for the HF dicts of the tests (tables, arrays of tables, inline values)."""
    lines: list[str] = []

    def table(name: str, t: dict) -> None:
        scalars = {k: v for k, v in t.items() if not isinstance(v, dict) and not
                   (isinstance(v, list) and v and isinstance(v[0], dict))}
        lines.append(f"[{name}]")
        lines.extend(f"{k} = {_value(v)}" for k, v in scalars.items())
        for k, v in t.items():
            if isinstance(v, dict) and k not in scalars:
                table(f"{name}.{k}", v)

    for k, v in data.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            for item in v:
                lines.append(f"[[{k}]]")
                lines.extend(f"{kk} = {_value(vv)}" for kk, vv in item.items())
        elif isinstance(v, dict):
            table(k, v)
    return "\n".join(lines) + "\n"


def write_config(d: Path, *, model: str = "model_cal.h5", output: str = "out", **extra) -> Path:
    ad = {"model": model, "output": output, "tolerance": TOL, "parameters": dict(PARAMS), "t_end": T_END,
          "n_steps": N_STEPS, "reference": "reference.h5"}
    ad.update(extra)
    path = Path(d) / "adaptive.toml"
    path.write_text(to_toml(dict(HF, adaptive=ad)))
    return path


def prepare(d: Path) -> Path:
    """Everything the adaptive tests need, built serially in ``d``; returns the config path."""
    from mpi4py import MPI

    from _rom_tiny import build, problem
    from distrom.mechanics.solver import solve
    from distrom.rom.indicator import calibrate_model
    from distrom.rom.model import ReducedModel

    d = Path(d)
    case, model_path = build(d, MPI.COMM_SELF)
    times = np.linspace(0.0, T_END, N_STEPS + 1)[1:]
    solve(problem(), d / "reference.h5", MPI.COMM_SELF, times=times,
          samples=np.array([[PARAMS["p"], PARAMS["dT"]]]), overwrite=True)
    solve(problem(), d / "calib.h5", MPI.COMM_SELF, samples=np.array([[127.0, 130.0], [300.0, 400.0]]),
          overwrite=True)
    m = ReducedModel.load(model_path)
    calibrate_model(m, [case, d / "calib.h5"])
    m.save(d / "model_cal.h5")
    return write_config(d)


if __name__ == "__main__":
    d = Path(sys.argv[1])
    cfg = prepare(d)
    if "--run" in sys.argv:
        from distrom.rom.adaptive import run_adaptive

        run_adaptive(cfg, output=d / "serial")
