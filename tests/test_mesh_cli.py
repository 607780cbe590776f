"""``distrom mesh --box ...``: a partitioned box case, the same at any number of ranks."""
from __future__ import annotations

import json
import logging
import sys

import numpy as np
import pytest

from distrom.cli.main import main
from distrom.mesh import box_mesh, partition_mesh


@pytest.fixture(autouse=True)
def restore_cli_side_effects():
    """main() wires a log handler to the (captured) stderr and an abort hook: undo both, so later
    tests do not log into a closed capture stream."""
    logger = logging.getLogger("distrom")
    saved = (list(logger.handlers), logger.level, logger.propagate, sys.excepthook)
    yield
    logger.handlers[:] = saved[0]
    logger.setLevel(saved[1])
    logger.propagate = saved[2]
    sys.excepthook = saved[3]


@pytest.mark.mpi
def test_mesh_command_writes_partitioned_case(comm, shared_tmp, capsys):
    from mpi4py import MPI

    from distrom.io import open_case

    out = shared_tmp / "box.h5"
    rc = main(["mesh", "--box", "4", "3", "2", "--element", "tet4", "--lengths", "2", "1.5", "1",
               "--parts", "3", "-o", str(out), "--json"])
    assert rc == 0
    if comm.rank == 0:
        summary = json.loads(capsys.readouterr().out)
        assert summary["partition"]["n_parts"] == 3 and summary["ranks"] == comm.size
    expected_mesh = box_mesh(4, 3, 2, lengths=(2, 1.5, 1), element="tet4")
    # reference computed by this process alone: the case must hold the same partition at any P
    expected = partition_mesh(expected_mesh, 3, comm=MPI.COMM_SELF)
    with open_case(out, comm) as case:
        m = case.mesh
        np.testing.assert_allclose(m.nodes, expected_mesh.nodes)
        np.testing.assert_array_equal(m.cells[0].connectivity, expected_mesh.cells[0].connectivity)
        assert sorted(m.face_sets) == ["x0", "x1", "y0", "y1", "z0", "z1"]
        np.testing.assert_array_equal(m.face_sets["z1"], expected_mesh.face_sets["z1"])
        assert case.partition.method == expected.method
        np.testing.assert_array_equal(case.partition.cell_part, expected.cell_part)


@pytest.mark.mpi
def test_mesh_command_bad_input(comm, shared_tmp, capsys):
    rc = main(["mesh", "--box", "2", "0", "2", "-o", str(shared_tmp / "bad.h5")])
    assert rc == 2
    if comm.rank == 0:
        assert "box divisions must be integers >= 1" in capsys.readouterr().err
    rc = main(["mesh", "--box", "2", "2", "2", "--parts", "9", "-o", str(shared_tmp / "bad.h5")])
    assert rc == 2
    assert not (shared_tmp / "bad.h5").exists()
