"""``distrom convert FORMAT INPUT -o CASE``: external FE results into a case.

FORMAT is ``zset`` (``run.ut``, or ``run.cut`` for a run with one result per subdomain; under
``mpirun -n P`` the ranks share the subdomain files), ``calculix`` (``job.frd`` with ``job.inp``
and ``job.dat`` beside it), ``ansys`` (``file.rst``) or ``meshio`` (any mesh meshio reads).
The mapping of element types, node and integration-point orders is in docs/converters.md.
"""
from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser("convert", help="convert external FE results (zset | ansys | calculix | meshio) "
                              "into a case",
                              description="Convert the results of an external FE code into a distrom case, "
                              "one time step at a time, keeping the source's node/element numbers and field "
                              "names. No partial case is left behind on an error.")
    p.add_argument("format", choices=["zset", "calculix", "ansys", "meshio"], help="source format")
    p.add_argument("input", help="input file (.ut/.cut, .frd, .rst, or a mesh file)")
    p.add_argument("-o", "--output", required=True, help="case file to write (HDF5)")
    p.add_argument("--overwrite", "--force", action="store_true", help="replace an existing case")
    p.add_argument("--inp", help="calculix: the deck (default: INPUT with suffix .inp, if present)")
    p.add_argument("--dat", help="calculix: the print-out (default: INPUT with suffix .dat, if present)")
    p.add_argument("--no-dat", action="store_true", help="calculix: ignore the .dat integration-point blocks")
    p.add_argument("--file-format", help="meshio: the format name when the suffix does not tell it")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="parameter value of this run, stored as the case's sample (repeatable)")
    p.add_argument("--json", action="store_true", help="print the case summary as JSON")
    p.set_defaults(func=run, _parallel=True)


def _params(items: list[str]) -> dict[str, float]:
    from distrom.errors import InputError

    out = {}
    for it in items:
        name, sep, value = it.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise InputError(f"--param '{it}': expected NAME=VALUE with a number") from None
    return out


def run(args: argparse.Namespace) -> int:
    from mpi4py import MPI

    from distrom.io import open_case
    from distrom.io.converters import convert

    comm = MPI.COMM_WORLD
    options: dict = {}
    if args.format == "calculix":
        options = {"inp": args.inp, "dat": args.dat, "use_dat": not args.no_dat}
    elif args.format == "meshio" and args.file_format:
        options = {"file_format": args.file_format}
    out = convert(args.format, args.input, args.output, comm=comm, overwrite=args.overwrite,
                  parameters=_params(args.param) or None, **options)
    with open_case(out, comm=comm) as case:
        summary = case.summary()
    if comm.rank == 0:
        if args.json:
            from distrom.cli._common import print_json

            print_json(summary)
        else:
            m = summary["mesh"]
            print(f"wrote {out}: {m['n_nodes']} nodes, {m['n_cells']} cells, {summary['n_steps']} steps, "
                  f"fields {', '.join(summary['fields'])}")
    return 0
