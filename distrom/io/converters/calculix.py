"""CalculiX results: ``.inp`` mesh (with ``*NSET``/``*ELSET``), ``.frd`` results, ``.dat`` print-out.

* The mesh comes from the ``.inp`` deck when it is there (full precision, node and element
  sets), else from the ``.frd`` (coordinates printed to 6 digits). When both are read they are
  checked against each other.
* ``.frd`` (ASCII, short or long format) result blocks become nodal fields, one step per result
  set: ``DISP`` -> ``U``, ``FORC`` -> ``RF``, ``STRESS`` -> ``sig_node``, ``TOSTRAIN`` ->
  ``eps_node``, ``PE`` -> ``peeq_node``, other blocks by their lower-case name. Stress, strain and
  PEEQ in the ``.frd`` are integration-point values extrapolated to the nodes by ccx.
* The ``.dat`` print-out (``*EL PRINT``) gives the true integration-point values: ``stresses`` ->
  ``sig``, ``strains`` -> ``eps``, ``equivalent plastic strain`` -> ``peeq``, ...; its shear
  order ``xy xz yz`` is reordered to distrom's ``12 23 31``.

The 20-node hexahedron (and the 15-node wedge) of the ``.frd`` list their mid-side nodes in a
different order from the ``.inp``; :data:`FRD_ELEMENTS` maps both onto distrom's order.
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
from distrom.io.converters._common import (TENSOR_NOTE, FieldSpec, SourceResult, gauss_points_xi_fastest,
                                           match_ip_order, require_file)
from distrom.mesh import CellBlock, Mesh

__all__ = ["INP_ELEMENTS", "FRD_ELEMENTS", "read_inp", "read_frd_mesh", "scan_frd", "read_dat", "read_calculix",
           "convert_calculix"]

log = logging.getLogger(__name__)

# .inp type -> (distrom type, distrom_node[i] = inp_node[perm[i]], integration points)
_ID = tuple(range(20))
INP_ELEMENTS: dict[str, tuple[str, tuple[int, ...], int]] = {
    "C3D8": ("hex8", _ID[:8], 8), "C3D8R": ("hex8", _ID[:8], 1), "C3D8I": ("hex8", _ID[:8], 8),
    "C3D20": ("hex20", _ID, 27), "C3D20R": ("hex20", _ID, 8),
    "C3D4": ("tet4", _ID[:4], 1), "C3D10": ("tet10", _ID[:10], 4),
    "C3D6": ("wedge6", _ID[:6], 2), "C3D15": ("wedge15", _ID[:15], 9),
}
# .frd element type number -> (distrom type, distrom_node[i] = frd_node[perm[i]])
# frd he20 = inp 1..12, 17..20, 13..16 (checked on every element of the test decks); pe15 likewise.
FRD_ELEMENTS: dict[int, tuple[str, tuple[int, ...]]] = {
    1: ("hex8", _ID[:8]),
    2: ("wedge6", _ID[:6]),
    3: ("tet4", _ID[:4]),
    4: ("hex20", tuple(range(12)) + (16, 17, 18, 19, 12, 13, 14, 15)),
    5: ("wedge15", tuple(range(9)) + (12, 13, 14, 9, 10, 11)),
    6: ("tet10", _ID[:10]),
}
# .frd block name -> (distrom name, description, tensor?)
FRD_FIELDS = {"DISP": ("U", "displacement", False), "FORC": ("RF", "nodal reaction force", False),
              "STRESS": ("sig_node", "Cauchy stress extrapolated to the nodes by ccx", True),
              "TOSTRAIN": ("eps_node", "total strain extrapolated to the nodes by ccx", True),
              "PE": ("peeq_node", "equivalent plastic strain extrapolated to the nodes by ccx", False),
              "ERROR": ("error_node", "ccx stress error estimate STR(%)", False),
              "NDTEMP": ("T", "temperature", False)}
# .dat block title -> distrom ip field name
DAT_FIELDS = {"stresses": "sig", "strains": "eps", "equivalent plastic strain": "peeq",
              "global coordinates": "ip_coords"}
# .dat tensor components xx yy zz xy xz yz -> distrom's 11 22 33 12 23 31
DAT_VOIGT = [0, 1, 2, 3, 5, 4]


# --------------------------------------------------------------------------------------------
# .inp


def _keyword(line: str) -> tuple[str, dict[str, str]]:
    parts = [p.strip() for p in line[1:].split(",")]
    opts = {}
    for p in parts[1:]:
        if "=" in p:
            k, v = p.split("=", 1)
            opts[k.strip().upper()] = v.strip()
        elif p:
            opts[p.upper()] = ""
    return parts[0].upper(), opts


def read_inp(path: str | Path) -> Mesh:
    """Read the mesh of a CalculiX/Abaqus deck: ``*NODE``, ``*ELEMENT`` (solid types of
    :data:`INP_ELEMENTS`), ``*NSET``/``*ELSET`` (with ``GENERATE``, also without increment,
    which CalculiX accepts and meshio's reader refuses). ``*INCLUDE`` is followed."""
    path = Path(path)
    require_file(path, "CalculiX input deck (.inp)")
    node_ids: list[int] = []
    coords: list[list[float]] = []
    elems: dict[str, list[list[int]]] = {}
    elem_order: list[str] = []
    elsets: dict[str, list[int]] = {}
    nsets: dict[str, list[int]] = {}
    pending_nsets: dict[str, list[str]] = {}
    pending_elsets: dict[str, list[str]] = {}
    seen_keyword = False

    def lines_of(p: Path) -> Iterator[str]:
        for ln in p.read_text(errors="replace").splitlines():
            s = ln.strip()
            if s.upper().startswith("*INCLUDE"):
                _, o = _keyword(s)
                inc = p.parent / o.get("INPUT", "")
                yield from lines_of(require_file(inc, "included file", p))
            else:
                yield ln

    mode = None
    current: dict[str, Any] = {}
    buf: list[int] = []
    for ln in lines_of(path):
        s = ln.strip()
        if not s or s.startswith("**"):
            continue
        if s.startswith("*"):
            seen_keyword = True
            kw, opts = _keyword(s)
            mode = None
            if kw == "NODE":
                mode = "node"
                current = {"nset": opts.get("NSET")}
            elif kw == "ELEMENT":
                t = opts.get("TYPE", "").upper()
                if t not in INP_ELEMENTS:
                    raise FormatError(f"{path}: unsupported element type '{t}' in '{s}'; supported: "
                                      f"{', '.join(sorted(INP_ELEMENTS))}")
                mode = "element"
                current = {"type": t, "elset": opts.get("ELSET"), "n": len(INP_ELEMENTS[t][1])}
                buf = []
                if t not in elems:
                    elems[t] = []
                    elem_order.append(t)
            elif kw in ("NSET", "ELSET"):
                mode = kw.lower()
                name = opts.get(kw, "").upper()
                current = {"name": name, "generate": "GENERATE" in opts}
                (nsets if kw == "NSET" else elsets).setdefault(name, [])
            continue
        if mode == "node":
            t = [v for v in s.split(",") if v.strip()]
            try:
                node_ids.append(int(t[0]))
                xyz = [float(v) for v in t[1:4]]
            except (ValueError, IndexError):
                raise FormatError(f"{path}: bad *NODE record '{s}'") from None
            coords.append(xyz + [0.0] * (3 - len(xyz)))
            if current.get("nset"):
                nsets.setdefault(current["nset"].upper(), []).append(node_ids[-1])
        elif mode == "element":
            try:
                buf.extend(int(v) for v in s.split(",") if v.strip())
            except ValueError:
                raise FormatError(f"{path}: bad *ELEMENT record '{s}'") from None
            if len(buf) >= current["n"] + 1:     # records continue on the next line until complete
                elems[current["type"]].append(buf[:current["n"] + 1])
                if current.get("elset"):
                    elsets.setdefault(current["elset"].upper(), []).append(buf[0])
                buf = []
        elif mode in ("nset", "elset"):
            target = nsets if mode == "nset" else elsets
            pending = pending_nsets if mode == "nset" else pending_elsets
            toks = [v.strip() for v in s.split(",") if v.strip()]
            if current["generate"]:
                try:
                    a, b = int(toks[0]), int(toks[1])
                    inc = int(toks[2]) if len(toks) > 2 else 1
                except (ValueError, IndexError):
                    raise FormatError(f"{path}: bad GENERATE line '{s}' in *{mode.upper()} {current['name']}") from None
                target[current["name"]].extend(range(a, b + 1, inc))
            else:
                for tk in toks:
                    if re.fullmatch(r"-?\d+", tk):
                        target[current["name"]].append(int(tk))
                    else:  # a set named inside a set
                        pending.setdefault(current["name"], []).append(tk.upper())
    if not seen_keyword:
        raise FormatError(f"{path}: not a CalculiX/Abaqus deck (no '*' keyword line)")
    if not node_ids:
        raise FormatError(f"{path}: no *NODE records")
    if not elem_order:
        raise FormatError(f"{path}: no *ELEMENT records of a solid type")
    for target, pending in ((nsets, pending_nsets), (elsets, pending_elsets)):
        for name, refs in pending.items():
            for r in refs:
                if r not in target:
                    raise FormatError(f"{path}: set {name} refers to unknown set {r}")
                target[name].extend(target[r])
    nid = np.array(node_ids, dtype=np.int64)
    index = {int(v): k for k, v in enumerate(nid)}
    blocks = []
    for t in elem_order:
        dtype, perm, _ = INP_ELEMENTS[t]
        arr = np.array(elems[t], dtype=np.int64)
        try:
            conn = np.vectorize(index.__getitem__, otypes=[np.int64])(arr[:, 1:])
        except KeyError as e:
            raise FormatError(f"{path}: an element of type {t} uses node {e.args[0]}, not defined by *NODE") from None
        blocks.append(CellBlock(dtype, conn[:, list(perm)], arr[:, 0]))
    mesh = Mesh(np.array(coords), blocks, node_ids=nid)
    cell_index = {int(v): k for k, v in enumerate(mesh.cell_ids)}
    for name, ids in nsets.items():
        try:
            mesh.node_sets[name] = np.array(sorted({index[i] for i in ids}), dtype=np.int64)
        except KeyError as e:
            raise FormatError(f"{path}: *NSET {name} names node {e.args[0]}, not defined by *NODE") from None
    for name, ids in elsets.items():
        # sets may name non-solid elements we skipped: keep the solid ones
        mesh.cell_sets[name] = np.array(sorted({cell_index[i] for i in ids if i in cell_index}), dtype=np.int64)
    mesh.inp_types = list(elem_order)  # type: ignore[attr-defined]
    return mesh


# --------------------------------------------------------------------------------------------
# .frd


@dataclass
class FrdBlock:
    name: str
    components: list[str]
    n_values: int          # components with values in the file (ALL excluded)
    offset: int            # byte offset of the first value record
    step: int
    increment: int
    time: float


@dataclass
class FrdIndex:
    """What a scan of the ``.frd`` found: format, node/element blocks, result sets."""

    path: Path
    long: bool
    node_offset: int = -1
    n_nodes: int = 0
    elem_offset: int = -1
    n_elems: int = 0
    sets: list[list[FrdBlock]] = field(default_factory=list)
    version: str = ""


def scan_frd(path: str | Path) -> FrdIndex:
    """Index a ``.frd`` file in one pass (offsets only; no values kept)."""
    path = Path(path)
    require_file(path, "CalculiX result file (.frd)")
    idx = FrdIndex(path, long=True)
    ended = False
    with open(path, "rb") as fh:
        first = fh.readline()
        if not first.startswith(b"    1C"):
            raise FormatError(f"{path}: not a CalculiX .frd file (it must start with '    1C')")
        pstep = (0, 0)
        time = 0.0
        pending: dict[str, Any] | None = None
        current_key = None
        while True:
            pos = fh.tell()
            raw = fh.readline()
            if not raw:
                break
            line = raw.decode("latin-1")
            if line.startswith("    1UVERSION"):
                idx.version = line[6:].strip()
            if line.startswith(" 9999"):
                ended = True
                break
            if line.startswith("    2C") or line.startswith("    3C"):
                try:
                    head = line[6:].split()
                    n = int(head[0])
                    fmt = int(head[1]) if len(head) > 1 else 1
                except (ValueError, IndexError):
                    raise FormatError(f"{path}: bad block header '{line.rstrip()}'") from None
                if fmt == 2:
                    raise FormatError(f"{path}: binary .frd output is not supported; write it in ASCII "
                                      "(the ccx default)")
                idx.long = fmt == 1
                if line.startswith("    2C"):
                    idx.node_offset, idx.n_nodes = fh.tell(), n
                else:
                    idx.elem_offset, idx.n_elems = fh.tell(), n
                _skip_block(fh, path)
            elif line.startswith("    1PSTEP"):
                t = line[10:].split()
                pstep = (int(t[1]), int(t[2])) if len(t) >= 3 else (0, 0)
            elif line.startswith("  100C"):
                try:
                    time = float(line[12:24])
                except ValueError:
                    raise FormatError(f"{path}: bad result header '{line.rstrip()}'") from None
                pending = {"time": time, "comps": [], "nvals": 0}
            elif line.startswith(" -4") and pending is not None:
                pending["name"] = line[5:13].strip()
            elif line.startswith(" -5") and pending is not None:
                t = line[3:].split()
                comp = t[0]
                # a component whose 5th integer is 1 ("ALL") is computed by the viewer, not stored
                is_all = len(t) > 5 and t[5].startswith("1")
                if not is_all:
                    pending["comps"].append(comp)
            elif line.startswith(" -1") and pending is not None:
                blk = FrdBlock(pending["name"], pending["comps"], len(pending["comps"]), pos,
                               pstep[1], pstep[0], pending["time"])
                key = (blk.step, blk.increment, blk.time)
                if key != current_key:
                    idx.sets.append([])
                    current_key = key
                idx.sets[-1].append(blk)
                pending = None
                fh.seek(pos)
                _skip_block(fh, path)
    if not ended:
        raise FormatError(f"{path}: truncated: no end record ' 9999'")
    if idx.node_offset < 0:
        raise FormatError(f"{path}: no node block ('    2C')")
    return idx


def _skip_block(fh: Any, path: Path) -> None:
    while True:
        raw = fh.readline()
        if not raw:
            raise FormatError(f"{path}: truncated inside a block (no ' -3' end record)")
        if raw.startswith(b" -3"):
            return


def _read_records(fh: Any, path: Path, long: bool, n_values: int) -> tuple[np.ndarray, np.ndarray]:
    """Value records `` -1 id v1 v2 ...`` (continued by `` -2`` lines) of one block, by column."""
    w_id = 10 if long else 5
    ids: list[int] = []
    vals: list[list[float]] = []
    while True:
        raw = fh.readline()
        if not raw:
            raise FormatError(f"{path}: truncated inside a result block")
        line = raw.decode("latin-1").rstrip("\r\n")
        if line.startswith(" -3"):
            break
        if line.startswith(" -1"):
            ids.append(int(line[3:3 + w_id]))
            vals.append([])
            body = line[3 + w_id:]
        elif line.startswith(" -2"):
            body = line[3 + w_id:]
        else:
            raise FormatError(f"{path}: unexpected line in a result block: '{line[:40]}'")
        try:
            vals[-1].extend(float(body[i:i + 12]) for i in range(0, len(body) - 11, 12))
        except ValueError:
            raise FormatError(f"{path}: unreadable value in '{line[:60]}'") from None
    bad = [i for i, v in zip(ids, vals) if len(v) != n_values]
    if bad:
        raise FormatError(f"{path}: node {bad[0]}: expected {n_values} values")
    return np.array(ids, dtype=np.int64), np.array(vals, dtype=np.float64).reshape(len(ids), n_values)


def read_frd_mesh(path: str | Path, index: FrdIndex | None = None) -> Mesh:
    """The mesh held by a ``.frd`` (nodes and elements, in distrom's node order)."""
    idx = index or scan_frd(path)
    w = 10 if idx.long else 5
    with open(idx.path, "rb") as fh:
        fh.seek(idx.node_offset)
        ids, xyz = _read_records(fh, idx.path, idx.long, 3)
        if idx.elem_offset < 0:
            raise FormatError(f"{idx.path}: no element block ('    3C')")
        fh.seek(idx.elem_offset)
        elems: list[tuple[int, int, list[int]]] = []
        while True:
            raw = fh.readline()
            if not raw:
                raise FormatError(f"{idx.path}: truncated element block")
            line = raw.decode("latin-1").rstrip("\r\n")
            if line.startswith(" -3"):
                break
            if line.startswith(" -1"):
                t = line[3:].split()
                elems.append((int(t[0]), int(t[1]), []))
            elif line.startswith(" -2"):
                body = line[3:]
                elems[-1][2].extend(int(body[i:i + w]) for i in range(0, len(body) - w + 1, w) if body[i:i + w].strip())
    index_of = {int(v): k for k, v in enumerate(ids)}
    blocks = []
    for ftype in dict.fromkeys(e[1] for e in elems):
        if ftype not in FRD_ELEMENTS:
            raise FormatError(f"{idx.path}: unsupported .frd element type {ftype}; supported: {sorted(FRD_ELEMENTS)}")
        dtype, perm = FRD_ELEMENTS[ftype]
        sel = [e for e in elems if e[1] == ftype]
        conn = np.array([[index_of[n] for n in e[2]] for e in sel], dtype=np.int64)
        blocks.append(CellBlock(dtype, conn[:, list(perm)], np.array([e[0] for e in sel])))
    return Mesh(xyz, blocks, node_ids=ids)


# --------------------------------------------------------------------------------------------
# .dat


_DAT_HEAD = re.compile(r"^\s*(?P<title>[a-z][a-z .]*?)\s*\((?P<cols>[^)]*)\)\s*for set\s+(?P<set>\S+)\s+and time\s+"
                       r"(?P<time>\S+)", re.IGNORECASE)


@dataclass
class DatBlock:
    title: str
    columns: list[str]
    set_name: str
    time: float
    kind: str                  # "node" or "ip"
    ids: np.ndarray            # node ids, or element ids
    ips: np.ndarray | None     # ip numbers (1-based) for "ip" blocks
    values: np.ndarray


def read_dat(path: str | Path) -> list[DatBlock]:
    """Every print-out block of a ccx ``.dat`` file (``*NODE PRINT`` / ``*EL PRINT``)."""
    path = Path(path)
    require_file(path, "CalculiX print-out (.dat)")
    blocks: list[DatBlock] = []
    head: re.Match | None = None
    rows: list[list[str]] = []

    def flush() -> None:
        if head is None:
            return
        cols = [c.strip() for c in head.group("cols").split(",") if c.strip()]
        kind = "ip" if len(cols) > 1 and cols[1].startswith("integ") else "node"
        n_id = 2 if kind == "ip" else 1
        try:
            arr = np.array(rows, dtype=np.float64) if rows else np.zeros((0, len(cols)))
        except ValueError:
            raise FormatError(f"{path}: block '{head.group('title')}' has rows of different lengths "
                              "(truncated?)") from None
        blocks.append(DatBlock(head.group("title").strip(), cols[n_id:], head.group("set"), float(head.group("time")),
                               kind, arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64) if kind == "ip" else None,
                               arr[:, n_id:]))

    for ln in path.read_text(errors="replace").splitlines():
        s = ln.strip()
        if not s:
            continue
        m = _DAT_HEAD.match(s)
        if m:
            flush()
            head, rows = m, []
        elif head is not None:
            rows.append(s.split())
    flush()
    return blocks


# --------------------------------------------------------------------------------------------
# the whole result


def _check_same_mesh(inp: Mesh, frd: Mesh, inp_path: Path, frd_path: Path) -> None:
    if not np.array_equal(inp.node_ids, frd.node_ids):
        raise FormatError(f"{frd_path}: node numbers differ from {inp_path}")
    scale = max(1.0, float(np.abs(inp.nodes).max()))
    if np.abs(inp.nodes - frd.nodes).max() > 1e-5 * scale:   # E12.5: 6 significant digits
        raise FormatError(f"{frd_path}: node coordinates differ from {inp_path} beyond print precision")
    if [b.type for b in inp.cells] != [b.type for b in frd.cells] or not np.array_equal(inp.cell_ids, frd.cell_ids) \
            or any(not np.array_equal(a.connectivity, b.connectivity) for a, b in zip(inp.cells, frd.cells)):
        raise FormatError(f"{frd_path}: elements differ from {inp_path} (after the .frd node-order mapping)")


def read_calculix(path: str | Path, inp: str | Path | None = None, dat: str | Path | None = None,
                  use_dat: bool = True) -> SourceResult:
    """Read a CalculiX job: ``job.frd`` (or ``job.inp``/job name), with ``job.inp`` and ``job.dat``
    beside it when present.

    Parameters
    ----------
    path : the ``.frd`` (or any file of the job: the stem is used)
    inp, dat : explicit paths of the deck and the print-out, optional
    use_dat : bool
        Add the ``.dat`` integration-point blocks as ip fields.

    Returns
    -------
    SourceResult with one step per ``.frd`` result set.
    """
    path = Path(path)
    # the job's .frd, unless an existing file of another kind is named: then it is read as a .frd
    # (and refused with a clear message if it is not one)
    frd_path = path if path.suffix == ".frd" or (path.suffix not in (".inp", "") and path.is_file()) \
        else path.with_suffix(".frd")
    require_file(frd_path, "CalculiX result file (.frd)", path if path != frd_path else None)
    idx = scan_frd(frd_path)
    frd_mesh = read_frd_mesh(frd_path, idx)
    inp_path = Path(inp) if inp is not None else frd_path.with_suffix(".inp")
    if inp is not None:
        require_file(inp_path, "CalculiX input deck (.inp)")
    if inp_path.is_file():
        mesh = read_inp(inp_path)
        _check_same_mesh(mesh, frd_mesh, inp_path, frd_path)
        inp_types = list(getattr(mesh, "inp_types", []))
    else:
        mesh, inp_types = frd_mesh, []
    if not idx.sets:
        raise FormatError(f"{frd_path}: no result sets")
    times = np.array([s[0].time for s in idx.sets])
    # fields of the first set; every set must hold the same blocks
    names0 = [b.name for b in idx.sets[0]]
    for k, s in enumerate(idx.sets):
        if [b.name for b in s] != names0:
            raise FormatError(f"{frd_path}: result set {k + 1} holds {[b.name for b in s]}, set 1 {names0}")
    specs: list[FieldSpec] = []
    for b in idx.sets[0]:
        dname, desc, tensor = FRD_FIELDS.get(b.name, (b.name.lower() + "_node", f"ccx block {b.name}", False))
        comps = tuple(b.components)
        spec = FieldSpec(dname, "node", comps, " ".join(b.components), description=desc,
                         tensor=TENSOR_NOTE if tensor and b.n_values == 6 else None)
        spec.attrs["frd_block"] = b.name
        specs.append(spec)
    # .dat integration-point blocks, matched to the result sets by time
    dat_path = Path(dat) if dat is not None else frd_path.with_suffix(".dat")
    if dat is not None:
        require_file(dat_path, "CalculiX print-out (.dat)")
    dat_by_set: list[dict[str, DatBlock]] = [{} for _ in idx.sets]
    skipped_note = ""
    ip_specs: list[FieldSpec] = []
    if use_dat and dat_path.is_file():
        blocks = [b for b in read_dat(dat_path) if b.kind == "ip"]
        titles = list(dict.fromkeys(b.title for b in blocks))
        skipped: list[str] = []
        ip_info = _ip_layout(mesh, blocks, dat_path, inp_types)
        for title in titles:
            tb = [b for b in blocks if b.title == title]
            if len(tb) != len(idx.sets):
                # printed in some steps only: not a field of every step, so not converted
                log.warning("%s: '%s' printed for %d of %d result sets; not converted", dat_path, title,
                            len(tb), len(idx.sets))
                skipped.append(title)
                continue
            for k, b in enumerate(tb):
                if abs(b.time - times[k]) > 1e-6 * max(abs(times[k]), 1e-30):
                    raise FormatError(f"{dat_path}: '{title}' block {k + 1} at time {b.time}, .frd set at {times[k]}")
                dat_by_set[k][title] = b
            name = DAT_FIELDS.get(title, re.sub(r"\W+", "_", title).strip("_"))
            cols = tb[0].columns
            is_tensor = len(cols) == 6 and cols[3].endswith("xy") and cols[4].endswith("xz")
            comps = tuple(cols[i] for i in DAT_VOIGT) if is_tensor else tuple(cols)
            spec = FieldSpec(name, "ip", comps, " ".join(comps), ips_per_cell=ip_info["nip"],
                             description=f"ccx .dat '{title}' at the integration points",
                             tensor=TENSOR_NOTE if is_tensor else None)
            spec.attrs["ip_order"] = ip_info["order"]
            spec.attrs["dat_block"] = title
            ip_specs.append(spec)
        if skipped:
            skipped_note = "; ".join(skipped)
    else:
        ip_info = None
    node_index = {int(v): k for k, v in enumerate(mesh.node_ids)}

    def steps() -> Iterator[dict[str, np.ndarray]]:
        with open(frd_path, "rb") as fh:
            for k, s in enumerate(idx.sets):
                out: dict[str, np.ndarray] = {}
                for spec, b in zip(specs, s):
                    fh.seek(b.offset)
                    ids, vals = _read_records(fh, frd_path, idx.long, b.n_values)
                    full = np.full((mesh.n_nodes, b.n_values), np.nan)
                    try:
                        full[[node_index[int(i)] for i in ids]] = vals
                    except KeyError as e:
                        raise FormatError(f"{frd_path}: block {b.name} names node {e.args[0]}, "
                                          "not in the mesh") from None
                    out[spec.name] = full
                for spec in ip_specs:
                    b = dat_by_set[k][spec.attrs["dat_block"]]
                    vals = b.values[:, DAT_VOIGT] if spec.tensor else b.values
                    if len(vals) != len(ip_info["rows"]):
                        raise FormatError(f"{dat_path}: '{b.title}' at time {b.time}: {len(vals)} rows, "
                                          f"expected {len(ip_info['rows'])}")
                    full = np.empty((ip_info["n_rows"], vals.shape[1]))
                    full[ip_info["rows"]] = vals
                    out[spec.name] = full
                yield out

    attrs = {"solver": "CalculiX", "ccx_version": idx.version,
             "frd_steps": " ".join(f"{s[0].step}.{s[0].increment}" for s in idx.sets)}
    if skipped_note:
        attrs["dat_blocks_not_converted"] = skipped_note
    return SourceResult(mesh, specs + ip_specs, times, steps, f"calculix: {frd_path}", attrs)


def _ip_layout(mesh: Mesh, blocks: list[DatBlock], dat_path: Path, inp_types: list[str]) -> dict[str, Any]:
    """Where each ``.dat`` row (element, ip) goes among distrom's ip rows."""
    if not blocks:
        return {"nip": {}, "rows": np.zeros(0, np.int64), "n_rows": 0, "order": ""}
    b = blocks[0]
    cell_index = {int(v): k for k, v in enumerate(mesh.cell_ids)}
    nip_by_type: dict[str, int] = {}
    blk_of, _ = mesh.cell_block_of(np.arange(mesh.n_cells))
    try:
        cells = np.array([cell_index[int(e)] for e in b.ids], dtype=np.int64)
    except KeyError as e:
        raise FormatError(f"{dat_path}: element {e.args[0]} is not in the mesh") from None
    counts = np.bincount(cells, minlength=mesh.n_cells)
    for bi, blk in enumerate(mesh.cells):
        c = counts[blk_of == bi]
        if np.any(c != c[0]) or c[0] == 0:
            raise FormatError(f"{dat_path}: the print-out must cover every {blk.type} cell with the same number "
                              "of integration points (print set EALL)")
        nip_by_type[blk.type] = int(c[0])
    off = mesh.ip_offsets(nip_by_type)
    perms, orders = {}, []
    for bi, blk in enumerate(mesh.cells):
        nip = nip_by_type[blk.type]
        pts = gauss_points_xi_fastest(nip) if blk.type.startswith("hex") else None
        perm, how = match_ip_order(blk.type, nip, pts, "CalculiX")
        perms[bi] = np.argsort(perm)            # ccx ip i -> distrom ip position
        orders.append(f"{blk.type}: {how}")
    local = np.array([perms[blk_of[c]][ip - 1] for c, ip in zip(cells, b.ips)], dtype=np.int64)
    rows = off[cells] + local
    if len(np.unique(rows)) != len(rows) or len(rows) != off[-1]:
        raise FormatError(f"{dat_path}: integration-point rows repeat or are missing")
    return {"nip": nip_by_type, "rows": rows, "n_rows": int(off[-1]), "order": "; ".join(orders)}


def convert_calculix(path: str | Path, output: str | Path, comm: Any = None, *, overwrite: bool = False,
                     parameters: dict[str, float] | None = None, **options: Any) -> Path:
    """Convert a CalculiX job into a case (see :func:`read_calculix`). Collective."""
    from distrom.io.converters._common import write_case

    return write_case(read_calculix(path, **options), output, comm=comm, overwrite=overwrite, parameters=parameters)
