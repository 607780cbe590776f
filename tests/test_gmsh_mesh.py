# SPDX-License-Identifier: BSD-3-Clause
"""``[mesh] type = "gmsh"``: meshes made by the optional PyPI ``gmsh`` package, then solved.

Skipped where ``gmsh`` is not importable (``pip install distrom[gmsh]``); the error raised
without it is tested in tests/test_solver.py.
"""
from __future__ import annotations

import numpy as np
import pytest

try:  # the wheel needs X libraries (libGLU, libXcursor ...): an OSError means "not usable here"
    import gmsh  # noqa: F401
    _GMSH = None
except (ImportError, OSError) as e:  # pragma: no cover - depends on the machine
    _GMSH = f"the optional 'gmsh' package is not importable ({e}); pip install distrom[gmsh]"

pytestmark = pytest.mark.skipif(_GMSH is not None, reason=_GMSH or "")

from distrom.mechanics.config import build_mesh, parse_config  # noqa: E402
from distrom.mesh.elements import get_element, jacobians  # noqa: E402

E, NU = 200e3, 0.3
PLATE = {"length": 2.0, "width": 1.0, "thickness": 0.2, "radius": 0.25}
# uniaxial traction: symmetry planes x0, y0, z0 and a pressure pulling on x1
UNIAXIAL = {"material": {"law": "elastic", "E": E, "nu": NU},
            "dirichlet": [{"set": "x0", "components": "x"}, {"set": "y0", "components": "y"},
                          {"set": "z0", "components": "z"}],
            "pressure": [{"faces": "x1", "value": -100.0}],
            "time": {"times": [1.0]}}


def _volume(mesh):
    b = mesh.cells[0]
    _, detJ, _ = jacobians(b.type, mesh.nodes[b.connectivity])  # raises on inverted cells
    return float((detJ * get_element(b.type).quadrature()[1]).sum())


@pytest.mark.parametrize("element", ["tet4", "tet10"])
def test_holed_plate_geometry(element):
    m = build_mesh({"type": "gmsh", "geometry": "holed_plate", "size": 0.15, "element": element,
                    "params": PLATE}, None)
    assert m.cells[0].type == element and len(m.cells) == 1
    exact = PLATE["thickness"] * (PLATE["length"] * PLATE["width"] - np.pi * PLATE["radius"] ** 2)
    # tet4: the hole is a polygon (chords inside the circle -> a bit more material); tet10's
    # curved edges follow the circle: much closer, which a wrong tet10 node order would break
    vol = _volume(m)
    assert 0 < vol - exact < 1e-2 * exact if element == "tet4" else abs(vol - exact) < 1e-4 * exact
    r = np.hypot(m.nodes[:, 0] - PLATE["length"] / 2, m.nodes[:, 1] - PLATE["width"] / 2)
    assert r.min() > PLATE["radius"] * (1 - 1e-6) and np.isclose(r.min(), PLATE["radius"])
    assert np.unique(m.cells[0].connectivity).size == len(m.nodes)  # no orphan (geometry-only) node
    for name, axis, val in (("x0", 0, 0.0), ("x1", 0, PLATE["length"]), ("z1", 2, PLATE["thickness"])):
        ids = m.node_sets[name]
        assert len(ids) > 0 and np.allclose(m.nodes[ids, axis], val)
        assert len(m.face_sets[name]) > 0


def test_unknown_geometry_and_element_are_named():
    from distrom.errors import InputError

    with pytest.raises(InputError, match="mesh.geometry: unknown geometry 'disc'"):
        build_mesh({"type": "gmsh", "geometry": "disc"}, None)
    with pytest.raises(InputError, match="mesh.element: gmsh meshes are tet4 or tet10"):
        build_mesh({"type": "gmsh", "geometry": "holed_plate", "element": "hex8"}, None)


@pytest.mark.parametrize("element", ["tet4", "tet10"])
def test_geo_file_uniaxial_traction_exact(element, tmp_path):
    """A .geo box meshed by gmsh, solved by the HF solver: uniform stress, u_x = s x / E exactly."""
    from mpi4py import MPI

    from distrom.io import open_case
    from distrom.mechanics.solver import solve

    (tmp_path / "bar.geo").write_text('SetFactory("OpenCASCADE");\nBox(1) = {0, 0, 0, 2, 1, 0.5};\n')
    c = {"mesh": {"type": "gmsh", "file": "bar.geo", "size": 0.4, "element": element}, **UNIAXIAL}
    res = solve(parse_config(c, str(tmp_path / "bar.toml"), base_dir=tmp_path), tmp_path / "b.h5", MPI.COMM_SELF)
    assert res.complete
    with open_case(tmp_path / "b.h5", MPI.COMM_SELF) as case:
        X = case.mesh.nodes
        assert case.mesh.cells[0].type == element and np.isclose(X[:, 0].max(), 2.0)
        U = case.read_field("U", 0, rows=(0, case.fields["U"].n_rows))
        S = case.read_field("sig", 0, rows=(0, case.fields["sig"].n_rows))
    s = 100.0
    assert np.abs(U[:, 0] - s * X[:, 0] / E).max() < 1e-9 * s * 2.0 / E
    assert np.abs(U[:, 1] + NU * s * X[:, 1] / E).max() < 1e-9 * s / E
    assert np.abs(S - [s, 0, 0, 0, 0, 0]).max() < 1e-7 * s


@pytest.mark.mpi
def test_gmsh_mesh_same_solution_at_any_rank_count(comm, shared_tmp):
    """The mesh is made on rank 0 and broadcast: a P-rank solve equals the serial one (1e-8)."""
    from mpi4py import MPI

    from distrom.io import open_case
    from distrom.mechanics.solver import solve

    c = {"mesh": {"type": "gmsh", "geometry": "holed_plate", "size": 0.2, "element": "tet4",
                  "params": PLATE}, **UNIAXIAL}
    c["dirichlet"] = [{"set": "x0", "components": "xyz"}]
    solve(parse_config(c, "plate.toml"), shared_tmp / "par.h5", comm)
    ok, msg = True, ""
    if comm.rank == 0:
        solve(parse_config(c, "plate.toml"), shared_tmp / "ser.h5", MPI.COMM_SELF)
        out = []
        for f in ("par.h5", "ser.h5"):
            with open_case(shared_tmp / f, MPI.COMM_SELF) as case:
                out.append((case.mesh.nodes, case.read_field("U", 0, rows=(0, case.fields["U"].n_rows)),
                            case.read_field("sig", 0, rows=(0, case.fields["sig"].n_rows))))
        (Xp, Up, Sp), (Xs, Us, Ss) = out
        if Xp.shape != Xs.shape or not np.array_equal(Xp, Xs):
            ok, msg = False, "gmsh meshes differ between the parallel and the serial run"
        else:
            eu = np.abs(Up - Us).max() / np.abs(Us).max()
            es = np.abs(Sp - Ss).max() / np.abs(Ss).max()
            # the hole concentrates the stress: sigma_xx well above the nominal 100 somewhere
            ok, msg = eu < 1e-8 and es < 1e-8 and Ss[:, 0].max() > 150.0, f"U {eu:.1e}, sig {es:.1e}, max {Ss[:, 0].max():.0f}"
    ok, msg = comm.bcast((ok, msg), root=0)
    assert ok, msg


@pytest.mark.mpi
def test_gmsh_error_raised_on_every_rank(comm):
    """A bad gmsh table fails on rank 0 (where gmsh runs) and is raised on every rank, no hang."""
    from distrom.errors import InputError

    with pytest.raises(InputError, match="mesh.geometry: unknown geometry 'disc'"):
        build_mesh({"type": "gmsh", "geometry": "disc"}, comm)
