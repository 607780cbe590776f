"""A tiny thermo-viscoplastic box problem for the ROM tests (HF case + reduced model)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

HF = {
    "mesh": {"type": "box", "n": [6, 2, 1], "lengths": [6.0, 2.0, 1.0], "element": "hex8"},
    "material": {"law": "norton", "E": 200e3, "nu": 0.3, "K": 100.0, "n": 3.0, "alpha": 1e-5, "T_ref": 20.0},
    "dirichlet": [{"set": "x0", "components": "xyz"}],
    "pressure": [{"faces": "x1", "value": "-p", "history": "ramp"}],
    "temperature": {"value": "20 + dT * (x + 0.7 * y + 0.3 * z) / 6", "initial": 20.0, "history": "ramp"},
    "histories": {"ramp": {"times": [0.0, 1.0], "values": [0.0, 1.0]}},
    "time": {"t_end": 2.0, "n_steps": 5},
    "parameters": {"p": [100.0, 150.0], "dT": [0.0, 200.0], "sampling": "grid"},
}
OFFLINE = {"primal_tol": 1e-7, "dual_tol": 1e-7, "ecm_tol": 1e-5}


def problem():
    from distrom.mechanics.config import parse_config

    return parse_config(HF, "tiny")


def build(directory: Path, comm=None) -> tuple[Path, Path]:
    """HF case and reduced model of the tiny problem in ``directory``. Collective on ``comm``."""
    from distrom.mechanics.solver import solve
    from distrom.rom.offline import OfflineOptions, build_model

    case = Path(directory) / "tiny_case.h5"
    model_path = Path(directory) / "tiny_model.h5"
    solve(problem(), case, comm, overwrite=True)
    model = build_model(case, problem(), OfflineOptions(**OFFLINE), comm)
    if comm is None or comm.rank == 0:
        model.save(model_path)
    if comm is not None:
        comm.Barrier()
    return case, model_path


def hf_reference(case_path: Path, sample: int, point_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(U (n_t, n_nodes, 3), sig at the points (n_t, q, 6)) of one sample of a case (serial read)."""
    from mpi4py import MPI

    from distrom.io import open_case

    with open_case(case_path, MPI.COMM_SELF) as case:
        steps = np.flatnonzero(case.step_sample == sample)
        U = np.stack([case.read_field("U", k) for k in steps])
        S = np.stack([case.read_field("sig", k)[point_ids] for k in steps])
    return U, S
