"""The offline stage at P = 1, 2, 3: same model as a serial build, config parsing, CLI."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from _rom_tiny import OFFLINE, build, problem

ROOT = Path(__file__).resolve().parents[1]


def _same_model(a, b, rtol=1e-8):
    np.testing.assert_array_equal(a.point_ids, b.point_ids)
    np.testing.assert_allclose(a.weights, b.weights, rtol=rtol, atol=rtol * a.weights.max())
    np.testing.assert_allclose(a.E, b.E, rtol=rtol, atol=rtol * np.abs(a.E).max())
    np.testing.assert_allclose(a.primal_singular_values, b.primal_singular_values, rtol=rtol,
                               atol=rtol * a.primal_singular_values[0])
    for x, y in zip(a.loads, b.loads):
        np.testing.assert_allclose(x.reduced, y.reduced, rtol=rtol, atol=rtol * np.abs(x.reduced).max())
    assert set(a.dual) == set(b.dual)
    for n in a.dual:
        A, B = a.dual[n].at_points, b.dual[n].at_points
        np.testing.assert_allclose(A, B, rtol=rtol, atol=rtol * np.abs(A).max())
    np.testing.assert_allclose(a.full_modes, b.full_modes, rtol=rtol, atol=rtol * np.abs(a.full_modes).max())


@pytest.mark.mpi
def test_model_independent_of_rank_count(comm, shared_tmp):
    from mpi4py import MPI

    from distrom.rom.model import ReducedModel
    from distrom.rom.offline import OfflineOptions, build_model

    case, _ = build(shared_tmp, comm)
    # fixed ranks: an ECM that converges with fewer points than integrands has unique weights
    # (when it stalls near the full rule, the NNLS weights are not unique and round-off moves them)
    opts = OfflineOptions(primal_tol=None, primal_rank=4, dual_tol=None, dual_rank=5, ecm_tol=1e-8)
    model_path = shared_tmp / f"model_P{comm.size}.h5"
    built = build_model(case, problem(), opts, comm)
    if comm.rank == 0:
        built.save(model_path)
    comm.Barrier()
    m = ReducedModel.load(model_path)
    assert m.n_modes == 4 and 0 < np.count_nonzero(m.weights) < m.n_points
    if comm.rank == 0:
        serial = build_model(case, problem(), opts, MPI.COMM_SELF)
        _same_model(m, serial, rtol=1e-7)
        # the file written by P ranks loads in a process without MPI
        from conftest import clean_subprocess_env

        code = ("import sys; sys.modules.update(dict.fromkeys(['mpi4py','petsc4py','slepc4py']));"
                "from distrom.rom.model import ReducedModel;"
                f"m = ReducedModel.load({str(model_path)!r}); print(m.n_modes, m.n_points)")
        out = subprocess.run([sys.executable, "-c", code], env=clean_subprocess_env(), cwd=ROOT,
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        assert out.stdout.split() == [str(m.n_modes), str(m.n_points)]
    comm.Barrier()


def test_offline_config_and_cli(tmp_path, capsys):
    import tomllib  # noqa: F401 - the config is TOML

    from mpi4py import MPI

    from distrom.cli.main import main
    from distrom.mechanics.solver import solve
    from distrom.rom.model import ReducedModel
    from _rom_tiny import HF

    solve(problem(), tmp_path / "case.h5", MPI.COMM_SELF)
    (tmp_path / "hf.toml").write_text(_toml(HF))
    (tmp_path / "off.toml").write_text('[offline]\ncase = "case.h5"\nproblem = "hf.toml"\nprimal_rank = 4\n'
                                       'dual_rank = 6\necm_tol = 1e-8\nfull_field = false\n')
    assert main(["offline", str(tmp_path / "off.toml"), "-o", str(tmp_path / "m.h5")]) == 0
    assert "4 modes" in capsys.readouterr().out
    m = ReducedModel.load(tmp_path / "m.h5")
    assert m.n_modes == 4 and m.full_modes is None and m.dual["stress"].n_modes == 6
    assert m.provenance["primal_rank"] == 4 and m.provenance["case"].endswith("case.h5")
    # the output exists: refused without --force
    assert main(["offline", str(tmp_path / "off.toml"), "-o", str(tmp_path / "m.h5")]) == 2
    (tmp_path / "bad.toml").write_text('[offline]\ncase = "case.h5"\nproblem = "hf.toml"\nprimal_tolerance = 1\n')
    assert main(["offline", str(tmp_path / "bad.toml"), "-o", str(tmp_path / "m2.h5")]) == 2
    assert "unknown key 'primal_tolerance'" in capsys.readouterr().err


def test_lifting_of_prescribed_displacement(tmp_path):
    """A nonzero Dirichlet value: u = u_D + Phi q reproduces the HF solution."""
    from mpi4py import MPI

    from distrom.mechanics.config import parse_config
    from distrom.mechanics.solver import solve
    from distrom.rom.offline import OfflineOptions, build_model
    from distrom.rom.online import OnlineSolver
    from _rom_tiny import HF, hf_reference

    cfg = {k: v for k, v in HF.items() if k != "pressure"}
    cfg["dirichlet"] = [{"set": "x0", "components": "xyz"},
                        {"set": "x1", "components": "x", "value": "d", "history": "ramp"}]
    cfg["parameters"] = {"d": [0.002, 0.004], "dT": [0.0, 100.0]}
    prob = parse_config(cfg, "lift")
    solve(prob, tmp_path / "c.h5", MPI.COMM_SELF)
    m = build_model(tmp_path / "c.h5", prob, OfflineOptions(**OFFLINE), MPI.COMM_SELF)
    assert len(m.lifting) == 1
    res = OnlineSolver(m).solve({"d": 0.004, "dT": 0.0}, full=True)
    U, S = hf_reference(tmp_path / "c.h5", 2, m.point_ids)
    assert np.linalg.norm(res.displacement - U) / np.linalg.norm(U) < 1e-3
    assert np.linalg.norm(res.stress - S) / np.linalg.norm(S) < 1e-3


def _toml(d, prefix=""):
    """Minimal TOML writer for the test config (tables, arrays of tables, scalars, lists)."""
    lines, tables = [], []
    for k, v in d.items():
        if isinstance(v, dict):
            tables.append((k, v))
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            tables.append((k, v))
        else:
            lines.append(f"{k} = {_val(v)}")
    for k, v in tables:
        name = f"{prefix}{k}"
        if isinstance(v, list):
            for item in v:
                lines.append(f"[[{name}]]")
                lines.append(_toml(item, name + "."))
        else:
            lines.append(f"[{name}]")
            lines.append(_toml(v, name + "."))
    return "\n".join(lines)


def _val(v):
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(_val(x) for x in v) + "]"
    return repr(v)
