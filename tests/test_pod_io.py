# SPDX-License-Identifier: BSD-3-Clause
"""Basis files: written with P ranks, read with any P (and serially), versioned, atomic."""
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

from distrom.errors import FormatError
from distrom.io.basis import load_basis, save_basis
from distrom.parallel import Layout, Snapshots
from distrom.reduction.pod import pod


def _matrix(n=211, m=12, seed=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, m)) * 10.0 ** (-np.arange(m) / 4)


@pytest.mark.mpi
def test_save_with_p_ranks_load_serially_and_distributed(comm, shared_tmp):
    S = _matrix()
    b = pod(Snapshots.from_global(S, comm), tol=1e-2, method="svd")
    path = shared_tmp / "basis.h5"
    save_basis(path, b, attrs={"field": "u"})
    U = b.modes.gather()
    # Distributed read, balanced layout.
    d = load_basis(path, comm)
    assert isinstance(d.modes, Snapshots) and d.n_modes == b.n_modes
    np.testing.assert_array_equal(d.modes.gather(), U)
    np.testing.assert_array_equal(d.singular_values, b.singular_values)
    assert (d.method, d.criterion, d.tol, d.rank, d.reliable) == ("svd", "tol", 1e-2, None, b.reliable)
    assert d.info["field"] == "u" and d.info["written_by_ranks"] == comm.size
    # Distributed read with another, uneven layout.
    n_local = [5, 100, S.shape[0] - 105][comm.rank] if comm.size == 3 else None
    lay = Layout.from_local_size(n_local, comm) if n_local is not None else Layout.balanced(S.shape[0], comm)
    e = load_basis(path, comm, layout=lay)
    lo, hi = lay.range
    np.testing.assert_array_equal(e.modes.local, U[lo:hi])
    # Serial read on rank 0 (no communicator: NumPy modes).
    if comm.rank == 0:
        s = load_basis(path)
        assert isinstance(s.modes, np.ndarray)
        np.testing.assert_array_equal(s.modes, U)
        with h5py.File(path, "r") as f:
            assert f.attrs["distrom_format"] == "1.0" and f.attrs["kind"] == "basis"
            assert f["modes"].shape == U.shape
    comm.Barrier()


def test_serial_file_read_by_three_ranks(tmp_path):
    from conftest import clean_subprocess_env

    S = _matrix()
    b = pod(S, rank=7)
    path = tmp_path / "b.h5"
    save_basis(path, b)
    np.save(tmp_path / "ref.npy", b.modes)
    script = textwrap.dedent(f"""
        import numpy as np
        from mpi4py import MPI
        from distrom.io.basis import load_basis
        b = load_basis({str(path)!r}, MPI.COMM_WORLD)
        ref = np.load({str(tmp_path / 'ref.npy')!r})
        lo, hi = b.modes.layout.range
        assert np.array_equal(b.modes.local, ref[lo:hi]), "rows differ"
        assert b.modes.shape == ref.shape and b.n_modes == 7
        print("ok", MPI.COMM_WORLD.rank, flush=True)
    """)
    env = clean_subprocess_env()
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run(["mpirun", "--timeout", "120", "-n", "3", sys.executable, "-m", "mpi4py", "-c", script],
                       env=env, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok") == 3


@pytest.mark.mpi
def test_bad_files_raise_format_error_on_every_rank(comm, shared_tmp):
    with pytest.raises(FormatError, match="does not exist"):
        load_basis(shared_tmp / "missing.h5", comm)
    text = shared_tmp / "not.h5"
    plain = shared_tmp / "plain.h5"
    newer = shared_tmp / "newer.h5"
    if comm.rank == 0:
        text.write_text("not hdf5")
        with h5py.File(plain, "w") as f:
            f["x"] = 1.0
        S = _matrix()
        save_basis(newer, pod(S, rank=3))
        with h5py.File(newer, "a") as f:
            f.attrs["distrom_format"] = "2.0"
    comm.Barrier()
    with pytest.raises(FormatError, match="not an HDF5 file"):
        load_basis(text, comm)
    with pytest.raises(FormatError, match="no 'distrom_format'"):
        load_basis(plain, comm)
    with pytest.raises(FormatError, match="newer than this reader"):
        load_basis(newer, comm)
    if comm.rank == 0:
        with pytest.raises(FormatError, match="newer than this reader"):
            load_basis(newer)
    comm.Barrier()


@pytest.mark.mpi
def test_failed_write_leaves_no_file(comm, shared_tmp):
    b = pod(Snapshots.from_global(_matrix(), comm), rank=3)
    path = shared_tmp / "b.h5"
    with pytest.raises(TypeError):
        save_basis(path, b, attrs={"bad": object()})  # h5py cannot store it: fails mid-write
    comm.Barrier()
    assert not path.exists()
    assert not [p for p in shared_tmp.iterdir() if p.name.startswith(".")]  # temporary removed
