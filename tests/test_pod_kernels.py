# SPDX-License-Identifier: BSD-3-Clause
"""The private BLAS-3 kernels behind pod: row-split Gram, trmm/trsm choice, deferred last pass."""
import numpy as np
import pytest
import scipy.linalg as sla

from distrom.reduction import _threads
from distrom.reduction._dist import as_block
from distrom.reduction._pod_linalg import (TRMM_MAX_COND, Inner, apply_rinv_inplace, shifted_cholqr3)


@pytest.mark.parametrize("n, parts", [(10, 3), (7, 7), (1000, 2), (5, 9)])
def test_row_chunks_cover_rows_once_in_order(n, parts):
    chunks = _threads.row_chunks(n, parts)
    rows = np.concatenate([np.arange(n)[c] for c in chunks])
    assert np.array_equal(rows, np.arange(n))
    sizes = [c.stop - c.start for c in chunks]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize("threads", [1, 2, 3, 5])
def test_split_gram_equals_numpy(threads):
    X = np.asfortranarray(np.random.default_rng(threads).standard_normal((3001, 17)))
    G = _threads.gram(X, threads=threads)
    ref = X.T @ X
    assert G.shape == (17, 17)
    assert np.abs(G - ref).max() <= 1e-12 * np.abs(ref).max()
    assert np.array_equal(G, G.T)
    # deterministic for a given number of blocks
    assert np.array_equal(G, _threads.gram(X, threads=threads))


def test_split_gram_restores_blas_threads():
    pytest.importorskip("threadpoolctl")
    before = _threads.blas_threads()
    _threads.gram(np.ones((100, 3)), threads=2)
    assert _threads.blas_threads() == before


def _upper(k, cond, seed):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((k, k)))
    s = np.logspace(0, -np.log10(cond), k)
    _, R = np.linalg.qr((Q * s) @ Q.T)
    return R * np.sign(np.diag(R))[:, None]


@pytest.mark.parametrize("cond", [1.05, 3.0, 1e6])
def test_apply_rinv_matches_triangular_solve(cond):
    k = 12
    R = _upper(k, cond, 1)
    X = np.asfortranarray(np.random.default_rng(2).standard_normal((500, k)))
    ref = sla.solve_triangular(R, X.T, trans="T", lower=False).T
    Y = X.copy(order="F")
    out = apply_rinv_inplace(Y, R)
    assert out is Y
    # backward error of the relation X = Y R, relative to ||X||
    assert np.abs(Y @ R - X).max() <= 1e-13 * np.abs(X).max() * max(1.0, min(cond, TRMM_MAX_COND))
    assert np.abs(Y - ref).max() <= 1e-10 * np.abs(ref).max()


def test_apply_rinv_empty_rows():
    X = np.zeros((0, 4), order="F")
    assert apply_rinv_inplace(X, np.eye(4) * 2).shape == (0, 4)


def test_deferred_last_pass_gives_the_same_factorisation():
    rng = np.random.default_rng(5)
    U, _ = np.linalg.qr(rng.standard_normal((4000, 30)))
    V, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    S = np.asfortranarray((U * np.logspace(0, -18, 30)) @ V.T)
    ip = Inner(as_block(S))
    Q1 = S.copy(order="F")
    R1 = shifted_cholqr3(ip, Q1, S.shape[0])
    Q2 = S.copy(order="F")
    R2, R_last = shifted_cholqr3(ip, Q2, S.shape[0], defer_last=True)
    assert np.abs(np.diag(R_last) - 1).max() < 0.1          # the last pass is near-orthonormal
    Q2 = sla.solve_triangular(R_last, Q2.T, trans="T", lower=False).T
    assert np.allclose(R1, R2, rtol=0, atol=1e-14)
    assert np.abs(Q1.T @ Q1 - np.eye(30)).max() < 1e-13
    assert np.abs(Q2 - Q1).max() < 1e-12
    assert np.abs(Q1 @ R1 - S).max() < 1e-14


@pytest.mark.parametrize("k, cond", [(150, 1e3), (200, 1e8)])
def test_blocked_trsm_is_backward_stable_like_blas(k, cond):
    """The recursive column-blocked solve (k > TRSM_BLOCK) against LAPACK's triangular solve."""
    from distrom.reduction._pod_linalg import TRSM_BLOCK, trsm_right_inplace

    assert k > TRSM_BLOCK
    R = _upper(k, cond, 3)
    X = np.asfortranarray(np.random.default_rng(4).standard_normal((700, k)))
    Y = X.copy(order="F")
    assert trsm_right_inplace(Y, R) is Y
    ref = sla.solve_triangular(R, X.T, trans="T", lower=False).T
    assert np.abs(Y @ R - X).max() <= 1e-13 * np.abs(X).max()
    assert np.abs(Y - ref).max() <= 1e-15 * cond * np.abs(ref).max()
