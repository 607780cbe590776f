"""Communicator helpers: resolving communicators, agreeing on errors, rank-0 work, abort on crash.

The rule these helpers implement (DESIGN.md, "Parallel semantics"): one failing rank never
leaves the others waiting. Input checks agree collectively and raise on every rank
(:func:`check`); work done on rank 0 alone hands back its result *or* its exception to every
rank (:func:`on_rank0`); an uncaught exception in the CLI aborts the whole job
(:func:`install_abort_hook`).
"""
from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

from mpi4py import MPI

from distrom.errors import DistromError, InputError

T = TypeVar("T")

__all__ = ["resolve_comm", "check", "check_all", "on_rank0", "install_abort_hook", "agree"]


def resolve_comm(comm: Any = None) -> MPI.Comm:
    """Return an ``mpi4py`` communicator for ``comm``.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm, petsc4py.PETSc.Comm or None
        ``None`` means ``MPI.COMM_WORLD``; a petsc4py communicator is converted.
    """
    if comm is None:
        return MPI.COMM_WORLD
    if isinstance(comm, MPI.Comm):
        return comm
    tompi = getattr(comm, "tompi4py", None)
    if tompi is not None:
        return tompi()
    raise InputError(f"expected an mpi4py or petsc4py communicator or None, got {type(comm).__name__}")


def check(ok: bool, message: str, comm: Any = None, exc: type[Exception] = InputError) -> None:
    """Raise ``exc`` on every rank if ``ok`` is False on any rank. Collective.

    Parameters
    ----------
    ok : bool
        This rank's verdict.
    message : str
        This rank's explanation, used only where ``ok`` is False.
    comm : communicator, optional
    exc : exception class
        Raised on every rank, with the messages of all failing ranks (prefixed ``rank r:``
        when more than one process takes part).
    """
    comm = resolve_comm(comm)
    if comm.size == 1:
        if not ok:
            raise exc(message)
        return
    gathered = comm.allgather(None if ok else str(message))
    failed = [(r, m) for r, m in enumerate(gathered) if m is not None]
    if failed:
        if len({m for _, m in failed}) == 1 and len(failed) == comm.size:
            raise exc(failed[0][1])  # the same complaint everywhere: say it once
        raise exc("; ".join(f"rank {r}: {m}" for r, m in failed))


def check_all(problems: list[str], comm: Any = None, exc: type[Exception] = InputError) -> None:
    """Collective form of :func:`check` for a list of problems found on this rank (may be empty)."""
    check(not problems, "; ".join(problems), comm, exc)


def agree(func: Callable[[], T], comm: Any = None) -> T:
    """Run ``func()`` on every rank; if it raises on any rank, raise on every rank. Collective.

    A :class:`~distrom.errors.DistromError` keeps its class; any other exception becomes the
    class raised on the first failing rank when that class is a DistromError, else
    ``DistromError``. Use it around code that may fail on some ranks only (reading a local
    block, a local factorisation) before the next collective call.
    """
    comm = resolve_comm(comm)
    try:
        result = func()
        err: BaseException | None = None
    except Exception as e:  # noqa: BLE001 - re-raised collectively below
        result, err = None, e  # type: ignore[assignment]
    if comm.size == 1:
        if err is not None:
            raise err
        return result
    summary = None if err is None else (type(err).__name__, str(err))
    gathered = comm.allgather(summary)
    failed = [(r, s) for r, s in enumerate(gathered) if s is not None]
    if not failed:
        return result
    if err is not None and isinstance(err, DistromError) and all(s == summary for _, s in failed):
        raise err
    cls = type(err) if isinstance(err, DistromError) else DistromError
    raise cls("; ".join(f"rank {r}: {name}: {msg}" for r, (name, msg) in failed)) from err


def on_rank0(func: Callable[[], T], comm: Any = None) -> T:
    """Run ``func()`` on rank 0 and broadcast its result, or its exception, to all ranks. Collective.

    The result must be picklable by mpi4py's ``bcast`` (small metadata: configs, paths, dicts).
    """
    comm = resolve_comm(comm)
    if comm.size == 1:
        return func()
    payload: tuple[bool, Any] = (True, None)
    if comm.rank == 0:
        try:
            payload = (True, func())
        except Exception as e:  # noqa: BLE001 - handed to every rank
            payload = (False, e)
    ok, value = comm.bcast(payload if comm.rank == 0 else None, root=0)
    if not ok:
        raise value  # every rank holds its own unpickled copy of rank 0's exception
    return value


def install_abort_hook(comm: Any = None) -> None:
    """Make an uncaught exception on any rank abort the whole job (only when ``comm.size > 1``).

    The hook prints ``rank N:`` and the traceback to stderr, then calls ``Abort(1)``, so the
    other ranks never wait forever in a collective call.
    """
    comm = resolve_comm(comm)
    if comm.size == 1:
        return
    previous = sys.excepthook

    def hook(exc_type, exc, tb):  # type: ignore[no-untyped-def]
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(f"\nrank {comm.rank}/{comm.size}: uncaught exception, aborting the job\n{text}")
        sys.stderr.flush()
        try:
            comm.Abort(1)
        finally:
            previous(exc_type, exc, tb)

    sys.excepthook = hook
