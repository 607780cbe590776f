"""Rank-0 logging and progress bars.

Library modules call ``logging.getLogger(__name__)`` and never configure handlers; the CLI calls
:func:`setup_logging` once. Only rank 0 prints; progress bars are drawn on rank 0 only and only
when stderr is a terminal.
"""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from distrom.parallel.comm import resolve_comm

T = TypeVar("T")
__all__ = ["setup_logging", "progress"]


def setup_logging(comm: Any = None, level: int = logging.INFO) -> None:
    """Send ``distrom`` log records of rank 0 to stderr; silence the other ranks."""
    comm = resolve_comm(comm)
    logger = logging.getLogger("distrom")
    for h in list(logger.handlers):
        logger.removeHandler(h)
    handler: logging.Handler
    if comm.rank == 0:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(f"%(asctime)s [P={comm.size}] %(name)s: %(message)s", "%H:%M:%S"))
    else:
        handler = logging.NullHandler()
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False


def progress(items: Iterable[T], total: int | None = None, desc: str = "", comm: Any = None,
             stream: Any = None) -> Iterator[T]:
    """Yield ``items``, drawing a one-line progress bar on rank 0 when ``stream`` is a terminal.

    Not collective: every rank iterates, only rank 0 draws.
    """
    stream = sys.stderr if stream is None else stream
    rank = resolve_comm(comm).rank if comm is not None or "mpi4py.MPI" in sys.modules else 0
    draw = rank == 0 and hasattr(stream, "isatty") and stream.isatty()
    if total is None:
        try:
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    t0 = time.perf_counter()
    count = 0
    for count, item in enumerate(items, 1):
        yield item
        if draw:
            elapsed = time.perf_counter() - t0
            if total:
                filled = int(30 * count / total)
                bar = "#" * filled + "-" * (30 - filled)
                stream.write(f"\r{desc} [{bar}] {count}/{total} {elapsed:6.1f}s")
            else:
                stream.write(f"\r{desc} {count} {elapsed:6.1f}s")
            stream.flush()
    if draw and count:
        stream.write("\n")
        stream.flush()
