import numpy as np
import pytest
from petsc4py import PETSc

from distrom.errors import LayoutError
from distrom.parallel import Layout, Snapshots


def _global(n=301, m=7, seed=7):
    return np.random.default_rng(seed).standard_normal((n, m))


@pytest.mark.mpi
def test_from_local_gather_round_trip_is_exact(comm):
    S = _global()
    lo, hi = Layout.balanced(S.shape[0], comm).range
    snap = Snapshots.from_local(S[lo:hi], comm=comm)
    assert snap.shape == S.shape
    assert snap.local.flags.f_contiguous
    np.testing.assert_array_equal(snap.gather(), S)
    np.testing.assert_array_equal(snap.local, S[lo:hi])
    root = snap.gather(root=0)
    if comm.rank == 0:
        np.testing.assert_array_equal(root, S)


@pytest.mark.mpi
def test_uneven_blocks_keep_rank_order(comm):
    S = _global(n=sum(3 * r + 5 for r in range(comm.size)))
    off = np.concatenate([[0], np.cumsum([3 * r + 5 for r in range(comm.size)])])
    snap = Snapshots.from_local(S[off[comm.rank]:off[comm.rank + 1]], comm=comm)
    np.testing.assert_array_equal(snap.gather(), S)
    ids = np.array([0, S.shape[0] - 1, 2])
    np.testing.assert_array_equal(snap.rows(ids), S[ids])


@pytest.mark.mpi
def test_column_counts_that_differ_fail_on_every_rank(comm):
    if comm.size == 1:
        pytest.skip("needs two ranks")
    block = np.ones((4, 3 if comm.rank == 0 else 2))
    with pytest.raises(LayoutError, match="same number of columns.*rank 0: 3"):
        Snapshots.from_local(block, comm=comm)


@pytest.mark.mpi
def test_gram_inner_combine_match_numpy(comm):
    S, T = _global(), _global(m=4, seed=3)
    snap, other = Snapshots.from_global(S, comm), Snapshots.from_global(T, comm)
    np.testing.assert_allclose(snap.gram(), S.T @ S, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(snap.inner(other), S.T @ T, rtol=1e-13, atol=1e-12)
    np.testing.assert_allclose(snap.norms(), np.linalg.norm(S, axis=0), rtol=1e-13)
    C = np.arange(28.0).reshape(7, 4)
    np.testing.assert_allclose(snap.combine(C).gather(), S @ C, rtol=1e-13, atol=1e-11)


@pytest.mark.mpi
def test_weighted_gram_with_petsc_matrix(comm):
    S = _global(n=50, m=5)
    lay = Layout.balanced(50, comm)
    snap = Snapshots.from_global(S, comm, layout=lay)
    lo, hi = lay.range
    diag = np.arange(1.0, 51.0)
    M = PETSc.Mat().createAIJ(((hi - lo, 50), (hi - lo, 50)), nnz=(3, 2), comm=comm)
    Md = np.diag(diag) + 0.1 * (np.eye(50, k=1) + np.eye(50, k=-1))
    for i in range(lo, hi):
        for j in (i - 1, i, i + 1):
            if 0 <= j < 50:
                M.setValue(i, j, Md[i, j])
    M.assemble()
    np.testing.assert_allclose(snap.gram(inner=M), S.T @ Md @ S, rtol=1e-12)
    np.testing.assert_allclose(snap.norms(inner=M), np.sqrt(np.diag(S.T @ Md @ S)), rtol=1e-12)
    M.destroy()


@pytest.mark.mpi
def test_append_vec_views_and_bv(comm):
    S = _global(m=3)
    snap = Snapshots.from_global(S, comm)
    lo, hi = snap.layout.range
    for k in range(20):  # grows past the initial capacity several times
        snap.append(S[lo:hi, k % 3] * (k + 1))
    assert snap.shape == (301, 23)
    np.testing.assert_array_equal(snap.gather()[:, 3 + 4], S[:, 1] * 5)
    v = snap.column_vec(0)
    assert v.getSize() == 301
    np.testing.assert_allclose(v.norm(), np.linalg.norm(S[:, 0]), rtol=1e-13)
    v.scale(2.0)  # shares memory
    np.testing.assert_array_equal(snap.local[:, 0], 2 * S[lo:hi, 0])
    v.destroy()
    bv = snap.columns(slice(0, 3)).as_bv()
    back = Snapshots.from_bv(bv)
    np.testing.assert_array_equal(back.gather()[:, 1:], S[:, 1:])
    bv.destroy()
    snap.append(Snapshots.from_global(S, comm))
    assert snap.n_cols == 26
    with pytest.raises(LayoutError):
        snap.append(np.ones((snap.layout.n_local + 1, 1)))
