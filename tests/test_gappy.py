"""Gappy-POD and the reduced-integration-points helper (ECM points + dual-basis points)."""
from __future__ import annotations

import numpy as np
import pytest

from distrom.errors import InputError
from distrom.reduction.ecm import ecm
from distrom.reduction.eim import qdeim
from distrom.reduction.gappy import gappy_pod
from distrom.reduction.points import reduced_integration_points


def test_acceptance_modes_as_rows():
    c = gappy_pod([[1, 0, 0], [0, 1, 0]], [1, 0, 1])  # two modes of length 3, as rows
    np.testing.assert_allclose(c, [1, 0], rtol=0, atol=1e-15)
    np.testing.assert_allclose(gappy_pod(np.array([[1, 0, 0], [0, 1, 0]]).T, [1, 0, 1]), [1, 0], atol=1e-15)
    np.testing.assert_allclose(gappy_pod([[1, 0, 0], [0, 1, 0]], [1, 0, 1], modes_as_rows=True), [1, 0])


def test_recovers_coefficients_from_few_points():
    rng = np.random.default_rng(0)
    U = np.linalg.qr(rng.standard_normal((200, 6)))[0]
    c0 = rng.standard_normal(6)
    field = U @ c0
    pts = qdeim(U).points
    np.testing.assert_allclose(gappy_pod(U, field[pts], pts), c0, rtol=1e-10)
    np.testing.assert_allclose(gappy_pod(U, field, pts), c0, rtol=1e-10)  # full field restricted
    # several fields at once, noisy: least squares on 3x oversampled random points
    more = rng.choice(200, 18, replace=False)
    C = rng.standard_normal((6, 4))
    V = U @ C + 1e-9 * rng.standard_normal((200, 4))
    got = gappy_pod(U, V[more], more)
    np.testing.assert_allclose(got, np.linalg.lstsq(U[more], V[more], rcond=None)[0], rtol=1e-12)
    assert np.abs(got - C).max() < 1e-7


def test_rank_deficiency_is_named():
    U = np.zeros((10, 3))
    U[0, 0] = U[1, 1] = U[2, 2] = 1.0
    with pytest.raises(InputError, match=r"rank 2 < 3"):
        gappy_pod(U, [1.0, 2.0, 3.0], points=[0, 1, 5])
    with pytest.raises(InputError, match="2 points cannot determine 3"):
        gappy_pod(U, [1.0, 2.0], points=[0, 1])


@pytest.mark.parametrize("kwargs, match", [
    (dict(values=[1.0] * 4, points=[0, 1, 2]), "values have 4 rows"),
    (dict(values=[1.0] * 3, points=[0, 1, 12]), r"\[0, 10\)"),
    (dict(values=[1.0] * 3, points=[0, 1, 1]), "duplicates"),
    (dict(values=[1.0, np.nan, 1.0], points=[0, 1, 2]), "NaN"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        gappy_pod(np.eye(10)[:, :2], **kwargs)


@pytest.mark.mpi
def test_distributed_same_coefficients(comm):
    from distrom.parallel import Snapshots

    rng = np.random.default_rng(1)
    U = np.linalg.qr(rng.standard_normal((101, 5)))[0]
    V = U @ rng.standard_normal((5, 2))
    pts = qdeim(U).points
    ref = gappy_pod(U, V[pts], pts)
    S = Snapshots.from_global(U, comm=comm)
    np.testing.assert_allclose(gappy_pod(S, V[pts], pts), ref, rtol=1e-13)
    np.testing.assert_allclose(gappy_pod(S, Snapshots.from_global(V, comm=comm), pts), ref, rtol=1e-13)
    with pytest.raises(InputError, match="3 points cannot determine 5"):  # on every rank
        gappy_pod(S, V[pts[:3]], pts[:3])
    D = U.copy()
    D[:, 4] = D[:, 3]
    with pytest.raises(InputError, match="rank 4 < 5"):
        gappy_pod(Snapshots.from_global(D, comm=comm), V[pts], pts)


# -- reduced integration points -----------------------------------------------------------------
def _mechanics_like(n_points=300, seed=2):
    rng = np.random.default_rng(seed)
    x = np.sort(rng.random(n_points))
    A = np.array([np.cos(k * np.pi * x) * (1 + x) for k in range(8)])  # force integrands
    w = np.full(n_points, 1.0 / n_points)
    stress = np.stack([np.c_[x**k, (1 - x) ** k, x * k] for k in range(5)], axis=-1)  # (p, 3 comps, 5)
    basis = np.linalg.qr(stress.reshape(n_points * 3, 5))[0]  # rows point-major
    return A, w, basis


def test_reduced_points_unite_ecm_and_dual_points():
    A, w, basis = _mechanics_like()
    res = reduced_integration_points(A, w, {"stress": basis}, tol=1e-8, components={"stress": 3})
    pts, wts = res
    p_ecm, z_ecm = ecm(A, w, 1e-8)
    np.testing.assert_array_equal(res.ecm_points, p_ecm)
    assert np.all(np.diff(pts) > 0)
    # ECM weights kept, zero weights on the added points, the cubature unchanged
    np.testing.assert_allclose(wts[np.isin(pts, p_ecm)], z_ecm)
    assert np.all(wts[~np.isin(pts, p_ecm)] == 0)
    np.testing.assert_allclose(A[:, pts] @ wts, A[:, p_ecm] @ z_ecm, rtol=1e-14)
    # every dual point is there, so Gappy-POD of the stress is well posed at the reduced points
    assert set(res.dual_points["stress"]) <= set(pts)
    rows = (3 * pts[:, None] + np.arange(3)).ravel()
    assert np.linalg.matrix_rank(basis[rows]) == basis.shape[1]
    coef = np.arange(5.0)
    np.testing.assert_allclose(gappy_pod(basis, (basis @ coef)[rows], rows), coef, atol=1e-10)


def test_reduced_points_check_dual_shape():
    A, w, basis = _mechanics_like()
    with pytest.raises(InputError, match="n_points \\* components"):
        reduced_integration_points(A, w, [basis], components=2)


@pytest.mark.mpi
def test_reduced_points_distributed(comm):
    from distrom.parallel import Layout, Snapshots

    A, w, basis = _mechanics_like()
    ref = reduced_integration_points(A, w, {"s": basis}, tol=1e-8, components={"s": 3})
    lay = Layout.balanced(A.shape[1], comm)
    got = reduced_integration_points(Snapshots.from_global(A.T, comm=comm), w,
                                     {"s": Snapshots.from_global(basis, comm=comm, layout=lay.scaled(3))},
                                     tol=1e-8, components={"s": 3})
    np.testing.assert_array_equal(got.points, ref.points)
    np.testing.assert_allclose(got.weights, ref.weights, rtol=1e-9)


def test_serial_path_never_imports_mpi():
    """ECM, the EIM family, Gappy-POD and the points helper run on NumPy without mpi4py/petsc4py."""
    import subprocess
    import sys

    from conftest import clean_subprocess_env

    code = (
        "import sys; sys.modules.update(dict.fromkeys(['mpi4py', 'petsc4py', 'slepc4py']))\n"
        "import numpy as np\n"
        "from distrom.reduction.ecm import ecm\n"
        "from distrom.reduction.eim import eim, deim, qdeim, matrix_eim\n"
        "from distrom.reduction.gappy import gappy_pod\n"
        "from distrom.reduction.points import reduced_integration_points\n"
        "A = np.arange(200.).reshape(10, 20); w = np.arange(20.)\n"
        "assert ecm(A, w)[0].size <= 2 and ecm(A, w, mode='union')[0].size <= 2\n"
        "F = np.random.default_rng(0).random((60, 8))\n"
        "eim(F, n=4); eim(F, n=4, variant='rectangular'); deim(F); qdeim(F); matrix_eim([F, 2 * F])\n"
        "assert np.allclose(gappy_pod([[1, 0, 0], [0, 1, 0]], [1, 0, 1]), [1, 0])\n"
        "reduced_integration_points(A, w, [F[:20, :3]])\n"
        "print('ok')\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=clean_subprocess_env(),
                       timeout=120)
    assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
