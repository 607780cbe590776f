"""The study driver (distrom run), its sampling and validation, and the report."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from distrom.errors import InputError


def test_samples_grid_zip_qmc():
    from distrom.rom.study import samples_from_table

    g = samples_from_table({"a": [1.0, 2.0], "b": [10.0, 20.0, 30.0]}, ["a", "b"], "t")
    assert g.shape == (6, 2) and g[0].tolist() == [1.0, 10.0] and g[-1].tolist() == [2.0, 30.0]
    z = samples_from_table({"a": [1.0, 2.0], "b": [10.0, 20.0], "sampling": "zip"}, ["a", "b"], "t")
    assert z.tolist() == [[1.0, 10.0], [2.0, 20.0]]
    q = samples_from_table({"a": [0.0, 1.0], "b": [5.0, 6.0], "sampling": "qmc", "n": 8, "seed": 3}, ["a", "b"], "t")
    assert q.shape == (8, 2) and q[:, 0].min() >= 0 and q[:, 1].max() <= 6 and len(np.unique(q[:, 0])) == 8
    with pytest.raises(InputError, match=r"t: parameters .*missing: \['b'\]"):
        samples_from_table({"a": [1.0]}, ["a", "b"], "t")
    with pytest.raises(InputError, match="zip"):
        samples_from_table({"a": [1.0, 2.0], "b": [1.0], "sampling": "zip"}, ["a", "b"], "t")
    with pytest.raises(InputError, match=r"t.b: expected a non-empty list"):
        samples_from_table({"a": [1.0], "b": "x"}, ["a", "b"], "t")


def _study(tmp_path, extra="", test="p = [120.0]\ndT = [60.0]\nsampling = \"zip\"\n"):
    from _rom_tiny import HF
    from test_rom_offline import _toml

    cfg = dict(HF)
    cfg["time"] = {"t_end": 1.5, "n_steps": 3}
    (tmp_path / "hf.toml").write_text(_toml(cfg))
    (tmp_path / "study.toml").write_text(
        '[study]\ntitle = "tiny"\nproblem = "hf.toml"\nranks = 1\nrepeat_online = 2\n' + extra
        + '[study.training]\np = [100.0, 150.0]\ndT = [0.0, 100.0]\nsampling = "zip"\n'
        + (f"[study.test]\n{test}" if test else "")
        + '[offline]\nprimal_tol = 1e-6\ndual_tol = 1e-6\necm_tol = 1e-6\n')
    return tmp_path / "study.toml"


def test_load_study_validates(tmp_path):
    from distrom.rom.study import load_study

    s = load_study(_study(tmp_path), output=tmp_path / "out")
    assert s.parameter_names == ["p", "dT"] and s.training.shape == (2, 2) and s.test.tolist() == [[120.0, 60.0]]
    assert s.ranks == 1 and s.output == (tmp_path / "out").resolve()
    with pytest.raises(InputError, match=r"\[study\] unknown key\(s\) \['rank'\]"):
        load_study(_study(tmp_path, extra="rank = 2\n"))
    with pytest.raises(InputError, match=r"missing table \[study.test\]"):
        load_study(_study(tmp_path, test=""))
    with pytest.raises(InputError, match="study.ranks: expected an integer >= 1"):
        load_study(_study(tmp_path), ranks=0)
    p = _study(tmp_path)
    p.write_text(p.read_text().replace("ecm_tol = 1e-6", "ecm_tol = 2"))
    with pytest.raises(InputError, match=r"offline.ecm_tol: expected a number in \[0, 1\)"):
        load_study(p)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("mpirun") is None, reason="needs mpirun")
def test_distrom_run_end_to_end(tmp_path, capsys):
    """The main job on a tiny box: HF -> offline -> MPI-free online -> HF test -> report."""
    from distrom.cli.main import main

    import sys

    study = _study(tmp_path)
    mpi_before = "mpi4py.MPI" in sys.modules  # other tests of this process may have imported it
    assert main(["run", str(study), "-o", str(tmp_path / "out"), "--json"]) == 0
    v = json.loads(capsys.readouterr().out)
    t = v["tests"][0]
    assert t["parameters"] == {"p": 120.0, "dT": 60.0}
    assert t["displacement_error"] < 1e-3 and t["stress_error"] < 1e-2
    out = tmp_path / "out"
    full = json.loads((out / "validation.json").read_text())
    if not mpi_before:
        assert full["online_imported_mpi"] is False   # online ran in the MPI-free driver
    for f in ("train.h5", "model.h5", "online/test_0.h5", "hf_test/test_0.h5", "report/summary.md",
              "report/singular_values.png", "report/errors_over_time.png", "report/timings.png"):
        assert (out / f).exists(), f
    text = (out / "report" / "summary.md").read_text()
    assert "| 0 | p=120, dT=60 |" in text and "PASS" in text
    # distrom report re-draws the report from the study directory
    assert main(["report", str(out), "-o", str(tmp_path / "rep")]) == 0
    assert (tmp_path / "rep" / "errors_over_time.png").stat().st_size > 1000
