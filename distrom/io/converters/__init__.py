"""Converters from the results of external FE codes into distrom's case store.

Each reader returns a :class:`SourceResult` (mesh with the source's node/element numbers, field
descriptions with the source's names, a step-by-step value iterator); :func:`convert` writes it
into a case, one step at a time. Formats:

========== ======================================= ==========================================
format     input                                   module
========== ======================================= ==========================================
zset       ``run.ut`` (serial), ``run.cut`` (one   :mod:`distrom.io.converters.zset`
           result per subdomain)
calculix   ``job.frd`` (+ ``job.inp``, ``job.dat``) :mod:`distrom.io.converters.calculix`
ansys      ``file.rst``                            :mod:`distrom.io.converters.ansys`
meshio     any mesh meshio reads (msh, vtu, ...)   :mod:`distrom.io.converters.meshio_`
========== ======================================= ==========================================

The element and integration-point mappings are documented in docs/converters.md.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from distrom.errors import InputError
from distrom.io.converters._common import FieldSpec, SimplePartition, SourceResult, write_case

__all__ = ["FORMATS", "FieldSpec", "SimplePartition", "SourceResult", "convert", "read", "write_case"]

FORMATS = ("zset", "calculix", "ansys", "meshio")


def read(fmt: str, path: str | Path, comm: Any = None, **options: Any) -> SourceResult:
    """Parse ``path`` as format ``fmt`` (see :data:`FORMATS`). Collective for ``zset`` ``.cut``
    inputs when ``comm`` has several ranks; otherwise every rank parses on its own."""
    if fmt == "zset":
        from distrom.io.converters.zset import read_zset

        return read_zset(path, comm=comm)
    if fmt == "calculix":
        from distrom.io.converters.calculix import read_calculix

        return read_calculix(path, **options)
    if fmt == "ansys":
        from distrom.io.converters.ansys import read_ansys

        return read_ansys(path)
    if fmt == "meshio":
        from distrom.io.converters.meshio_ import read_meshio

        return read_meshio(path, **options)
    raise InputError(f"unknown converter format '{fmt}'; expected one of {', '.join(FORMATS)}")


def convert(fmt: str, path: str | Path, output: str | Path, comm: Any = None, *, overwrite: bool = False,
            parameters: dict[str, float] | None = None, **options: Any) -> Path:
    """Convert ``path`` (format ``fmt``) into the case ``output``. Collective on ``comm``.

    Any error (missing companion file, truncated data, unsupported element) is raised on the
    reading rank(s) before or inside the case writer, so no partial case is left at ``output``.
    """
    result = read(fmt, path, comm=comm, **options)
    return write_case(result, output, comm=comm, overwrite=overwrite, parameters=parameters)
