# SPDX-License-Identifier: BSD-3-Clause
"""XDMF export of an online result's reconstructed full fields (for ParaView).

Not part of the MPI-free online stage: it reads the mesh from the model's source case and
writes through the case store (which imports mpi4py), then :func:`distrom.io.xdmf.export_xdmf`.
The solve itself stays MPI-free; only ``distrom online ... --xdmf`` loads this module.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import InputError

__all__ = ["export_result_xdmf"]

#: dual quantity -> (case field name, component names)
_FIELDS = {"stress": ("sig", tuple("sig" + v for v in ("11", "22", "33", "12", "23", "31"))),
           "plastic_strain": ("ep", tuple("ep" + v for v in ("11", "22", "33", "12", "23", "31"))),
           "cumulated_plastic_strain": ("p", ("p",))}


def export_result_xdmf(solver: Any, result: Any, out: str | os.PathLike, case: str | os.PathLike | None = None) -> Path:
    """Write ``out`` (.xdmf + .h5): ROM displacement and Gappy-POD dual fields on the HF mesh.

    Parameters
    ----------
    solver : distrom.rom.online.OnlineSolver
        With a model that has full-field modes.
    result : OnlineResult
        With ``displacement`` (solve with ``full=True``).
    case : path, optional
        A case with the mesh (default: the model's training case, ``provenance["case"]``).
    """
    from mpi4py import MPI

    from distrom.io import CaseWriter, open_case
    from distrom.io._atomic import temporary_name
    from distrom.io.xdmf import export_xdmf

    m = solver.model
    if result.displacement is None:
        raise InputError("XDMF export needs the full displacement: solve with full=True (CLI: --full)")
    src = Path(case or m.provenance.get("case", ""))
    if not src.exists():
        raise InputError(f"XDMF export needs the mesh of the training case '{src}', which does not exist; "
                         "give it explicitly (--mesh-case)")
    with open_case(src, MPI.COMM_SELF) as c:
        mesh = c.mesh
        ips = c.fields["sig"].ips_per_cell if "sig" in c.fields else {}
    out = Path(out).with_suffix(".xdmf")
    tmp_case = temporary_name(out.with_suffix(".case.h5"))
    try:
        with CaseWriter(tmp_case, mesh, MPI.COMM_SELF, source=f"distrom online: {solver.model_path}") as w:
            w.add_field("U", "node", 3, component_names=("U1", "U2", "U3"), description="ROM displacement")
            duals = [n for n, d in m.dual.items() if d.full is not None and n in _FIELDS]
            for n in duals:
                name, comps = _FIELDS[n]
                w.add_field(name, "ip", len(comps), component_names=comps, ips_per_cell=ips,
                            description=f"ROM {n} (Gappy-POD)")
            for k, t in enumerate(result.times):
                s = w.add_step(float(t))
                w.write("U", s, result.displacement[k])
                for n in duals:
                    full = solver.reconstruct_dual(n, result.coefficients[n][k:k + 1])[0]
                    w.write(_FIELDS[n][0], s, full)
        return export_xdmf(tmp_case, out)
    finally:
        tmp_case.unlink(missing_ok=True)


_ = np
