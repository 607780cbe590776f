"""CalculiX as an external HF solver: a template deck, a list of parameter values, one ``ccx``
per rank, every result converted into ONE case (nonintrusive snapshot generation).

The template is a CalculiX ``.inp`` deck with ``{name}`` placeholders (only the names of the
parameters are replaced; other braces stay). Sample ``i`` is run by rank ``i % P`` in
``workdir/sample_0000i/job.inp`` as ``ccx -i job`` (one OpenMP thread, no MPI environment, so
that ccx never mistakes itself for an MPI rank). After all runs, the results are written into the
case collectively: sample ``i`` is the case's sample ``i`` (its parameter values), its result
sets are steps of that sample. Every rank reads the result files, so ``workdir`` must be on a
file system all ranks see (as the case itself).

``ccx`` comes from the Debian package ``calculix-ccx`` (``DISTROM_WITH_CALCULIX=1
scripts/setup.sh`` installs it).
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from distrom.errors import DistromError, FormatError, InputError

__all__ = ["render_deck", "run_ccx", "run_calculix"]

log = logging.getLogger(__name__)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


class SolverError(DistromError, RuntimeError):
    """The external solver failed (exit status, or no result file)."""


def render_deck(template: str, values: dict[str, float], where: str = "template") -> str:
    """Replace ``{name}`` by the value of parameter ``name`` (repr: full precision).

    Raises InputError when a placeholder has no value or a value no placeholder.
    """
    used = set(_PLACEHOLDER.findall(template))
    missing = sorted(used - set(values))
    unused = sorted(set(values) - used)
    if missing:
        listed = ", ".join("{" + m + "}" for m in missing)
        raise InputError(f"{where}: placeholders without a parameter value: {listed}")
    if unused:
        raise InputError(f"{where}: parameters with no placeholder in the deck: {', '.join(unused)}")
    return _PLACEHOLDER.sub(lambda m: repr(float(values[m.group(1)])), template)


def run_ccx(deck: Path, ccx: str = "ccx", timeout: float | None = None) -> Path:
    """Run ``ccx -i JOB`` in the deck's folder; return the ``.frd``. Not collective."""
    exe = shutil.which(ccx)
    if exe is None:
        raise SolverError(f"CalculiX executable '{ccx}' not found: install the Debian package calculix-ccx "
                          "(DISTROM_WITH_CALCULIX=1 scripts/setup.sh)")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_"))}
    env["OMP_NUM_THREADS"] = "1"        # one ccx per rank: no oversubscription
    env["CCX_NPROC_EQUATION_SOLVER"] = "1"
    try:
        proc = subprocess.run([exe, "-i", deck.stem], cwd=deck.parent, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise SolverError(f"{deck}: ccx did not finish within {timeout} s") from None
    (deck.parent / f"{deck.stem}.log").write_text(proc.stdout + proc.stderr)
    frd = deck.with_suffix(".frd")
    text = proc.stdout + proc.stderr
    if proc.returncode != 0 or "*ERROR" in text or not frd.is_file():
        tail = "\n".join(text.strip().splitlines()[-8:])
        raise SolverError(f"{deck}: ccx failed (exit status {proc.returncode}); last lines:\n{tail}")
    return frd


def run_calculix(template: str | Path, samples: Sequence[dict[str, float]], output: str | Path, comm: Any = None, *,
                 workdir: str | Path | None = None, ccx: str = "ccx", timeout: float | None = None,
                 overwrite: bool = False, use_dat: bool = True) -> Path:
    """Run ccx once per sample and write every result into one case. Collective.

    Parameters
    ----------
    template : path of the template deck
    samples : sequence of dict
        Parameter values of each run (the same names in each).
    output : path of the case to write
    comm : mpi4py communicator, optional (default COMM_WORLD)
    workdir : folder of the runs (default: ``OUTPUT.runs`` beside the case)
    ccx, timeout : executable name, per-run time limit in seconds

    Returns
    -------
    pathlib.Path of the case. A failed run raises ``SolverError`` on every rank (the others
    do not wait) and no case is written.
    """
    from distrom.io import CaseWriter
    from distrom.io.converters._common import add_fields
    from distrom.io.converters.calculix import read_calculix
    from distrom.parallel import check, progress, resolve_comm

    comm = resolve_comm(comm)
    template = Path(template)
    output = Path(output)
    workdir = Path(workdir) if workdir is not None else output.with_name(output.name + ".runs")
    if not template.is_file():
        raise FormatError(f"missing CalculiX template deck '{template}'")
    if not samples:
        raise InputError("run_calculix: no samples")
    names = list(samples[0])
    for i, s in enumerate(samples):
        if list(s) != names:
            raise InputError(f"sample {i}: parameters {list(s)}, sample 0 has {names}")
    text = template.read_text()
    decks = [render_deck(text, s, f"{template} (sample {i})") for i, s in enumerate(samples)]
    # every rank runs its share; failures are agreed on before anyone goes on
    error = ""
    for i in range(comm.rank, len(samples), comm.size):
        d = workdir / f"sample_{i:05d}"
        try:
            d.mkdir(parents=True, exist_ok=True)
            (d / "job.inp").write_text(decks[i])
            run_ccx(d / "job.inp", ccx=ccx, timeout=timeout)
        except (DistromError, OSError) as e:
            error = f"sample {i}: {e}"
            break
    check(not error, error, comm, SolverError)
    comm.Barrier()
    results = [read_calculix(workdir / f"sample_{i:05d}" / "job.frd", use_dat=use_dat) for i in range(len(samples))]
    mesh = results[0].mesh
    for i, r in enumerate(results[1:], 1):
        if r.mesh.n_nodes != mesh.n_nodes or not np.array_equal(r.mesh.node_ids, mesh.node_ids) or \
                [b.type for b in r.mesh.cells] != [b.type for b in mesh.cells]:
            raise FormatError(f"sample {i}: the mesh differs from sample 0's; one case needs one mesh")
        if [f.name for f in r.fields] != [f.name for f in results[0].fields]:
            raise FormatError(f"sample {i}: fields {[f.name for f in r.fields]} differ from sample 0's")
    attrs = {**results[0].attrs, "template": str(template), "runner": "distrom.io.calculix_runner"}
    with CaseWriter(output, mesh, comm=comm, overwrite=overwrite, source=f"calculix runs of {template}",
                    attrs=attrs) as w:
        add_fields(w, results[0].fields)
        w.set_parameter_names(names)
        for i, r in enumerate(progress(results, desc="convert ccx results", comm=comm)):
            s = w.add_sample({k: float(v) for k, v in samples[i].items()})
            for t, values in zip(r.times, r.steps()):
                k = w.add_step(time=float(t), sample=s)
                for f in r.fields:
                    w.write(f.name, k, values[f.name])
    return output
