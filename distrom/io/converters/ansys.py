"""Ansys MAPDL ``.rst`` results: a compact reader of the binary records, NumPy only.

Why our own reader (measured, see docs/converters.md): the vendor's ``ansys-mapdl-reader`` pulls
pyvista and VTK (822 MB installed in a fresh venv) and ``ansys-dpf-core`` needs a DPF server.
This reader covers what distrom converts (nodes, solid elements, surface elements as face sets,
nodal DOF solution, reactions, element nodal stresses/elastic strains/temperatures averaged at
the nodes) and is tested against values extracted once with ansys-mapdl-reader 0.56.0
(tests/fixtures/extract_ansys_reference.py).

File structure used here (little-endian Fortran-style records: ``int32 n_words``, a flags word
whose last byte says integer/real, single/double and the compression, ``n_words`` data words, an
``int32`` trailer; record positions are counted in 4-byte words):

* word 0: standard header (100 ints); word 103: result header (pointers ``ptrDSI``, ``ptrTIM``,
  ``ptrGEO``, ``ptrNOD``, ``ptrELM`` as low/high 32-bit halves, counts of nodes, elements, sets);
* ``ptrNOD`` / ``ptrELM``: node / element numbers in *solution order* (the order of every
  nodal result record; not sorted);
* geometry header at ``ptrGEO``: element types (``ptrETY``), node locations (``ptrLOC``, one
  record ``id x y z thxy thyz thzx`` per node), element records (``ptrEID``: 10 attributes then
  the node numbers);
* per result set (``ptrDSI``): a solution header with ``ptrNSL`` (DOF solution), ``ptrRF``
  (reactions) and ``ptrESL`` (per element, an index of its result records: ``ENS`` stresses,
  ``EEL`` elastic strains, ``EPT`` temperatures, ...), all relative to the set's position.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import FormatError
from distrom.io.converters._common import TENSOR_NOTE, FieldSpec, SourceResult, require_file
from distrom.io.converters._faces import match_faces
from distrom.mesh import CellBlock, Mesh

__all__ = ["RstFile", "ANSYS_SOLIDS", "ANSYS_SURFACES", "read_ansys", "convert_ansys"]

log = logging.getLogger(__name__)

# element routine number -> (distrom type, number of nodes); Ansys's node order of these
# elements is distrom's (corners, then mid-edges in the same edge order).
ANSYS_SOLIDS = {185: ("hex8", 8), 186: ("hex20", 20), 187: ("tet10", 10), 285: ("tet4", 4),
                45: ("hex8", 8), 95: ("hex20", 20), 92: ("tet10", 10)}
# surface-effect elements: kept as face sets of the solids they lie on
ANSYS_SURFACES = {154: "SURF154", 156: "SURF156", 152: "SURF152"}
DOF_LABELS = {1: "UX", 2: "UY", 3: "UZ", 4: "ROTX", 5: "ROTY", 6: "ROTZ", 19: "PRES", 20: "TEMP"}
# position of each element result in the per-element index record
_ELEMENT_INDEX = {"ENS": 2, "ENG": 3, "EEL": 5, "EPL": 6, "ECR": 7, "ETH": 8, "EUL": 9, "EPT": 16}
_INVALID = 2.0 ** 100          # MAPDL's marker of a value not computed


@dataclass
class _ElementType:
    itype: int
    routine: int
    n_nodes: int
    n_stress_nodes: int


class RstFile:
    """Random access to the records of an ``.rst`` file (read into memory lazily by record).

    Parameters
    ----------
    path : path of the ``.rst``
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        require_file(self.path, "Ansys result file (.rst)")
        self.size = self.path.stat().st_size
        self._fh = open(self.path, "rb")
        head = self._read_bytes(0, 8)
        if len(head) < 8 or int(np.frombuffer(head, "<i4", 1)[0]) != 100:
            raise FormatError(f"{self.path}: not an Ansys binary result file (no 100-word standard header; "
                              "big-endian files are not supported)")
        std = self.record(0)
        self.file_number = int(std[0])
        if self.file_number != 12:
            raise FormatError(f"{self.path}: Ansys binary file number {self.file_number}, expected 12 (a .rst "
                              "result file)")
        self.version = _text(std[9:10])
        self.title = _text(std[40:60]).strip("\x00 ") if len(std) >= 60 else ""

    def close(self) -> None:
        self._fh.close()

    def _read_bytes(self, offset: int, n: int) -> bytes:
        self._fh.seek(offset)
        return self._fh.read(n)

    def record_words(self, ptr: int) -> int:
        """Words taken by the record at ``ptr`` (header, data, trailer)."""
        return int(np.frombuffer(self._read_bytes(4 * ptr, 4), "<i4", 1)[0]) + 3

    def record(self, ptr: int) -> np.ndarray:
        """Decode the record at word ``ptr`` into a 1-D array (int32/int16/float32/float64)."""
        head = self._read_bytes(4 * ptr, 8)
        if len(head) < 8:
            raise FormatError(f"{self.path}: truncated: record at byte {4 * ptr} is beyond the end of the file "
                              f"({self.size} bytes)")
        n = int(np.frombuffer(head, "<i4", 1)[0])
        flags = head[7]
        bsparse, wsparse, zlib, single, integer = ((flags >> k) & 1 for k in (3, 4, 5, 6, 7))
        if zlib:
            raise FormatError(f"{self.path}: zlib-compressed records are not supported; write the file with "
                              "/FCOMP,RST,0")
        raw = self._read_bytes(4 * ptr + 8, 4 * n)
        if len(raw) < 4 * n or n < 0:
            raise FormatError(f"{self.path}: truncated: record at byte {4 * ptr} announces {n} words, the file ends "
                              f"after {len(raw) // 4}")
        dtype = np.dtype(("<i2" if single else "<i4") if integer else ("<f4" if single else "<f8"))
        if bsparse:
            return _bit_sparse(raw, dtype)
        if wsparse:
            return _window_sparse(raw, dtype, self.path)
        return np.frombuffer(raw, dtype)


def _text(words: np.ndarray) -> str:
    """Ansys stores text 4 characters per int32 word, each word byte-reversed."""
    return b"".join(np.asarray(w, "<i4").tobytes()[::-1] for w in words).decode("latin-1", "replace")


def _bit_sparse(raw: bytes, dtype: np.dtype) -> np.ndarray:
    """Bit-coded record: ``size``, a 32-bit mask of the stored positions, the stored values."""
    size, mask = (int(v) for v in np.frombuffer(raw, "<i4", 2))
    present = np.array([(mask >> i) & 1 for i in range(size)], dtype=bool)
    out = np.zeros(size, dtype)
    out[present] = np.frombuffer(raw, dtype, int(present.sum()), 8)
    return out


def _window_sparse(raw: bytes, dtype: np.dtype, path: Path) -> np.ndarray:
    """Windowed record: ``size``, ``n_windows``, then per window either ``loc > 0`` and one value,
    or ``-start``, ``length`` and ``length`` values (``length <= 0``: one value repeated)."""
    size, n_win = (int(v) for v in np.frombuffer(raw, "<i4", 2))
    out = np.zeros(size, dtype)
    pos, isz = 8, dtype.itemsize
    try:
        for _ in range(n_win):
            loc = int(np.frombuffer(raw, "<i4", 1, pos)[0])
            pos += 4
            if loc > 0:
                out[loc] = np.frombuffer(raw, dtype, 1, pos)[0]
                pos += isz
                continue
            length = int(np.frombuffer(raw, "<i4", 1, pos)[0])
            pos += 4
            if length > 0:
                out[-loc:-loc + length] = np.frombuffer(raw, dtype, length, pos)
                pos += isz * length
            else:
                out[-loc:-loc - length] = np.frombuffer(raw, dtype, 1, pos)[0]
                pos += isz
    except ValueError:
        raise FormatError(f"{path}: corrupt windowed-sparse record") from None
    return out


def _ptr(lo: int, hi: int) -> int:
    return (int(hi) << 32) + (int(lo) & 0xFFFFFFFF)


def read_ansys(path: str | Path) -> SourceResult:
    """Read an Ansys MAPDL ``.rst``: mesh, and for each result set the nodal DOF solution, the
    reactions and the element nodal results averaged at the nodes (as ansys-mapdl-reader's
    ``nodal_stress``/``nodal_temperature`` do: corner nodes only, NaN at mid-side nodes).

    Returns
    -------
    SourceResult
        Fields ``U`` (UX UY UZ), ``RF`` (reactions, 0 where no reaction), ``sig_node`` (SX SY SZ
        SXY SYZ SXZ), ``eps_el_node`` (elastic strain, tensor shears = Ansys's engineering
        shears / 2), ``eps_el_eqv_node``, ``T`` (temperature), as far as present.
    """
    rst = RstFile(path)
    try:
        return _read(rst)
    except (IndexError, ValueError) as e:   # a record shorter than its header says: a broken file
        raise FormatError(f"{rst.path}: unreadable record structure ({e}); truncated or not an .rst file") from None


def _read(rst: RstFile) -> SourceResult:
    path = rst.path
    rh = rst.record(103)
    n_nodes, n_elems, n_sets, resmax = int(rh[2]), int(rh[6]), int(rh[8]), int(rh[3])
    p_dsi, p_tim, p_elm, p_nod, p_geo = (_ptr(rh[i], rh[i + 30]) for i in (10, 11, 13, 14, 15))
    neqv = rst.record(p_nod).astype(np.int64)[:n_nodes]        # node numbers in solution order
    eeqv = rst.record(p_elm).astype(np.int64)[:n_elems]
    dsi = rst.record(p_dsi)
    set_ptrs = [_ptr(dsi[i], dsi[resmax + i]) for i in range(n_sets)]
    times = np.asarray(rst.record(p_tim)[:n_sets], dtype=np.float64)
    gh = rst.record(p_geo)
    p_ety, p_loc, p_eid = _ptr(gh[20], gh[21]), _ptr(gh[26], gh[27]), _ptr(gh[28], gh[29])
    n_geo_nodes, n_geo_elems = int(gh[3]), int(gh[4])
    # element types
    ety_table = rst.record(p_ety)
    if int(gh[64]):      # mapFlag: a second record lists the type records
        type_ptrs = rst.record(p_ety + rst.record_words(p_ety))
    else:
        type_ptrs = [v for v in ety_table[:int(gh[1])] if v]
    etypes: dict[int, _ElementType] = {}
    for q in type_ptrs:
        e = rst.record(p_ety + int(q))
        etypes[int(e[0])] = _ElementType(int(e[0]), int(e[1]), int(e[60]), int(e[93]))
    # nodes
    ids = np.empty(n_geo_nodes, np.int64)
    xyz = np.empty((n_geo_nodes, 3))
    angles = np.zeros((n_geo_nodes, 3))
    p = p_loc
    for i in range(n_geo_nodes):
        r = rst.record(p)
        ids[i], xyz[i], angles[i] = int(r[0]), r[1:4], r[4:7]
        p += rst.record_words(p)
    if np.any(angles != 0):
        raise FormatError(f"{path}: nodes with rotated nodal coordinate systems are not supported "
                          "(results would need a rotation to the global system)")
    node_index = {int(v): k for k, v in enumerate(ids)}
    # elements: 10 attributes (mat, type, real, sec, esys, death, solid model, shape, number, -) + nodes
    eid = rst.record(p_eid).view("<i8")[:n_geo_elems]
    base = p_eid + int(eid[0])
    elem_recs = []
    for off in eid - eid[0]:
        r = rst.record(base + int(off)).astype(np.int64)
        elem_recs.append(r)
    solids: dict[str, list[tuple[int, list[int]]]] = {}
    faces: dict[str, list[list[int]]] = {}
    elem_type_of: dict[int, _ElementType] = {}
    for r in elem_recs:
        et = etypes.get(int(r[1]))
        if et is None:
            raise FormatError(f"{path}: element {int(r[8])} has undefined element type {int(r[1])}")
        enum, nodes = int(r[8]), [int(v) for v in r[10:10 + et.n_nodes]]
        elem_type_of[enum] = et
        if et.routine in ANSYS_SOLIDS:
            dtype, nn = ANSYS_SOLIDS[et.routine]
            if len(set(nodes[:{"hex8": 8, "hex20": 8, "tet10": 4, "tet4": 4}[dtype]])) != \
                    {"hex8": 8, "hex20": 8, "tet10": 4, "tet4": 4}[dtype]:
                raise FormatError(f"{path}: element {enum} (SOLID{et.routine}) is a degenerate shape "
                                  "(repeated corner nodes); only the regular shapes are supported")
            solids.setdefault(dtype, []).append((enum, nodes))
        elif et.routine in ANSYS_SURFACES:
            faces.setdefault(ANSYS_SURFACES[et.routine], []).append(nodes)
        else:
            raise FormatError(f"{path}: unsupported Ansys element type {et.routine} (element {enum}); "
                              f"supported solids: SOLID{', SOLID'.join(str(k) for k in sorted({185, 186, 187, 285}))}; "
                              f"surfaces: {', '.join(ANSYS_SURFACES.values())}")
    if not solids:
        raise FormatError(f"{path}: no solid elements")

    def idx(nodes: list[int], enum: Any) -> list[int]:
        try:
            return [node_index[n] for n in nodes]
        except KeyError as e:
            raise FormatError(f"{path}: element {enum} uses node {e.args[0]}, which has no location") from None

    blocks = [CellBlock(t, np.array([idx(n, e) for e, n in v], np.int64), np.array([e for e, _ in v]))
              for t, v in solids.items()]
    mesh = Mesh(xyz, blocks, node_ids=ids)
    for name, fl in faces.items():
        # SURF154 on a tet10 face: 8 nodes I J K L(=K) M N O(=K) P; the corners are the distinct first 4
        corner_sets = [np.array(idx(list(dict.fromkeys(f[:4])), name)) for f in fl]
        mesh.face_sets[name] = match_faces(mesh, corner_sets, f"{path}: {name}")
    sol_rows = np.array([node_index.get(int(n), -1) for n in neqv])
    if np.any(sol_rows < 0):
        raise FormatError(f"{path}: the solution's node table names nodes without location")
    ens_nodes = {e: et.n_stress_nodes for e, et in elem_type_of.items()}
    elem_nodes = {int(r[8]): [node_index[int(v)] for v in r[10:10 + elem_type_of[int(r[8])].n_nodes]]
                  for r in elem_recs}
    # what the first set holds decides the fields
    sh0 = rst.record(set_ptrs[0]) if set_ptrs else None
    if sh0 is None:
        raise FormatError(f"{path}: no result sets")
    numdof = int(sh0[19])
    dofs = [int(v) for v in sh0[20:20 + numdof]]
    specs: list[FieldSpec] = []
    if dofs[:3] == [1, 2, 3]:
        specs.append(FieldSpec("U", "node", ("UX", "UY", "UZ"), "UX UY UZ", description="displacement"))
    else:
        labels = tuple(DOF_LABELS.get(d, f"DOF{d}") for d in dofs)
        specs.append(FieldSpec("dof", "node", labels, " ".join(labels), description="nodal DOF solution"))
    specs.append(FieldSpec("RF", "node", tuple(f"F{DOF_LABELS.get(d, d)}" for d in dofs[:3] if d in (1, 2, 3)) or
                           ("RF",), "RF", description="nodal reaction forces (0 where no reaction)"))
    results = _element_results_present(rst, set_ptrs[0], sh0, eeqv)
    if "ENS" in results:
        specs.append(FieldSpec("sig_node", "node", ("SX", "SY", "SZ", "SXY", "SYZ", "SXZ"), "S (ENS)",
                               description="stress, element nodal values averaged at the corner nodes (NaN at "
                               "mid-side nodes)", tensor=TENSOR_NOTE))
    if "EEL" in results:
        specs.append(FieldSpec("eps_el_node", "node", ("EPELX", "EPELY", "EPELZ", "EPELXY", "EPELYZ", "EPELXZ"),
                               "EPEL (EEL)", description="elastic strain averaged at the corner nodes; shears "
                               "are tensor components (Ansys's engineering shears / 2)", tensor=TENSOR_NOTE))
        specs.append(FieldSpec("eps_el_eqv_node", "node", ("EPELEQV",), "EPEL EQV (EEL)",
                               description="equivalent elastic strain averaged at the corner nodes"))
    if "EPT" in results:
        specs.append(FieldSpec("T", "node", ("TEMP",), "BFE TEMP (EPT)",
                               description="temperature averaged at the corner nodes"))

    def steps() -> Iterator[dict[str, np.ndarray]]:
        for k, sp in enumerate(set_ptrs):
            sh = rst.record(sp)
            out: dict[str, np.ndarray] = {}
            nd = int(sh[19])
            p_nsl, p_esl, p_rf = _ptr(sh[104], sh[105]), _ptr(sh[118], sh[119]), _ptr(sh[106], sh[107])
            # DOF solution: rows in solution order (neqv), possibly only some nodes
            u = np.full((mesh.n_nodes, nd), np.nan)
            if p_nsl:
                vals = rst.record(sp + p_nsl).astype(np.float64)
                n_rows = len(vals) // nd
                vals = vals[:n_rows * nd].reshape(n_rows, nd)
                if n_rows < len(neqv):     # a second record lists the solution rows written
                    which = rst.record(sp + p_nsl + rst.record_words(sp + p_nsl)).astype(np.int64)[:n_rows] - 1
                    rows = sol_rows[which]
                else:
                    rows = sol_rows[:n_rows] if n_rows == len(neqv) else sol_rows
                    vals = vals[:len(neqv)]
                vals[vals == _INVALID] = 0.0
                u[rows] = vals
            out[specs[0].name] = u if specs[0].name == "dof" else u[:, :3]
            rf = np.zeros((mesh.n_nodes, len(specs[1].component_names)))
            n_rf = int(sh[7])
            if p_rf and n_rf:
                where = rst.record(sp + p_rf)
                where = (where.view("<i8") if where.dtype == np.int32 and len(where) == 2 * n_rf else where)
                where = where.astype(np.int64)[:n_rf] - 1
                vals = rst.record(sp + p_rf + rst.record_words(sp + p_rf)).astype(np.float64)[:n_rf]
                node, dof = sol_rows[where // nd], where % nd
                keep = dof < rf.shape[1]
                rf[node[keep], dof[keep]] = vals[keep]
            out["RF"] = rf
            if p_esl and len(specs) > 2:
                out.update(_nodal_averages(rst, sp + p_esl, eeqv, elem_nodes, ens_nodes, mesh.n_nodes,
                                           {s.name for s in specs}))
            for s in specs:
                if s.name not in out:
                    raise FormatError(f"{path}: result set {k + 1} lacks {s.source_name}, present in set 1")
            yield out

    attrs = {"solver": f"Ansys MAPDL {rst.version.strip()}", "title": rst.title,
             "ansys_element_types": " ".join(f"{t.itype}:{t.routine}" for t in etypes.values())}
    return SourceResult(mesh, specs, times, steps, f"ansys: {path}", attrs)


def _element_results_present(rst: RstFile, set_ptr: int, sh: np.ndarray, eeqv: np.ndarray) -> set[str]:
    p_esl = _ptr(sh[118], sh[119])
    if not p_esl:
        return set()
    table = rst.record(set_ptr + p_esl).view("<i8")[:len(eeqv)]
    found = set()
    for off in table:
        index = rst.record(set_ptr + p_esl + int(off))
        found |= {k for k, i in _ELEMENT_INDEX.items() if i < len(index) and index[i] > 0}
    return found


def _nodal_averages(rst: RstFile, esl: int, eeqv: np.ndarray, elem_nodes: dict[int, list[int]],
                    ens_nodes: dict[int, int], n_nodes: int, wanted: set[str]) -> dict[str, np.ndarray]:
    """Average the element nodal records over the elements holding each node (corner nodes)."""
    table = rst.record(esl).view("<i8")[:len(eeqv)]
    sums = {"ENS": np.zeros((n_nodes, 6)), "EEL": np.zeros((n_nodes, 7)), "EPT": np.zeros((n_nodes, 1))}
    counts = {k: np.zeros(n_nodes) for k in sums}
    for enum, off in zip(eeqv, table):
        enum = int(enum)
        index = rst.record(esl + int(off))
        nn = ens_nodes[enum]
        nodes = np.array(elem_nodes[enum][:nn])
        for key in sums:
            i = _ELEMENT_INDEX[key]
            if i >= len(index) or index[i] <= 0:
                continue
            vals = rst.record(esl + int(off) + int(index[i])).astype(np.float64)
            width = sums[key].shape[1]
            # EPT holds every node of the element (mid-side too): the corner values come first
            if len(vals) < nn * width:
                raise FormatError(f"{rst.path}: element {enum}: {key} record has {len(vals)} values, expected "
                                  f"{nn * width}")
            v = vals[:nn * width].reshape(nn, width)
            np.add.at(sums[key], nodes, v)
            np.add.at(counts[key], nodes, 1.0)
    out = {}
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = {k: np.where(counts[k][:, None] > 0, sums[k] / counts[k][:, None], np.nan) for k in sums}
    if "sig_node" in wanted:
        out["sig_node"] = avg["ENS"]
    if "eps_el_node" in wanted:
        e = avg["EEL"][:, :6].copy()
        e[:, 3:] *= 0.5           # engineering shear -> tensor component
        out["eps_el_node"] = e
        out["eps_el_eqv_node"] = avg["EEL"][:, 6:7]
    if "T" in wanted:
        out["T"] = avg["EPT"]
    return out


def convert_ansys(path: str | Path, output: str | Path, comm: Any = None, *, overwrite: bool = False) -> Path:
    """Convert an Ansys ``.rst`` into a case. Collective."""
    from distrom.io.converters._common import write_case

    return write_case(read_ansys(path), output, comm=comm, overwrite=overwrite)
