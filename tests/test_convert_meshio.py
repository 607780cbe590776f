"""meshio converter: round trips through msh, vtu, xdmf, med and inp keep coordinates, distrom's
node order (hex20 from a real CalculiX mesh, mirrored VTK wedges), sets and point data."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import testdata_path as _testdata_path

from distrom.errors import FormatError
from distrom.io import open_case
from distrom.io.converters import convert, read
from distrom.mesh import get_element

meshio = pytest.importorskip("meshio", reason="meshio is not installed (extra 'converters')")
CCX = _testdata_path() / "calculix"
FORMATS = [("vtu", {}), ("msh", {"file_format": "gmsh22", "binary": False}), ("xdmf", {}), ("med", {}), ("inp", {})]


def _bar():
    from distrom.io.converters.calculix import read_calculix

    r = read_calculix(CCX / "beampkin.frd", use_dat=False)
    return r.mesh, next(r.steps())["U"]


@pytest.mark.skipif(not CCX.is_dir(), reason="CalculiX test data not found")
@pytest.mark.parametrize("ext,kw", FORMATS, ids=[f[0] for f in FORMATS])
def test_hex20_round_trip(tmp_path, ext, kw):
    mesh, U = _bar()
    m = meshio.Mesh(mesh.nodes, [("hexahedron20", mesh.cells[0].connectivity)], point_data={"U": U})
    path = tmp_path / f"bar.{ext}"
    meshio.write(path, m, **kw)
    out = tmp_path / "bar.case"
    convert("meshio", path, out)
    with open_case(out) as case:
        assert case.mesh.cell_types == ["hex20"]
        np.testing.assert_array_equal(case.mesh.cells[0].connectivity, mesh.cells[0].connectivity)
        np.testing.assert_allclose(case.mesh.nodes, mesh.nodes, rtol=1e-12, atol=1e-15)
        if ext != "inp":                                 # meshio's abaqus writer drops point data
            np.testing.assert_allclose(case.read_field("U", 0), U, rtol=1e-12, atol=0)


def _wedges():
    # two wedges in distrom order with positive orientation (bottom triangle, then top)
    nodes = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 1], [0, 1, 1],
                      [1, 1, 0], [1, 1, 1]], dtype=float)
    conn = np.array([[0, 1, 2, 3, 4, 5], [1, 6, 2, 4, 7, 5]])
    return nodes, conn


@pytest.mark.parametrize("ext,kw", FORMATS[:4], ids=[f[0] for f in FORMATS[:4]])
def test_wedge_vtk_order_is_mapped(tmp_path, ext, kw):
    nodes, conn = _wedges()
    perm = list(get_element("wedge6").vtk_perm)
    m = meshio.Mesh(nodes, [("wedge", conn[:, perm])])    # meshio holds VTK's order
    path = tmp_path / f"w.{ext}"
    meshio.write(path, m, **kw)
    r = read("meshio", path)
    np.testing.assert_array_equal(r.mesh.cells[0].connectivity, conn)
    from distrom.mesh import cell_volumes

    assert np.all(cell_volumes("wedge6", r.mesh.nodes[r.mesh.cells[0].connectivity]) > 0)


def test_gmsh_physical_groups_become_cell_and_face_sets(tmp_path):
    # one tet, its face (0, 1, 2) tagged 7, the tet tagged 3
    nodes = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], dtype=float)
    m = meshio.Mesh(nodes, [("triangle", np.array([[0, 2, 1]])), ("tetra", np.array([[0, 1, 2, 3]]))],
                    cell_data={"gmsh:physical": [np.array([7]), np.array([3])],
                               "gmsh:geometrical": [np.array([1]), np.array([1])]})
    path = tmp_path / "t.msh"
    meshio.write(path, m, file_format="gmsh22", binary=False)
    r = read("meshio", path)
    assert r.mesh.cell_types == ["tet4"] and r.mesh.n_cells == 1
    assert r.mesh.cell_sets["physical_3"].tolist() == [0]
    cell, lf = r.mesh.face_sets["physical_7"][0]
    assert cell == 0 and set(get_element("tet4").faces[lf]) == {0, 1, 2}


@pytest.mark.skipif(not CCX.is_dir(), reason="CalculiX test data not found")
def test_meshio_abaqus_reader_refuses_the_calculix_decks_ours_reads_them():
    from distrom.io.converters.calculix import read_inp

    with pytest.raises(meshio.ReadError):
        meshio.abaqus.read(CCX / "beamcr.inp")
    assert read_inp(CCX / "beamcr.inp").n_cells == 32


def test_errors(tmp_path):
    nodes = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0], [0.5, 0.5, 1]], dtype=float)
    path = tmp_path / "p.vtu"
    meshio.write(path, meshio.Mesh(nodes, [("pyramid", np.array([[0, 1, 2, 3, 4]]))]))
    with pytest.raises(FormatError, match=r"p\.vtu.*unsupported meshio cell type 'pyramid'"):
        read("meshio", path)
    (tmp_path / "junk.vtu").write_text("this is not a vtu file")
    with pytest.raises(FormatError, match=r"junk\.vtu"):
        read("meshio", tmp_path / "junk.vtu")
    with pytest.raises(FormatError, match=r"missing mesh file.*absent\.msh"):
        read("meshio", tmp_path / "absent.msh")
