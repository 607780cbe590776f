"""distrom: distributed reduced-order models of nonlinear structural mechanics.

Offline (under ``mpirun``): distributed snapshots on PETSc vectors, POD, hyper-reduction.
Online (serial, numpy + h5py): the saved reduced model, solved many times.

Importing ``distrom`` imports neither MPI nor PETSc; only the subpackages that need them do.
"""
from distrom.errors import (
    ConvergenceError,
    DistromError,
    FormatError,
    InputError,
    LayoutError,
)

__version__ = "0.1.0"
__all__ = [
    "ConvergenceError",
    "DistromError",
    "FormatError",
    "InputError",
    "LayoutError",
    "__version__",
]
