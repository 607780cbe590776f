"""IncrementalPOD.from_basis: continue a saved POD with new snapshots (the adaptive loop), P = 1, 2, 3."""
from __future__ import annotations

import numpy as np
import pytest

from distrom.errors import InputError
from distrom.reduction.pod import IncrementalPOD, pod


def data(n=157, seed=2):
    rng = np.random.default_rng(seed)
    # graded spectrum down to 1e-9: the tail modes are what seeding by update() would lose
    Q, _ = np.linalg.qr(rng.standard_normal((n, 12)))
    s = 10.0 ** -np.linspace(0, 9, 12)
    S1 = Q @ (s[:, None] * rng.standard_normal((12, 20)))
    S2 = rng.standard_normal((n, 2))
    return S1, S2


def test_from_basis_then_update_matches_batch_pod():
    S1, S2 = data()
    b1 = pod(S1, rank=12, method="svd")
    ip = IncrementalPOD.from_basis(b1.modes, b1.singular_values, rank=14, update_tol=1e-14)
    assert ip.n_modes == 12  # no mode lost, even at sigma/sigma_1 = 1e-9
    ip.update(S2)
    b = ip.basis()
    ref = np.linalg.svd(np.c_[S1, S2], compute_uv=False)[:14]
    np.testing.assert_allclose(b.singular_values[:14], ref, rtol=1e-8, atol=1e-12 * ref[0])
    U = b.modes
    np.testing.assert_allclose(U.T @ U, np.eye(U.shape[1]), atol=1e-10)
    # the span contains the new snapshots
    R = S2 - U @ (U.T @ S2)
    assert np.linalg.norm(R) <= 1e-10 * np.linalg.norm(S2)


def test_from_basis_energy_counts_the_truncated_tail():
    S1, _ = data()
    b1 = pod(S1, rank=5, method="svd")
    total = float(np.sum(np.linalg.svd(S1, compute_uv=False) ** 2))
    ip = IncrementalPOD.from_basis(b1.modes, b1.singular_values, energy=total, rank=5)
    assert ip.energy == pytest.approx(total)
    assert ip.discarded_energy == pytest.approx(total - float(np.sum(b1.singular_values[:5] ** 2)))
    with pytest.raises(InputError, match="singular values"):
        IncrementalPOD.from_basis(b1.modes, [1.0, 2.0])


@pytest.mark.mpi
def test_from_basis_distributed_equals_serial(comm):
    from distrom.parallel import Layout, Snapshots

    S1, S2 = data()
    b1 = pod(S1, rank=12, method="svd")
    ip = IncrementalPOD.from_basis(b1.modes, b1.singular_values, rank=14, update_tol=1e-14)
    ip.update(S2)
    ref = ip.basis()
    lo, hi = Layout.balanced(S1.shape[0], comm).range
    ipd = IncrementalPOD.from_basis(Snapshots.from_local(b1.modes[lo:hi], comm=comm), b1.singular_values,
                                    rank=14, update_tol=1e-14)
    ipd.update(Snapshots.from_local(S2[lo:hi], comm=comm))
    bd = ipd.basis()
    np.testing.assert_allclose(bd.singular_values, ref.singular_values, rtol=1e-10)
    M = bd.modes.gather()
    signs = np.sign(np.sum(M * ref.modes, axis=0))
    np.testing.assert_allclose(M * signs, ref.modes, atol=1e-8)
