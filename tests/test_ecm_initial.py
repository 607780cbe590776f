"""ECM started from given points (``initial_points=``, used by the adaptive loop), P = 1, 2, 3."""
from __future__ import annotations

import numpy as np
import pytest

from distrom.errors import InputError
from distrom.reduction.ecm import ecm


from test_ecm import bumps as _bumps, rel_err  # noqa: E402


def bumps(n_f=80, g=30, width=0.2, seed=5):
    return _bumps(n_f=n_f, g=g, width=width, seed=seed)


def test_enriched_integrands_keep_old_points_and_reach_tol():
    A, w = bumps()
    p0, _ = ecm(A[:40], w, 1e-6)        # the model before enrichment
    p1, z1 = ecm(A, w, 1e-6, initial_points=p0)
    assert rel_err(A, w, p1, z1) <= 1e-6
    assert np.all(z1 > 0) and np.all(np.diff(p1) > 0)
    # most old points stay (a point leaves only when its weight drops to zero in the re-fit)
    assert np.isin(p0, p1).mean() >= 0.7
    # the greedy from scratch picks other points: starting from p0 really changed the result
    p_fresh, _ = ecm(A, w, 1e-6)
    assert not np.array_equal(p_fresh, p1)


def test_initial_points_already_enough_adds_nothing():
    A, w = bumps()
    p0, z0 = ecm(A, w, 1e-6)
    p1, z1 = ecm(A, w, 1e-6, initial_points=p0)
    np.testing.assert_array_equal(p1, p0)
    np.testing.assert_allclose(z1, z0, rtol=1e-8)


def test_initial_points_errors():
    A, w = bumps(n_f=10, g=6)
    with pytest.raises(InputError, match="initial_points must lie"):
        ecm(A, w, 1e-6, initial_points=[0, 36])
    with pytest.raises(InputError, match="mode='global'"):
        ecm(A, w, 1e-6, initial_points=[0], mode="union")


@pytest.mark.mpi
def test_initial_points_distributed_equals_serial(comm):
    from distrom.parallel import Snapshots

    A, w = bumps()
    p0, _ = ecm(A[:40], w, 1e-6)
    ps, zs = ecm(A, w, 1e-6, initial_points=p0)
    pd, zd = ecm(Snapshots.from_global(A.T, comm=comm), w, 1e-6, initial_points=p0)
    np.testing.assert_array_equal(pd, ps)
    # 60 points for 80 near-dependent integrands: the weights are ill-conditioned (round-off
    # of the distributed Gram moves them at 1e-7), the integrals they give are not
    np.testing.assert_allclose(zd, zs, rtol=1e-5)
    np.testing.assert_allclose(A[:, pd] @ zd, A[:, ps] @ zs, rtol=1e-10)
    both = comm.allgather(pd.tolist())
    assert all(b == both[0] for b in both)
