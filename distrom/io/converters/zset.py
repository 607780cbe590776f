"""Zset results: ``.geof`` mesh, ``.ut`` index, ``.node`` / ``.integ`` binary results.

Serial run: ``read_zset("run.ut")``. Parallel run (one output per subdomain): ``read_zset("run.cut")``
reads the global mesh named by the ``.cut`` file, the per-subdomain results ``run-001.ut`` ...
and keeps the partition; the ranks of ``comm`` share the subdomain files.

Binary layout (checked on real files, see docs/converters.md): big-endian float32, no header:

* ``.node``: for each output, for each nodal field (``**node`` order), one value per node (mesh
  order);
* ``.integ``: for each output, for each element (mesh order), for each field (``**integ`` order),
  the element's integration-point values (ip fastest, Zset's ip order).

Element types map onto distrom's (Abaqus/VTK) node order through :data:`ZSET_ELEMENTS`.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import FormatError
from distrom.io.converters._common import (FieldSpec, SimplePartition, SourceResult, gauss_points_xi_fastest,
                                           group_components, match_ip_order, require_file)
from distrom.io.converters._faces import match_faces, orientation_volumes
from distrom.mesh import CellBlock, Mesh

__all__ = ["ZSET_ELEMENTS", "GeofData", "UtIndex", "read_geof", "read_ut", "read_zset", "convert_zset"]

log = logging.getLogger(__name__)

# Zset type -> (distrom type, permutation p with distrom_node[i] = zset_node[p[i]], default ips)
# Zset numbers quadratic elements corner, mid-side, corner, ... around each face; distrom puts the
# corners first.
ZSET_ELEMENTS: dict[str, tuple[str, tuple[int, ...], int | None]] = {
    "c3d8": ("hex8", tuple(range(8)), 8),
    "c3d8r": ("hex8", tuple(range(8)), 1),
    "c3d20": ("hex20", (0, 2, 4, 6, 12, 14, 16, 18, 1, 3, 5, 7, 13, 15, 17, 19, 8, 9, 10, 11), 27),
    "c3d20r": ("hex20", (0, 2, 4, 6, 12, 14, 16, 18, 1, 3, 5, 7, 13, 15, 17, 19, 8, 9, 10, 11), 8),
    "c3d4": ("tet4", (0, 1, 2, 3), 1),
    "c3d10": ("tet10", (0, 2, 4, 9, 1, 3, 5, 6, 7, 8), 4),
    "c3d6": ("wedge6", tuple(range(6)), 6),
    "c3d15": ("wedge15", (0, 2, 4, 9, 11, 13, 1, 3, 5, 10, 12, 14, 6, 7, 8), 18),
}
# integration-point counts a Zset element of each type can have (full / reduced rules)
ZSET_IP_COUNTS = {"c3d8": (8, 1), "c3d8r": (1, 8), "c3d20": (27, 8), "c3d20r": (8, 27), "c3d4": (1, 4),
                  "c3d10": (4, 5, 1), "c3d6": (6, 2, 1), "c3d15": (18, 9, 6)}
# Mirror images in distrom order, used when a mesh comes with the opposite orientation.
_FLIP = {
    "hex8": (4, 5, 6, 7, 0, 1, 2, 3),
    "hex20": (4, 5, 6, 7, 0, 1, 2, 3, 12, 13, 14, 15, 8, 9, 10, 11, 16, 17, 18, 19),
    "tet4": (0, 2, 1, 3),
    "tet10": (0, 2, 1, 3, 6, 5, 4, 7, 9, 8),
    "wedge6": (3, 4, 5, 0, 1, 2),
    "wedge15": (3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8, 12, 13, 14),
}
# surface elements of ``**faset`` (kept as face sets, never as volume cells)
FACE_TYPES = {"q4": 4, "q8": 8, "t3": 3, "t6": 6}
# Zset field names -> distrom field names (the Zset names stay in ``source_name``)
ZSET_RENAME = {"U": "U", "RU": "RF", "eto": "eps", "sig": "sig"}
_DESCRIPTIONS = {"U": "displacement", "RF": "nodal reaction", "eps": "total strain", "sig": "stress"}


@dataclass
class GeofData:
    """A parsed ``.geof``: mesh in distrom order, plus what maps it back to the file.

    Attributes
    ----------
    mesh : Mesh
    file_order : numpy.ndarray, shape (n_cells,)
        ``file_order[c]`` = position in the file of global cell ``c`` (blocks are grouped by type).
    zset_types : list of str
        Zset type of each block.
    """

    mesh: Mesh
    file_order: np.ndarray
    zset_types: list[str]
    flipped: list[str] = field(default_factory=list)


def _tokens_after(lines: list[str], i: int) -> tuple[list[str], int]:
    """Tokens of the lines from ``i`` up to the next line starting with ``*``."""
    toks: list[str] = []
    while i < len(lines) and not lines[i].lstrip().startswith("*"):
        toks.extend(lines[i].split())
        i += 1
    return toks, i


def read_geof(path: str | Path) -> GeofData:
    """Parse a Zset ``.geof`` mesh (``**node``, ``**element``, ``***group`` with ``**nset``,
    ``**elset``, ``**faset``).

    Raises
    ------
    FormatError
        Missing file, missing ``**node``/``**element``, truncated records, unknown element type.
    """
    path = Path(path)
    require_file(path, "Zset mesh file")
    lines = path.read_text(errors="replace").splitlines()
    if not any(ln.strip().startswith("***geometry") for ln in lines[:50]):
        raise FormatError(f"{path}: not a Zset .geof file (no '***geometry' line)")
    node_ids = coords = None
    elems: list[tuple[int, str, list[int]]] = []
    nsets: dict[str, list[int]] = {}
    elsets: dict[str, list[int]] = {}
    fasets: dict[str, list[list[int]]] = {}
    i = 0
    while i < len(lines):
        s = lines[i].strip()
        if s.startswith("**node") and not s.startswith("**nodes"):
            head = lines[i + 1].split() if i + 1 < len(lines) else []
            if len(head) < 2:
                raise FormatError(f"{path}: line {i + 2}: expected 'n_nodes dim' after **node")
            n, dim = int(head[0]), int(head[1])
            rows = lines[i + 2:i + 2 + n]
            try:
                arr = np.array([r.split()[:dim + 1] for r in rows], dtype=np.float64)
            except ValueError as e:
                raise FormatError(f"{path}: **node: bad node record ({e})") from None
            if arr.shape != (n, dim + 1):
                raise FormatError(f"{path}: **node announces {n} nodes of dimension {dim}, "
                                  f"found {len(rows)} complete records (truncated file?)")
            node_ids, coords = arr[:, 0].astype(np.int64), arr[:, 1:]
            i += 2 + n
        elif s.startswith("**element"):
            head = lines[i + 1].split() if i + 1 < len(lines) else []
            if not head:
                raise FormatError(f"{path}: line {i + 2}: expected the element count after **element")
            n = int(head[0])
            rows = lines[i + 2:i + 2 + n]
            if len(rows) < n:
                raise FormatError(f"{path}: **element announces {n} elements, found {len(rows)} (truncated file?)")
            for r in rows:
                t = r.split()
                if len(t) < 3 or t[0].startswith("*"):
                    raise FormatError(f"{path}: **element: bad or missing record '{r.strip()}' (truncated file?)")
                elems.append((int(t[0]), t[1].lower(), [int(v) for v in t[2:]]))
            i += 2 + n
        elif s.startswith("**nset") or s.startswith("**elset"):
            name = s.split()[1] if len(s.split()) > 1 else ""
            toks, i = _tokens_after(lines, i + 1)
            (nsets if s.startswith("**nset") else elsets)[name] = [int(v) for v in toks]
        elif s.startswith("**faset"):
            name = s.split()[1] if len(s.split()) > 1 else ""
            j = i + 1
            faces: list[list[int]] = []
            while j < len(lines) and not lines[j].lstrip().startswith("*"):
                t = lines[j].split()
                if t:
                    if t[0].lower() not in FACE_TYPES or len(t) - 1 != FACE_TYPES[t[0].lower()]:
                        raise FormatError(f"{path}: **faset {name}: unsupported face record '{lines[j].strip()}'; "
                                          f"expected one of {sorted(FACE_TYPES)} with its nodes")
                    faces.append([int(v) for v in t[1:]])
                j += 1
            fasets[name] = faces
            i = j
        else:
            i += 1
    if node_ids is None:
        raise FormatError(f"{path}: no **node section")
    if not elems:
        raise FormatError(f"{path}: no **element section")
    assert coords is not None
    id_to_index = {int(v): k for k, v in enumerate(node_ids)}

    def node_index(ids: list[int], where: str) -> np.ndarray:
        try:
            return np.array([id_to_index[v] for v in ids], dtype=np.int64)
        except KeyError as e:
            raise FormatError(f"{path}: {where} refers to node {e.args[0]}, which is not in **node") from None

    # group the elements by type (order of first appearance), remember the file order
    types_in_order: list[str] = []
    for _, t, _ in elems:
        if t not in types_in_order:
            types_in_order.append(t)
    blocks: list[CellBlock] = []
    file_order: list[np.ndarray] = []
    flipped: list[str] = []
    for zt in types_in_order:
        if zt not in ZSET_ELEMENTS:
            raise FormatError(f"{path}: unsupported Zset element type '{zt}'; supported: {sorted(ZSET_ELEMENTS)}")
        dtype, perm, _ = ZSET_ELEMENTS[zt]
        pos = np.array([k for k, e in enumerate(elems) if e[1] == zt], dtype=np.int64)
        nn = len(perm)
        bad = [elems[k][0] for k in pos if len(elems[k][2]) != nn]
        if bad:
            raise FormatError(f"{path}: element {bad[0]} of type {zt} must have {nn} nodes")
        conn = node_index([v for k in pos for v in elems[k][2]], f"element of type {zt}").reshape(-1, nn)
        conn = conn[:, list(perm)]
        vol = orientation_volumes(coords if coords.shape[1] == 3 else np.hstack(
            [coords, np.zeros((len(coords), 3 - coords.shape[1]))]), conn, dtype)
        if np.all(vol < 0):
            # the mirror convention: reorder so that distrom's Jacobians are positive
            conn = conn[:, list(_FLIP[dtype])]
            flipped.append(zt)
            log.warning("%s: %s elements have the mirrored orientation; reordered", path, zt)
        elif np.any(vol < 0):
            k = int(np.argmin(vol))
            raise FormatError(f"{path}: element {elems[pos[k]][0]} ({zt}) is inverted while others are not")
        blocks.append(CellBlock(dtype, conn, np.array([elems[k][0] for k in pos], dtype=np.int64)))
        file_order.append(pos)
    order = np.concatenate(file_order)
    elem_pos = {elems[k][0]: c for c, k in enumerate(order)}  # element id -> global cell

    def cell_index(ids: list[int], where: str) -> np.ndarray:
        try:
            return np.array([elem_pos[v] for v in ids], dtype=np.int64)
        except KeyError as e:
            raise FormatError(f"{path}: {where} refers to element {e.args[0]}, which is not in **element") from None

    mesh = Mesh(coords, blocks, node_ids=node_ids,
                node_sets={k: node_index(v, f"**nset {k}") for k, v in nsets.items()},
                cell_sets={k: cell_index(v, f"**elset {k}") for k, v in elsets.items()})
    for name, faces in fasets.items():
        mesh.face_sets[name] = match_faces(mesh, [node_index(f, f"**faset {name}") for f in faces],
                                           f"{path}: **faset {name}")
    return GeofData(mesh, order, types_in_order, flipped)


@dataclass
class UtIndex:
    """A parsed ``.ut`` file.

    Attributes
    ----------
    path : Path
    meshfile : Path
        The ``.geof`` it names, resolved relative to the ``.ut``.
    node_names, integ_names, element_names : list of str
    times : numpy.ndarray, shape (n_steps,)
    records : numpy.ndarray, shape (n_steps, 4), int64
        The four integers of each output line (output number, cycle, increment, ...).
    """

    path: Path
    meshfile: Path
    node_names: list[str]
    integ_names: list[str]
    element_names: list[str]
    times: np.ndarray
    records: np.ndarray


def read_ut(path: str | Path) -> UtIndex:
    """Parse a Zset ``.ut`` index file."""
    path = Path(path)
    require_file(path, "Zset result index (.ut)")
    text = path.read_text(errors="replace").splitlines()
    first = next((ln.strip() for ln in text if ln.strip()), "")
    if not first.startswith("**"):
        raise FormatError(f"{path}: not a Zset .ut file (it must start with '**meshfile', found '{first[:40]}')")
    meshfile = None
    names: dict[str, list[str]] = {"node": [], "integ": [], "element": []}
    times: list[float] = []
    recs: list[list[int]] = []
    for ln in text:
        s = ln.strip()
        if not s:
            continue
        if s.startswith("**meshfile"):
            parts = s.split(None, 1)
            if len(parts) < 2:
                raise FormatError(f"{path}: '**meshfile' names no file")
            meshfile = (path.parent / parts[1].strip())
        elif s.startswith("**"):
            key = s[2:].split()[0]
            if key in names:
                names[key] = s.split()[1:]
        else:
            t = s.split()
            try:
                recs.append([int(v) for v in t[:4]])
                times.append(float(t[4]))
            except (ValueError, IndexError):
                raise FormatError(f"{path}: bad output line '{s}'; expected 4 integers and a time") from None
    if meshfile is None:
        raise FormatError(f"{path}: not a Zset .ut file (no '**meshfile' line)")
    if not times:
        raise FormatError(f"{path}: no output times")
    return UtIndex(path, meshfile, names["node"], names["integ"], names["element"],
                   np.array(times), np.array(recs, dtype=np.int64))


def _companion(ut: UtIndex, ext: str) -> Path:
    return ut.path.with_suffix(ext)


def _fields_of(ut: UtIndex, ips_per_cell: dict[str, int]) -> list[tuple[FieldSpec, list[int]]]:
    out: list[tuple[FieldSpec, list[int]]] = []
    for loc, names in (("node", ut.node_names), ("ip", ut.integ_names)):
        for name, idx, comps, tensor in group_components(names, rename=ZSET_RENAME):
            src = " ".join(names[i] for i in idx)
            spec = FieldSpec(name, loc, tuple(comps) if len(idx) > 1 else (names[idx[0]],), src,
                             ips_per_cell=dict(ips_per_cell) if loc == "ip" else None,
                             description=_DESCRIPTIONS.get(name, ""), tensor=tensor)
            if tensor:
                spec.attrs["shear"] = "tensor"
            out.append((spec, idx))
    return out


class _ZsetDomain:
    """One result set (.ut + .node + .integ) on one mesh, read step by step."""

    def __init__(self, ut: UtIndex, geof: GeofData) -> None:
        self.ut, self.geof = ut, geof
        mesh = geof.mesh
        self.n_nodes = mesh.n_nodes
        n_steps = len(ut.times)
        # ip count per element from the element types, checked against the file size
        self.nip_by_type: dict[str, int] = {}
        self.ip_orders: dict[str, str] = {}
        self.node_file = self.integ_file = None
        if ut.node_names:
            self.node_file = require_file(_companion(ut, ".node"), "Zset nodal results (.node)", ut.path)
            expect = n_steps * len(ut.node_names) * self.n_nodes * 4
            size = self.node_file.stat().st_size
            if size != expect:
                raise FormatError(f"{self.node_file}: {size} bytes, expected {expect} = {n_steps} outputs x "
                                  f"{len(ut.node_names)} fields x {self.n_nodes} nodes x 4 bytes "
                                  f"({'truncated' if size < expect else 'extra data'})")
        if ut.integ_names:
            self.integ_file = require_file(_companion(ut, ".integ"), "Zset integration-point results (.integ)", ut.path)
            size = self.integ_file.stat().st_size
            n_int = len(ut.integ_names)
            if len(geof.zset_types) == 1:
                # one element type: the ip count follows from the size (robust to r-variants)
                denom = n_steps * n_int * mesh.n_cells * 4
                if size % denom:
                    raise FormatError(f"{self.integ_file}: {size} bytes is not a whole number of integration "
                                      f"points for {n_steps} outputs x {n_int} fields x {mesh.n_cells} elements "
                                      f"(truncated file?)")
                self.nip_by_type[mesh.cells[0].type] = size // denom
                plausible = ZSET_IP_COUNTS.get(geof.zset_types[0], ())
                if size // denom not in plausible:
                    # a truncated file can still divide evenly: insist on a rule this type can have
                    raise FormatError(f"{self.integ_file}: {size} bytes means {size // denom} integration points "
                                      f"per {geof.zset_types[0]}, expected one of {plausible} (truncated file?)")
            else:
                for zt, b in zip(geof.zset_types, mesh.cells):
                    nip = ZSET_ELEMENTS[zt][2]
                    if nip is None:
                        raise FormatError(f"{self.integ_file}: unknown ip count of Zset type {zt}")
                    self.nip_by_type[b.type] = nip
                expect = n_steps * n_int * 4 * sum(self.nip_by_type[b.type] * len(b) for b in mesh.cells)
                if size != expect:
                    raise FormatError(f"{self.integ_file}: {size} bytes, expected {expect} "
                                      f"({'truncated' if size < expect else 'extra data'})")
            self._build_ip_index()
        self.fields = _fields_of(ut, self.nip_by_type)
        for spec, _ in self.fields:
            if spec.location == "ip":
                spec.attrs["ip_order"] = "; ".join(f"{t}: {h}" for t, h in self.ip_orders.items())

    def _build_ip_index(self) -> None:
        """Index of each (distrom ip row, field 0) value in one step's block of the .integ file."""
        mesh, g = self.geof.mesh, self.geof
        n_int = len(self.ut.integ_names)
        nip_cell = np.concatenate([np.full(len(b), self.nip_by_type[b.type]) for b in mesh.cells])
        # per file position: ip count and offset of the element's data in a step block
        nip_file = np.empty_like(nip_cell)
        nip_file[g.file_order] = nip_cell
        off_file = np.concatenate([[0], np.cumsum(nip_file * n_int)[:-1]])
        off_cell = off_file[g.file_order]
        self.nip_rows = np.repeat(nip_cell, nip_cell)
        # distrom's ip j of a cell holds Zset's ip perm[j] (see ip_permutation)
        self.ip_orders: dict[str, str] = {}
        parts = []
        for zt, b in zip(g.zset_types, mesh.cells):
            perm, how = ip_permutation(zt, b.type, self.nip_by_type[b.type])
            self.ip_orders[b.type] = how
            parts.append(np.tile(perm, len(b)))
        ip_local = np.concatenate(parts)
        self.ip_index0 = np.repeat(off_cell, nip_cell) + ip_local
        self.n_ip_rows = int(nip_cell.sum())
        self.step_block = int((nip_cell * n_int).sum())

    def steps(self) -> Iterator[dict[str, np.ndarray]]:
        """Yield ``{field: (n_rows, n_comp) float64}`` for each output, reading one output at a time."""
        n_nf, n_if = len(self.ut.node_names), len(self.ut.integ_names)
        for k in range(len(self.ut.times)):
            out: dict[str, np.ndarray] = {}
            if self.node_file is not None:
                blk = _read_be32(self.node_file, k * n_nf * self.n_nodes, n_nf * self.n_nodes)
                blk = blk.reshape(n_nf, self.n_nodes)
            if self.integ_file is not None:
                iblk = _read_be32(self.integ_file, k * self.step_block, self.step_block)
            for spec, idx in self.fields:
                if spec.location == "node":
                    out[spec.name] = blk[idx].T.astype(np.float64)
                else:
                    cols = [iblk[self.ip_index0 + f * self.nip_rows] for f in idx]
                    out[spec.name] = np.stack(cols, axis=1).astype(np.float64)
            yield out


def _zset_ip_points(zset_type: str, nip: int) -> np.ndarray | None:
    """Reference coordinates of Zset's integration points where the order is established.

    Hexahedra: Gauss-Legendre tensor rule, ``ip = ix + n*iy + n*n*iz`` (xi fastest), xi along
    node 1 -> 2, eta along 1 -> 4, zeta along 1 -> 5 (established on the c3d8 data of the test
    files: the strain of U at these points reproduces ``eto``; assumed the same loop for the
    other hexahedra). Other types: None (order kept as Zset writes it).
    """
    if zset_type.startswith("c3d8") or zset_type.startswith("c3d20"):
        return gauss_points_xi_fastest(nip)
    return None


def ip_permutation(zset_type: str, dtype: str, nip: int) -> tuple[np.ndarray, str]:
    """``perm`` with distrom ip ``j`` = Zset ip ``perm[j]``, and how it was obtained
    (see :func:`distrom.io.converters._common.match_ip_order`)."""
    return match_ip_order(dtype, nip, _zset_ip_points(zset_type, nip), "Zset")


def _read_be32(path: Path, offset_values: int, count: int) -> np.ndarray:
    with open(path, "rb") as fh:
        fh.seek(4 * offset_values)
        data = np.fromfile(fh, dtype=">f4", count=count)
    if len(data) != count:
        raise FormatError(f"{path}: truncated: expected {count} values at byte {4 * offset_values}, got {len(data)}")
    return data


def _zset_attrs(ut: UtIndex) -> dict[str, Any]:
    return {"solver": "Zset", "zset_output_records": ut.records.tolist().__repr__(),
            "zset_node_fields": " ".join(ut.node_names), "zset_integ_fields": " ".join(ut.integ_names)}


def _note_element_fields(ut: UtIndex, attrs: dict[str, Any]) -> None:
    # element (one value per element) fields live in another file whose layout the test data do
    # not show: say so instead of dropping them silently
    if ut.element_names:
        log.warning("%s: element fields %s are not converted", ut.path, " ".join(ut.element_names))
        attrs["zset_element_fields_not_converted"] = " ".join(ut.element_names)


def read_zset(path: str | Path, comm: Any = None) -> SourceResult:
    """Read a Zset run: a serial ``.ut`` or a parallel ``.cut`` decomposition.

    Parameters
    ----------
    path : str or Path
        ``run.ut`` (serial) or ``run.cut`` (one result per subdomain: ``run-001.ut``, ...).
    comm : mpi4py communicator, optional
        For the parallel form: the subdomain files are read by the ranks in turn (rank ``r``
        reads subdomains ``r, r + P, ...``) and combined with one allreduce per step. Collective.

    Returns
    -------
    SourceResult
        Nodal fields have one row per node, ip fields one row per integration point, cells in
        distrom's global order, points in Zset's order (see docs/converters.md).
    """
    path = Path(path)
    if path.suffix == ".cut":
        return _read_parallel(path, comm)
    if path.suffix != ".ut" and path.with_suffix(".ut").is_file():
        path = path.with_suffix(".ut")
    ut = read_ut(path)
    geof = read_geof(require_file(ut.meshfile, "Zset mesh file", ut.path))
    dom = _ZsetDomain(ut, geof)
    attrs = _zset_attrs(ut)
    if geof.flipped:
        attrs["zset_mirrored_types"] = " ".join(geof.flipped)
    _note_element_fields(ut, attrs)
    return SourceResult(geof.mesh, [s for s, _ in dom.fields], ut.times, dom.steps, f"zset: {path}", attrs)


def _parse_cut(path: Path) -> dict[str, Any]:
    require_file(path, "Zset decomposition file (.cut)")
    text = path.read_text(errors="replace")
    if "***decomposition" not in text:
        raise FormatError(f"{path}: not a Zset decomposition file (no '***decomposition')")
    out: dict[str, Any] = {}
    m = re.search(r"\*\*global_mesh\s+(\S+)", text)
    d = re.search(r"\*\*domains\s+(\d+)", text)
    if not m or not d:
        raise FormatError(f"{path}: missing '**global_mesh' or '**domains'")
    out["global_mesh"] = path.parent / m.group(1)
    out["domains"] = int(d.group(1))
    s = re.search(r"\*\*\*splitted\s+(\S+)", text)
    out["splitted"] = path.parent / s.group(1) if s else None
    return out


def _parse_subdomain_cut(path: Path) -> dict[str, np.ndarray]:
    text = path.read_text(errors="replace").splitlines()
    out: dict[str, np.ndarray] = {}
    for i, ln in enumerate(text):
        s = ln.strip()
        for key in ("**elements", "**nodes"):
            if s.split()[:1] == [key]:
                n = int(s.split()[1])
                toks, _ = _tokens_after(text, i + 1)
                if len(toks) < n:
                    raise FormatError(f"{path}: {key} announces {n} ids, found {len(toks)} (truncated file?)")
                out[key[2:]] = np.array(toks[:n], dtype=np.int64)
    return out


def _read_parallel(path: Path, comm: Any) -> SourceResult:
    cut = _parse_cut(path)
    gmesh = read_geof(require_file(cut["global_mesh"], "Zset global mesh", path))
    mesh = gmesh.mesh
    n_dom = cut["domains"]
    node_index = {int(v): k for k, v in enumerate(mesh.node_ids)}
    cell_index = {int(v): k for k, v in enumerate(mesh.cell_ids)}
    doms: list[tuple[UtIndex, GeofData, np.ndarray, np.ndarray]] = []
    cell_part = np.full(mesh.n_cells, -1, dtype=np.int64)
    node_owner = np.full(mesh.n_nodes, -1, dtype=np.int64)  # lowest subdomain holding the node
    for d in range(n_dom):
        ut_path = path.with_name(f"{path.stem}-{d + 1:03d}.ut")
        ut = read_ut(require_file(ut_path, f"result index of subdomain {d + 1}", path))
        sub = read_geof(require_file(ut.meshfile, f"mesh of subdomain {d + 1}", ut.path))
        # subdomain meshes carry the global ids
        try:
            nodes_g = np.array([node_index[int(v)] for v in sub.mesh.node_ids], dtype=np.int64)
            cells_g = np.array([cell_index[int(v)] for v in sub.mesh.cell_ids], dtype=np.int64)
        except KeyError as e:
            raise FormatError(f"{ut.meshfile}: id {e.args[0]} is not in the global mesh "
                              f"{cut['global_mesh']}") from None
        if cut["splitted"] is not None:
            pc = cut["splitted"] / f"{path.stem}-{d + 1:03d}.cut"
            if pc.is_file():
                info = _parse_subdomain_cut(pc)
                if "nodes" in info and not np.array_equal(info["nodes"], sub.mesh.node_ids):
                    raise FormatError(f"{pc}: **nodes differ from the node order of {ut.meshfile}")
                if "elements" in info and set(info["elements"].tolist()) != set(sub.mesh.cell_ids.tolist()):
                    raise FormatError(f"{pc}: **elements differ from the elements of {ut.meshfile}")
        scale = max(1.0, float(np.abs(mesh.nodes).max()))
        if not np.allclose(sub.mesh.nodes, mesh.nodes[nodes_g], rtol=0, atol=1e-12 * scale):
            raise FormatError(f"{ut.meshfile}: node coordinates differ from the global mesh {cut['global_mesh']}")
        # connectivity by global ids must agree with the global mesh
        # connectivity, in global node indices, must be the global mesh's (block by block)
        start = 0
        for blk in sub.mesh.cells:
            cg = cells_g[start:start + len(blk)]
            start += len(blk)
            gb, within = mesh.cell_block_of(cg)
            if np.any(gb != gb[0]) or mesh.cells[gb[0]].type != blk.type or \
                    not np.array_equal(mesh.cells[gb[0]].connectivity[within], nodes_g[blk.connectivity]):
                raise FormatError(f"{ut.meshfile}: connectivity differs from the global mesh {cut['global_mesh']}")
        if np.any(cell_part[cells_g] >= 0):
            raise FormatError(f"{ut.meshfile}: elements also in another subdomain")
        cell_part[cells_g] = d
        free = node_owner[nodes_g] < 0
        node_owner[nodes_g[free]] = d
        doms.append((ut, sub, nodes_g, cells_g))
    if np.any(cell_part < 0):
        missing = mesh.cell_ids[cell_part < 0][:5].tolist()
        raise FormatError(f"{path}: elements {missing} are in no subdomain result")
    ut0 = doms[0][0]
    for ut, *_ in doms[1:]:
        if ut.node_names != ut0.node_names or ut.integ_names != ut0.integ_names or \
                not np.array_equal(ut.times, ut0.times):
            raise FormatError(f"{ut.path}: fields or times differ from {ut0.path}")
    # each subdomain's reader (opened lazily by the rank that reads it)
    size = comm.size if comm is not None else 1
    rank = comm.rank if comm is not None else 0
    readers = {d: _ZsetDomain(doms[d][0], doms[d][1]) for d in range(n_dom) if d % size == rank}
    nip_by_type: dict[str, int] = {}
    ip_orders: dict[str, str] = {}
    for r in readers.values():
        nip_by_type.update(r.nip_by_type)
        ip_orders.update(r.ip_orders)
    if comm is not None and size > 1:
        for part, orders in comm.allgather((nip_by_type, ip_orders)):
            nip_by_type.update(part)
            ip_orders.update(orders)
    specs = [s for s, _ in _fields_of(ut0, nip_by_type)]
    for s in specs:
        if s.location == "ip":
            s.attrs["ip_order"] = "; ".join(f"{t}: {h}" for t, h in sorted(ip_orders.items()))
    ip_off = mesh.ip_offsets(nip_by_type) if ut0.integ_names else None
    sub_rows = {d: _sub_ip_rows(doms[d][1].mesh, doms[d][3], ip_off, readers[d].nip_by_type)
                for d in readers} if ut0.integ_names else {}

    def steps() -> Iterator[dict[str, np.ndarray]]:
        iters = {d: r.steps() for d, r in readers.items()}
        for _k in range(len(ut0.times)):
            acc = {s.name: np.zeros((mesh.n_nodes if s.location == "node" else int(ip_off[-1]), s.n_components))
                   for s in specs}
            for d, it in iters.items():
                vals = next(it)
                _ut, sub, nodes_g, cells_g = doms[d]
                own = node_owner[nodes_g] == d   # shared nodes: the lowest subdomain's value
                for s in specs:
                    if s.location == "node":
                        acc[s.name][nodes_g[own]] += vals[s.name][own]
                    else:
                        acc[s.name][sub_rows[d]] += vals[s.name]
            if comm is not None and size > 1:
                from mpi4py import MPI
                for s in specs:
                    comm.Allreduce(MPI.IN_PLACE, acc[s.name], op=MPI.SUM)
            yield acc

    attrs = _zset_attrs(ut0)
    _note_element_fields(ut0, attrs)
    attrs["zset_subdomains"] = n_dom
    attrs["zset_shared_nodes"] = "nodal values at interface nodes are those of the lowest-numbered subdomain"
    return SourceResult(mesh, specs, ut0.times, steps, f"zset: {path}", attrs,
                        partition=SimplePartition(cell_part, n_dom, "zset"))


def _sub_ip_rows(sub_mesh: Mesh, cells_g: np.ndarray, ip_off: np.ndarray, nip_by_type: dict[str, int]) -> np.ndarray:
    """Global ip rows of a subdomain's ip rows (its cells in its own distrom order)."""
    nip = np.concatenate([np.full(len(b), nip_by_type[b.type]) for b in sub_mesh.cells])
    starts = ip_off[cells_g]
    return np.repeat(starts, nip) + (np.arange(nip.sum()) - np.repeat(np.cumsum(nip) - nip, nip))


def convert_zset(path: str | Path, output: str | Path, comm: Any = None, *, overwrite: bool = False) -> Path:
    """Convert a Zset run (``.ut`` or ``.cut``) into a case. Collective."""
    from distrom.io.converters._common import write_case

    return write_case(read_zset(path, comm=comm), output, comm=comm, overwrite=overwrite)
