"""``distrom`` entry point: one command, one module per subcommand.

Each module in :data:`SUBCOMMANDS` defines ``register(subparsers)``, which adds its parser and
sets ``func`` to a callable ``(args) -> int``. Modules are imported only when their command runs
where they are heavy, so ``distrom --help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys

from distrom import __version__
from distrom.errors import DistromError

# (name, module, one-line help). The module registers the detailed parser.
SUBCOMMANDS: list[tuple[str, str, str]] = [
    ("convert", "distrom.cli.convert", "convert external FE results (zset | ansys | calculix | meshio) into a case"),
    ("hf", "distrom.cli.hf", "run the embedded PETSc HF solver on a TOML config (parallel)"),
    ("pod", "distrom.cli.pod", "POD of one field of a case (parallel)"),
    ("offline", "distrom.cli.offline", "build a reduced model: POD + hyper-reduction (parallel)"),
    ("online", "distrom.cli.online", "solve a reduced model for new parameters (serial)"),
    ("adaptive", "distrom.cli.adaptive", "online ROM with HF corrections driven by the error indicator"),
    ("info", "distrom.cli.info", "summarise a case, basis or reduced-model file"),
    ("export", "distrom.cli.export", "export a case to XDMF for ParaView"),
    ("report", "distrom.cli.report", "plots and summary of a study"),
    ("run", "distrom.cli.run", "the whole study: hf -> offline -> online -> report"),
    ("mesh", "distrom.cli.mesh", "generate and partition a box mesh into a case"),
]


def build_parser(load: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="distrom", description="Distributed reduced-order models "
                                     "of nonlinear structural mechanics.")
    parser.add_argument("--version", action="version", version=f"distrom {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging (rank 0)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module, help_text in SUBCOMMANDS:
        if name == load:
            try:
                importlib.import_module(module).register(sub)
                continue
            except ModuleNotFoundError as e:
                if e.name != module:
                    raise
        p = sub.add_parser(name, help=help_text + ("" if _exists(module) else " [not available yet]"))
        p.set_defaults(func=None, _module=module)
    return parser


def _exists(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(load=command)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if getattr(args, "func", None) is None:
        parser.error(f"'{args.command}' is not available in this version of distrom")
    _setup(args)
    try:
        return int(args.func(args) or 0)
    except DistromError as e:
        _report_error(e)
        return 2


def _setup(args: argparse.Namespace) -> None:
    """Logging on rank 0 and abort-on-uncaught-exception, when MPI is already in use."""
    level = logging.DEBUG if args.verbose else logging.INFO
    if "mpi4py.MPI" in sys.modules or getattr(args, "_parallel", False):
        from distrom.parallel import install_abort_hook, setup_logging

        setup_logging(level=level)
        install_abort_hook()
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")


def _report_error(e: DistromError) -> None:
    """A user mistake: one clear line, not a traceback (rank 0 only under MPI)."""
    rank = 0
    MPI = sys.modules.get("mpi4py.MPI")
    if MPI is not None and MPI.Is_initialized():
        rank = MPI.COMM_WORLD.rank
    if rank == 0:
        sys.stderr.write(f"distrom: error: {e}\n")


if __name__ == "__main__":
    raise SystemExit(main())
