"""The case store: one HDF5 file holding a mesh, its partition, fields and their snapshots.

Layout (details in docs/formats.md)::

    /                       attrs: distrom_format, kind="case", distrom_version, created, source, complete
    /mesh/nodes             (n_nodes, 3) float64
    /mesh/node_ids          (n_nodes,) int64          source node numbers
    /mesh/cells/block_K     attrs: type; datasets connectivity (n, nn) int64 (0-based), ids (n,) int64
    /mesh/node_sets/NAME    0-based node indices; /mesh/cell_sets/NAME; /mesh/face_sets/NAME (n, 2)
    /partition              cell_part (n_cells,), attrs n_parts, method (optional group)
    /steps/time, /steps/sample   (n_steps,)
    /samples/values         (n_samples, n_params); attrs names
    /fields/NAME/values     (n_steps, n_rows, n_components) float64, one chunk row-block per step
                            attrs: location ("node" | "ip"), component_names, units, source_name, ...

Nothing depends on the number of ranks that wrote the file. Writing is collective (parallel
HDF5 when P > 1) and atomic; reading works with any number of ranks, each reading its rows.
"""
from __future__ import annotations

import datetime
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import FormatError, InputError, LayoutError
from distrom.io._atomic import check_writable, temporary_name
from distrom.io.schema import check_kind, format_string, open_checked
from distrom.mesh.mesh import CellBlock, Mesh

log = logging.getLogger(__name__)

__all__ = ["CaseWriter", "Case", "FieldInfo", "open_case", "LOCATIONS"]

LOCATIONS = ("node", "ip")
_CHUNK_ROWS = 1 << 16


def _comm_or_none(comm: Any) -> Any:
    if comm is None:
        from distrom.parallel.comm import resolve_comm

        return resolve_comm(None)
    from distrom.parallel.comm import resolve_comm

    return resolve_comm(comm)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class FieldInfo:
    """Description of one field of a case.

    Attributes
    ----------
    name : str
    location : {"node", "ip"}
        Nodal, or at integration points (cell after cell, points fastest).
    n_components : int
    component_names : tuple of str
    units : str
    source_name : str
        The name(s) the source code gave this field.
    ips_per_cell : dict of str -> int
        Integration points per cell type (``location == "ip"`` only).
    n_rows : int
        Number of nodes or integration points.
    attrs : dict
        Any other metadata (description, tensor convention, ...).
    """

    name: str
    location: str
    n_components: int
    component_names: tuple[str, ...]
    units: str
    source_name: str
    ips_per_cell: dict[str, int]
    n_rows: int
    attrs: dict = field(default_factory=dict)

    @property
    def n_dofs(self) -> int:
        """Rows of the snapshot matrix of this field: ``n_rows * n_components``."""
        return self.n_rows * self.n_components


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------
class CaseWriter:
    """Write a case file collectively, atomically and step by step.

    Every rank of ``comm`` must call every method, in the same order, with the same metadata
    arguments (values differ: each rank writes its rows). The file is written under a temporary
    name and renamed to ``path`` when the writer closes without an exception; on an exception
    the temporary file is removed, so no partial case is left under ``path``. A solver that
    wants to keep the steps done before a failure calls :meth:`mark_incomplete` and closes
    normally.

    Parameters
    ----------
    path : path-like
    mesh : Mesh
        The global mesh (the same on every rank).
    comm : communicator, optional
    partition : object with ``cell_part``, ``n_parts``, ``method``, optional
    overwrite : bool
    source : str
        Where the data come from (converter and input file, or solver config).
    attrs : dict, optional
        Extra root attributes (str, numbers).
    """

    def __init__(self, path: str | os.PathLike, mesh: Mesh, comm: Any = None, *, partition: Any = None,
                 overwrite: bool = False, source: str = "", attrs: dict | None = None):
        import h5py

        self.comm = _comm_or_none(comm)
        self.path = Path(path)
        self.mesh = mesh
        self._fields: dict[str, FieldInfo] = {}
        self._param_names: list[str] | None = None
        self._n_steps = 0
        self._n_samples = 0
        self._closed = False
        from distrom.parallel.comm import on_rank0

        def prepare() -> Path:
            check_writable(self.path, overwrite)
            return temporary_name(self.path)

        self.tmp = on_rank0(prepare, self.comm)
        if self.comm.size > 1:
            if not h5py.get_config().mpi:
                raise FormatError("writing a case from several ranks needs h5py built with MPI "
                                  "(Debian: python3-h5py-mpi); this h5py is serial")
            self.f = h5py.File(self.tmp, "w", driver="mpio", comm=self.comm)
        else:
            self.f = h5py.File(self.tmp, "w")
        try:
            self._write_header(source, attrs or {})
            self._write_mesh(mesh)
            if partition is not None:
                self._write_partition(partition)
        except BaseException:
            self._abort()
            raise

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> "CaseWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self._abort()

    def _abort(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            self.f.close()
        except Exception:  # noqa: BLE001 - the original error matters more
            pass
        if self.comm.rank == 0:
            Path(self.tmp).unlink(missing_ok=True)

    def close(self) -> None:
        """Finish the file and rename it into place. Collective."""
        if self._closed:
            return
        self._closed = True
        self.f.attrs["n_steps"] = self._n_steps
        self.f.close()
        self.comm.Barrier()
        err = None
        if self.comm.rank == 0:
            try:
                os.replace(self.tmp, self.path)
            except OSError as e:
                Path(self.tmp).unlink(missing_ok=True)
                err = str(e)
        if self.comm.size > 1:
            err = self.comm.bcast(err, root=0)
        if err:
            raise FormatError(f"cannot move the finished case to '{self.path}': {err}")

    def mark_incomplete(self, reason: str) -> None:
        """Record that the run stopped early (the steps written so far stay readable)."""
        self.f.attrs["complete"] = False
        self.f.attrs["incomplete_reason"] = reason

    # -- header, mesh, partition ---------------------------------------------------------------
    def _write_header(self, source: str, attrs: dict) -> None:
        from distrom import __version__

        a = self.f.attrs
        a["distrom_format"] = format_string("case")
        a["kind"] = "case"
        a["distrom_version"] = __version__
        a["created"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        a["source"] = source
        a["complete"] = True
        a["written_by_ranks"] = self.comm.size  # information only: readers never depend on it
        for k, v in attrs.items():
            a[k] = v
        g = self.f.create_group("steps")
        g.create_dataset("time", shape=(0,), maxshape=(None,), dtype="f8", chunks=(1024,))
        g.create_dataset("sample", shape=(0,), maxshape=(None,), dtype="i8", chunks=(1024,))
        self.f.create_group("fields")

    def _dataset(self, group: Any, name: str, data: np.ndarray) -> None:
        """Create a dataset collectively; rank 0 writes the (replicated) values."""
        data = np.asarray(data)
        d = group.create_dataset(name, shape=data.shape, dtype=data.dtype)
        if self.comm.rank == 0 and data.size:
            d[...] = data

    def _write_mesh(self, mesh: Mesh) -> None:
        g = self.f.create_group("mesh")
        self._dataset(g, "nodes", mesh.nodes)
        self._dataset(g, "node_ids", mesh.node_ids)
        cells = g.create_group("cells")
        for k, b in enumerate(mesh.cells):
            bg = cells.create_group(f"block_{k}")
            bg.attrs["type"] = b.type
            self._dataset(bg, "connectivity", b.connectivity)
            self._dataset(bg, "ids", b.ids)
        for grp_name, sets in (("node_sets", mesh.node_sets), ("cell_sets", mesh.cell_sets),
                               ("face_sets", mesh.face_sets)):
            sg = g.create_group(grp_name)
            for name in sorted(sets):
                _check_name(name, "set")
                self._dataset(sg, name, sets[name])

    def _write_partition(self, partition: Any) -> None:
        cell_part = np.asarray(partition.cell_part, dtype=np.int32)
        if cell_part.shape != (self.mesh.n_cells,):
            raise LayoutError(f"partition has {cell_part.size} cell entries, the mesh {self.mesh.n_cells} cells")
        g = self.f.create_group("partition")
        g.attrs["n_parts"] = int(partition.n_parts)
        g.attrs["method"] = str(getattr(partition, "method", "unknown"))
        self._dataset(g, "cell_part", cell_part)
        for extra in ("node_owner", "interface_nodes"):
            value = getattr(partition, extra, None)
            if value is not None:
                self._dataset(g, extra, np.asarray(value))

    # -- fields, samples, steps ----------------------------------------------------------------
    def add_field(self, name: str, location: str, n_components: int, *,
                  component_names: Sequence[str] | None = None, units: str = "", source_name: str = "",
                  ips_per_cell: dict[str, int] | None = None, **attrs: Any) -> FieldInfo:
        """Declare a field. Collective.

        Parameters
        ----------
        name : str
            distrom's name (no ``/``).
        location : {"node", "ip"}
        n_components : int
        component_names : sequence of str, optional
        units, source_name : str
        ips_per_cell : dict, required for ``location == "ip"``
            Integration points per cell type, e.g. ``{"hex8": 8}``.
        **attrs
            Further metadata (``description``, ``tensor``, ...), stored as attributes.
        """
        _check_name(name, "field")
        if name in self._fields:
            raise InputError(f"field '{name}' declared twice in case '{self.path}'")
        if location not in LOCATIONS:
            raise InputError(f"field '{name}': location must be one of {LOCATIONS}, got '{location}'")
        if int(n_components) < 1:
            raise InputError(f"field '{name}': n_components must be >= 1, got {n_components}")
        if location == "node":
            n_rows, ips = self.mesh.n_nodes, {}
        else:
            if not ips_per_cell:
                raise InputError(f"field '{name}' at integration points needs ips_per_cell, e.g. {{'hex8': 8}}")
            missing = sorted(set(self.mesh.cell_types) - set(ips_per_cell))
            if missing:
                raise InputError(f"field '{name}': ips_per_cell lacks the cell types {missing} of the mesh")
            ips = {k: int(v) for k, v in ips_per_cell.items() if k in self.mesh.cell_types}
            n_rows = int(self.mesh.ip_offsets(ips)[-1])
        names = tuple(component_names) if component_names is not None else \
            tuple(f"{name}{i + 1}" for i in range(n_components))
        if len(names) != n_components:
            raise InputError(f"field '{name}': {len(names)} component names for {n_components} components")
        info = FieldInfo(name, location, int(n_components), names, units, source_name, ips, n_rows, dict(attrs))
        g = self.f["fields"].create_group(name)
        chunk_rows = max(1, min(n_rows, _CHUNK_ROWS))
        g.create_dataset("values", shape=(self._n_steps, n_rows, n_components),
                         maxshape=(None, n_rows, n_components), dtype="f8",
                         chunks=(1, chunk_rows, n_components))
        g.attrs["location"] = location
        g.attrs["n_components"] = int(n_components)
        g.attrs["component_names"] = json.dumps(list(names))
        g.attrs["units"] = units
        g.attrs["source_name"] = source_name
        g.attrs["ips_per_cell"] = json.dumps(ips)
        for k, v in attrs.items():
            g.attrs[k] = v if isinstance(v, (int, float, str, bool, np.number)) else json.dumps(v)
        self._fields[name] = info
        return info

    def set_parameter_names(self, names: Sequence[str]) -> None:
        """Declare the parameter names (before the first :meth:`add_sample`). Collective."""
        if self._param_names is not None:
            raise InputError("parameter names are already set")
        self._param_names = [str(n) for n in names]
        g = self.f.create_group("samples")
        g.attrs["names"] = json.dumps(self._param_names)
        g.attrs["n_samples"] = 0
        if self._param_names:
            g.create_dataset("values", shape=(0, len(self._param_names)), maxshape=(None, len(self._param_names)),
                             dtype="f8", chunks=(256, len(self._param_names)))

    def add_sample(self, parameters: dict[str, float] | None = None) -> int:
        """Record one parameter sample; return its index. Collective."""
        parameters = parameters or {}
        if self._param_names is None:
            self.set_parameter_names(sorted(parameters))
        unknown = sorted(set(parameters) - set(self._param_names))
        missing = sorted(set(self._param_names) - set(parameters))
        if unknown or missing:
            raise InputError(f"sample parameters {sorted(parameters)} do not match the declared names "
                             f"{self._param_names} (missing {missing}, unknown {unknown})")
        if self._param_names:
            d = self.f["samples/values"]
            d.resize((self._n_samples + 1, len(self._param_names)))
            if self.comm.rank == 0:
                d[self._n_samples] = [float(parameters[n]) for n in self._param_names]
        self._n_samples += 1
        self.f["samples"].attrs["n_samples"] = self._n_samples
        return self._n_samples - 1

    def add_step(self, time: float, sample: int = 0) -> int:
        """Append a step (a time of a sample) to every field; return its index. Collective."""
        if self._n_samples == 0 and sample == 0 and not self._param_names:
            self.add_sample({})  # a case without parameters has one implicit sample
        if not 0 <= sample < max(self._n_samples, 1):
            raise InputError(f"step refers to sample {sample}, but {self._n_samples} samples were added")
        k = self._n_steps
        for name in ("time", "sample"):
            self.f["steps"][name].resize((k + 1,))
        if self.comm.rank == 0:
            self.f["steps/time"][k] = float(time)
            self.f["steps/sample"][k] = int(sample)
        for info in self._fields.values():
            self.f["fields"][info.name]["values"].resize((k + 1, info.n_rows, info.n_components))
        self._n_steps += 1
        return k

    def write(self, name: str, step: int, values: np.ndarray, rows: tuple[int, int] | np.ndarray | None = None) -> None:
        """Write the values of field ``name`` at ``step``. Not collective (independent I/O).

        Parameters
        ----------
        values : numpy.ndarray, shape (n_rows_written, n_components) (1-D allowed for one component)
        rows : None, (lo, hi) or array of global rows
            ``None``: ``values`` holds every row and only rank 0 writes. ``(lo, hi)``: this rank's
            contiguous global rows. An increasing array of global rows is also accepted.
        """
        info = self._fields.get(name)
        if info is None:
            raise InputError(f"field '{name}' not declared in case '{self.path}'; declared: {sorted(self._fields)}")
        if not 0 <= step < self._n_steps:
            raise InputError(f"field '{name}': step {step} does not exist (case has {self._n_steps} steps)")
        v = np.asarray(values, dtype=np.float64)
        if v.ndim == 1:
            v = v[:, None] if info.n_components == 1 else v.reshape(-1, info.n_components)
        d = self.f["fields"][name]["values"]
        if rows is None:
            if v.shape != (info.n_rows, info.n_components):
                raise LayoutError(f"field '{name}' step {step}: values of shape {v.shape}, expected "
                                  f"({info.n_rows}, {info.n_components})")
            if self.comm.rank == 0:
                d[step] = v
            return
        if isinstance(rows, tuple):
            lo, hi = int(rows[0]), int(rows[1])
            if not (0 <= lo <= hi <= info.n_rows) or v.shape != (hi - lo, info.n_components):
                raise LayoutError(f"field '{name}' step {step}: rows [{lo}, {hi}) with values of shape "
                                  f"{v.shape} do not fit {info.n_rows} rows x {info.n_components} components")
            if hi > lo:
                d[step, lo:hi] = v
            return
        idx = np.asarray(rows, dtype=np.int64)
        if idx.size and (np.any(np.diff(idx) <= 0) or idx[0] < 0 or idx[-1] >= info.n_rows):
            raise LayoutError(f"field '{name}': row indices must increase within [0, {info.n_rows})")
        if v.shape != (idx.size, info.n_components):
            raise LayoutError(f"field '{name}': {idx.size} rows but values of shape {v.shape}")
        if idx.size == 0:
            return
        # contiguous runs are written as slabs: much faster than point selections in HDF5
        breaks = np.flatnonzero(np.diff(idx) != 1) + 1
        for a, b in zip(np.r_[0, breaks], np.r_[breaks, idx.size]):
            d[step, idx[a]:idx[b - 1] + 1] = v[a:b]

    @property
    def n_steps(self) -> int:
        return self._n_steps


def _check_name(name: str, what: str) -> None:
    if not name or "/" in name or name.startswith("."):
        raise InputError(f"{what} name {name!r} is invalid: it must be non-empty, without '/' and not start with '.'")


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------
@dataclass
class Partition:
    """A partition read back from a case."""

    cell_part: np.ndarray
    n_parts: int
    method: str
    node_owner: np.ndarray | None = None
    interface_nodes: np.ndarray | None = None


class Case:
    """A case file opened for reading (see :func:`open_case`)."""

    def __init__(self, path: Path, f: Any, comm: Any):
        self.path = path
        self.comm = comm
        self._f = f
        self.version = check_kind(f, "case", path)
        self.attrs = {k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in f.attrs.items()}
        self.mesh = _read_mesh(f, path)
        self.fields = {name: _read_field_info(name, g) for name, g in f["fields"].items()}
        self.times = np.asarray(f["steps/time"][...], dtype=np.float64)
        self.step_sample = np.asarray(f["steps/sample"][...], dtype=np.int64)
        if "samples" in f:
            self.parameter_names = list(json.loads(_text(f["samples"].attrs["names"])))
            n_samples = int(f["samples"].attrs.get("n_samples", 0))
            self.samples = np.asarray(f["samples/values"][...], dtype=np.float64) if self.parameter_names \
                else np.zeros((n_samples, 0))
        else:
            self.parameter_names, self.samples = [], np.zeros((0, 0))
        self.partition = None
        if "partition" in f:
            g = f["partition"]
            self.partition = Partition(np.asarray(g["cell_part"][...]), int(g.attrs["n_parts"]),
                                       _text(g.attrs["method"]),
                                       np.asarray(g["node_owner"][...]) if "node_owner" in g else None,
                                       np.asarray(g["interface_nodes"][...]) if "interface_nodes" in g else None)
        for name, info in self.fields.items():
            shape = f["fields"][name]["values"].shape
            if shape[0] < self.n_steps or shape[1:] != (info.n_rows, info.n_components):
                raise FormatError(f"case '{path}': field '{name}' has values of shape {shape}, expected "
                                  f"({self.n_steps}, {info.n_rows}, {info.n_components})")

    # -- context manager ------------------------------------------------------------------
    def __enter__(self) -> "Case":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        if self._f:
            self._f.close()
            self._f = None

    # -- metadata -----------------------------------------------------------------------------
    @property
    def field_names(self) -> list[str]:
        return list(self.fields)

    @property
    def n_steps(self) -> int:
        return len(self.times)

    @property
    def complete(self) -> bool:
        return bool(self.attrs.get("complete", True))

    @property
    def parameters(self) -> dict[str, np.ndarray]:
        """Parameter values of each sample: ``{name: array of shape (n_samples,)}``."""
        return {n: self.samples[:, i].copy() for i, n in enumerate(self.parameter_names)}

    def field(self, name: str) -> FieldInfo:
        try:
            return self.fields[name]
        except KeyError:
            raise InputError(f"case '{self.path}' has no field '{name}'; it has: "
                             f"{', '.join(self.fields) or 'no fields'}") from None

    def layout(self, name: str) -> Any:
        """Balanced row layout of field ``name`` (nodes or integration points) over ``comm``."""
        from distrom.parallel.layout import Layout

        return Layout.balanced(self.field(name).n_rows, self.comm)

    def _check_step(self, name: str, step: int) -> int:
        if not -self.n_steps <= int(step) < self.n_steps:
            raise InputError(f"case '{self.path}', field '{name}': step {step} out of range "
                             f"(the case has {self.n_steps} steps)")
        return int(step) % self.n_steps

    # -- data ---------------------------------------------------------------------------------
    def read_field(self, name: str, step: int, rows: tuple[int, int] | np.ndarray | None = None) -> np.ndarray:
        """Values of a field at one step. Not collective.

        Parameters
        ----------
        rows : None, (lo, hi) or array of global rows
            ``None``: every row in a serial run, this rank's rows of :meth:`layout` under MPI.

        Returns
        -------
        numpy.ndarray, shape (n_rows_read, n_components)
        """
        info = self.field(name)
        step = self._check_step(name, step)
        d = self._f["fields"][name]["values"]
        if rows is None:
            if self.comm.size == 1:
                return np.asarray(d[step])
            rows = self.layout(name).range
        if isinstance(rows, tuple):
            lo, hi = rows
            if not 0 <= lo <= hi <= info.n_rows:
                raise LayoutError(f"field '{name}': rows [{lo}, {hi}) outside [0, {info.n_rows})")
            return np.asarray(d[step, lo:hi])
        idx = np.asarray(rows, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= info.n_rows):
            raise LayoutError(f"field '{name}': row index outside [0, {info.n_rows})")
        lo, hi = (int(idx.min()), int(idx.max()) + 1) if idx.size else (0, 0)
        return np.asarray(d[step, lo:hi])[idx - lo]

    def snapshots(self, name: str, steps: Sequence[int] | np.ndarray | None = None,
                  rows: tuple[int, int] | None = None) -> Any:
        """The snapshot matrix of a field as distributed ``Snapshots``. Collective.

        Row ``r * n_components + c`` holds component ``c`` of entity (node or integration
        point) ``r``; one column per step (all steps by default, in order).
        """
        from distrom.parallel.log import progress
        from distrom.parallel.snapshots import Snapshots

        info = self.field(name)
        steps = np.arange(self.n_steps) if steps is None else np.asarray(steps, dtype=np.int64)
        steps = np.array([self._check_step(name, s) for s in steps], dtype=np.int64)
        lo, hi = rows if rows is not None else self.layout(name).range
        block = np.empty(((hi - lo) * info.n_components, len(steps)), order="F")
        d = self._f["fields"][name]["values"]
        for j, s in enumerate(progress(steps, desc=f"read {name}", comm=self.comm)):
            block[:, j] = np.asarray(d[s, lo:hi]).ravel()
        return Snapshots.from_local(block, comm=self.comm, copy=False)

    def summary(self) -> dict:
        """A JSON-serialisable description (what ``distrom info --json`` prints)."""
        return {
            "path": str(self.path),
            "kind": "case",
            "distrom_format": f"{self.version[0]}.{self.version[1]}",
            "source": self.attrs.get("source", ""),
            "complete": self.complete,
            "mesh": self.mesh.summary(),
            "partition": None if self.partition is None else {
                "n_parts": self.partition.n_parts, "method": self.partition.method,
                "cells_per_part": np.bincount(self.partition.cell_part, minlength=self.partition.n_parts).tolist()},
            "n_steps": self.n_steps,
            "times": self.times.tolist(),
            "parameters": {n: v.tolist() for n, v in self.parameters.items()},
            "fields": {n: {"location": i.location, "n_components": i.n_components,
                           "component_names": list(i.component_names), "units": i.units,
                           "source_name": i.source_name, "n_rows": i.n_rows,
                           **({"ips_per_cell": i.ips_per_cell} if i.ips_per_cell else {})}
                       for n, i in self.fields.items()},
        }


def _read_field_info(name: str, g: Any) -> FieldInfo:
    a = g.attrs
    known = {"location", "n_components", "component_names", "units", "source_name", "ips_per_cell"}
    shape = g["values"].shape
    return FieldInfo(
        name=name, location=_text(a["location"]), n_components=int(a["n_components"]),
        component_names=tuple(json.loads(_text(a["component_names"]))), units=_text(a.get("units", "")),
        source_name=_text(a.get("source_name", "")), ips_per_cell=json.loads(_text(a.get("ips_per_cell", "{}"))),
        n_rows=int(shape[1]),
        attrs={k: (_text(v) if isinstance(v, (bytes, str)) else v) for k, v in a.items() if k not in known})


def _read_mesh(f: Any, path: Path) -> Mesh:
    try:
        g = f["mesh"]
        blocks = []
        for k in range(len(g["cells"])):
            bg = g["cells"][f"block_{k}"]
            blocks.append(CellBlock(_text(bg.attrs["type"]), bg["connectivity"][...], bg["ids"][...]))
        return Mesh(g["nodes"][...], blocks, g["node_ids"][...],
                    {k: v[...] for k, v in g["node_sets"].items()},
                    {k: v[...] for k, v in g["cell_sets"].items()},
                    {k: v[...] for k, v in g["face_sets"].items()})
    except KeyError as e:
        raise FormatError(f"case '{path}' lacks part of its mesh ({e}); the file is incomplete or not a case") from None


def open_case(path: str | os.PathLike, comm: Any = None) -> Case:
    """Open a case for reading. Collective when ``comm`` has several ranks (errors on all ranks).

    Raises
    ------
    FormatError
        The file does not exist, is not HDF5, is truncated, is not a case, or has a newer
        ``distrom_format`` than this reader.
    """
    from distrom.parallel.comm import agree

    comm = _comm_or_none(comm)
    p = Path(path)

    def _open() -> Case:
        f = open_checked(p, "case")
        try:
            return Case(p, f, comm)
        except BaseException:
            f.close()
            raise

    return agree(_open, comm)
