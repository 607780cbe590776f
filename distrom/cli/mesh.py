# SPDX-License-Identifier: BSD-3-Clause
"""``distrom mesh --box NX NY NZ [--element hex8] [--parts P] -o CASE``: a partitioned box case.

Run it serially or under ``mpirun -n P`` (the case is written collectively); the partition is
the same either way (see :mod:`distrom.mesh.partition`).
"""
from __future__ import annotations

import argparse
import time


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("mesh", help="generate and partition a box mesh into a case",
                              description="Generate a structured box mesh (hex8, hex20, tet4, tet10), "
                              "partition it with PETSc (PT-Scotch, or ParMETIS where available) and "
                              "write it as a case file with face/node sets x0 x1 y0 y1 z0 z1.")
    p.add_argument("--box", nargs=3, type=int, required=True, metavar=("NX", "NY", "NZ"),
                   help="number of hex divisions along x, y, z")
    p.add_argument("--element", default="hex8", help="hex8 (default), hex20, tet4 or tet10")
    p.add_argument("--lengths", nargs=3, type=float, default=(1.0, 1.0, 1.0), metavar=("LX", "LY", "LZ"))
    p.add_argument("--origin", nargs=3, type=float, default=(0.0, 0.0, 0.0), metavar=("X0", "Y0", "Z0"))
    p.add_argument("--parts", type=int, default=None,
                   help="number of subdomains (default: the number of MPI ranks)")
    p.add_argument("--method", default="auto", help="auto (default), ptscotch, parmetis or block")
    p.add_argument("-o", "--output", required=True, help="case file to write (HDF5)")
    p.add_argument("--overwrite", "--force", action="store_true", help="replace an existing case")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run, _parallel=True)


def run(args: argparse.Namespace) -> int:
    from distrom.io.case import CaseWriter
    from distrom.mesh import box_mesh, partition_mesh
    from distrom.parallel import resolve_comm

    comm = resolve_comm(None)
    mesh = box_mesh(*args.box, lengths=args.lengths, element=args.element, origin=args.origin)
    n_parts = comm.size if args.parts is None else args.parts
    t0 = time.perf_counter()
    partition = partition_mesh(mesh, n_parts, comm=comm, method=args.method)
    t_part = comm.allreduce(time.perf_counter() - t0, op=_max())
    source = (f"distrom mesh --box {' '.join(map(str, args.box))} --element {args.element} "
              f"--lengths {' '.join(map(str, args.lengths))} --parts {n_parts}")
    with CaseWriter(args.output, mesh, comm, partition=partition, overwrite=args.overwrite, source=source):
        pass
    if comm.rank == 0:
        summary = {"output": str(args.output), "mesh": mesh.summary(), "partition": partition.summary(),
                   "partition_seconds": round(t_part, 4), "ranks": comm.size}
        if args.json:
            from distrom.cli._common import print_json

            print_json(summary)
        else:
            p = partition.summary()
            print(f"wrote {args.output}: {mesh.n_nodes} nodes, {mesh.n_cells} {args.element} cells, "
                  f"{p['n_parts']} parts by {p['method']} (cells per part {p['cells']}, "
                  f"imbalance {100 * p['imbalance']:.2f} %, {p['interface_nodes']} interface nodes, "
                  f"{t_part:.3f} s)")
    return 0


def _max():  # type: ignore[no-untyped-def]
    from mpi4py import MPI

    return MPI.MAX
