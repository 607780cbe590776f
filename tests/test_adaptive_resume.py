"""Kill and resume: the adaptive loop stopped at step k by the test hook, resumed from its
checkpoint, ends with the same model and timeline as an uninterrupted run (subprocesses)."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
KILL_AT = 3   # after corrections (step 0 at least): the checkpoint holds an updated model


def _run(cfg: Path, out: Path, *extra: str, fail_at: int | None = None) -> subprocess.CompletedProcess:
    from conftest import clean_subprocess_env

    env = clean_subprocess_env()
    env.pop("DISTROM_ADAPTIVE_FAIL_AT_STEP", None)
    if fail_at is not None:
        env["DISTROM_ADAPTIVE_FAIL_AT_STEP"] = str(fail_at)
    return subprocess.run([sys.executable, "-m", "distrom", "adaptive", str(cfg), "-o", str(out), *extra],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def _same_models(a: Path, b: Path) -> None:
    with h5py.File(a, "r") as f, h5py.File(b, "r") as g:
        names: list[str] = []
        f.visit(lambda n: names.append(n) if isinstance(f[n], h5py.Dataset) else None)
        other: list[str] = []
        g.visit(lambda n: other.append(n) if isinstance(g[n], h5py.Dataset) else None)
        assert sorted(names) == sorted(other)
        for n in names:
            np.testing.assert_array_equal(f[n][...], g[n][...], err_msg=n)


def test_kill_and_resume_gives_the_same_final_model(tmp_path):
    from conftest import clean_subprocess_env

    subprocess.run([sys.executable, str(HERE / "_adaptive_tiny.py"), str(tmp_path)], check=True,
                   env=clean_subprocess_env(), cwd=ROOT, timeout=300)
    cfg = tmp_path / "adaptive.toml"
    full = _run(cfg, tmp_path / "full")
    assert full.returncode == 0, full.stderr
    cut = _run(cfg, tmp_path / "cut", fail_at=KILL_AT)
    assert cut.returncode != 0 and "test hook" in cut.stderr
    assert not (tmp_path / "cut" / "model.h5").exists()          # the run did not finish
    with h5py.File(tmp_path / "cut" / "checkpoint" / "state.h5", "r") as f:
        assert int(f.attrs["next_step"]) == KILL_AT
        assert int(f.attrs["n_updates"]) >= 1                      # an updated model is checkpointed
    res = _run(cfg, tmp_path / "cut", "--resume")
    assert res.returncode == 0, res.stderr
    _same_models(tmp_path / "full" / "model.h5", tmp_path / "cut" / "model.h5")
    a = json.loads((tmp_path / "full" / "timeline.json").read_text())["timeline"]
    b = json.loads((tmp_path / "cut" / "timeline.json").read_text())["timeline"]
    skip = {"t_online", "t_indicator", "t_hf", "t_update"}          # wall-clock costs differ
    assert [{k: v for k, v in r.items() if k not in skip} for r in a] == \
        [{k: v for k, v in r.items() if k not in skip} for r in b]
    with h5py.File(tmp_path / "full" / "adaptive.h5", "r") as f, h5py.File(tmp_path / "cut" / "adaptive.h5") as g:
        np.testing.assert_array_equal(f["displacement"][...], g["displacement"][...])
    # a resume with nothing to resume from says so
    none = _run(cfg, tmp_path / "empty", "--resume")
    assert none.returncode != 0 and "no checkpoint" in none.stderr
