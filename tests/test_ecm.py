"""ECM: the issue's acceptance example, a smooth family, a real Zset mechanics case, P = 1, 2, 3."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import nnls

from distrom.errors import InputError
from distrom.reduction.ecm import ecm

CUBE = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "zset" / "cube"


def bumps(n_f=60, g=40, width=0.15, seed=3):
    """Gaussian bumps on a g x g midpoint grid (PERFORMANCE.md section 5, smaller)."""
    x = (np.arange(g) + 0.5) / g
    X, Y = np.meshgrid(x, x, indexing="ij")
    P = np.c_[X.ravel(), Y.ravel()]
    mu = np.random.default_rng(seed).random((n_f, 2))
    A = np.exp(-((P[None] - mu[:, None]) ** 2).sum(-1) / (2 * width**2))
    return A, np.full(P.shape[0], 1.0 / P.shape[0])


def rel_err(A, w, p, z):
    return np.linalg.norm(A[:, p] @ z - A @ w) / np.linalg.norm(A @ w)


def test_acceptance_arange():
    A = np.arange(200.).reshape(10, 20)
    w = np.arange(20.)
    p, z = ecm(A, w)
    assert p.size <= 2 and p.dtype == np.int64
    assert np.all(z >= 0)
    np.testing.assert_allclose(A[:, p] @ z, A @ w, rtol=1e-12)


@pytest.mark.parametrize("tol", [1e-4, 1e-7])
def test_smooth_family_within_tol_and_few_points(tol):
    A, w = bumps(n_f=200)
    p, z, info = ecm(A, w, tol, return_info=True)
    err = rel_err(A, w, p, z)
    assert err <= tol and abs(err - info["error"]) <= 1e-12
    assert np.all(z > 0) and np.all(np.diff(p) > 0)
    # a basic non-negative solution of the n_f moment equations has at most n_f points; smooth
    # integrands are of low numerical rank, so a loose tolerance needs far fewer
    assert p.size <= A.shape[0]
    if tol >= 1e-4:
        assert p.size < 0.4 * A.shape[0]
    # plain NNLS on all points reaches round-off but with more points than the greedy
    z_all, _ = nnls(A, A @ w)
    assert p.size <= np.count_nonzero(z_all)


def test_max_points_warns_and_stops():
    A, w = bumps()
    with pytest.warns(RuntimeWarning, match="max_points"):
        p, z = ecm(A, w, 1e-10, max_points=5)
    assert p.size <= 5


def test_union_equals_global_serially():
    A, w = bumps(n_f=20, g=20)
    p1, z1 = ecm(A, w, 1e-6)
    p2, z2 = ecm(A, w, 1e-6, mode="union")
    np.testing.assert_array_equal(p1, p2)
    np.testing.assert_allclose(z1, z2, rtol=1e-14)


def test_zero_integrals_give_no_points():
    p, z = ecm(np.zeros((3, 10)), np.ones(10))
    assert p.size == 0 and z.size == 0


@pytest.mark.parametrize("kwargs, match", [
    (dict(weights=-np.ones(20)), ">= 0"),
    (dict(weights=np.ones(19)), "19 entries"),
    (dict(weights=np.ones(20), mode="local"), "mode"),
    (dict(weights=np.ones(20), tol=0.0), "tol"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        ecm(np.ones((3, 20)), **kwargs)


@pytest.mark.mpi
@pytest.mark.parametrize("weights_kind", ["global", "snapshots"])
def test_distributed_same_points_and_weights(comm, weights_kind):
    from distrom.parallel import Snapshots

    A, w = bumps(n_f=40, g=31)  # 961 points: uneven split at P = 2 and 3
    p0, z0 = ecm(A, w, 1e-6)  # serial NumPy reference, on every rank
    S = Snapshots.from_global(A.T, comm=comm)  # rows = points
    W = w if weights_kind == "global" else Snapshots.from_global(w[:, None], comm=comm)
    p, z = ecm(S, W, 1e-6)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_allclose(z, z0, rtol=1e-9)


@pytest.mark.mpi
def test_distributed_union_within_tol(comm):
    from distrom.parallel import Snapshots

    A, w = bumps(n_f=40, g=31)
    pg, zg = ecm(Snapshots.from_global(A.T, comm=comm), w, 1e-6)
    pu, zu, info = ecm(Snapshots.from_global(A.T, comm=comm), w, 1e-6, mode="union", return_info=True)
    assert np.all(zu > 0) and np.unique(pu).size == pu.size
    # each subdomain integrates its own part within tol, so the whole is within P * tol
    assert rel_err(A, w, pu, zu) <= comm.size * 1e-6
    assert abs(info["error"] - rel_err(A, w, pu, zu)) < 1e-12
    if comm.size == 1:
        np.testing.assert_array_equal(pu, pg)
    agreed = comm.allgather((pu.tolist(), zu.tolist()))
    assert all(a == agreed[0] for a in agreed)


@pytest.mark.mpi
def test_distributed_bad_weights_raise_everywhere(comm):
    from distrom.parallel import Snapshots

    A, w = bumps(n_f=5, g=10)
    w = w.copy()
    w[-1] = -1.0  # owned by the last rank only
    with pytest.raises(InputError, match=">= 0"):
        ecm(Snapshots.from_global(A.T, comm=comm), Snapshots.from_global(w[:, None], comm=comm))


# -- a real mechanics case: the Zset cube -----------------------------------------------------
def _hex8_dshape(xi):
    """dN/dxi (8, 3) of the trilinear hexahedron, Zset c3d8 node order."""
    s = np.array([[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1],
                  [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]], dtype=float)
    d = np.empty((8, 3))
    for a in range(3):
        b, c = [i for i in range(3) if i != a]
        d[:, a] = 0.125 * s[:, a] * (1 + s[:, b] * xi[b]) * (1 + s[:, c] * xi[c])
    return d


def _read_cube():
    """Nodes, hex8 connectivity (0-based), U (4, 343, 3), integration-point fields (4, 216, 69, 8)."""
    lines = (CUBE / "cube.geof").read_text().splitlines()
    i = lines.index("**node")
    n_nodes = int(lines[i + 1].split()[0])
    nodes = np.array([[float(v) for v in lines[i + 2 + k].split()[1:4]] for k in range(n_nodes)])
    j = next(k for k, s in enumerate(lines) if s.strip() == "**element")
    n_el = int(lines[j + 1].split()[0])
    conn = np.array([[int(v) for v in lines[j + 2 + k].split()[2:10]] for k in range(n_el)]) - 1
    node = np.fromfile(CUBE / "cube.node", dtype=">f4").astype(float).reshape(4, 6, n_nodes)
    integ = np.fromfile(CUBE / "cube.integ", dtype=">f4").astype(float).reshape(4, n_el, 69, 8)
    return nodes, conn, np.transpose(node[:, :3], (0, 2, 1)), integ


def _strain_operator(nodes, conn):
    """Per integration point (element-major, ip = ix + 2 iy + 4 iz) the map u_e (24) -> eps (6, engineering)."""
    g = 1 / np.sqrt(3)
    B = np.zeros((conn.shape[0] * 8, 6, 24))
    detJ = np.zeros(conn.shape[0] * 8)
    for e, c in enumerate(conn):
        X = nodes[c]
        for ip in range(8):
            xi = np.array([g if (ip >> a) & 1 else -g for a in range(3)])
            dN = _hex8_dshape(xi)
            J = X.T @ dN  # dx/dxi
            dNx = dN @ np.linalg.inv(J)  # (8, 3)
            b = B[8 * e + ip]
            for a in range(8):
                dx, dy, dz = dNx[a]
                b[0, 3 * a], b[1, 3 * a + 1], b[2, 3 * a + 2] = dx, dy, dz
                b[3, 3 * a], b[3, 3 * a + 1] = dy, dx  # 12
                b[4, 3 * a + 1], b[4, 3 * a + 2] = dz, dy  # 23
                b[5, 3 * a + 2], b[5, 3 * a] = dx, dz  # 31
            detJ[8 * e + ip] = np.linalg.det(J)
    return B, detJ


@pytest.fixture(scope="module")
def cube_integrands():
    if not CUBE.is_dir():
        pytest.skip(f"Zset test data not found at {CUBE}")
    nodes, conn, U, integ = _read_cube()
    B, detJ = _strain_operator(nodes, conn)
    dofs = (3 * conn[:, :, None] + np.arange(3)).reshape(conn.shape[0], 24)
    ip_dofs = np.repeat(dofs, 8, axis=0)  # (1728, 24)
    eto = np.transpose(integ[3, :, 0:6, :], (0, 2, 1)).reshape(-1, 6)  # tensor shears
    eps = np.einsum("gij,gj->gi", B, U[3].ravel()[ip_dofs])
    # our B reproduces Zset's strains (engineering shears = 2 x the stored tensor components)
    np.testing.assert_allclose(eps, eto * [1, 1, 1, 2, 2, 2], atol=2e-6 * np.abs(eto).max())
    # displacement POD modes of the loaded outputs, stress snapshots at the integration points
    snaps = U[1:].reshape(3, -1).T
    modes = np.linalg.svd(snaps, full_matrices=False)[0]
    sig = np.transpose(integ[1:, :, 6:12, :], (0, 1, 3, 2)).reshape(3, -1, 6)  # (t, ip, 6)
    eps_modes = np.einsum("gij,gjm->mgi", B, modes[ip_dofs])  # (n_modes, 1728, 6)
    A = np.einsum("mgi,tgi->mtg", eps_modes, sig).reshape(-1, B.shape[0])  # (n_modes*3, 1728)
    return A, detJ  # weights: Gauss weights are 1 for 2x2x2


def test_zset_cube_reduced_internal_forces(cube_integrands):
    A, w = cube_integrands
    assert A.shape == (9, 1728)
    p, z = ecm(A, w, 1e-5)
    exact = A @ w  # the reduced internal forces Phi^T f_int(sigma_t) of the training snapshots
    assert np.linalg.norm(A[:, p] @ z - exact) <= 1e-5 * np.linalg.norm(exact)
    assert np.all(z > 0)
    assert p.size <= A.shape[0]  # points chosen vs functions: at most one per function
    # the cube has 216 elements: ECM keeps a tiny fraction of the 1728 points
    assert p.size < 0.02 * A.shape[1]


@pytest.mark.mpi
def test_zset_cube_distributed(comm, cube_integrands):
    from distrom.parallel import Snapshots

    A, w = cube_integrands
    p0, z0 = ecm(A, w, 1e-8)
    p, z = ecm(Snapshots.from_global(A.T, comm=comm), w, 1e-8)
    np.testing.assert_array_equal(p, p0)
    np.testing.assert_allclose(z, z0, rtol=1e-8)
