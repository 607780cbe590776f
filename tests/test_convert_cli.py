"""``distrom convert`` on every file of testdata, ``distrom export`` read-back, CLI errors."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import testdata_path as _testdata_path

from distrom.cli.main import main
from distrom.io import open_case

TD = _testdata_path()
pytestmark = pytest.mark.skipif(not TD.is_dir(), reason=f"test data not found at {TD}")
INPUTS = [("zset", "zset/cube/cube.ut"), ("zset", "zset/cube_2dom/cube.cut"), ("calculix", "calculix/beamcr.frd"),
          ("calculix", "calculix/beampkin.frd"), ("ansys", "ansys/static.rst")]


@pytest.mark.parametrize("fmt,rel", INPUTS, ids=[r for _, r in INPUTS])
def test_every_testdata_file_converts(tmp_path, fmt, rel, capsys):
    out = tmp_path / "c.case"
    assert main(["convert", fmt, str(TD / rel), "-o", str(out), "--param", "load=1.5"]) == 0
    assert "wrote" in capsys.readouterr().out
    with open_case(out) as case:
        assert case.n_steps >= 1 and case.mesh.n_cells > 0
        assert case.parameter_names == ["load"] and case.samples.tolist() == [[1.5]]
        assert case.attrs["source"].startswith(fmt)
        # the node orders are distrom's: every cell has a positive Jacobian at every Gauss point
        from distrom.mesh import cell_volumes

        vol = sum(cell_volumes(b.type, case.mesh.nodes[b.connectivity]).sum() for b in case.mesh.cells)
        lo, hi = case.mesh.bounding_box()
        assert vol == pytest.approx(np.prod(hi - lo), rel=1e-9)          # all test meshes are boxes


def test_export_of_a_converted_case_reads_back(tmp_path):
    meshio = pytest.importorskip("meshio")
    import h5py

    case_path = tmp_path / "cube.case"
    assert main(["convert", "zset", str(TD / "zset/cube/cube.ut"), "-o", str(case_path)]) == 0
    xdmf = tmp_path / "cube.xdmf"
    assert main(["export", str(case_path), "--xdmf", str(xdmf)]) == 0
    with open_case(case_path) as case:
        with meshio.xdmf.TimeSeriesReader(str(xdmf)) as reader:
            points, cells = reader.read_points_cells()
            np.testing.assert_allclose(points, case.mesh.nodes, rtol=1e-12)
            assert cells[0].type == "hexahedron"
            np.testing.assert_array_equal(cells[0].data, case.mesh.cells[0].connectivity)
            assert reader.num_steps == case.n_steps
            for k in range(reader.num_steps):
                t, point_data, cell_data = reader.read_data(k)
                assert t == pytest.approx(case.times[k])
                np.testing.assert_allclose(point_data["U"], case.read_field("U", k), rtol=1e-12)
                # ip fields come out as cell averages
                sig = case.read_field("sig", k).reshape(216, 8, 6).mean(axis=1)
                key = next(n for n in cell_data if n.startswith("sig"))
                # XDMF Tensor6 order: 11 12 13 22 23 33
                np.testing.assert_allclose(np.asarray(cell_data[key][0]).reshape(216, -1), sig[:, [0, 3, 5, 1, 4, 2]],
                                           rtol=1e-10, atol=1e-12 * np.abs(sig).max())
    with h5py.File(xdmf.with_suffix(".h5"), "r") as f:
        assert len(f.keys()) > 0


def test_cli_errors_are_one_line_and_leave_no_case(tmp_path, capsys):
    out = tmp_path / "x.case"
    assert main(["convert", "zset", str(tmp_path / "nothere.ut"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert "nothere.ut" in err and "missing" in err and not out.exists()
    assert main(["convert", "ansys", str(TD / "calculix/beamcr.frd"), "-o", str(out)]) == 2
    assert "not an Ansys binary result file" in capsys.readouterr().err and not out.exists()
    assert main(["convert", "zset", str(TD / "zset/cube/cube.ut"), "-o", str(out), "--param", "load"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err


@pytest.mark.mpi
def test_cli_two_subdomains_under_mpi(comm, shared_tmp):
    out = Path(shared_tmp) / "cli2.case"
    assert main(["convert", "zset", str(TD / "zset/cube_2dom/cube.cut"), "-o", str(out)]) == 0
    with open_case(out, comm=comm) as case:
        assert case.partition.n_parts == 2
        lo, hi = case.layout("U").range
        from distrom.io.converters import read

        ref = read("zset", TD / "zset/cube_2dom/cube.cut").read_all()   # serial read on every rank
        for k in range(case.n_steps):
            np.testing.assert_allclose(case.read_field("U", k), ref["U"][k][lo:hi], rtol=1e-12, atol=0)
