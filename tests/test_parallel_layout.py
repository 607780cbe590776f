import numpy as np
import pytest
from mpi4py import MPI

from distrom.errors import InputError, LayoutError
from distrom.parallel import Layout, Snapshots, agree, check, on_rank0, resolve_comm


@pytest.mark.mpi
def test_balanced_layout_covers_all_rows_once(comm):
    lay = Layout.balanced(301, comm)
    assert lay.offsets[0] == 0 and lay.offsets[-1] == 301
    assert max(lay.counts) - min(lay.counts) <= 1
    lo, hi = lay.range
    np.testing.assert_array_equal(lay.to_global(np.arange(hi - lo)), np.arange(lo, hi))
    assert set(lay.owner(np.arange(301)).tolist()) == set(range(comm.size))
    with pytest.raises(LayoutError):
        lay.owner(301)


@pytest.mark.mpi
def test_layout_from_local_size_in_rank_order(comm):
    lay = Layout.from_local_size(comm.rank + 2, comm)
    assert lay.n_global == sum(r + 2 for r in range(comm.size))
    assert lay.n_local == comm.rank + 2
    assert lay.scaled(3).range == (3 * lay.range[0], 3 * lay.range[1])


@pytest.mark.mpi
def test_check_raises_on_every_rank_naming_the_bad_rank(comm):
    with pytest.raises(InputError) as err:
        check(comm.rank != comm.size - 1, "bad value 7", comm)
    if comm.size > 1:
        assert f"rank {comm.size - 1}: bad value 7" in str(err.value)


@pytest.mark.mpi
def test_on_rank0_broadcasts_result_and_exception(comm):
    assert on_rank0(lambda: {"rank": comm.rank}, comm) == {"rank": 0}

    def fail():
        raise InputError("config.toml: key 'mesh.size' must be > 0, got -1")

    with pytest.raises(InputError, match="mesh.size"):
        on_rank0(fail, comm)


@pytest.mark.mpi
def test_agree_turns_a_one_rank_failure_into_an_error_everywhere(comm):
    def maybe_fail():
        if comm.rank == comm.size - 1:
            raise ValueError("local factorisation failed")
        return 1

    with pytest.raises(Exception, match="local factorisation failed"):
        agree(maybe_fail, comm)


def test_resolve_comm_accepts_petsc_comm():
    from petsc4py import PETSc

    assert resolve_comm(PETSc.COMM_WORLD).size == MPI.COMM_WORLD.size
    assert resolve_comm(None) is MPI.COMM_WORLD
    with pytest.raises(InputError):
        resolve_comm("world")
