"""The harness itself: one rank raising inside a collective region fails the job, never hangs it."""
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import clean_subprocess_env

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_exception_on_one_rank_fails_the_run_within_the_timeout(tmp_path):
    test = tmp_path / "test_one_rank_raises.py"
    test.write_text(textwrap.dedent("""
        import pytest
        from mpi4py import MPI

        @pytest.mark.mpi
        def test_rank1_raises_while_rank0_waits():
            c = MPI.COMM_WORLD
            if c.rank == 1:
                raise RuntimeError("boom on rank 1")
            c.Barrier()   # rank 0 would wait here forever without the harness
    """))
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    env = clean_subprocess_env()
    env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1")
    cmd = ["mpirun", "--timeout", "120", "-n", "2", sys.executable, "-m", "mpi4py", "-m", "pytest",
           "-p", "no:cacheprovider", "--with-mpi", "-q", "-o", "timeout=60", str(test)]
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=150)
    elapsed = time.monotonic() - t0
    assert proc.returncode != 0
    assert "boom on rank 1" in proc.stdout + proc.stderr
    assert elapsed < 60, f"the failing job took {elapsed:.1f} s: it hung until a timeout"
