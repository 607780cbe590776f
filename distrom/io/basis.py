# SPDX-License-Identifier: BSD-3-Clause
"""POD bases on disk: one HDF5 file, independent of the number of ranks that wrote it.

Layout (``kind = "basis"``, see docs/formats.md)::

    /                   attrs: distrom_format, kind="basis", distrom_version, created, method,
                               criterion, n_modes, reliable, tol, rank, energy, discarded,
                               weighted, written_by_ranks (information only), + user attrs
    /modes              (n_rows, n_modes) float64, rows in global numbering
                        attrs: encoding="dense_columns"
    /singular_values    (n_computed,) float64, descending

Writing is collective when the modes are distributed: with several ranks every rank writes its
own rows through h5py's ``mpio`` driver (no gather on rank 0), under a temporary name renamed
into place at the end. Reading works with any number of ranks (each reads its rows), or
serially without MPI (``comm=None``).

=========================  ===================================================
function                   collective?
=========================  ===================================================
:func:`save_basis`         yes, on the modes' communicator (or ``comm``)
:func:`load_basis`         yes when ``comm`` is given; serial, MPI-free if None
=========================  ===================================================
"""
from __future__ import annotations

import datetime
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import FormatError, InputError, LayoutError
from distrom.io._atomic import atomic_path
from distrom.io.schema import check_kind, format_string, open_checked

__all__ = ["save_basis", "load_basis"]

KIND = "basis"


def _is_snapshots(x: Any) -> bool:
    return type(x).__name__ == "Snapshots" and hasattr(x, "layout")


def save_basis(path: str | os.PathLike, basis: Any, comm: Any = None, *, overwrite: bool = True,
               attrs: dict[str, Any] | None = None) -> Path:
    """Write a :class:`~distrom.reduction.pod.PODBasis` to ``path``. Collective.

    Parameters
    ----------
    path : path-like
    basis : PODBasis
        Its ``modes`` are a NumPy array (serial) or ``Snapshots`` (distributed).
    comm : communicator, optional
        Defaults to the modes' communicator for ``Snapshots``; NumPy modes with a ``comm`` of
        several ranks are taken as replicated and written by rank 0.
    overwrite : bool
        Replace an existing file (atomically).
    attrs : dict, optional
        Extra root attributes (str, numbers), e.g. the case and field the basis came from.

    Returns
    -------
    pathlib.Path
        The final path.
    """
    import h5py

    from distrom import __version__

    modes = basis.modes
    distributed = _is_snapshots(modes)
    if distributed:
        comm = modes.comm if comm is None else comm
        lo, hi = modes.layout.range
        n_rows, n_modes = modes.shape
        local = modes.local
    else:
        local = np.asarray(modes, dtype=np.float64)
        if local.ndim != 2:
            raise InputError(f"basis.modes must be 2-D, got shape {local.shape}")
        n_rows, n_modes = local.shape
        lo, hi = 0, n_rows
    size = 1 if comm is None else comm.size
    rank = 0 if comm is None else comm.rank
    sigma = np.asarray(basis.singular_values, dtype=np.float64)
    header: dict[str, Any] = {
        "distrom_format": format_string(KIND), "kind": KIND, "distrom_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "method": str(basis.method), "criterion": str(basis.criterion), "n_modes": int(n_modes),
        "reliable": int(basis.reliable),
        "tol": float("nan") if basis.tol is None else float(basis.tol),
        "rank": -1 if basis.rank is None else int(basis.rank),
        "energy": float(basis.energy), "discarded": float(basis.discarded),
        "weighted": bool(basis.weighted), "written_by_ranks": int(size),
    }
    for k, v in (attrs or {}).items():
        if k in header:
            raise InputError(f"attribute '{k}' is reserved in basis files")
        header[k] = v
    if size > 1 and not distributed:
        comm.Barrier()
    with atomic_path(path, comm if size > 1 else None, overwrite=overwrite) as tmp:
        if size > 1:
            if not h5py.get_config().mpi:
                raise FormatError("writing a basis from several ranks needs h5py built with MPI "
                                  "(Debian: python3-h5py-mpi); this h5py is serial")
            f = h5py.File(tmp, "w", driver="mpio", comm=comm)
        else:
            f = h5py.File(tmp, "w")
        with f:
            # Metadata and dataset creation are collective: identical arguments on every rank.
            for k, v in header.items():
                f.attrs[k] = v
            d = f.create_dataset("modes", shape=(n_rows, n_modes), dtype="f8")
            d.attrs["encoding"] = "dense_columns"
            s = f.create_dataset("singular_values", shape=sigma.shape, dtype="f8")
            # Independent writes: a rank without rows simply writes nothing (a collective write
            # would need every rank to take part in each call).
            if distributed:
                if hi > lo:
                    d[lo:hi] = np.ascontiguousarray(local)
            elif rank == 0:
                d[...] = local
            if rank == 0:
                s[...] = sigma
    return Path(path)


def _read_header(path: Path) -> tuple[Any, dict[str, Any]]:
    f = open_checked(path, "basis file")
    try:
        check_kind(f, KIND, path)
        for name in ("modes", "singular_values"):
            if name not in f:
                raise FormatError(f"basis file '{path}' has no dataset '/{name}' (incomplete file?)")
        shape = f["modes"].shape
        if len(shape) != 2:
            raise FormatError(f"basis file '{path}': /modes has shape {shape}, expected (n_rows, n_modes)")
        attrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in f.attrs.items()}
        attrs["_shape"] = tuple(int(x) for x in shape)
        return f, attrs
    except BaseException:
        f.close()
        raise


def load_basis(path: str | os.PathLike, comm: Any = None, *, layout: Any = None) -> Any:
    """Read a basis written by :func:`save_basis` with any number of ranks.

    Parameters
    ----------
    path : path-like
    comm : communicator, optional
        None: serial read, modes as a NumPy array, no MPI import. Otherwise collective: modes as
        ``Snapshots`` with ``layout`` (default: balanced over ``comm``), each rank reading its rows.
    layout : Layout, optional
        Row layout of the distributed modes.

    Returns
    -------
    PODBasis

    Raises
    ------
    FormatError
        On every rank: missing file, not HDF5, not a basis, a newer ``distrom_format``.
    """
    from distrom.reduction.pod import PODBasis

    p = Path(path)
    if comm is None and layout is None:
        f, attrs = _read_header(p)
        with f:
            modes = np.asarray(f["modes"][...], dtype=np.float64)
            sigma = np.asarray(f["singular_values"][...], dtype=np.float64)
        return _basis(PODBasis, attrs, modes, sigma)

    from distrom.parallel import Layout, Snapshots
    from distrom.parallel.comm import agree, check, resolve_comm

    comm = resolve_comm(comm if comm is not None else layout.comm)
    f, attrs = agree(lambda: _read_header(p), comm)
    with f:
        n_rows, n_modes = attrs["_shape"]
        lay = layout if layout is not None else Layout.balanced(n_rows, comm)
        check(lay.n_global == n_rows, f"layout has {lay.n_global} rows, basis file '{p}' {n_rows}",
              comm, LayoutError)
        lo, hi = lay.range
        buf = np.empty((hi - lo, n_modes), order="F")
        if hi > lo:
            buf[...] = f["modes"][lo:hi]
        sigma = np.asarray(f["singular_values"][...], dtype=np.float64)
    return _basis(PODBasis, attrs, Snapshots(lay, buf, n_modes), sigma)


def _basis(cls: Any, a: dict[str, Any], modes: Any, sigma: np.ndarray) -> Any:
    tol = float(a.get("tol", float("nan")))
    rank = int(a.get("rank", -1))
    reserved = {"distrom_format", "kind", "distrom_version", "created", "method", "criterion", "n_modes",
                "reliable", "tol", "rank", "energy", "discarded", "weighted", "written_by_ranks", "_shape"}
    info = {k: v for k, v in a.items() if k not in reserved}
    info.update(distrom_format=str(a["distrom_format"]), created=str(a.get("created", "")),
                written_by_ranks=int(a.get("written_by_ranks", 0)))
    return cls(modes=modes, singular_values=sigma, n_modes=int(a["_shape"][1]),
               criterion=str(a.get("criterion", "")), method=str(a.get("method", "")),
               tol=None if math.isnan(tol) else tol, rank=None if rank < 0 else rank,
               reliable=int(a.get("reliable", 0)), energy=float(a.get("energy", 0.0)),
               discarded=float(a.get("discarded", 0.0)), weighted=bool(a.get("weighted", False)), info=info)


def summary(path: str | os.PathLike) -> dict[str, Any]:
    """A JSON-serialisable description of a basis file (``distrom info``). Serial, MPI-free."""
    p = Path(path)
    f, a = _read_header(p)
    with f:
        sigma = np.asarray(f["singular_values"][...], dtype=np.float64)
    n_rows, n_modes = a["_shape"]
    out: dict[str, Any] = {
        "path": str(p), "kind": KIND, "distrom_format": str(a["distrom_format"]),
        "n_rows": n_rows, "n_modes": n_modes, "method": str(a.get("method", "")),
        "criterion": str(a.get("criterion", "")), "reliable": int(a.get("reliable", 0)),
        "tol": None if math.isnan(float(a.get("tol", float("nan")))) else float(a["tol"]),
        "energy": float(a.get("energy", 0.0)), "discarded": float(a.get("discarded", 0.0)),
        "singular_values": sigma[: max(n_modes, 1)].tolist(),
    }
    for k in ("source_case", "field", "created", "distrom_version"):
        if k in a:
            out[k] = str(a[k])
    return out
