"""Atomic file writes: write to a temporary name in the same directory, then rename.

A crash, an exception or a killed job never leaves a half-written file under the final name:
the final name either does not change or points at a complete file. Works collectively: every
rank of ``comm`` gets the same temporary name, rank 0 renames after a barrier.

This module imports no MPI: a ``comm`` is only used when given (duck-typed mpi4py communicator).
"""
from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from distrom.errors import FormatError, InputError

__all__ = ["atomic_path", "temporary_name", "check_writable"]


def temporary_name(path: Path) -> Path:
    """A hidden sibling of ``path`` that no other writer uses."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}")


def check_writable(path: Path, overwrite: bool) -> None:
    """Raise a clear error before any work when ``path`` cannot be written."""
    if path.exists() and not overwrite:
        raise InputError(f"output file '{path}' exists; pass overwrite=True (CLI: --force) to replace it")
    if path.is_dir():
        raise InputError(f"output path '{path}' is a directory, expected a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"directory '{parent}' of output file '{path.name}' does not exist")
    if not os.access(parent, os.W_OK):
        raise InputError(f"directory '{parent}' is not writable")


@contextmanager
def atomic_path(path: str | os.PathLike, comm: Any = None, *, overwrite: bool = True) -> Iterator[Path]:
    """Yield a temporary path to write; rename it to ``path`` when the block succeeds.

    Collective when ``comm`` has more than one rank: all ranks must enter and leave the block.
    On an exception the temporary file is removed and the exception propagates.
    """
    final = Path(path)
    size = 1 if comm is None else comm.size
    rank = 0 if comm is None else comm.rank
    if size > 1:
        err = None
        tmp = None
        if rank == 0:
            try:
                check_writable(final, overwrite)
                tmp = temporary_name(final)
            except Exception as e:  # noqa: BLE001 - handed to every rank
                err = e
        err, tmp = comm.bcast((err, tmp), root=0)
        if err is not None:
            raise err
    else:
        check_writable(final, overwrite)
        tmp = temporary_name(final)
    try:
        yield tmp
    except BaseException:
        if rank == 0 or size == 1:
            tmp.unlink(missing_ok=True)
        raise
    if size > 1:
        comm.Barrier()
    if rank == 0:
        try:
            os.replace(tmp, final)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            if size > 1:
                comm.bcast(str(e), root=0)
            raise FormatError(f"cannot move the finished file to '{final}': {e}") from e
        if size > 1:
            comm.bcast(None, root=0)
    elif size > 1:
        msg = comm.bcast(None, root=0)
        if msg is not None:
            raise FormatError(f"cannot move the finished file to '{final}': {msg}")
