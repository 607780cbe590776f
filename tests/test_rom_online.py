"""The serial online stage on a tiny thermo-viscoplastic box: accuracy vs HF, no MPI, CLI."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from _rom_tiny import build, hf_reference

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    d = tmp_path_factory.mktemp("rom_tiny")
    from mpi4py import MPI

    return build(d, MPI.COMM_SELF)


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def test_reproduces_training_samples(tiny):
    from distrom.rom.online import OnlineSolver

    case, model = tiny
    s = OnlineSolver(model)
    m = s.model
    for sample, prm in enumerate(m.training_parameters):
        res = s.solve(dict(zip(m.parameter_names, prm)), full=True)
        U, S = hf_reference(case, sample, m.point_ids)
        # POD to 1e-7 and ECM to 1e-5 (55 of 96 points): the training snapshots come back to
        # about 10x the cubature error
        assert rel(res.displacement, U) < 5e-4
        assert rel(res.stress, S) < 2e-4
        assert np.all(res.residuals <= 1e-10)


def test_unseen_parameter_inside_the_range(tiny):
    from distrom.mechanics.solver import solve
    from distrom.rom.online import OnlineSolver
    from _rom_tiny import problem
    from mpi4py import MPI

    case, model = tiny
    prm = {"p": 127.0, "dT": 130.0}
    ref = case.parent / "test_case.h5"
    solve(problem(), ref, MPI.COMM_SELF, samples=np.array([[prm["p"], prm["dT"]]]), overwrite=True)
    s = OnlineSolver(model)
    res = s.solve(prm, full=True)
    U, S = hf_reference(ref, 0, s.model.point_ids)
    assert rel(res.displacement, U) < 1e-3
    assert rel(res.stress, S) < 1e-2
    # Gappy-POD: the plastic strain rebuilt from its coefficients matches the law at the points
    d = s.model.dual["plastic_strain"]
    rebuilt = np.einsum("pck,tk->tpc", d.at_points, res.coefficients["plastic_strain"])
    assert rel(rebuilt, res.duals["plastic_strain"]) < 1e-6
    # and the full field of the stress is close to the HF one everywhere
    from distrom.io import open_case

    with open_case(ref, MPI.COMM_SELF) as c:
        sig_full = np.stack([c.read_field("sig", k) for k in range(c.n_steps)])
    full = s.reconstruct_dual("stress", res.coefficients["stress"])
    assert rel(full, sig_full) < 2e-2


def test_parameter_outside_range_warns_with_the_range(tiny):
    from distrom.rom.online import OnlineSolver, ParameterRangeWarning

    s = OnlineSolver(tiny[1])
    with pytest.warns(ParameterRangeWarning, match=r"dT=300 is outside the trained range \[0, 200\]"):
        res = s.solve({"p": 120.0, "dT": 300.0})
    assert res.warnings and "dT" in res.warnings[0]


def test_bad_inputs(tiny):
    from distrom.errors import InputError
    from distrom.rom.online import OnlineSolver

    s = OnlineSolver(tiny[1])
    with pytest.raises(InputError, match="missing value"):
        s.solve({"p": 120.0})
    with pytest.raises(InputError, match="strictly increasing"):
        s.solve({"p": 120.0, "dT": 0.0}, times=[1.0, 0.5])


def test_online_runs_where_mpi_cannot_be_imported(tiny, tmp_path):
    """The boundary of DESIGN.md: importing mpi4py/petsc4py/slepc4py raises in the child."""
    from conftest import clean_subprocess_env
    from distrom.rom.online import OnlineSolver

    model = tiny[1]
    out = tmp_path / "child.json"
    code = textwrap.dedent(f"""
        import sys, json
        sys.modules.update(dict.fromkeys(["mpi4py", "petsc4py", "slepc4py"]))
        try:
            import mpi4py  # must fail
            raise SystemExit("mpi4py importable")
        except ImportError:
            pass
        from distrom.rom.online import OnlineSolver, load_result
        from distrom.rom.model import ReducedModel
        res = OnlineSolver(ReducedModel.load({str(model)!r})).solve({{"p": 133.0, "dT": 50.0}}, full=True)
        res.save({str(tmp_path / 'res.h5')!r})
        back = load_result({str(tmp_path / 'res.h5')!r})
        bad = sorted(m for m in sys.modules if m.startswith(("distrom.parallel", "distrom.io.case",
                     "distrom.reduction", "distrom.mechanics.solver", "distrom.mechanics.assembly"))
                     or (m.split(".")[0] in ("mpi4py", "petsc4py", "slepc4py") and sys.modules[m] is not None))
        json.dump({{"q": back.q.tolist(), "bad": bad}}, open({str(out)!r}, "w"))
    """)
    subprocess.run([sys.executable, "-c", code], check=True, env=clean_subprocess_env(), cwd=ROOT, timeout=120)
    got = json.loads(out.read_text())
    assert got["bad"] == []
    ref = OnlineSolver(model).solve({"p": 133.0, "dT": 50.0})
    np.testing.assert_allclose(np.array(got["q"]), ref.q, rtol=1e-12, atol=1e-14 * np.abs(ref.q).max())


def test_cli_online_writes_a_result(tiny, tmp_path, capsys):
    from distrom.cli.main import main
    from distrom.rom.online import load_result

    out = tmp_path / "r.h5"
    rc = main(["online", str(tiny[1]), "--param", "p=110", "--param", "dT=20", "--full", "-o", str(out), "--json"])
    assert rc == 0
    s = json.loads(capsys.readouterr().out)
    assert s["n_steps"] == 5 and s["warnings"] == []
    r = load_result(out)
    assert r.q.shape[0] == 5 and r.displacement.shape[0] == 5
    assert main(["online", str(tiny[1]), "--param", "p=abc", "-o", str(tmp_path / "x.h5")]) == 2
    assert "NAME=NUMBER" in capsys.readouterr().err


def test_reduced_kernels_independent_of_mesh(tiny):
    """Online work only touches (q, 6, r) arrays: no array of the HF size is used."""
    from distrom.rom.model import ReducedModel
    from distrom.rom.online import OnlineSolver

    light = ReducedModel.load(tiny[1], full=False)
    assert light.full_modes is None
    s = OnlineSolver(light)
    res = s.solve({"p": 120.0, "dT": 100.0})
    assert res.q.shape == (5, light.n_modes) and res.stress.shape == (5, light.n_points, 6)


def test_xdmf_export_of_the_reconstructed_fields(tiny, tmp_path):
    import h5py

    from distrom.cli.main import main

    x = tmp_path / "rom.xdmf"
    assert main(["online", str(tiny[1]), "--param", "p=130", "--param", "dT=40", "--xdmf", str(x),
                 "-o", str(tmp_path / "r.h5")]) == 0
    text = x.read_text()
    assert 'Name="U"' in text and "sig_cellavg" in text and text.count("<Time ") == 5
    with h5py.File(tmp_path / "r.h5") as f:
        U = f["full/displacement"][...]
    assert U.shape[0] == 5 and np.abs(U).max() > 0
