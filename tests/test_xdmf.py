import xml.etree.ElementTree as ET

import h5py
import numpy as np
import pytest

from distrom.cli.main import main
from test_case_store import reference_values, small_mesh, write_reference


def test_export_writes_xdmf_that_reads_back(tmp_path, capsys):
    case = tmp_path / "case.h5"
    write_reference(case, None)
    assert main(["export", str(case), "--xdmf", str(tmp_path / "out")]) == 0
    xdmf, heavy = tmp_path / "out.xdmf", tmp_path / "out.h5"
    assert xdmf.exists() and heavy.exists()
    root = ET.parse(xdmf).getroot()
    grids = root.findall("./Domain/Grid/Grid")
    np.testing.assert_allclose([float(g.find("Time").get("Value")) for g in grids], [0.1, 0.2, 0.3], rtol=1e-15)
    U, S = reference_values()
    with h5py.File(heavy) as h:
        np.testing.assert_array_equal(h["geometry"][...], small_mesh().nodes)
        np.testing.assert_array_equal(h["step_2/U"][...], U[2])
        # hex cells average their 8 points, the tet keeps its single one; Tensor6 reorder
        avg = np.vstack([S[1][:8].mean(0), S[1][8:16].mean(0), S[1][16]])
        np.testing.assert_allclose(h["step_1/sig_cellavg"][...], avg[:, [0, 3, 5, 1, 4, 2]], rtol=1e-14)
        topo = h["topology"][...]
        assert topo[0] == 9 and topo[9] == 9 and topo[18] == 6  # hex, hex, tet codes
    meshio = pytest.importorskip("meshio")
    with meshio.xdmf.TimeSeriesReader(str(xdmf)) as reader:
        points, cells = reader.read_points_cells()
        t, point_data, cell_data = reader.read_data(2)
    np.testing.assert_array_equal(points, small_mesh().nodes)
    assert sorted(c.type for c in cells) == ["hexahedron", "tetra"]
    np.testing.assert_array_equal(point_data["U"], U[2])


def test_export_unknown_field_is_named(tmp_path, capsys):
    case = tmp_path / "case.h5"
    write_reference(case, None)
    assert main(["export", str(case), "--xdmf", str(tmp_path / "o.xdmf"), "--field", "temperature"]) == 2
    assert "no field 'temperature'" in capsys.readouterr().err
    assert not (tmp_path / "o.xdmf").exists() and not (tmp_path / "o.h5").exists()


def test_info_json_and_text(tmp_path, capsys):
    import json

    case = tmp_path / "case.h5"
    write_reference(case, None)
    assert main(["info", str(case), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["kind"] == "case" and s["mesh"]["n_nodes"] == 13 and s["n_steps"] == 3
    assert s["fields"]["sig"]["ips_per_cell"] == {"hex8": 8, "tet4": 1}
    assert main(["info", str(case)]) == 0
    text = capsys.readouterr().out
    assert "13 nodes, 3 cells (2 hex8, 1 tet4)" in text and "2 parts by given" in text
    assert main(["info", str(tmp_path / "nope.h5")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_help_lists_subcommands():
    import subprocess
    import sys
    from pathlib import Path

    from conftest import clean_subprocess_env

    for cmd in ([sys.executable, "-m", "distrom", "--help"], [str(Path(sys.executable).parent / "distrom"), "--help"]):
        out = subprocess.run(cmd, capture_output=True, text=True, env=clean_subprocess_env(), timeout=60)
        assert out.returncode == 0, out.stderr
        for name in ("convert", "hf", "pod", "offline", "online", "info", "export", "run"):
            assert f"    {name}" in out.stdout
