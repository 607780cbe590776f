"""Nonintrusive example: a real Zset run -> distrom case -> POD bases and ECM points.

    python examples/zset_cube/run.py [--data DIR] [--out DIR] [--two-domains]
    mpirun -n 2 python examples/zset_cube/run.py ...

1. ``distrom convert zset``: the serial run ``zset/cube/cube.ut`` (or, with ``--two-domains``,
   the 2-subdomain run ``zset/cube_2dom/cube.cut``; its partition is kept in the case).
2. POD of the displacement snapshots ``U`` and of the stress snapshots ``sig`` (integration
   points), distributed over the ranks (``distrom.reduction.pod``).
3. ECM (``distrom.reduction.ecm``): reduced integration points and positive weights that
   integrate the stress modes (and the volume) over the cube, selected globally across ranks.

Rank 0 writes ``OUT/results.json``; the numbers are the same for any number of ranks.
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
from mpi4py import MPI


def ip_weights(mesh, nip: int) -> np.ndarray:
    """Quadrature weight x det J at every integration point, distrom's ip order, shape (n_ip,)."""
    from distrom.mesh import get_element, jacobians

    out = []
    for block in mesh.cells:
        el = get_element(block.type)
        pts, w = el.quadrature()
        assert len(w) == nip, "the field's ip count must be that of distrom's default rule"
        _, detJ, _ = jacobians(el, mesh.nodes[block.connectivity])
        out.append((detJ * w).ravel())
    return np.concatenate(out)


def main(argv: list[str] | None = None) -> dict:
    from distrom.io import open_case
    from distrom.io.converters import convert
    from distrom.parallel import Snapshots
    from distrom.reduction.ecm import ecm
    from distrom.reduction.pod import pod

    here = Path(__file__).resolve()
    default_data = os.environ.get("DISTROM_TESTDATA", str(here.parents[3] / "shared" / "testdata"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=default_data, help="the testdata folder (default: $DISTROM_TESTDATA)")
    ap.add_argument("--out", default="zset_cube_out", help="output folder")
    ap.add_argument("--two-domains", action="store_true", help="convert the 2-subdomain run")
    ap.add_argument("--pod-tol", type=float, default=1e-6)
    ap.add_argument("--ecm-tol", type=float, default=1e-8)
    args = ap.parse_args(argv)
    comm = MPI.COMM_WORLD
    out = Path(args.out)
    if comm.rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    comm.Barrier()
    src = Path(args.data) / ("zset/cube_2dom/cube.cut" if args.two_domains else "zset/cube/cube.ut")
    case_path = convert("zset", src, out / "cube.case", comm=comm, overwrite=True)

    with open_case(case_path, comm=comm) as case:
        # the t = 0 output is the unloaded state (all zero): it adds nothing to a basis
        steps = [k for k in range(case.n_steps) if case.times[k] > 0]
        # 1) POD of the displacements
        basis_u = pod(case.snapshots("U", steps=steps), tol=args.pod_tol)
        # 2) POD of the stresses at the integration points
        basis_s = pod(case.snapshots("sig", steps=steps), tol=args.pod_tol)
        nip = case.fields["sig"].ips_per_cell["hex8"]
        # 3) ECM: functions = each component of each stress mode, plus 1 (the volume)
        k = basis_s.n_modes
        modes = basis_s.modes.local                          # rows ip*6 + c of this rank
        f_local = np.hstack([modes.reshape(-1, 6 * k), np.ones((modes.shape[0] // 6, 1))])
        weights = ip_weights(case.mesh, nip)
        points, w, info = ecm(Snapshots.from_local(np.asfortranarray(f_local), comm=comm), weights,
                              tol=args.ecm_tol, return_info=True)
        cell = points // nip
        result = {
            "P": comm.size, "source": str(src), "n_steps": case.n_steps, "steps": steps,
            "partition": None if case.partition is None else int(case.partition.n_parts),
            "U": {"n_modes": basis_u.n_modes, "singular_values": basis_u.singular_values.tolist()},
            "sig": {"n_modes": basis_s.n_modes, "singular_values": basis_s.singular_values.tolist()},
            "ecm": {"points": np.asarray(points).tolist(), "weights": np.asarray(w).tolist(),
                    "element_ids": case.mesh.cell_ids[cell].tolist(), "ip": (np.asarray(points) % nip).tolist(),
                    "error": float(info["error"]), "volume": float(np.sum(w)), "n_candidates": int(len(weights))},
        }
    if comm.rank == 0:
        tmp = out / "results.json.tmp"
        tmp.write_text(json.dumps(result, indent=1))
        tmp.replace(out / "results.json")
        print(f"P={comm.size}: U {basis_u.n_modes} modes, sig {basis_s.n_modes} modes, "
              f"ECM {len(result['ecm']['points'])} of {len(weights)} points, error {result['ecm']['error']:.2e}, "
              f"volume {result['ecm']['volume']:.12f}")
    return result


if __name__ == "__main__":
    main()
