# SPDX-License-Identifier: BSD-3-Clause
"""``distrom pod CASE --field NAME -o BASIS`` on a small case, at P = 1, 2, 3."""
import numpy as np
import pytest

from distrom.cli.main import main
from distrom.io import CaseWriter
from distrom.io.basis import load_basis
from distrom.mesh import CellBlock, Mesh
from distrom.parallel import Layout

NX, N_STEPS = 40, 24


def bar_mesh(nx=NX) -> Mesh:
    """A row of nx hex8 cells: 4 (nx + 1) nodes."""
    x = np.array([[i, j, k] for i in range(nx + 1) for j in (0, 1) for k in (0, 1)], float)
    n = lambda i, j, k: 4 * i + 2 * j + k  # noqa: E731
    hexes = np.array([[n(i, 0, 0), n(i + 1, 0, 0), n(i + 1, 1, 0), n(i, 1, 0),
                       n(i, 0, 1), n(i + 1, 0, 1), n(i + 1, 1, 1), n(i, 1, 1)] for i in range(nx)])
    return Mesh(x, [CellBlock("hex8", hexes, np.arange(nx) + 1)], node_ids=np.arange(len(x)) + 1)


def field_values():
    """Snapshot matrix (rows = node * 3 + component) with sigma_k = 10^(-k/4), as steps."""
    n_rows = 4 * (NX + 1) * 3
    rng = np.random.default_rng(11)
    U, _ = np.linalg.qr(rng.standard_normal((n_rows, N_STEPS)))
    V, _ = np.linalg.qr(rng.standard_normal((N_STEPS, N_STEPS)))
    S = (U * 10.0 ** (-np.arange(N_STEPS) / 4)) @ V.T
    return S


def write_case(path, comm):
    mesh = bar_mesh()
    S = field_values()
    lo, hi = Layout.balanced(mesh.n_nodes, comm).range
    with CaseWriter(path, mesh, comm, source="test_pod_cli") as w:
        w.add_field("U", "node", 3, units="m")
        for k in range(N_STEPS):
            step = w.add_step(0.1 * (k + 1))
            w.write("U", step, S[:, k].reshape(-1, 3)[lo:hi], rows=(lo, hi))
    return S


@pytest.mark.mpi
@pytest.mark.parametrize("method", ["snapshots", "svd"])
def test_cli_pod_writes_basis_matching_numpy(comm, shared_tmp, method, capsys):
    case = shared_tmp / "case.h5"
    S = write_case(case, comm)
    out = shared_tmp / "basis.h5"
    rc = main(["pod", str(case), "--field", "U", "--tol", "1e-3", "--method", method, "-o", str(out)])
    assert rc == 0
    if comm.rank == 0:
        assert "modes of field 'U'" in capsys.readouterr().out
    s = np.linalg.svd(S, compute_uv=False)
    k = int(np.flatnonzero(np.concatenate([np.cumsum((s ** 2)[::-1])[::-1], [0]])
                           <= 1e-6 * np.sum(s ** 2))[0])
    b = load_basis(out, comm)
    assert b.n_modes == k and b.info["field"] == "U"
    np.testing.assert_allclose(b.singular_values[:k], s[:k], rtol=1e-10)
    U = b.modes.gather()
    assert np.abs(U.T @ U - np.eye(k)).max() <= 1e-12
    # The basis spans the field: projection error within tol.
    R = S - U @ (U.T @ S)
    assert np.sum(R ** 2) <= 1e-6 * np.sum(S ** 2)
    # Steps subset, rank cap, and an existing output without --force.
    rc = main(["pod", str(case), "--field", "U", "--rank", "3", "--steps", "0:12", "-o", str(out),
               "--force", "--method", method])
    assert rc == 0
    b = load_basis(out, comm)
    assert b.n_modes == 3
    np.testing.assert_allclose(b.singular_values[:3], np.linalg.svd(S[:, :12], compute_uv=False)[:3],
                               rtol=1e-10)
    assert main(["pod", str(case), "--field", "U", "--rank", "3", "-o", str(out)]) == 2


@pytest.mark.mpi
def test_cli_pod_errors_on_every_rank(comm, shared_tmp, capsys):
    case = shared_tmp / "case.h5"
    write_case(case, comm)
    out = str(shared_tmp / "b.h5")
    assert main(["pod", str(case), "--field", "temperature", "-o", out]) == 2
    if comm.rank == 0:
        assert "no field 'temperature'" in capsys.readouterr().err
    assert main(["pod", str(case), "--field", "U", "--rank", "1000", "-o", out]) == 2
    assert main(["pod", str(shared_tmp / "nope.h5"), "--field", "U", "-o", out]) == 2
    assert main(["pod", str(case), "--field", "U", "--steps", "a:b", "-o", out]) == 2
