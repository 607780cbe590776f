"""MPI/PETSc glue: communicators, collective error handling, row layouts, distributed snapshots.

Importing this package imports mpi4py (and petsc4py lazily, where a PETSc object is made).
The online stage never imports it.
"""
from distrom.parallel.comm import agree, check, check_all, install_abort_hook, on_rank0, resolve_comm
from distrom.parallel.layout import Layout
from distrom.parallel.log import progress, setup_logging
from distrom.parallel.snapshots import Snapshots

__all__ = ["Layout", "Snapshots", "agree", "check", "check_all", "install_abort_hook", "on_rank0",
           "progress", "resolve_comm", "setup_logging"]
