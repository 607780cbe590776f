"""Zset converter on the real files of testdata/zset: independent NumPy reads, README facts,
the 2-subdomain run against the serial one, clear errors, and the conversion under MPI."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from distrom.errors import FormatError
from distrom.io import open_case
from distrom.io.converters import convert, read

from conftest import testdata_path as _testdata_path

TESTDATA = _testdata_path()
CUBE = TESTDATA / "zset" / "cube"
CUBE2 = TESTDATA / "zset" / "cube_2dom"
pytestmark = pytest.mark.skipif(not CUBE.is_dir(), reason=f"Zset test data not found at {CUBE}")

N_NODE_F, N_INT_F = 6, 69


def raw_node(path: Path, n_nodes: int) -> np.ndarray:
    """Independent read: (n_steps, n_fields, n_nodes) of a .node file."""
    return np.fromfile(path, dtype=">f4").reshape(-1, N_NODE_F, n_nodes).astype(np.float64)


def raw_integ(path: Path, n_elem: int) -> np.ndarray:
    """Independent read: (n_steps, n_elem, n_fields, 8) of a c3d8 .integ file."""
    return np.fromfile(path, dtype=">f4").reshape(-1, n_elem, N_INT_F, 8).astype(np.float64)


# distrom's hex8 rule runs zeta fastest, Zset's xi fastest: distrom ip j=(ix,iy,iz) -> Zset ix+2iy+4iz
ZSET_IP_OF_DISTROM = np.array([ix + 2 * iy + 4 * iz for ix in range(2) for iy in range(2) for iz in range(2)])


@pytest.fixture(scope="module")
def serial_case(tmp_path_factory):
    out = tmp_path_factory.mktemp("zset") / "cube.case"
    convert("zset", CUBE / "cube.ut", out)
    with open_case(out) as case:
        yield case


def test_mesh_matches_readme_facts(serial_case):
    mesh = serial_case.mesh
    assert mesh.n_nodes == 343 and mesh.cell_types == ["hex8"] and mesh.n_cells == 216
    np.testing.assert_array_equal(mesh.node_ids, np.arange(1, 344))
    np.testing.assert_array_equal(mesh.cell_ids, np.arange(1, 217))
    i, j, k = np.meshgrid(range(7), range(7), range(7), indexing="ij")
    ids = (1 + i + 7 * j + 49 * k).ravel()
    xyz = np.stack([i.ravel(), j.ravel(), k.ravel()], axis=1) / 6.0
    np.testing.assert_allclose(mesh.nodes[ids - 1], xyz, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(mesh.node_ids[mesh.cells[0].connectivity[0]], [1, 2, 9, 8, 50, 51, 58, 57])
    # groups: 45 nsets, 3 fasets of 88 faces in all, kept as face sets (not volume cells)
    assert len(mesh.node_sets) == 45 and mesh.node_ids[mesh.node_sets["center"]].tolist() == [172]
    assert sorted(mesh.face_sets) == ["px0", "x0", "x1"]
    assert sum(len(v) for v in mesh.face_sets.values()) == 88
    # every face of x0 lies on the plane x = 0, every face of x1 on x = 1
    from distrom.mesh import get_element

    faces = get_element("hex8").faces
    for name, x in (("x0", 0.0), ("x1", 1.0)):
        for cell, lf in mesh.face_sets[name]:
            nodes = mesh.cells[0].connectivity[cell][list(faces[lf])]
            np.testing.assert_allclose(mesh.nodes[nodes, 0], x, atol=1e-15)


def test_every_step_matches_an_independent_binary_read(serial_case):
    node = raw_node(CUBE / "cube.node", 343)
    integ = raw_integ(CUBE / "cube.integ", 216)
    np.testing.assert_array_equal(serial_case.times, [0.0, 0.1, 0.15, 0.2])
    names = (CUBE / "cube.ut").read_text().splitlines()[2].split()[1:]
    assert len(names) == N_INT_F
    for k in range(4):
        np.testing.assert_allclose(serial_case.read_field("U", k), node[k, 0:3].T, rtol=1e-12, atol=0)
        np.testing.assert_allclose(serial_case.read_field("RF", k), node[k, 3:6].T, rtol=1e-12, atol=0)
        for field, first in (("eps", "eto11"), ("sig", "sig11"), ("cui", "cui11")):
            f0 = names.index(first)
            ref = integ[k, :, f0:f0 + 6, :][:, :, ZSET_IP_OF_DISTROM]          # (elem, comp, ip)
            ref = ref.transpose(0, 2, 1).reshape(216 * 8, 6)
            np.testing.assert_allclose(serial_case.read_field(field, k), ref, rtol=1e-12, atol=0)
        f0 = names.index("gamev1")
        ref = integ[k, :, f0:f0 + 12, :][:, :, ZSET_IP_OF_DISTROM].transpose(0, 2, 1).reshape(-1, 12)
        np.testing.assert_allclose(serial_case.read_field("gamev", k), ref, rtol=1e-12, atol=0)
    assert serial_case.fields["sig"].source_name == "sig11 sig22 sig33 sig12 sig23 sig31"
    assert serial_case.fields["U"].source_name == "U1 U2 U3"
    assert serial_case.fields["RF"].source_name == "RU1 RU2 RU3"


def test_readme_sanity_values(serial_case):
    np.testing.assert_allclose(serial_case.read_field("U", 3)[342], [-2.1156119e-04, 4.9863582e-05, 4.9863585e-05],
                               rtol=1e-7)
    sig11 = serial_case.read_field("sig", 3)[215 * 8:216 * 8, 0]
    zset_order = [-30.61635, -30.17201, -30.12978, -29.62526, -30.12978, -29.62526, -29.64271, -29.07800]
    np.testing.assert_allclose(sig11, np.array(zset_order)[ZSET_IP_OF_DISTROM], rtol=1e-6)
    # reactions of the x = 1 face: -300, -165, -30
    x1 = serial_case.mesh.node_sets["x1"]
    sums = [serial_case.read_field("RF", k)[x1, 0].sum() for k in (1, 2, 3)]
    np.testing.assert_allclose(sums, [-300, -165, -30], rtol=1e-5)


def test_ip_order_is_that_of_distroms_rule(serial_case):
    """eps at distrom's Gauss points equals the symmetric gradient of U there (float32 round-off):
    a wrong ip mapping mixes points and fails by orders of magnitude."""
    from distrom.mesh import jacobians

    mesh = serial_case.mesh
    conn = mesh.cells[0].connectivity
    _, _, grads = jacobians("hex8", mesh.nodes[conn])        # (n_cells, n_q, n_nodes, 3)
    for k in (1, 3):
        U = serial_case.read_field("U", k)
        G = np.einsum("cni,cqnj->cqij", U[conn], grads)
        eps = 0.5 * (G + G.transpose(0, 1, 3, 2))
        voigt = np.stack([eps[..., 0, 0], eps[..., 1, 1], eps[..., 2, 2], eps[..., 0, 1], eps[..., 1, 2],
                          eps[..., 2, 0]], axis=-1).reshape(-1, 6)
        got = serial_case.read_field("eps", k)
        scale = np.abs(got).max()
        assert np.abs(voigt - got).max() < 1e-5 * scale
        wrong = got.reshape(216, 8, 6)[:, ZSET_IP_OF_DISTROM].reshape(-1, 6)   # the unmapped order
        assert np.abs(voigt - wrong).max() > 1e-2 * scale


def _independent_2dom_assembly() -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Global fields of the 2-subdomain run, assembled by hand from the subdomain files."""
    from distrom.io.converters.zset import read_geof

    g = read_geof(CUBE2 / "cube.geof").mesh
    U = np.zeros((4, 343, 3))
    sig = np.zeros((4, 216 * 8, 6))
    part = np.full(216, -1)
    names = (CUBE2 / "cube-001.ut").read_text().splitlines()[2].split()[1:]
    for d in (2, 1):                     # subdomain 1 written last: it wins at shared nodes
        sub = read_geof(CUBE2 / "cube-pmeshes" / f"cube-00{d}.geof").mesh
        nodes = sub.node_ids - 1         # global ids; global order is id order here
        cells = sub.cell_ids - 1
        node = raw_node(CUBE2 / f"cube-00{d}.node", len(nodes))
        integ = raw_integ(CUBE2 / f"cube-00{d}.integ", len(cells))
        U[:, nodes] = node[:, 0:3].transpose(0, 2, 1)
        f0 = names.index("sig11")
        vals = integ[:, :, f0:f0 + 6][..., ZSET_IP_OF_DISTROM].transpose(0, 1, 3, 2)   # (k, e, ip, c)
        rows = (cells[:, None] * 8 + np.arange(8)).ravel()
        sig[:, rows] = vals.reshape(4, -1, 6)
        part[cells] = d - 1
    assert np.array_equal(g.node_ids, np.arange(1, 344)) and np.array_equal(g.cell_ids, np.arange(1, 217))
    return {"U": U, "sig": sig}, part


def test_two_subdomains_equal_independent_assembly_and_serial_run(serial_case, tmp_path):
    out = tmp_path / "cube2.case"
    convert("zset", CUBE2 / "cube.cut", out)
    ref, part = _independent_2dom_assembly()
    with open_case(out) as c2:
        assert c2.partition is not None and c2.partition.n_parts == 2
        np.testing.assert_array_equal(c2.partition.cell_part, part)
        # README: subdomain cube-001 holds x in [0.5, 1]
        centers = c2.mesh.nodes[c2.mesh.cells[0].connectivity].mean(axis=1)
        assert np.all((centers[:, 0] > 0.5) == (c2.partition.cell_part == 0))
        np.testing.assert_allclose(c2.mesh.nodes, serial_case.mesh.nodes, rtol=0, atol=1e-15)
        np.testing.assert_array_equal(c2.mesh.cells[0].connectivity, serial_case.mesh.cells[0].connectivity)
        for k in range(4):
            np.testing.assert_allclose(c2.read_field("U", k), ref["U"][k], rtol=1e-12, atol=0)
            np.testing.assert_allclose(c2.read_field("sig", k), ref["sig"][k], rtol=1e-12, atol=0)
            # a separate run: README bounds (U to 3.1e-10, ip fields to 1e-4 of their maximum)
            assert np.abs(c2.read_field("U", k) - serial_case.read_field("U", k)).max() <= 3.2e-10
            for f in ("sig", "eps", "gamcu", "cugeq"):
                a, b = c2.read_field(f, k), serial_case.read_field(f, k)
                assert np.abs(a - b).max() <= 1e-4 * max(np.abs(b).max(), 1e-30) + 1e-15, f
        # RU away from the interface x = 0.5 matches the serial run
        away = np.abs(serial_case.mesh.nodes[:, 0] - 0.5) > 1e-9
        np.testing.assert_allclose(c2.read_field("RF", 1)[away], serial_case.read_field("RF", 1)[away],
                                   rtol=0, atol=1e-6)


def _copy_cube(tmp_path: Path) -> Path:
    d = tmp_path / "cube"
    shutil.copytree(CUBE, d)
    for p in d.iterdir():
        p.chmod(0o644)
    return d


def test_truncated_integ_is_a_clear_error_and_leaves_no_case(tmp_path):
    d = _copy_cube(tmp_path)
    with open(d / "cube.integ", "r+b") as fh:
        fh.truncate(1907712 - 4 * 8 * 69)
    out = tmp_path / "bad.case"
    with pytest.raises(FormatError, match=r"cube\.integ.*(truncated|integration points)"):
        convert("zset", d / "cube.ut", out)
    assert not out.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".bad.case")]


def test_truncated_node_file(tmp_path):
    d = _copy_cube(tmp_path)
    with open(d / "cube.node", "r+b") as fh:
        fh.truncate(32928 - 100)
    with pytest.raises(FormatError, match=r"cube\.node.*truncated"):
        read("zset", d / "cube.ut")


def test_missing_companion_files(tmp_path):
    d = _copy_cube(tmp_path)
    (d / "cube.node").unlink()
    with pytest.raises(FormatError, match=r"missing Zset nodal results.*cube\.node.*cube\.ut"):
        read("zset", d / "cube.ut")
    (d / "cube.geof").unlink()
    with pytest.raises(FormatError, match=r"missing Zset mesh file.*cube\.geof"):
        read("zset", d / "cube.ut")
    with pytest.raises(FormatError, match=r"missing result index of subdomain 2.*cube-002\.ut"):
        shutil.copytree(CUBE2, tmp_path / "c2")
        (tmp_path / "c2" / "cube-002.ut").chmod(0o644)
        (tmp_path / "c2" / "cube-002.ut").unlink()
        read("zset", tmp_path / "c2" / "cube.cut")


def test_wrong_format_and_unsupported_element(tmp_path):
    d = _copy_cube(tmp_path)
    (d / "cube.ut").write_text("hello\n")
    with pytest.raises(FormatError, match=r"cube\.ut.*not a Zset \.ut"):
        read("zset", d / "cube.ut")
    geof = d / "cube.geof"
    with pytest.raises(FormatError, match=r"not a Zset \.geof"):
        from distrom.io.converters.zset import read_geof

        read_geof(d / "cube.integ")
    geof.write_text(geof.read_text().replace("1 c3d8 1 2 9 8", "1 c3d27 1 2 9 8", 1))
    with pytest.raises(FormatError, match=r"unsupported Zset element type 'c3d27'"):
        read_geof(geof)


@pytest.mark.mpi
def test_two_subdomains_under_mpi_equal_the_serial_conversion(comm, shared_tmp):
    """Ranks share the subdomain files (P = 3 leaves a rank with none); the case is the same."""
    out = Path(shared_tmp) / "cube2_mpi.case"
    convert("zset", CUBE2 / "cube.cut", out, comm=comm)
    ref, part = _independent_2dom_assembly()
    comm.Barrier()
    with open_case(out) as c:            # read back serially on every rank
        np.testing.assert_array_equal(c.partition.cell_part, part)
        for k in range(4):
            np.testing.assert_allclose(c.read_field("U", k, rows=(0, 343)), ref["U"][k], rtol=1e-12, atol=0)
            np.testing.assert_allclose(c.read_field("sig", k, rows=(0, 1728)), ref["sig"][k], rtol=1e-12, atol=0)
    comm.Barrier()


def _long_run(d: Path, n_steps: int) -> Path:
    """A synthetic Zset run on the real cube mesh: U (nodal) and sig (ip), n_steps outputs."""
    d.mkdir()
    shutil.copy(CUBE / "cube.geof", d / "cube.geof")
    names = " ".join(f"sig{c}" for c in ("11", "22", "33", "12", "23", "31"))
    lines = [f"{k + 1} 1 {k + 1} 1 {0.01 * k:.15e}" for k in range(n_steps)]
    (d / "cube.ut").write_text("**meshfile cube.geof\n**node U1 U2 U3\n**integ " + names + "\n**element\n"
                               + "\n".join(lines) + "\n")
    rng = np.random.default_rng(0)
    with open(d / "cube.node", "wb") as fh:
        for k in range(n_steps):
            fh.write(rng.standard_normal(3 * 343).astype(">f4").tobytes())
    with open(d / "cube.integ", "wb") as fh:
        for k in range(n_steps):
            fh.write(np.full(216 * 6 * 8, float(k), dtype=">f4").tobytes())
    return d / "cube.ut"


def test_conversion_memory_does_not_grow_with_the_number_of_steps(tmp_path):
    """Peak Python/NumPy memory of converting 60 steps is that of converting 6 (one step at a time)."""
    import tracemalloc

    peaks = {}
    convert("zset", _long_run(tmp_path / "warm", 2), tmp_path / "warm.case")   # imports, caches
    for n in (6, 60):
        ut = _long_run(tmp_path / f"run{n}", n)
        tracemalloc.start()
        convert("zset", ut, tmp_path / f"long{n}.case")
        peaks[n] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    one_step = (3 * 343 + 6 * 1728) * 8
    assert peaks[60] < peaks[6] + 10 * one_step, peaks       # 60 steps held at once: ~ 55 x one_step more
    with open_case(tmp_path / "long60.case") as c:
        assert c.n_steps == 60
        np.testing.assert_array_equal(c.read_field("sig", 37), 37.0)
