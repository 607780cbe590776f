"""Ansys .rst converter against values extracted once by ansys-mapdl-reader 0.56.0
(tests/fixtures/extract_ansys_reference.py -> ansys_static_reference.npz), README facts, errors."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import testdata_path as _testdata_path

from distrom.errors import FormatError
from distrom.io import open_case
from distrom.io.converters import convert, read

RST = _testdata_path() / "ansys" / "static.rst"
REF = Path(__file__).parent / "fixtures" / "ansys_static_reference.npz"
pytestmark = pytest.mark.skipif(not RST.is_file(), reason=f"Ansys test file not found at {RST}")


@pytest.fixture(scope="module")
def ref():
    with np.load(REF, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    out = tmp_path_factory.mktemp("ansys") / "static.case"
    convert("ansys", RST, out)
    with open_case(out) as c:
        yield c


def _by_id(case, ref):
    order = np.argsort(case.mesh.node_ids)
    np.testing.assert_array_equal(case.mesh.node_ids[order], ref["nnum"])
    return order


def test_mesh_matches_the_maintained_reader(case, ref):
    mesh = case.mesh
    order = _by_id(case, ref)
    np.testing.assert_allclose(mesh.nodes[order], ref["nodes"][:, :3], rtol=1e-12, atol=0)
    # 30 SOLID187 -> tet10 cells; 4 SURF154 -> a face set, not volume cells
    assert mesh.cell_types == ["tet10"] and mesh.n_cells == 30
    enum, etype = ref["enum"], ref["etype"]
    off, flat = ref["elem_offsets"], ref["elem_flat"]
    solid = [i for i in range(len(enum)) if etype[i] == 187]
    np.testing.assert_array_equal(mesh.cell_ids, enum[solid])                       # out of order, as stored
    for c, i in enumerate(solid):
        nodes = flat[off[i] + 10:off[i + 1]]                                         # 10 attributes, then nodes
        np.testing.assert_array_equal(mesh.node_ids[mesh.cells[0].connectivity[c]], nodes)
    assert list(mesh.face_sets) == ["SURF154"] and len(mesh.face_sets["SURF154"]) == 4
    from distrom.mesh import get_element

    faces = get_element("tet10").faces
    for (cell, lf), i in zip(mesh.face_sets["SURF154"], [i for i in range(len(enum)) if etype[i] == 154]):
        surf_nodes = set(flat[off[i] + 10:off[i] + 14].tolist())
        corners = mesh.node_ids[mesh.cells[0].connectivity[cell][list(faces[lf][:3])]]
        assert set(corners.tolist()) == surf_nodes
    lo, hi = mesh.bounding_box()
    np.testing.assert_allclose([lo, hi], [[0, 0, -0.009], [0.014, 0.002, 0]], atol=1e-15)


def test_results_match_the_maintained_reader(case, ref):
    order = _by_id(case, ref)
    np.testing.assert_allclose(case.times, ref["time_values"], rtol=1e-12)
    np.testing.assert_array_equal(ref["disp_nnum"], ref["nnum"])
    np.testing.assert_allclose(case.read_field("U", 0)[order], ref["disp"], rtol=1e-12, atol=0)
    sig = case.read_field("sig_node", 0)[order]
    assert np.array_equal(np.isnan(sig), np.isnan(ref["nodal_stress"]))
    assert np.isnan(sig[:, 0]).sum() == 71                                            # mid-side nodes
    ok = ~np.isnan(sig)
    np.testing.assert_allclose(sig[ok], ref["nodal_stress"][ok], rtol=1e-12, atol=0)
    eel = case.read_field("eps_el_node", 0)[order].copy()
    eel[:, 3:] *= 2.0                                                                 # stored as tensor shears
    ok = ~np.isnan(eel)
    np.testing.assert_allclose(eel[ok], ref["nodal_elastic_strain"][:, :6][ok], rtol=1e-12, atol=0)
    eqv = case.read_field("eps_el_eqv_node", 0)[order, 0]
    ok = ~np.isnan(eqv)
    np.testing.assert_allclose(eqv[ok], ref["nodal_elastic_strain"][ok, 6], rtol=1e-12, atol=0)
    T = case.read_field("T", 0)[order, 0]
    assert np.array_equal(np.isnan(T), np.isnan(ref["nodal_temperature"]))
    np.testing.assert_array_equal(T[~np.isnan(T)], 22.0)
    # reactions: the 45 (node, dof) values; zero elsewhere
    rf = case.read_field("RF", 0)
    index = {int(v): k for k, v in enumerate(case.mesh.node_ids)}
    got = np.array([rf[index[int(n)], int(d) - 1] for n, d in zip(ref["rf_nnum"], ref["rf_dof"])])
    np.testing.assert_allclose(got, ref["rf"], rtol=1e-12, atol=0)
    assert np.count_nonzero(rf) == len(ref["rf"]) and rf[:, 0].sum() == pytest.approx(-5.0, rel=1e-10)


def test_readme_facts(case):
    i = int(np.flatnonzero(case.mesh.node_ids == 50)[0])
    np.testing.assert_allclose(case.read_field("U", 0)[i], [4.25318260e-09, 1.29584732e-10, -2.00613992e-11], rtol=1e-8)
    U = case.read_field("U", 0)
    k = int(np.argmax(np.abs(U).max(axis=1)))          # README's max |U|: the largest component
    assert case.mesh.node_ids[k] == 16 and np.abs(U).max() == pytest.approx(1.9061e-08, rel=1e-4)
    np.testing.assert_allclose(case.mesh.nodes[k], [0.014, 0.002, -0.0045], atol=1e-15)
    assert case.attrs["solver"] == "Ansys MAPDL 25.2"


def test_node_order_in_the_file_is_not_sorted_and_is_mapped():
    """The solution rows follow the file's node table (5, 9, 20, ...), not the node numbers."""
    from distrom.io.converters.ansys import RstFile, _ptr

    f = RstFile(RST)
    rh = f.record(103)
    neqv = f.record(_ptr(rh[14], rh[44]))
    f.close()
    assert not np.all(np.diff(neqv) > 0) and list(neqv[:3]) == [5, 9, 20]


def test_errors(tmp_path):
    bad = tmp_path / "static.rst"
    shutil.copy(RST, bad)
    bad.chmod(0o644)
    data = bad.read_bytes()
    bad.write_bytes(data[:len(data) // 2])
    out = tmp_path / "bad.case"
    with pytest.raises(FormatError, match=r"static\.rst.*truncated"):
        convert("ansys", bad, out)
    assert not out.exists() and not list(tmp_path.glob(".bad.case*"))
    (tmp_path / "x.rst").write_bytes(b"not an ansys file at all")
    with pytest.raises(FormatError, match=r"x\.rst.*not an Ansys binary result file"):
        read("ansys", tmp_path / "x.rst")
    with pytest.raises(FormatError, match=r"missing Ansys result file.*none\.rst"):
        read("ansys", tmp_path / "none.rst")


def test_unsupported_element_type_is_named(tmp_path):
    """Patch the routine number of element type 1 (SOLID187) to 999 in a copy of the file."""
    from distrom.io.converters.ansys import RstFile, _ptr

    f = RstFile(RST)
    rh = f.record(103)
    gh = f.record(_ptr(rh[15], rh[46]))
    p_ety = _ptr(gh[20], gh[21])
    first_type = int(f.record(p_ety + f.record_words(p_ety))[0])
    f.close()
    start = 4 * (p_ety + first_type)             # the type record (windowed-sparse ints here)
    n_words = int(np.frombuffer(RST.read_bytes()[start:start + 4], "<i4")[0])
    data = bytearray(RST.read_bytes())
    words = np.frombuffer(bytes(data[start + 8:start + 8 + 4 * n_words]), "<i4")
    k = int(np.flatnonzero(words == 187)[0])     # the routine number, stored once in the record
    data[start + 8 + 4 * k:start + 12 + 4 * k] = np.array([999], "<i4").tobytes()
    bad = tmp_path / "patched.rst"
    bad.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=r"patched\.rst: unsupported Ansys element type 999.*SOLID185"):
        read("ansys", bad)
