import json
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pytest

from conftest import clean_subprocess_env
from distrom.errors import FormatError, InputError, LayoutError
from distrom.io import CaseWriter, open_case
from distrom.mesh import CellBlock, Mesh

ROOT = Path(__file__).resolve().parents[1]


def small_mesh() -> Mesh:
    """Two hex8 cells side by side and one tet4: 12 + 1 nodes, source ids shifted."""
    x = np.array([[i, j, k] for k in (0, 1) for j in (0, 1) for i in (0, 1, 2)], float)
    x = np.vstack([x, [[0.5, 0.5, 2.0]]])
    hexes = np.array([[0, 1, 4, 3, 6, 7, 10, 9], [1, 2, 5, 4, 7, 8, 11, 10]])
    tet = np.array([[6, 7, 9, 12]])
    return Mesh(x, [CellBlock("hex8", hexes, [101, 102]), CellBlock("tet4", tet, [900])],
                node_ids=np.arange(13) * 10 + 5, node_sets={"x0": [0, 3, 6, 9]}, cell_sets={"all": [0, 1, 2]},
                face_sets={"bottom": [[0, 4], [1, 4]]})


def reference_values(n_steps=3):
    rng = np.random.default_rng(42)
    U = rng.standard_normal((n_steps, 13, 3))
    S = rng.standard_normal((n_steps, 2 * 8 + 1, 6))
    return U, S


def write_reference(path, comm):
    mesh = small_mesh()
    U, S = reference_values()
    from distrom.parallel import Layout

    class Part:
        cell_part = np.array([0, 1, 1])
        n_parts = 2
        method = "given"

    with CaseWriter(path, mesh, comm, partition=Part(), source="test") as w:
        w.add_field("U", "node", 3, component_names=("U1", "U2", "U3"), units="m", source_name="U1 U2 U3")
        w.add_field("sig", "ip", 6, ips_per_cell={"hex8": 8, "tet4": 1}, tensor="Voigt 11 22 33 12 23 31")
        w.set_parameter_names(["load", "T"])
        for s, p in enumerate([{"load": 1.0, "T": 20.0}, {"load": 2.0, "T": 400.0}]):
            w.add_sample(p)
        for k in range(3):
            step = w.add_step(0.1 * (k + 1), sample=min(k, 1))
            for name, V in (("U", U[k]), ("sig", S[k])):
                lo, hi = Layout.balanced(len(V), comm).range
                w.write(name, step, V[lo:hi], rows=(lo, hi))


def check_reference(case, comm=None):
    U, S = reference_values()
    mesh = case.mesh
    ref = small_mesh()
    np.testing.assert_array_equal(mesh.nodes, ref.nodes)
    np.testing.assert_array_equal(mesh.node_ids, ref.node_ids)
    np.testing.assert_array_equal(mesh.cell_ids, [101, 102, 900])
    assert mesh.cell_types == ["hex8", "tet4"]
    np.testing.assert_array_equal(mesh.face_sets["bottom"], [[0, 4], [1, 4]])
    assert case.field_names == ["U", "sig"]
    assert case.fields["sig"].n_rows == 17 and case.fields["sig"].ips_per_cell == {"hex8": 8, "tet4": 1}
    assert case.fields["sig"].attrs["tensor"].startswith("Voigt")
    np.testing.assert_allclose(case.times, [0.1, 0.2, 0.3])
    np.testing.assert_array_equal(case.step_sample, [0, 1, 1])
    np.testing.assert_array_equal(case.parameters["T"], [20.0, 400.0])
    assert case.partition.n_parts == 2 and case.partition.method == "given"
    for k in range(3):
        lo, hi = case.layout("U").range
        np.testing.assert_array_equal(case.read_field("U", k), U[k][lo:hi] if case.comm.size > 1 else U[k])
        np.testing.assert_array_equal(case.read_field("sig", k, rows=np.array([0, 16, 3])), S[k][[0, 16, 3]])
    snap = case.snapshots("U")
    np.testing.assert_array_equal(snap.gather(), U.reshape(3, -1).T)


@pytest.mark.mpi
def test_case_round_trip_at_any_rank_count(comm, shared_tmp):
    from mpi4py import MPI

    path = shared_tmp / "case.h5"
    write_reference(path, comm)
    assert sorted(p.name for p in shared_tmp.iterdir()) == ["case.h5"]  # no temporary left
    with open_case(path, comm) as case:
        check_reference(case)
    with open_case(path, MPI.COMM_SELF) as case:  # every rank alone
        check_reference(case)


@pytest.mark.slow
def test_case_written_by_2_ranks_reads_identically_with_1_and_3(tmp_path):
    script = tmp_path / "job.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(ROOT / 'tests')!r})
        from mpi4py import MPI
        from test_case_store import write_reference, check_reference
        from distrom.io import open_case
        if sys.argv[1] == "write":
            write_reference(sys.argv[2], MPI.COMM_WORLD)
        else:
            with open_case(sys.argv[2], MPI.COMM_WORLD) as case:
                check_reference(case)
                assert case.attrs["written_by_ranks"] == 2
            print("read-ok", MPI.COMM_WORLD.rank)
    """))
    env = clean_subprocess_env()
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    case = tmp_path / "by2.h5"
    for n, mode in ((2, "write"), (3, "read")):
        proc = subprocess.run(["mpirun", "--timeout", "120", "-n", str(n), sys.executable, "-m", "mpi4py",
                               str(script), mode, str(case)], env=env, capture_output=True, text=True, timeout=150)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("read-ok") == 3
    with open_case(case) as c:  # and serially, in this process
        check_reference(c)


def test_bad_files_give_clear_errors(tmp_path):
    with pytest.raises(FormatError, match="does not exist"):
        open_case(tmp_path / "missing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("not hdf5")
    with pytest.raises(FormatError, match="not an HDF5 file"):
        open_case(text)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = 1
    with pytest.raises(FormatError, match="not a distrom case"):
        open_case(other)
    newer = tmp_path / "newer.h5"
    write_reference(newer, None)
    with h5py.File(newer, "a") as f:
        f.attrs["distrom_format"] = "2.0"
    with pytest.raises(FormatError, match=r"distrom_format 2\.0, newer than this reader"):
        open_case(newer)
    trunc = tmp_path / "trunc.h5"
    write_reference(trunc, None)
    data = trunc.read_bytes()
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(FormatError, match="trunc.h5"):
        open_case(trunc)


def test_missing_field_and_step_are_named(tmp_path):
    path = tmp_path / "c.h5"
    write_reference(path, None)
    with open_case(path) as case:
        with pytest.raises(InputError, match="has no field 'eps'; it has: U, sig"):
            case.read_field("eps", 0)
        with pytest.raises(InputError, match="step 7 out of range"):
            case.read_field("U", 7)


def test_failed_write_leaves_nothing_under_the_final_name(tmp_path):
    path = tmp_path / "c.h5"
    with pytest.raises(LayoutError, match="values of shape"):
        with CaseWriter(path, small_mesh()) as w:
            w.add_field("U", "node", 3)
            k = w.add_step(0.0)
            w.write("U", k, np.zeros((5, 3)))
    assert list(tmp_path.iterdir()) == []
    path.write_text("old")
    with pytest.raises(InputError, match="exists"):
        CaseWriter(path, small_mesh())
    assert path.read_text() == "old"


def test_incomplete_run_keeps_its_steps(tmp_path):
    path = tmp_path / "c.h5"
    with CaseWriter(path, small_mesh()) as w:
        w.add_field("U", "node", 3)
        for k in range(2):
            w.write("U", w.add_step(float(k)), np.full((13, 3), k))
        w.mark_incomplete("Newton failed at step 2")
    with open_case(path) as case:
        assert not case.complete and case.n_steps == 2
        np.testing.assert_array_equal(case.read_field("U", 1), np.ones((13, 3)))
        assert json.loads(json.dumps(case.summary()))["complete"] is False
