"""Test harness shared by the serial and the ``mpirun -n P`` runs.

The no-hang recipe (see docs/testing.md): a failure on any rank aborts the whole MPI job at once
(hook below), ``python -m mpi4py`` aborts on an uncaught exit, pytest-timeout uses threads
(pyproject), and mpirun has an outer ``--timeout``.
"""
from __future__ import annotations

import gc
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    rep = (yield).get_result()
    MPI = sys.modules.get("mpi4py.MPI")
    if rep.failed and MPI and MPI.Is_initialized() and not MPI.Is_finalized() and MPI.COMM_WORLD.size > 1:
        c = MPI.COMM_WORLD
        sys.stderr.write(f"\n[rank {c.rank}/{c.size}] FAILED {item.nodeid} ({rep.when})\n{rep.longreprtext}\n")
        sys.stderr.flush()
        c.Abort(1)


@pytest.fixture
def comm():
    from mpi4py import MPI

    return MPI.COMM_WORLD


@pytest.fixture
def shared_tmp(request):
    """A directory shared by all ranks (made on rank 0, broadcast), removed after the test."""
    from mpi4py import MPI

    c = MPI.COMM_WORLD
    path = tempfile.mkdtemp(prefix="distrom-test-") if c.rank == 0 else None
    path = c.bcast(path, root=0)
    yield Path(path)
    gc.collect()
    c.Barrier()  # collective destructors and last writes line up before removal
    if c.rank == 0:
        shutil.rmtree(path, ignore_errors=True)


def clean_subprocess_env() -> dict[str, str]:
    """The environment minus Open MPI/PMIx variables, so a child process is not an MPI rank."""
    return {k: v for k, v in os.environ.items()
            if not (k.startswith(("OMPI_", "PMIX_", "PMI_")) or k == "H5PY_ALWAYS_USE_MPI")}


def testdata_path() -> Path:
    """Real FE outputs for the converters: ``$DISTROM_TESTDATA`` or ``../shared/testdata`` beside
    the checkout (where CI puts it)."""
    env = os.environ.get("DISTROM_TESTDATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "testdata"


@pytest.fixture(scope="session")
def testdata():
    path = testdata_path()
    if not path.is_dir():
        pytest.skip(f"test data not found at {path} (set DISTROM_TESTDATA)")
    return path
