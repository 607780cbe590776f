# SPDX-License-Identifier: BSD-3-Clause
"""POD family at P = 1, 2, 3 against a known spectrum and the serial NumPy path."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from distrom.errors import InputError, LayoutError
from distrom.parallel import Layout, Snapshots
from distrom.reduction.pod import MOS_LIMIT, IncrementalPOD, PODAccuracyWarning, pod

N, M_COLS = 503, 100  # 503 rows split unevenly over 2 and 3 ranks


def known(n=N, m=M_COLS, decay=10.0, seed=2026):
    """S = U diag(s) V^T with s_k = 10^(-k/decay): exact singular values and left vectors."""
    rng = np.random.default_rng(seed)
    U, _ = np.linalg.qr(rng.standard_normal((n, m)))
    V, _ = np.linalg.qr(rng.standard_normal((m, m)))
    s = 10.0 ** (-np.arange(m) / decay)
    return (U * s) @ V.T, s, U


def distribute(S, comm):
    return Snapshots.from_global(S, comm)


def modes_of(basis):
    U = basis.modes
    return U.gather() if isinstance(U, Snapshots) else U


def max_angle_sin(A, B):
    """Sine of the largest principal angle between the column spaces of orthonormal A and B."""
    return float(np.linalg.norm(B - A @ (A.T @ B), 2))


def orth_err(U, M=None):
    MU = U if M is None else M @ U
    return float(np.abs(U.T @ MU - np.eye(U.shape[1])).max())


@pytest.mark.mpi
def test_svd_every_sigma_to_roundoff_and_subspaces(comm):
    S, s, Uex = known()
    for algo in ("cholqr3", "tsqr"):
        b = pod(distribute(S, comm), rank=M_COLS, method="svd", svd_algorithm=algo)
        assert isinstance(b.modes, Snapshots) and b.n_modes == M_COLS and b.reliable == M_COLS
        assert np.all(np.diff(b.singular_values) <= 0)
        assert np.abs(b.singular_values - s).max() <= 1e-13 * s[0]
        U = modes_of(b)
        assert orth_err(U) <= 1e-12
        # Subspaces of the first k modes, k where the relative gap is 10^(1/10) - 1 = 26 %.
        for k in (5, 20, 40):
            assert max_angle_sin(Uex[:, :k], U[:, :k]) <= 1e-8


@pytest.mark.mpi
def test_snapshots_within_roundoff_limit_and_flags_the_rest(comm):
    S, s, Uex = known()
    with pytest.warns(PODAccuracyWarning, match="accuracy limit"):
        b = pod(distribute(S, comm), rank=M_COLS)  # default guard: truncate
    sig = b.singular_values
    assert sig.size == M_COLS and np.all(np.diff(sig) <= 0)
    assert np.all(np.abs(sig - s) <= 1e-12 * s[0] ** 2 / s)
    # Only the modes above the limit come back, and they are orthonormal.
    assert b.criterion == "accuracy limit"
    assert b.n_modes == b.reliable == int(np.count_nonzero(sig >= MOS_LIMIT * sig[0]))
    assert 60 <= b.n_modes <= 75  # s_k >= 1.5e-7 for k <= 68
    U = modes_of(b)
    assert orth_err(U) <= 1e-12
    assert max_angle_sin(Uex[:, :20], U[:, :20]) <= 1e-8
    # guard="flag": every requested mode, with reliable < n_modes and a warning.
    with pytest.warns(PODAccuracyWarning, match="unguaranteed"):
        f = pod(distribute(S, comm), rank=M_COLS, guard="flag")
    assert f.n_modes == M_COLS and f.reliable == b.reliable
    # guard="switch": the SVD route, accurate everywhere.
    with pytest.warns(PODAccuracyWarning, match="switching"):
        w = pod(distribute(S, comm), rank=90, guard="switch")
    assert w.method == "svd" and w.n_modes == 90
    assert np.abs(w.singular_values - s).max() <= 1e-13 * s[0]


@pytest.mark.mpi
def test_snapshots_quiet_above_limit_and_same_answer_as_numpy(comm):
    S, s, Uex = known()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning when all kept modes are guaranteed
        b = pod(distribute(S, comm), rank=40)
        ref = pod(S, rank=40)
    assert isinstance(ref.modes, np.ndarray) and ref.criterion == "rank"
    # Different P sum the Gram matrix in different orders: agreement within the round-off limit.
    assert np.all(np.abs(b.singular_values - ref.singular_values) <= 1e-12 * s[0] ** 2 / s)
    U, R = modes_of(b), ref.modes
    signs = np.sign(np.sum(U * R, axis=0))
    np.testing.assert_allclose(U * signs, R, atol=1e-8)  # separated modes: same vectors
    assert orth_err(U) <= 1e-12


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["snapshots", "svd"])
def test_tol_truncation_is_the_relative_energy_criterion(comm, method):
    S, s, _ = known(m=60)
    total = np.sum(s ** 2)
    for tol in (1e-1, 1e-3, 1e-5):
        b = pod(distribute(S, comm), tol=tol, method=method)
        k = b.n_modes
        assert b.criterion == "tol"
        assert np.sum(s[k:] ** 2) <= tol ** 2 * total * (1 + 1e-8)
        assert np.sum(s[k - 1:] ** 2) > tol ** 2 * total  # the fewest such modes
        assert b.discarded == pytest.approx(np.sum(s[k:] ** 2) / total, rel=1e-6)
        c = pod(distribute(S, comm), tol=tol, rank=3, method=method)
        assert c.n_modes == min(3, k)


@pytest.mark.mpi
def test_randomized_matches_leading_spectrum(comm):
    S, s, Uex = known()
    b = pod(distribute(S, comm), rank=25, method="randomized", power_iterations=2, seed=3)
    assert b.n_modes == 25
    np.testing.assert_allclose(b.singular_values[:25], s[:25], rtol=1e-8)
    U = modes_of(b)
    assert orth_err(U) <= 1e-12
    assert max_angle_sin(Uex[:, :15], U[:, :15]) <= 1e-6
    with pytest.raises(InputError, match="needs rank"):
        pod(distribute(S, comm), tol=1e-3, method="randomized")


def _mass_petsc(diag, off, layout, comm):
    """SPD tridiagonal matrix (diag, off) as PETSc AIJ with the given row layout, and dense."""
    from petsc4py import PETSc

    n = diag.size
    A = PETSc.Mat().createAIJ(((layout.n_local, n), (layout.n_local, n)), nnz=3, comm=comm)
    lo, hi = layout.range
    for i in range(lo, hi):
        A.setValue(i, i, diag[i])
        if i > 0:
            A.setValue(i, i - 1, off[i - 1])
        if i < n - 1:
            A.setValue(i, i + 1, off[i])
    A.assemble()
    dense = np.diag(diag) + np.diag(off, 1) + np.diag(off, -1)
    return A, dense


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["snapshots", "svd", "randomized"])
def test_weighted_inner_product_gives_m_orthonormal_modes(comm, method):
    S, _, _ = known(m=40, decay=8)
    diag = np.linspace(1.0, 3.0, N)
    off = 0.3 * np.ones(N - 1)
    lay = Layout.balanced(N, comm)
    A, Md = _mass_petsc(diag, off, lay, comm)
    try:
        b = pod(Snapshots.from_global(S, comm, layout=lay), rank=20, inner=A, method=method)
        U = modes_of(b)
        assert orth_err(U, Md) <= 1e-12
        Lc = np.linalg.cholesky(Md)  # sigma of L^T S are the M-weighted singular values
        ref = np.linalg.svd(Lc.T @ S, compute_uv=False)
        np.testing.assert_allclose(b.singular_values[:20], ref[:20], rtol=1e-8)
        # Serial path with a scipy.sparse and a dense weight.
        for W in (sp.csr_matrix(Md), Md):
            c = pod(S, rank=20, inner=W, method=method)
            assert orth_err(c.modes, Md) <= 1e-12
            np.testing.assert_allclose(c.singular_values[:20], ref[:20], rtol=1e-8)
    finally:
        A.destroy()


@pytest.mark.mpi
def test_incremental_ten_batches_within_tolerance_of_batch(comm):
    S, s, _ = known(m=80, decay=8)
    tol = 1e-6
    inc = IncrementalPOD(tol=tol)
    perm = np.random.default_rng(1).permutation(80)  # batches that do not follow the spectrum
    for j in range(10):
        inc.update(distribute(S[:, perm[8 * j:8 * (j + 1)]], comm))
    b = inc.basis()
    ref = pod(S, tol=tol, method="svd")
    total = np.sum(s ** 2)
    assert isinstance(b.modes, Snapshots) and inc.n_snapshots == 80 and inc.n_updates == 10
    assert abs(b.n_modes - ref.n_modes) <= 1
    k = min(b.n_modes, ref.n_modes)
    assert np.abs(b.singular_values[:k] - ref.singular_values[:k]).max() <= tol * np.sqrt(total)
    U = modes_of(b)
    assert orth_err(U) <= 1e-12
    # Projection error of all snapshots on the incremental basis meets the tolerance.
    resid = S - U @ (U.T @ S)
    assert np.sum(resid ** 2) <= tol ** 2 * total * 1.01
    assert b.discarded <= tol ** 2


@pytest.mark.mpi
def test_incremental_rejects_batch_with_other_rows(comm):
    S, _, _ = known(m=10)
    inc = IncrementalPOD(rank=5)
    inc.update(distribute(S[:, :5], comm))
    with pytest.raises(LayoutError, match="local rows"):
        inc.update(distribute(S[:-1, 5:], comm))


@pytest.mark.mpi
def test_bad_input_raises_on_every_rank(comm):
    S, _, _ = known(m=12)
    bad = S.copy()
    lo, hi = Layout.balanced(N, comm).range
    bad[hi - 1, 3] = np.nan  # a NaN in the last rank's rows only
    if comm.size > 1:
        bad = S.copy()
        if comm.rank == comm.size - 1:
            bad[hi - 1, 3] = np.nan
    snap = Snapshots.from_local(bad[lo:hi], comm)
    for method in ("snapshots", "svd", "randomized"):
        with pytest.raises(InputError, match="NaN or Inf"):
            pod(snap, rank=4, method=method)
    inf = S.copy()
    inf[0, 1] = np.inf
    with pytest.raises(InputError, match=r"NaN or Inf.*columns \[1\]"):
        pod(distribute(inf, comm), rank=4)
    zero = S.copy()
    zero[:, 5] = 0.0
    with pytest.raises(InputError, match=r"zero column.*\[5\]"):
        pod(distribute(zero, comm), tol=1e-3, method="svd")
    snap = distribute(S, comm)
    with pytest.raises(InputError, match="give tol"):
        pod(snap)
    with pytest.raises(InputError, match="rank must be between 1 and"):
        pod(snap, rank=13)
    with pytest.raises(InputError, match="rank must be between"):
        pod(snap, rank=0)
    with pytest.raises(InputError, match="0 <= tol < 1"):
        pod(snap, tol=1.5)
    with pytest.raises(InputError, match="0 <= tol < 1"):
        pod(snap, tol=-1e-3)
    with pytest.raises(InputError, match="method must be"):
        pod(snap, rank=3, method="qr")
    with pytest.raises(LayoutError, match="shape"):
        pod(S, rank=3, inner=np.eye(N - 1))
    # A PETSc weight with a different row count: LayoutError everywhere, no hang.
    lay = Layout.balanced(N + 1, comm)
    A, _ = _mass_petsc(np.ones(N + 1), np.zeros(N), lay, comm)
    try:
        with pytest.raises(LayoutError):
            pod(snap, rank=3, inner=A)
    finally:
        A.destroy()
    # The same run continues normally afterwards (no rank left behind in a collective).
    assert pod(snap, rank=3).n_modes == 3


def test_numpy_input_gives_numpy_modes_and_out_buffer():
    S, s, _ = known(m=30)
    out = np.empty((N, 10), order="F")
    b = pod(S, rank=10, out=out)
    assert b.modes is out and isinstance(b.modes, np.ndarray)
    assert b.info["reorthogonalized"] is False or orth_err(b.modes) <= 1e-12
    np.testing.assert_allclose(b.singular_values[:10], s[:10], rtol=1e-12)
    with pytest.raises(InputError, match="2-D"):
        pod(np.ones((2, 2, 2)), rank=1)


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["svd", "randomized"])
def test_svd_routes_beyond_one_over_eps_condition(comm, method):
    """sigma down to 1e-20 (cond 1e20 > 1/eps): the QR passes continue until orthonormal."""
    S, s, _ = known(n=1201, m=200, decay=10.0)
    r = 200 if method == "svd" else 100
    b = pod(distribute(S, comm), rank=r, method=method)
    assert np.abs(b.singular_values[:r] - s[:r]).max() <= 1e-13 * s[0]
    assert orth_err(modes_of(b)) <= 1e-12
