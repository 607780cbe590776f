"""Shared pieces of the converters: what a parsed source looks like, and writing it to a case.

A reader returns a :class:`SourceResult`: the :class:`~distrom.mesh.Mesh` (with the source's node
and element numbers), a list of :class:`FieldSpec` (distrom name, location, components and the
source's own names) and a *step iterator* that yields the values of every field one output time
after the other. Nothing holds more than one step in memory, so converting a long history costs
the memory of one step.

:func:`write_case` streams a :class:`SourceResult` into a case through ``CaseWriter``; it runs
inside the writer's ``with`` block, so any error (a truncated file found at step 37) leaves no
partial case under the output name.

This module does not import MPI; a ``comm`` is only used when given.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import FormatError, InputError

__all__ = ["FieldSpec", "SourceResult", "SimplePartition", "group_components", "write_case",
           "require_file", "VOIGT", "gauss_points_xi_fastest", "match_ip_order", "add_fields"]

log = logging.getLogger(__name__)

#: distrom's Voigt order of symmetric tensors (Zset's order).
VOIGT = ("11", "22", "33", "12", "23", "31")
TENSOR_NOTE = "symmetric tensor, tensor components (not engineering shears), Voigt order 11 22 33 12 23 31"


@dataclass
class FieldSpec:
    """One field of a converted source.

    Attributes
    ----------
    name : str
        distrom's field name (``"U"``, ``"sig"``, ...).
    location : {"node", "ip"}
    component_names : tuple of str
        distrom's component names, in storage order.
    source_name : str
        The source's own names of the components, space separated, in storage order.
    ips_per_cell : dict of str -> int, optional
        Integration points per cell type (``"ip"`` fields).
    description, units, tensor : str, optional
        Free text for the case metadata.
    """

    name: str
    location: str
    component_names: tuple[str, ...]
    source_name: str
    ips_per_cell: dict[str, int] | None = None
    description: str = ""
    units: str | None = None
    tensor: str | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def n_components(self) -> int:
        return len(self.component_names)


@dataclass
class SimplePartition:
    """The partition of a source already decomposed (e.g. a parallel Zset run).

    Attributes
    ----------
    cell_part : numpy.ndarray, shape (n_cells,), int64
        Subdomain (0-based) of each global cell.
    n_parts : int
    method : str
    """

    cell_part: np.ndarray
    n_parts: int
    method: str = "source"


@dataclass
class SourceResult:
    """A parsed FE result, ready to be written into a case.

    Attributes
    ----------
    mesh : distrom.mesh.Mesh
    fields : list of FieldSpec
    times : numpy.ndarray, shape (n_steps,)
    steps : callable
        ``steps()`` returns an iterator yielding, for each output time in order, a dict
        ``{field name: array (n_rows, n_components) float64}`` (all rows of the field). Under MPI a
        reader may yield only this rank's part when ``collective_rows`` is set.
    source : str
        ``"format: file"`` for the case's provenance.
    attrs : dict
        Extra root attributes (solver, version, ...).
    partition : SimplePartition, optional
    """

    mesh: Any
    fields: list[FieldSpec]
    times: np.ndarray
    steps: Callable[[], Iterator[dict[str, np.ndarray]]]
    source: str
    attrs: dict[str, Any] = field(default_factory=dict)
    partition: Any = None

    @property
    def n_steps(self) -> int:
        return len(self.times)

    def field(self, name: str) -> FieldSpec:
        for f in self.fields:
            if f.name == name:
                return f
        raise InputError(f"no field '{name}' in {self.source}; it has {[f.name for f in self.fields]}")

    def read_all(self) -> dict[str, np.ndarray]:
        """All steps of all fields stacked, ``{name: (n_steps, n_rows, n_comp)}``: for tests and
        small files only (memory grows with the number of steps)."""
        out: dict[str, list[np.ndarray]] = {f.name: [] for f in self.fields}
        for values in self.steps():
            for k, v in values.items():
                out[k].append(v)
        return {k: np.stack(v) if v else np.zeros((0,)) for k, v in out.items()}


def gauss_points_xi_fastest(nip: int) -> np.ndarray | None:
    """Points of the ``n x n x n`` Gauss-Legendre rule on [-1, 1]^3 numbered
    ``ix + n*iy + n*n*iz`` (xi fastest: Zset's and CalculiX's hexahedra), shape (nip, 3);
    None when ``nip`` is not a cube."""
    n = round(nip ** (1 / 3))
    if n ** 3 != nip:
        return None
    x, _ = np.polynomial.legendre.leggauss(n)
    iz, iy, ix = np.meshgrid(range(n), range(n), range(n), indexing="ij")
    return np.stack([x[ix.ravel()], x[iy.ravel()], x[iz.ravel()]], axis=1)


def match_ip_order(dtype: str, nip: int, source_points: np.ndarray | None, code: str) -> tuple[np.ndarray, str]:
    """``perm`` with distrom ip ``j`` = source ip ``perm[j]``, and a sentence saying how.

    Matches the source's reference points with the points of distrom's Gauss rule of the same
    size (``distrom.mesh.elements``). Where the source order is not established
    (``source_points`` None) or distrom has no rule of that size, the source order is kept and
    the sentence says so (it goes into the field's ``ip_order`` attribute).
    """
    keep = np.arange(nip, dtype=np.int64)
    if source_points is None:
        return keep, f"{code} (kept: {code}'s ip order for {dtype} is not established)"
    from distrom.mesh import get_element

    el = get_element(dtype)
    for degree in range(0, 12):
        pts, _ = el.quadrature(degree)
        if len(pts) == nip:
            break
    else:
        return keep, f"{code} (kept: distrom has no {nip}-point rule for {dtype})"
    d = np.abs(pts[:, None, :] - source_points[None, :, :]).max(axis=2)
    perm = d.argmin(axis=1)
    if not np.all(d[np.arange(nip), perm] < 1e-10) or len(set(perm.tolist())) != nip:
        return keep, f"{code} (kept: its points differ from distrom's {nip}-point rule)"
    return perm.astype(np.int64), f"distrom (reordered from {code}'s xi-fastest order)"


def require_file(path: Path, what: str, referenced_by: Path | None = None) -> Path:
    """Raise ``FormatError`` naming the missing companion file and who needs it."""
    if not path.is_file():
        by = f" (named by {referenced_by})" if referenced_by is not None else ""
        raise FormatError(f"missing {what} '{path}'{by}")
    return path


def group_components(names: list[str], rename: dict[str, str] | None = None
                     ) -> list[tuple[str, list[int], tuple[str, ...], str | None]]:
    """Group scalar source fields into distrom fields by their names.

    ``prefix11 prefix22 prefix33 prefix12 prefix23 prefix31`` (in that order) -> a symmetric tensor
    named ``prefix``; ``prefix1 prefix2 ... prefixN`` (consecutive from 1) -> a vector; anything
    else stays a scalar. Returns ``(distrom name, indices into names, component names, tensor
    note)`` in order of first appearance.
    """
    rename = rename or {}
    out = []
    i, n = 0, len(names)
    while i < n:
        name = names[i]
        if name.endswith("11") and i + 5 < n:
            p = name[:-2]
            if [names[i + j] for j in range(6)] == [p + c for c in VOIGT]:
                out.append((rename.get(p, p), list(range(i, i + 6)), VOIGT, TENSOR_NOTE))
                i += 6
                continue
        if name.endswith("1") and not name.endswith("11"):
            p = name[:-1]
            j = i
            while j < n and names[j] == f"{p}{j - i + 1}":
                j += 1
            if j - i >= 2:
                out.append((rename.get(p, p), list(range(i, j)), tuple(str(k) for k in range(1, j - i + 1)), None))
                i = j
                continue
        out.append((rename.get(name, name), [i], (name,), None))
        i += 1
    return out


def add_fields(writer: Any, fields: list[FieldSpec]) -> None:
    """Declare ``fields`` on a ``CaseWriter`` with all their metadata. Collective."""
    for f in fields:
        fk: dict[str, Any] = {"component_names": tuple(f.component_names), "source_name": f.source_name,
                              "description": f.description}
        if f.units is not None:
            fk["units"] = f.units
        if f.ips_per_cell is not None:
            fk["ips_per_cell"] = dict(f.ips_per_cell)
        if f.tensor is not None:
            fk["tensor"] = f.tensor
        for key, val in f.attrs.items():
            fk.setdefault(key, val)
        writer.add_field(f.name, f.location, f.n_components, **fk)


def write_case(result: SourceResult, output: str | Path, comm: Any = None, *, overwrite: bool = False,
               progress_desc: str | None = None, parameters: dict[str, float] | None = None) -> Path:
    """Write a parsed source into a distrom case, one step at a time. Collective when ``comm``
    has more than one rank (every rank must hold the same ``result``; each writes whole arrays).

    Parameters
    ----------
    result : SourceResult
    output : path of the case to create
    comm : mpi4py communicator, optional
    overwrite : bool
        Replace an existing case.
    parameters : dict, optional
        Parameter values of this run (one sample); none by default.

    Returns
    -------
    pathlib.Path of the written case. An error while reading any step leaves no case behind.
    """
    from distrom.io import CaseWriter
    from distrom.parallel import progress

    output = Path(output)
    attrs = {str(k): v for k, v in result.attrs.items()}
    kwargs: dict[str, Any] = {"comm": comm, "overwrite": overwrite, "source": result.source, "attrs": attrs}
    if result.partition is not None:
        kwargs["partition"] = result.partition
    with CaseWriter(output, result.mesh, **kwargs) as w:
        add_fields(w, result.fields)
        sample = None
        if parameters:
            w.set_parameter_names(list(parameters))
            sample = w.add_sample({k: float(v) for k, v in parameters.items()})
        steps = result.steps()
        written = 0
        for t, values in progress(zip(result.times, steps), total=result.n_steps,
                                  desc=progress_desc or f"convert {output.name}", comm=comm):
            k = w.add_step(time=float(t), sample=sample) if sample is not None else w.add_step(time=float(t))
            for f in result.fields:
                if f.name not in values:
                    raise FormatError(f"{result.source}: no values of field '{f.name}' at step {k} (t = {t})")
                w.write(f.name, k, np.asarray(values[f.name], dtype=np.float64))
            written += 1
        if written != result.n_steps:
            raise FormatError(f"{result.source}: only {written} of the {result.n_steps} announced result steps")
        # the iterator must be exhausted: a source with more outputs than announced is malformed
        extra = next(steps, None)
        if extra is not None:
            raise FormatError(f"{result.source}: more result steps than the {result.n_steps} announced")
    return output
