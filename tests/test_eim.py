"""EIM (classical, symmetric, rectangular), DEIM, QDEIM, matrix EIM: properties and P = 1, 2, 3."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
import scipy.sparse as sp

from distrom.errors import InputError
from distrom.reduction.eim import deim, eim, matrix_eim, matrix_entries, qdeim


def family(nx=40, ny=25, n_mu=60, seed=1):
    """f(x; mu) = 1/sqrt(|x - mu|^2 + 0.01) on [0.1, 0.9]^2, mu in [-1, -0.01]^2 (PERFORMANCE.md s. 4)."""
    x1, x2 = np.meshgrid(np.linspace(0.1, 0.9, nx), np.linspace(0.1, 0.9, ny), indexing="ij")
    mu = np.random.default_rng(seed).uniform(-1, -0.01, (n_mu, 2))
    return 1 / np.sqrt((x1.ravel()[:, None] - mu[:, 0]) ** 2 + (x2.ravel()[:, None] - mu[:, 1]) ** 2 + 0.01)


F = family()
TEST = family(n_mu=30, seed=2)


def max_rel_err(T, approx):
    return float((np.abs(T - approx).max(axis=0) / np.abs(T).max(axis=0)).max())


def pod_error(n):
    U = np.linalg.svd(F, full_matrices=False)[0][:, :n]
    return max_rel_err(TEST, U @ (U.T @ TEST))


@pytest.mark.parametrize("norm", ["max", "l2"])
@pytest.mark.parametrize("n", [8, 16])
def test_classical_interpolates_and_is_near_pod(n, norm):
    I = eim(F, n=n, norm=norm)
    assert I.n == n and I.points.size == n and np.unique(I.points).size == n
    # exact at its points
    vals = TEST[I.points]
    np.testing.assert_allclose(I.interpolate(vals)[I.points], vals, rtol=0, atol=1e-13 * np.abs(vals).max())
    # the basis is 1 at its own point and 0 at the earlier ones: unit lower triangular
    np.testing.assert_allclose(np.triu(I.matrix, 1), 0, atol=1e-14)
    np.testing.assert_allclose(np.diag(I.matrix), 1, rtol=1e-15)
    assert max_rel_err(TEST, I.interpolate(vals)) <= 10 * pod_error(n)


def test_tolerance_stops_greedy():
    I = eim(F, tol=1e-6)
    assert I.errors[-1] <= 1e-6 < I.errors[-2]
    assert max_rel_err(F, I.interpolate(F[I.points])) <= 1e-6 * np.abs(F).max() / np.abs(F).max(0).min()


def test_symmetric_variant_defining_properties():
    n = 12
    S = eim(F, n=n, variant="symmetric")
    C = eim(F, n=n)
    # same approximation as classical EIM, written with the selected snapshots as basis
    np.testing.assert_array_equal(S.points, C.points)
    np.testing.assert_allclose(S.basis, F[:, S.snapshots], rtol=0, atol=0)
    np.testing.assert_allclose(S.interpolate(TEST[S.points]), C.interpolate(TEST[C.points]), rtol=1e-9,
                               atol=1e-10 * np.abs(TEST).max())
    # symmetric in the two variables: I f = F[:, J] F[P, J]^-1 F[P, :] ...
    P, J = S.points, S.snapshots
    approx = F[:, J] @ np.linalg.solve(F[np.ix_(P, J)], F[P])
    np.testing.assert_allclose(S.interpolate(F[P]), approx, rtol=1e-10, atol=1e-12 * np.abs(F).max())
    # ... so EIM of the transposed family swaps points and snapshots and gives the transpose
    St = eim(F.T.copy(), n=n, variant="symmetric")
    np.testing.assert_array_equal(np.sort(St.points), np.sort(J))
    np.testing.assert_array_equal(np.sort(St.snapshots), np.sort(P))
    np.testing.assert_allclose(St.interpolate(F.T[St.points]), approx.T, rtol=1e-8,
                               atol=1e-10 * np.abs(F).max())
    # interpolation in both variables: exact on the selected rows and the selected columns
    np.testing.assert_allclose(approx[P], F[P], atol=1e-12 * np.abs(F).max())
    np.testing.assert_allclose(approx[:, J], F[:, J], atol=1e-12 * np.abs(F).max())


def test_rectangular_least_squares_and_broken_point():
    n = 12
    R = eim(F, n=n, variant="rectangular", n_points=20)
    C = eim(F, n=n)
    assert R.points.size == 20 and R.n == n and np.unique(R.points).size == 20
    np.testing.assert_array_equal(R.points[:n], C.points)  # the classical points come first
    v = TEST[R.points]
    c = R.coefficients(v)
    # least squares: the residual at the points is orthogonal to the basis there
    np.testing.assert_allclose(R.matrix.T @ (v - R.matrix @ c), 0, atol=1e-10 * np.abs(v).max())
    np.testing.assert_allclose(c, np.linalg.lstsq(R.matrix, v, rcond=None)[0], rtol=1e-8, atol=1e-12)
    # the oversampled point matrix is better conditioned than the square one
    assert np.linalg.cond(R.matrix) <= np.linalg.cond(C.matrix)
    # a broken sensor: drop the first (most important) point, still within 10x POD
    for drop in (R.points[0], R.points[n // 2]):
        Rm = R.without_points([drop])
        assert Rm.points.size == 19 and drop not in Rm.points
        assert max_rel_err(TEST, Rm.interpolate(TEST[Rm.points])) <= 10 * pod_error(n)
    # the square EIM cannot lose a point
    with pytest.raises(InputError, match="rank"):
        C.without_points([C.points[0]])


def _lu_pivot_rows(U):
    _, piv = sla.lu_factor(U)
    perm = np.arange(U.shape[0])
    for i, p in enumerate(piv):  # LAPACK row swaps -> pivot rows
        perm[[i, p]] = perm[[p, i]]
    return perm[:U.shape[1]]


def _textbook_deim(U):
    p = [int(np.argmax(np.abs(U[:, 0])))]
    for l in range(1, U.shape[1]):
        c = np.linalg.solve(U[p, :l], U[p, l])
        p.append(int(np.argmax(np.abs(U[:, l] - U[:, :l] @ c))))
    return np.array(p)


def test_deim_blocked_matches_textbook_over_several_panels():
    U = np.linalg.qr(np.random.default_rng(4).standard_normal((700, 40)))[0]  # 3 panels of 16
    I = deim(U)
    np.testing.assert_array_equal(I.points, _textbook_deim(U))
    np.testing.assert_array_equal(I.points, _lu_pivot_rows(U))
    np.testing.assert_array_equal(I.matrix, U[I.points])


def test_deim_is_lu_partial_pivoting():
    U = np.linalg.svd(F, full_matrices=False)[0][:, :15]
    I = deim(U)
    _, piv = sla.lu_factor(U)
    perm = np.arange(U.shape[0])
    for i, p in enumerate(piv):  # LAPACK row swaps -> pivot rows
        perm[[i, p]] = perm[[p, i]]
    np.testing.assert_array_equal(I.points, perm[:15])
    basis, points = I  # unpacks
    assert basis.shape == U.shape and points is I.points
    assert max_rel_err(TEST, I.interpolate(TEST[I.points])) <= 10 * pod_error(15)


def test_qdeim_is_pivoted_qr():
    U = np.linalg.svd(F, full_matrices=False)[0][:, :15]
    I = qdeim(U)
    piv = sla.qr(U.T, pivoting=True, mode="r")[1][:15]
    np.testing.assert_array_equal(I.points, piv)
    assert max_rel_err(TEST, I.interpolate(TEST[I.points])) <= 10 * pod_error(15)
    with pytest.raises(InputError, match="rank"):
        qdeim(np.c_[U[:, :3], U[:, :1]])


def test_bad_input():
    with pytest.raises(InputError, match="variant"):
        eim(F, n=3, variant="nope")
    with pytest.raises(InputError, match="norm"):
        eim(F, n=3, norm="l1")
    with pytest.raises(InputError, match="NaN"):
        deim(np.full((5, 2), np.nan))
    with pytest.raises(InputError, match="zero"):
        eim(np.zeros((5, 3)), n=2)


# -- P = 1, 2, 3 against the serial NumPy result ---------------------------------------------
@pytest.mark.mpi
@pytest.mark.parametrize("kind", ["classical-max", "classical-l2", "symmetric", "rectangular"])
def test_eim_distributed_same_selection(comm, kind):
    from distrom.parallel import Snapshots

    variant, _, norm = kind.partition("-")
    kw = dict(n=14, variant=variant, norm=norm or "max")
    ref = eim(F, **kw)
    got = eim(Snapshots.from_global(F, comm=comm), **kw)
    np.testing.assert_array_equal(got.points, ref.points)
    np.testing.assert_array_equal(got.snapshots, ref.snapshots)
    np.testing.assert_allclose(got.matrix, ref.matrix, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.basis.gather(), ref.basis, rtol=1e-10, atol=1e-12)
    field = got.interpolate(TEST[got.points, :3]).gather()
    np.testing.assert_allclose(field, ref.interpolate(TEST[ref.points, :3]), rtol=1e-10, atol=1e-12)


@pytest.mark.mpi
@pytest.mark.parametrize("method", [deim, qdeim])
def test_deim_qdeim_distributed_same_points(comm, method):
    from distrom.parallel import Snapshots

    U = np.linalg.svd(F, full_matrices=False)[0][:, :36]  # DEIM: 3 panels
    ref = method(U)
    got = method(Snapshots.from_global(U, comm=comm))
    np.testing.assert_array_equal(got.points, ref.points)
    np.testing.assert_allclose(got.matrix, ref.matrix, rtol=0, atol=0)


@pytest.mark.mpi
def test_deim_symmetric_ties_same_points(comm):
    """A mirror-symmetric basis has exactly tied candidates: the smallest index wins at any P."""
    from distrom.parallel import Snapshots

    x = np.linspace(-1, 1, 101)
    U = np.linalg.qr(np.c_[np.ones_like(x), x**2, x**4, x**6])[0]
    for method in (deim, qdeim):
        ref = method(U)
        got = method(Snapshots.from_global(U, comm=comm))
        np.testing.assert_array_equal(got.points, ref.points)
        assert np.all(ref.points <= 50)  # the left copy of each mirrored pair


def test_near_ties_from_round_off_do_not_change_the_points():
    """Modes built at different P differ by round-off (~1e-11 relative on a symmetric mesh):
    the selections must not follow that noise, else P = 1, 2, 3 pick different mirror points."""
    x = np.linspace(-1, 1, 101)
    U = np.linalg.qr(np.c_[np.ones_like(x), x**2, x**4, x**6])[0]
    rng = np.random.default_rng(3)
    for method in (deim, qdeim):
        ref = method(U).points
        for _ in range(5):
            noisy = U * (1.0 + 1e-11 * rng.standard_normal(U.shape))
            np.testing.assert_array_equal(method(noisy).points, ref)


# -- matrix EIM --------------------------------------------------------------------------------
N_ROWS = 37
THETA = [lambda m: 1.0 + m[0], lambda m: np.exp(-m[1]), lambda m: np.sin(3 * m[0]) * m[1] + 2.0]


def affine_terms():
    """Three sparse terms with different patterns (tridiagonal, diagonal, long-range couplings)."""
    n = N_ROWS
    rng = np.random.default_rng(5)
    T1 = sp.diags([-np.ones(n - 1), 2 * np.ones(n), -np.ones(n - 1)], [-1, 0, 1])
    T2 = sp.diags(rng.uniform(1, 2, n))
    T3 = sp.random(n, n, density=0.08, random_state=6) + sp.eye(n) * 0.1
    return [sp.csr_matrix(T) for T in (T1, T2, T3)]


def a_of(mu, terms):
    return sum(th(mu) * T for th, T in zip(THETA, terms))


MUS = np.random.default_rng(9).uniform(0, 1, (12, 2))
MU_NEW = np.array([[0.37, 0.81], [0.05, 0.5]])


def test_matrix_eim_recovers_affine_serial():
    terms = affine_terms()
    train = [a_of(mu, terms) for mu in MUS]
    M = matrix_eim(train, tol=1e-10)
    assert M.n == 3  # exactly Q terms
    for mu in MU_NEW:
        A = a_of(mu, terms)
        approx = M(A)
        assert sp.linalg.norm(approx - A) <= 1e-12 * sp.linalg.norm(A)
    # the interpolation matrix holds the selected training matrices at the magic entries
    for m, j in enumerate(M.selected):
        np.testing.assert_array_equal(matrix_entries(train[j], M.entries), M.matrix[:, m])
    assert all(train[j][i, k] != 0 for (i, k) in M.entries for j in M.selected[:1])


def _petsc_aij(A, comm):
    from petsc4py import PETSc

    from distrom.parallel import Layout

    lo, hi = Layout.balanced(A.shape[0], comm).range
    C = sp.csr_matrix(A)[lo:hi]
    C.sort_indices()
    M = PETSc.Mat().createAIJ(size=((hi - lo, A.shape[0]), (None, A.shape[1])),
                              csr=(C.indptr.astype(PETSc.IntType), C.indices.astype(PETSc.IntType), C.data),
                              comm=comm)
    M.assemble()
    return M


@pytest.mark.mpi
def test_matrix_eim_petsc_distributed(comm):
    terms = affine_terms()
    train_sp = [a_of(mu, terms) for mu in MUS]
    ref = matrix_eim(train_sp, tol=1e-10)
    train = [_petsc_aij(A, comm) for A in train_sp]
    try:
        M = matrix_eim(train, tol=1e-10)
        assert M.n == 3
        np.testing.assert_array_equal(M.selected, ref.selected)
        np.testing.assert_array_equal(M.entries, ref.entries)
        np.testing.assert_allclose(M.matrix, ref.matrix, rtol=1e-13)
        for mu in MU_NEW:
            A_sp = a_of(mu, terms)
            A = _petsc_aij(A_sp, comm)
            approx = M(A)
            approx.axpy(-1.0, A)
            assert approx.norm() <= 1e-12 * A.norm()
            approx.destroy()
            A.destroy()
    finally:
        for A in train:
            A.destroy()
