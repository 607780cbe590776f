"""Error indicator (relative Gappy-POD residual) and its calibration: synthetic and tiny ROM, no MPI."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from distrom.errors import FormatError, InputError
from distrom.rom.indicator import (DEFAULT_GAPPY_WEIGHT, Calibration, GappyIndicator, calibrate_model,
                                   calibration_pairs, displacement_error, fit_calibration, indicator_series,
                                   reduced_stiffness, select_gappy_weight, spearman)
from distrom.rom.model import DualBasis

ROOT = Path(__file__).resolve().parents[1]


def fake_model(q=9, k=4, seed=0, calibration=None):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((q, 6, k))
    return SimpleNamespace(dual={"stress": DualBasis("stress", A, np.ones(k))}, indicator=calibration)


def test_indicator_is_the_relative_least_squares_residual():
    m = fake_model()
    A = m.dual["stress"].at_points.reshape(-1, 4)
    ind = GappyIndicator(m, normalization="step")
    rng = np.random.default_rng(1)
    v_in = A @ rng.standard_normal(4)
    assert ind(v_in.reshape(9, 6)) < 1e-13            # in the span: nothing left
    assert ind(np.zeros((9, 6))) == 0.0
    V = rng.standard_normal((7, 54))
    # reference: NumPy least squares, residual norm over value norm
    ref = [np.linalg.norm(v - A @ np.linalg.lstsq(A, v, rcond=None)[0]) / np.linalg.norm(v) for v in V]
    np.testing.assert_allclose([ind(v) for v in V], ref, rtol=1e-12)
    np.testing.assert_allclose(ind.series(V.reshape(7, 9, 6)), ref, rtol=1e-12)
    # scale-free
    assert ind(1e6 * V[0]) == pytest.approx(ind(V[0]), rel=1e-12)
    with pytest.raises(InputError, match="no dual basis 'plastic_strain'"):
        GappyIndicator(m, "plastic_strain")
    with pytest.raises(InputError, match="normalization"):
        GappyIndicator(m, normalization="max")
    # default: the residual over the fixed RMS scale of the training snapshots at the points
    fixed = GappyIndicator(m)
    s_ref = np.sqrt(np.sum(np.ones(4) * np.sum(A ** 2, axis=0)) / 4)
    assert fixed.reference_norm == pytest.approx(s_ref, rel=1e-12)
    np.testing.assert_allclose([fixed(v) for v in V], np.array(ref) * np.linalg.norm(V, axis=1) / s_ref,
                               rtol=1e-12)
    assert fixed(1e3 * V[0]) == pytest.approx(1e3 * fixed(V[0]), rel=1e-12)   # not scale-free
    # a stored calibration fixes the scale (a basis update must not move it)
    m2 = fake_model(calibration={"quantity": "stress", "reference_norm": 2.0})
    assert GappyIndicator(m2).reference_norm == 2.0


def test_fit_recovers_a_loglog_law_and_the_band_covers():
    rng = np.random.default_rng(3)
    eta = 10 ** rng.uniform(-6, -2, 300)
    noise = 0.2 * rng.standard_normal(300)
    err = 10 ** (0.5 + 0.8 * np.log10(eta) + noise)
    cal = fit_calibration(eta, err, level=0.9)
    assert cal.slope == pytest.approx(0.8, abs=0.05) and cal.intercept == pytest.approx(0.5, abs=0.2)
    assert cal.spearman > 0.9 and cal.n_pairs == 300
    # split-conformal band: about the 90 % quantile of N(0, 0.2) in decades
    assert cal.band == pytest.approx(1.2816 * 0.2, abs=0.06)
    eta2 = 10 ** rng.uniform(-6, -2, 4000)
    err2 = 10 ** (0.5 + 0.8 * np.log10(eta2) + 0.2 * rng.standard_normal(4000))
    cover = np.mean(cal.upper(eta2) >= err2)
    assert 0.87 <= cover <= 0.95
    assert np.all(cal.upper(eta2) >= cal.estimate(eta2))
    assert isinstance(cal.estimate(1e-3), float)


def test_fit_errors_and_dict_roundtrip():
    with pytest.raises(InputError, match=">= 3"):
        fit_calibration([1e-3, 1e-4], [1e-2, 1e-3])
    with pytest.raises(InputError, match="finite"):
        fit_calibration([1e-3, np.nan, 1e-4], [1e-2, 1e-3, 1e-4])
    with pytest.raises(InputError, match="level"):
        fit_calibration([1e-3, 1e-5, 1e-4], [1e-2, 1e-3, 1e-4], level=1.5)
    cal = fit_calibration([1e-3, 1e-5, 1e-4, 1e-6], [1e-2, 1e-4, 1e-3, 2e-5])
    back = Calibration.from_dict(json.loads(json.dumps(cal.to_dict())))
    assert back == cal
    with pytest.raises(FormatError, match="calibration is incomplete"):
        Calibration.from_dict({"slope": 1.0})
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))
    np.testing.assert_allclose(displacement_error(np.ones((2, 3, 3)), 2 * np.ones((2, 3, 3))), [0.5, 0.5])


# ---- on the tiny ROM ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from mpi4py import MPI

    from _rom_tiny import build

    return build(tmp_path_factory.mktemp("ind_tiny"), MPI.COMM_SELF)


@pytest.fixture(scope="module")
def outside(tiny):
    """An HF case of two loadings, one inside and one far outside the training box."""
    from mpi4py import MPI

    from _rom_tiny import problem
    from distrom.mechanics.solver import solve

    path = tiny[0].parent / "outside.h5"
    solve(problem(), path, MPI.COMM_SELF, samples=np.array([[127.0, 130.0], [300.0, 400.0]]), overwrite=True)
    return path


def test_indicator_series_of_an_online_result(tiny):
    from distrom.rom.model import ReducedModel
    from distrom.rom.online import OnlineSolver

    m = ReducedModel.load(tiny[1])
    r = OnlineSolver(m).solve({"p": 120.0, "dT": 100.0})
    old = GappyIndicator(m, form="residual")
    eta = old.series(r.stress)
    A = m.dual["stress"].at_points.reshape(-1, m.dual["stress"].n_modes)
    s_ref = old.reference_norm
    ref = [np.linalg.norm(v - A @ np.linalg.lstsq(A, v, rcond=None)[0]) / s_ref
           for v in r.stress.reshape(len(r.times), -1)]
    np.testing.assert_allclose(eta, ref, rtol=1e-9)
    # more points than stress modes, so the residual is a real test (not zero by construction)
    assert m.n_points * 6 > m.dual["stress"].n_modes and np.all(eta > 0)
    eta_p = indicator_series(m, r, "cumulated_plastic_strain")
    assert eta_p.shape == eta.shape
    # the default (integration) form, against an independent NumPy evaluation
    ind = GappyIndicator(m)
    assert ind.form == "integration"
    K = reduced_stiffness(m)
    D = m.dual["stress"].integration_defect
    W = (m.weights[:, None, None] * m.E).reshape(-1, m.n_modes)
    ref = []
    for v in r.stress.reshape(len(r.times), -1):
        c = np.linalg.lstsq(A, v, rcond=None)[0]
        ref.append(np.linalg.norm(np.linalg.solve(K, D @ c)) / np.linalg.norm(np.linalg.solve(K, W.T @ v))
                   + DEFAULT_GAPPY_WEIGHT * np.linalg.norm(v - A @ c) / np.linalg.norm(v))
    np.testing.assert_allclose(indicator_series(m, r), ref, rtol=1e-8)


def test_integration_defect_is_exact_minus_reduced_cubature(tiny):
    """The stored defect against a direct sum over every integration point of the tiny mesh."""
    from distrom.io import open_case
    from distrom.rom.model import ReducedModel
    from distrom.rom.offline import _Geometry, point_operators

    m = ReducedModel.load(tiny[1])
    case = open_case(tiny[0])
    try:
        geo = _Geometry(case.mesh, case.fields["sig"].ips_per_cell)
        n_ip = int(geo.ip_off[-1])
        ips = np.arange(n_ip)
        _, E_all, *_ = point_operators(geo, case.mesh, ips, m.full_modes.reshape(-1, 3, m.n_modes), [])
        wd = np.concatenate([geo.grad(ib, np.arange(len(b.connectivity)))[1].ravel()
                             for ib, b in enumerate(case.mesh.cells)])
    finally:
        case.close()
    psi = m.dual["stress"].full.reshape(n_ip, 6, -1)
    exact = np.einsum("i,icr,ick->rk", wd, E_all, psi)
    reduced = np.einsum("i,icr,ick->rk", m.weights, m.E, m.dual["stress"].at_points)
    D = m.dual["stress"].integration_defect
    np.testing.assert_allclose(D, exact - reduced, atol=1e-9 * np.abs(exact).max())
    # the ECM fits the modes scaled by their singular values: the dominant mode's work is
    # integrated closely, the defect is not zero (else the indicator would be blind)
    assert np.linalg.norm(D[:, 0]) < 1e-2 * np.linalg.norm(exact[:, 0]) and np.abs(D).max() > 0


def test_integration_form_formula_and_weight_selection():
    rng = np.random.default_rng(5)
    q, k, r = 8, 3, 2
    A = rng.standard_normal((q, 6, k))
    d = DualBasis("stress", A, np.ones(k), integration_defect=rng.standard_normal((r, k)))
    E = rng.standard_normal((q, 6, r))
    w = rng.uniform(0.5, 1.5, q)
    m = SimpleNamespace(dual={"stress": d}, indicator=None, E=E, weights=w)
    K = np.array([[2.0, 0.3], [0.3, 1.0]])
    ind = GappyIndicator(m, stiffness=K, gappy_weight=0.5)
    assert ind.form == "integration"
    V = rng.standard_normal((4, q * 6))
    A2 = A.reshape(-1, k)
    W = (w[:, None, None] * E).reshape(-1, r)
    ref = []
    for v in V:
        c = np.linalg.lstsq(A2, v, rcond=None)[0]
        ref.append(np.linalg.norm(np.linalg.solve(K, d.integration_defect @ c))
                   / np.linalg.norm(np.linalg.solve(K, W.T @ v))
                   + 0.5 * np.linalg.norm(v - A2 @ c) / np.linalg.norm(v))
    np.testing.assert_allclose(ind.series(V.reshape(4, q, 6)), ref, rtol=1e-12)
    assert ind(V[1].reshape(q, 6)) == pytest.approx(ref[1], rel=1e-12)
    # scale-free (both terms are ratios) and zero for a state in the span with no defect
    assert ind(1e5 * V[0]) == pytest.approx(ref[0], rel=1e-10)
    m0 = SimpleNamespace(dual={"stress": DualBasis("stress", A, np.ones(k), integration_defect=np.zeros((r, k)))},
                         indicator=None, E=E, weights=w)
    assert GappyIndicator(m0, stiffness=K)(A2 @ rng.standard_normal(k)) < 1e-12
    # no defect stored (older model): residual form by default, integration form refused
    assert GappyIndicator(fake_model()).form == "residual"
    with pytest.raises(InputError, match="cubature defect"):
        GappyIndicator(fake_model(), form="integration")
    # the weight that ranks the error best is selected from the candidates
    i, g = 10 ** rng.uniform(-5, -3, 200), 10 ** rng.uniform(-4, -1, 200)
    err = i + 0.3 * g
    assert select_gappy_weight(i, g, err, candidates=[0.0, 0.01, 0.3, 10.0]) == 0.3
    assert select_gappy_weight(i, np.zeros(200), i, candidates=[0.0, 1.0]) == 0.0   # ties: the smallest


def test_indicator_grows_outside_the_training_range_and_calibrates(tiny, outside, tmp_path):
    from distrom.rom.model import ReducedModel

    m = ReducedModel.load(tiny[1])
    eta, err, smp = calibration_pairs(m, outside)
    assert eta.shape == err.shape == smp.shape == (10,)
    # far outside (twice the load), both the error and the indicator are larger on average (the
    # tiny ROM extrapolates well: errors stay ~1e-4, the quickstart benchmark measures more)
    assert err[smp == 1].mean() > err[smp == 0].mean()
    assert eta[smp == 1].mean() > eta[smp == 0].mean()
    assert spearman(eta, err) > 0.5
    cal = calibrate_model(m, [tiny[0], outside])
    assert cal.n_pairs == 30 and cal.slope > 0
    m.save(tmp_path / "cal.h5")
    back = ReducedModel.load(tmp_path / "cal.h5")
    assert Calibration.from_dict(back.indicator) == cal
    np.testing.assert_array_equal(back.indicator["pairs_error"], m.indicator["pairs_error"])
    ind = GappyIndicator(back)
    assert ind.calibration == cal and ind.quantity == "stress"
    assert ind.form == back.indicator["form"] == "integration"
    assert ind.gappy_weight == back.indicator["gappy_weight"]
    np.testing.assert_allclose(calibration_pairs(back, outside)[0], back.indicator["pairs_indicator"][-10:],
                               rtol=1e-10)
    # on its own fitting pairs the band covers at least the conformal share
    assert np.mean(cal.upper(back.indicator["pairs_indicator"]) >= back.indicator["pairs_error"]) >= 0.9


def test_indicator_runs_where_mpi_cannot_be_imported(tiny, tmp_path):
    from conftest import clean_subprocess_env

    from distrom.rom.model import ReducedModel
    from distrom.rom.online import OnlineSolver

    out = tmp_path / "child.json"
    code = textwrap.dedent(f"""
        import sys, json
        sys.modules.update(dict.fromkeys(["mpi4py", "petsc4py", "slepc4py"]))
        from distrom.rom.model import ReducedModel
        from distrom.rom.online import OnlineSolver
        from distrom.rom.indicator import indicator_series
        m = ReducedModel.load({str(tiny[1])!r})
        eta = indicator_series(m, OnlineSolver(m).solve({{"p": 133.0, "dT": 50.0}}))
        bad = sorted(k for k in sys.modules if k.split(".")[0] in ("mpi4py", "petsc4py", "slepc4py")
                     and sys.modules[k] is not None)
        json.dump({{"eta": eta.tolist(), "bad": bad}}, open({str(out)!r}, "w"))
    """)
    subprocess.run([sys.executable, "-c", code], check=True, env=clean_subprocess_env(), cwd=ROOT, timeout=120)
    got = json.loads(out.read_text())
    assert got["bad"] == []
    m = ReducedModel.load(tiny[1])
    ref = indicator_series(m, OnlineSolver(m).solve({"p": 133.0, "dT": 50.0}))
    np.testing.assert_allclose(got["eta"], ref, rtol=1e-10)
